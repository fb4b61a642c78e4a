"""Tools a worker may use, each confined by a :class:`Scope` to its workdir and grant."""

from yoi.tools._arguments import ArgumentError, Arguments
from yoi.tools.blocking import BlockingTool
from yoi.tools.files import FileTools, ReadLedger
from yoi.tools.git import git_tools
from yoi.tools.git_runner import GitSettings
from yoi.tools.intent import IntakeReport, IntentPacket, SubmitIntent
from yoi.tools.reports import (
    ImplementationReport,
    ReviewReport,
    SubmitReport,
    SubmitReview,
    parse_report,
)
from yoi.tools.sandbox import Sandbox, SandboxMode, SandboxStatus
from yoi.tools.scope import Capability, Grant, Scope
from yoi.tools.search import GlobTool, GrepTool, ListFilesTool, SearchLimits
from yoi.tools.shell import BashTool

__all__ = ["Capability", "FileTools", "Grant", "ReadLedger", "Scope"]
__all__ += ["GlobTool", "GrepTool", "ListFilesTool", "SearchLimits"]
__all__ += [
    "GitSettings",
    "git_tools",
    "ImplementationReport",
    "ReviewReport",
    "SubmitReport",
    "SubmitReview",
    "parse_report",
]
__all__ += ["IntakeReport", "IntentPacket", "SubmitIntent"]
__all__ += ["BashTool", "Sandbox", "SandboxMode", "SandboxStatus"]
__all__ += ["ArgumentError", "Arguments", "BlockingTool"]
