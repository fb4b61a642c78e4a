"""The wire models of the tickets and board API: what a browser sends, and what it gets back.

Request bodies forbid unknown fields, so a misspelt ``form`` never passes for
a missing ``from``. The response models only describe the JSON that
:mod:`yoi.tickets.wire` builds (the CLI's ``--json`` prints the same), so
``/openapi.json`` documents it and the fuzzer checks every answer against it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from yoi.errors import InvalidRequest
from yoi.tickets import EventKind, PlanKind, RelationKind, ReviewStatus, State

__all__ = [
    "BoardBody",
    "CloseBody",
    "CommentBody",
    "EventBody",
    "QueueBody",
    "ReadyBody",
    "ReadyViewBody",
    "RelationBody",
    "RelationCreateBody",
    "ReviewBody",
    "TicketBody",
    "TicketCreateBody",
    "TicketDetailBody",
    "TicketListingBody",
    "TransitionBody",
]


def _author() -> Any:
    return Field(default=None, description="who makes the change; the backend's default if absent")


def _expected() -> Any:
    return Field(
        default=None,
        alias="from",
        description="the state the ticket must be in, else the move is refused (state_conflict)",
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketCreateBody(_Strict):
    title: str
    body: str = ""
    author: str | None = _author()


class CommentBody(_Strict):
    body: str
    role: Literal["comment", "plan", "decision", "implementation_report"] = "comment"
    author: str | None = _author()

    @property
    def kind(self) -> EventKind:
        return EventKind(self.role)


class ReviewBody(_Strict):
    status: ReviewStatus
    body: str
    author: str | None = _author()


class ReadyBody(_Strict):
    summary: str | None = Field(
        default=None, description="the intake summary; a default one is written if absent"
    )
    expected: State | None = _expected()
    author: str | None = _author()


class QueueBody(_Strict):
    expected: State | None = _expected()
    author: str | None = _author()


class TransitionBody(_Strict):
    to: State = Field(description="any state but closed, which takes a resolution: use /close")
    expected: State | None = _expected()
    reason: str | None = None
    summary: str | None = None
    author: str | None = _author()

    def target(self) -> State:
        """The state to move to; ``closed`` is refused, since closing needs its resolution."""
        if self.to is State.CLOSED:
            raise InvalidRequest(
                "close a ticket with POST /api/tickets/{id}/close, which takes its resolution",
                details={"field": "to"},
            )
        return self.to


class CloseBody(_Strict):
    resolution: str
    expected: State | None = _expected()
    author: str | None = _author()


class RelationCreateBody(_Strict):
    kind: RelationKind
    target: str = Field(description="the id of the ticket this one relates to")
    note: str | None = None
    author: str | None = _author()


# -- responses --------------------------------------------------------------


class TicketMetaView(BaseModel):
    title: str
    state: State
    created_at: str
    updated_at: str
    assignee: str | None
    readiness: str | None
    risk_flags: list[str]
    queued_by: str | None
    queued_at: str | None
    priority: str | None


class TicketSummaryView(TicketMetaView):
    id: str


class InvalidRecordView(BaseModel):
    id: str
    problem: str


class TicketListingView(BaseModel):
    items: list[TicketSummaryView]
    total: int = Field(description="how many tickets match, however many are returned")
    returned: int
    invalid_records: list[InvalidRecordView]


class TicketListingBody(BaseModel):
    tickets: TicketListingView


class EventView(BaseModel):
    kind: str
    author: str
    at: str
    attrs: dict[str, str]
    heading: str | None
    body: str


class RelationView(BaseModel):
    ticket_id: str
    kind: RelationKind
    target: str
    note: str | None = None
    author: str | None = None
    at: str | None = None


class InverseView(BaseModel):
    ticket_id: str
    kind: str = Field(description="the derived inverse: dependency_of, blocked_by, ...")
    note: str | None


class RelationsView(BaseModel):
    outgoing: list[RelationView]
    incoming: list[InverseView]


class BlockerView(BaseModel):
    ticket_id: str
    state: State
    via: Literal["depends_on", "blocks"]


class AsksView(BaseModel):
    field: str = Field(description="the body field the asked text goes in")
    label: str
    hint: str


class ActionView(BaseModel):
    """What a person may do to the ticket now; a front end renders these and decides nothing."""

    name: str
    label: str
    method: Literal["POST"]
    endpoint: str
    body: dict[str, str] = Field(description="the request body, without the asked text")
    asks: AsksView | None = Field(description="a text to ask for before sending, if any")
    emphasis: Literal["primary", "danger"] | None
    blocked: bool = Field(description="shown but refused now: reason and blockers say why")
    reason: str | None
    lead: str | None = Field(
        description="the reason without its tickets: Blocked by, Will wait for"
    )
    blockers: list[BlockerView]


class NoticeView(BaseModel):
    kind: str
    ticket_id: str
    message: str


class PlanView(BaseModel):
    id: str
    ticket_id: str
    kind: PlanKind
    related_ticket: str | None = None
    note: str | None = None
    accepted_plan: dict[str, Any] | None = None
    author: str
    at: str


class RenderedView(BaseModel):
    """The ticket's Markdown as HTML that runs nothing: raw HTML escaped, unsafe links dropped."""

    body: str
    events: list[str] = Field(description="each thread event's body, in order")
    resolution: str | None


class TicketDetailView(BaseModel):
    id: str
    meta: TicketMetaView
    body: str
    events: list[EventView]
    relations: RelationsView
    blockers: list[BlockerView]
    actions: list[ActionView]
    notices: list[NoticeView]
    plans: list[PlanView]
    artifacts: list[str]
    resolution: str | None
    problems: list[str]
    html: RenderedView | None = Field(
        default=None, description="present when asked for with ?render=html"
    )


class TicketDetailBody(BaseModel):
    ticket: TicketDetailView


class TicketBody(BaseModel):
    ticket: TicketSummaryView


class EventBody(BaseModel):
    event: EventView


class RelationBody(BaseModel):
    relation: RelationView


class WaitingView(BaseModel):
    ticket: TicketSummaryView
    blockers: list[BlockerView]


class ReadyView(BaseModel):
    ready: list[TicketSummaryView] = Field(description="queued and unblocked, in queue order")
    waiting: list[WaitingView]


class ReadyViewBody(BaseModel):
    ready: ReadyView


class CardView(TicketSummaryView):
    blockers: list[BlockerView]
    actions: list[ActionView]


class ColumnView(BaseModel):
    state: State
    label: str = Field(description="the state's name for people; columns come in lifecycle order")
    count: int = Field(description="every ticket in this state, however many cards are shown")
    cards: list[CardView]


class BoardView(BaseModel):
    columns: list[ColumnView]
    invalid_records: list[InvalidRecordView]
    relation_kinds: list[RelationKind] = Field(description="what a new relation may be")


class BoardBody(BaseModel):
    board: BoardView
