"""The runtime's network face: REST commands, a WebSocket observation stream, the process."""

from yoi.server.app import MAX_BODY_BYTES, create_app

__all__ = ["MAX_BODY_BYTES", "create_app"]
