"""Real fakes for tests: a scripted model, fake provider servers on loopback,
recorded sleeps, and helpers that wait on a worker's events with a deadline.

The fakes fail loudly: a script that is over- or under-consumed raises
:class:`~yoi.errors.ScriptError` from ``assert_consumed()``.
"""

from yoi.providers.script import Call, Cut, Fail, Stall, Text, Think, Usage, Wait
from yoi.providers.scripted import OfflineModel, ScriptedModel
from yoi.testing._fake_provider import RecordedRequest
from yoi.testing.clock import RecordedSleep
from yoi.testing.fake_anthropic import FakeAnthropicServer
from yoi.testing.fake_openai import FakeOpenAIServer
from yoi.testing.observe import event_types, run_to_end, until

__all__ = [
    "Call",
    "Cut",
    "Fail",
    "FakeAnthropicServer",
    "FakeOpenAIServer",
    "OfflineModel",
    "RecordedRequest",
    "RecordedSleep",
    "ScriptedModel",
    "Stall",
    "Text",
    "Think",
    "Usage",
    "Wait",
    "event_types",
    "run_to_end",
    "until",
]
