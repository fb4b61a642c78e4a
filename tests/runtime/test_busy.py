import pytest

from yoi.runtime.busy import Dispatch, OnBusy, decide
from yoi.runtime.status import IllegalTransition, WorkerStatus

IDLE, RUNNING, STOPPED = WorkerStatus.IDLE, WorkerStatus.RUNNING, WorkerStatus.STOPPED


@pytest.mark.parametrize(
    ("status", "on_busy", "queued", "expected"),
    [
        (IDLE, OnBusy.REJECT, 0, Dispatch.START),
        (IDLE, OnBusy.ENQUEUE, 0, Dispatch.START),
        (RUNNING, OnBusy.REJECT, 0, Dispatch.REJECT_BUSY),
        (RUNNING, OnBusy.ENQUEUE, 1, Dispatch.ENQUEUE),
        (RUNNING, OnBusy.ENQUEUE, 2, Dispatch.REJECT_QUEUE_FULL),
        (RUNNING, OnBusy.INTERRUPT, 2, Dispatch.INTERRUPT),
        (STOPPED, OnBusy.INTERRUPT, 0, Dispatch.REJECT_STOPPED),
    ],
)
def test_decide(status: WorkerStatus, on_busy: OnBusy, queued: int, expected: Dispatch) -> None:
    assert decide(status, on_busy, queued, max_queue=2) is expected


def test_the_lifecycle_refuses_illegal_moves() -> None:
    assert IDLE.to(RUNNING) is RUNNING
    assert RUNNING.to(IDLE) is IDLE
    assert RUNNING.to(STOPPED) is STOPPED
    for target in (IDLE, RUNNING, STOPPED):
        with pytest.raises(IllegalTransition):
            STOPPED.to(target)
    with pytest.raises(IllegalTransition):
        IDLE.to(IDLE)
