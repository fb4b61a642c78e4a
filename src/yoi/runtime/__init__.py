"""The embeddable runtime: named, long-lived LLM workers in any Python process."""

from yoi.runtime.approvals import Approval, ApprovalAck
from yoi.runtime.bundles import BundleProfile, BundleSummary, ConfigBundle
from yoi.runtime.busy import OnBusy
from yoi.runtime.events import Event, EventBody
from yoi.runtime.limits import RuntimeLimits
from yoi.runtime.profiles import BUILTIN_PROFILES, ModelPreferences, Profile, ProfileCatalog
from yoi.runtime.requests import (
    AssistantIntent,
    CapabilityRequest,
    ConfigBundleRef,
    CreateWorkerRequest,
    GrantRequest,
    Input,
    Intent,
    NewWorkdir,
    RoleIntent,
    TaskIntent,
)
from yoi.runtime.runtime import CAPABILITIES, Runtime
from yoi.runtime.status import WorkerStatus
from yoi.runtime.stores import FsLimits, FsStore, MemoryStore, Store, StoreSettings
from yoi.runtime.subscription import Subscription
from yoi.runtime.transcript import Role, TranscriptEntry, TranscriptPage
from yoi.runtime.views import (
    CancelAck,
    Diagnostic,
    EventPage,
    InputAck,
    RunState,
    RuntimeSummary,
    StopAck,
    WorkerDetail,
    WorkerPage,
)

__all__ = [
    "BUILTIN_PROFILES",
    "CAPABILITIES",
    "Approval",
    "ApprovalAck",
    "AssistantIntent",
    "BundleProfile",
    "BundleSummary",
    "CancelAck",
    "CapabilityRequest",
    "ConfigBundle",
    "ConfigBundleRef",
    "CreateWorkerRequest",
    "Diagnostic",
    "Event",
    "EventBody",
    "EventPage",
    "FsLimits",
    "FsStore",
    "GrantRequest",
    "Input",
    "InputAck",
    "Intent",
    "MemoryStore",
    "ModelPreferences",
    "NewWorkdir",
    "OnBusy",
    "Profile",
    "ProfileCatalog",
    "Role",
    "RoleIntent",
    "RunState",
    "Runtime",
    "RuntimeLimits",
    "RuntimeSummary",
    "StopAck",
    "Store",
    "StoreSettings",
    "Subscription",
    "TaskIntent",
    "TranscriptEntry",
    "TranscriptPage",
    "WorkerDetail",
    "WorkerPage",
    "WorkerStatus",
]
