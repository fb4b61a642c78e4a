"""One agent run: model request, streamed output, tool calls, next request.

The engine knows nothing of runtimes, workers or ids.
"""

from yoi.engine.events import (
    AssistantReply,
    EngineEvent,
    Retrying,
    RunEnded,
    RunResult,
    TextDelta,
    TextDone,
    ThinkingDelta,
    ThinkingDone,
    ToolCallFinished,
    ToolCallStarted,
    UsageReport,
)
from yoi.engine.messages import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from yoi.engine.model import (
    Model,
    ModelChunk,
    ModelRequest,
    RetryChunk,
    TextChunk,
    ThinkingChunk,
    ToolCallChunk,
    ToolSpec,
    UsageChunk,
)
from yoi.engine.permissions import Action, PermissionRule, Rules
from yoi.engine.retry import RetryingModel, RetryPolicy, backoff_delay
from yoi.engine.run import Engine, EngineLimits
from yoi.engine.tool import Tool, ToolResult, spec_of
from yoi.engine.tool_calls import ToolGate, ToolLimits, truncate

__all__ = [
    "Action",
    "AssistantMessage",
    "AssistantReply",
    "Engine",
    "EngineEvent",
    "EngineLimits",
    "Message",
    "Model",
    "ModelChunk",
    "ModelRequest",
    "PermissionRule",
    "RetryChunk",
    "RetryPolicy",
    "Retrying",
    "RetryingModel",
    "Rules",
    "RunEnded",
    "RunResult",
    "TextChunk",
    "TextDelta",
    "TextDone",
    "ThinkingChunk",
    "ThinkingDelta",
    "ThinkingDone",
    "Tool",
    "ToolCall",
    "ToolCallChunk",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolGate",
    "ToolLimits",
    "ToolResult",
    "ToolResultMessage",
    "ToolSpec",
    "UsageChunk",
    "UsageReport",
    "UserMessage",
    "backoff_delay",
    "spec_of",
    "truncate",
]
