"""One training at a time: a background worker thread fed by a FIFO queue.

The page never trains in its own request: `submit` returns at once with a job id, the page polls `status(id)`
once a second (stage, ETA, latest preview) and `cancel(id)` sets the job's stop event (the trainer stops at the
next iteration; finished scales stay saved) or takes a queued job out of the line. Jobs are plain callables
`run(job)` that report through `job.update(...)`, so the queue does not depend on a model family.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from patchdna.errors import PatchDNAError

__all__ = ["Job", "JobQueue"]

State = Literal["queued", "running", "done", "failed", "cancelled"]


@dataclass
class Job:
    id: int
    name: str  # the model folder name it writes
    run: Callable[[Job], None]
    state: State = "queued"
    stage: str = "waiting for the worker"
    eta: float | None = None
    preview: Any = None  # latest preview image (a PIL image or array), or None
    message: str = ""  # the error or the final line
    started: float | None = None
    finished: float | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, **changes: Any) -> None:
        with self.lock:
            for key, value in changes.items():
                setattr(self, key, value)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "id": self.id,
                "name": self.name,
                "state": self.state,
                "stage": self.stage,
                "eta": self.eta,
                "preview": self.preview,
                "message": self.message,
                "elapsed": (self.finished or time.monotonic()) - self.started if self.started else 0.0,
            }


class JobQueue:
    """A FIFO of jobs run one after another by a single daemon thread."""

    def __init__(self, max_queued: int = 8) -> None:
        self.max_queued = max_queued
        self._jobs: dict[int, Job] = {}
        self._waiting: queue.Queue[Job | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="patchdna-ui-training", daemon=True)
        self._worker.start()

    def submit(self, name: str, run: Callable[[Job], None]) -> Job:
        with self._lock:
            active = [job for job in self._jobs.values() if job.state in ("queued", "running")]
            if len(active) >= self.max_queued:
                raise PatchDNAError(f"{len(active)} trainings are already queued; wait for one to finish")
            if any(job.name == name for job in active):
                raise PatchDNAError(f"a training into {name!r} is already queued or running")
            job = Job(next(self._ids), name, run)
            self._jobs[job.id] = job
        self._waiting.put(job)
        return job

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int:
        """1 = next to run; 0 when it is not waiting."""
        with self._lock:
            waiting = sorted(j.id for j in self._jobs.values() if j.state == "queued")
        return waiting.index(job.id) + 1 if job.id in waiting else 0

    def busy_names(self) -> set[str]:
        with self._lock:
            return {job.name for job in self._jobs.values() if job.state in ("queued", "running")}

    def cancel(self, job_id: int) -> None:
        job = self.get(job_id)
        if job is None:
            return
        job.stop_event.set()
        with job.lock:
            if job.state == "queued":
                job.state = "cancelled"
                job.stage = "cancelled before it started"

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel everything and stop the worker (tests, server exit)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            self.cancel(job.id)
        self._waiting.put(None)
        self._worker.join(timeout)

    def _work(self) -> None:
        while True:
            job = self._waiting.get()
            if job is None:
                return
            with job.lock:
                if job.state != "queued":
                    continue
                job.state = "running"
                job.stage = "starting"
                job.started = time.monotonic()
            try:
                job.run(job)
            except PatchDNAError as error:
                cancelled = job.stop_event.is_set()
                job.update(state="cancelled" if cancelled else "failed", message=str(error))
            except Exception as error:  # noqa: BLE001 - the worker must survive any failure of one job
                job.update(state="failed", message=f"{type(error).__name__}: {error}")
            else:
                job.update(state="done")
            finally:
                job.update(finished=time.monotonic(), eta=None)
