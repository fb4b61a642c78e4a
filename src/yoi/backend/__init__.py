"""The workspace backend: runtimes gathered behind one browser-safe API (ARCHITECTURE §5)."""

from yoi.backend.app import create_backend_app
from yoi.backend.companion import COMPANION_ID, Companion, ModelLabel
from yoi.backend.config import EMBEDDED_RUNTIME_ID, BackendSettings, RemoteRuntimeSettings
from yoi.backend.embedded import EmbeddedSource
from yoi.backend.policy import Operation, PassThrough, Policy
from yoi.backend.registry import RuntimeRegistry
from yoi.backend.remote import Probing, RemoteSource
from yoi.backend.sanitize import Scrubber
from yoi.backend.service import Backend
from yoi.backend.sources import RuntimeSource

__all__ = [
    "COMPANION_ID",
    "EMBEDDED_RUNTIME_ID",
    "Backend",
    "BackendSettings",
    "Companion",
    "EmbeddedSource",
    "ModelLabel",
    "Operation",
    "PassThrough",
    "Policy",
    "Probing",
    "RemoteRuntimeSettings",
    "RemoteSource",
    "RuntimeRegistry",
    "RuntimeSource",
    "Scrubber",
    "create_backend_app",
]
