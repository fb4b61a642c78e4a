"""Reading a worker's history: snapshots, subscriptions and event pages."""

from __future__ import annotations

from yoi.runtime.cursor import check_resume, decode_cursor, encode_cursor
from yoi.runtime.events import Event, Snapshot
from yoi.runtime.subscription import Subscription
from yoi.runtime.views import EventPage, WorkerDetail
from yoi.runtime.worker import Worker

__all__ = ["read_events", "snapshot", "subscribe"]


def snapshot(worker: Worker, detail: WorkerDetail) -> Event:
    """Where the worker stands now, as the event that starts every observation."""
    run = worker.live.state().to_dict() if worker.live is not None else None
    limit = worker.limits.snapshot_entry_chars
    tail = [_bounded(entry.to_dict(), limit) for entry in worker.tail]
    body = Snapshot(detail.to_dict(), tail, run)
    return Event(worker.record.last_seq, worker.clock(), worker.worker_id, body)


def _bounded(entry: dict[str, object], limit: int) -> dict[str, object]:
    """A transcript entry for a snapshot: a long content is cut, and says so.

    Snapshots travel as one frame; the whole entry is a transcript page away.
    """
    content = entry["content"]
    if isinstance(content, str) and len(content) > limit:
        entry["content"] = content[:limit]
        entry["truncated"] = True
    return entry


async def subscribe(worker: Worker, detail: WorkerDetail, cursor: str | None) -> Subscription:
    """A snapshot, every retained event after ``cursor`` (if given), then live events."""
    after = None if cursor is None else decode_cursor(cursor, worker.worker_id)
    last = worker.record.last_seq
    if after is not None and after > last:
        check_resume(after, first_retained=1, last_seq=last)
    subscription = worker.fanout.open(worker.limits.subscriber_queue)
    first = snapshot(worker, detail)
    if after is None or after == last:
        subscription.prime([first])
        return subscription
    try:
        backlog = await worker.store.read_events(worker.worker_id, after, last - after)
        check_resume(after, first_retained=backlog.first_retained, last_seq=last)
    except BaseException:
        await subscription.aclose()
        raise
    subscription.prime([first, *backlog.events])
    return subscription


async def read_events(worker: Worker, cursor: str | None, limit: int) -> EventPage:
    """A page of retained events after ``cursor``; without one, from the oldest retained."""
    last = worker.record.last_seq
    after = 0 if cursor is None else decode_cursor(cursor, worker.worker_id)
    page = await worker.store.read_events(worker.worker_id, after, limit)
    if cursor is not None:
        check_resume(after, first_retained=page.first_retained, last_seq=last)
    seq = page.events[-1].seq if page.events else max(after, page.first_retained - 1)
    return EventPage(page.events, encode_cursor(worker.worker_id, seq))
