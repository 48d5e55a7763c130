"""The UI's training queue: one job at a time, FIFO, cancel, failures do not stop the worker."""

from __future__ import annotations

import threading

import pytest

from patchdna.errors import PatchDNAError
from patchdna.ui.jobs import JobQueue


def _wait(job, states=("done", "failed", "cancelled"), timeout=10.0):
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if job.snapshot()["state"] in states:
            return job.snapshot()
        event.wait(0.01)
    raise AssertionError(f"job {job.name} stuck in {job.snapshot()['state']}")


def test_one_at_a_time_in_order():
    jobs = JobQueue()
    release = threading.Event()
    running = []
    order = []

    def work(job):
        running.append(job.name)
        assert len(running) == 1, "two jobs ran at once"
        release.wait(5)
        order.append(job.name)
        running.remove(job.name)

    first, second = jobs.submit("a", work), jobs.submit("b", work)
    _wait(first, ("running",))
    assert jobs.position(second) == 1 and second.snapshot()["state"] == "queued"
    with pytest.raises(PatchDNAError, match="already queued"):
        jobs.submit("b", work)
    release.set()
    assert _wait(second)["state"] == "done"
    assert order == ["a", "b"]
    jobs.shutdown()


def test_cancel_queued_and_running():
    jobs = JobQueue()

    def work(job):
        job.update(stage="looping")
        while not job.stop_event.wait(0.01):
            pass
        raise PatchDNAError("training cancelled")

    running, waiting = jobs.submit("a", work), jobs.submit("b", work)
    _wait(running, ("running",))
    jobs.cancel(waiting.id)
    assert waiting.snapshot()["state"] == "cancelled"
    jobs.cancel(running.id)
    assert _wait(running)["state"] == "cancelled"
    jobs.shutdown()


def test_a_failing_job_does_not_stop_the_worker():
    jobs = JobQueue()

    def crash(job):
        raise RuntimeError("boom")

    failed = jobs.submit("a", crash)
    ok = jobs.submit("b", lambda job: job.update(message="fine"))
    assert _wait(failed)["message"] == "RuntimeError: boom"
    finished = _wait(ok)
    assert (finished["state"], finished["message"]) == ("done", "fine")
    jobs.shutdown()
