"""Tools a worker may use, each confined by a :class:`Scope` to its workdir and grant."""

from yoi.tools.files import FileTools, ReadLedger
from yoi.tools.scope import Capability, Grant, Scope
from yoi.tools.search import GlobTool, GrepTool, ListFilesTool, SearchLimits

__all__ = ["Capability", "FileTools", "Grant", "ReadLedger", "Scope"]
__all__ += ["GlobTool", "GrepTool", "ListFilesTool", "SearchLimits"]
