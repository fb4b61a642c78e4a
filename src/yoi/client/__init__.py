"""Typed clients for yoi's network APIs."""

from yoi.client.backend import BackendClient
from yoi.client.observation import RemoteSubscription
from yoi.client.runtime import RuntimeClient
from yoi.runtime import OnBusy, WorkerStatus

__all__ = ["BackendClient", "OnBusy", "RemoteSubscription", "RuntimeClient", "WorkerStatus"]
