"""Typed clients for yoi's network APIs."""

from yoi.client.backend import BackendClient
from yoi.client.observation import RemoteSubscription
from yoi.client.runtime import RuntimeClient

__all__ = ["BackendClient", "RemoteSubscription", "RuntimeClient"]
