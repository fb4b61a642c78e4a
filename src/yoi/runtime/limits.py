"""The bounds a runtime keeps, all configurable."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["RuntimeLimits"]


@dataclass(frozen=True, slots=True)
class RuntimeLimits:
    max_content_bytes: int = 256 * 1024
    max_page: int = 500
    default_page: int = 50
    max_queued_inputs: int = 32
    subscriber_queue: int = 4096
    snapshot_transcript_tail: int = 20
    snapshot_entry_chars: int = 16_384
    """Longer transcript entries are cut in a snapshot (marked ``truncated``)."""
    cancel_grace_seconds: float = 1.0
    approval_timeout_seconds: float = 300.0
    """How long a tool call an ``ask`` rule holds waits for a person; then it is denied."""
    max_display_name: int = 200
    max_history_messages: int = 2_000

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
