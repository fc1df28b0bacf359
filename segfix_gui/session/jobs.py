"""Work off the caller's thread: one lane per kind of job, progress, cancel, stale results dropped.

No Qt here: the window and a script use the same :class:`Runner`.

Each *kind* (``"load"``, ``"refine"``, ``"set"``, …) runs at most one job at a time. Submitting
a job of a kind that is busy cancels the running one and queues the new one in its place
(replacing any job still waiting), so dragging a slider never builds a backlog. A job's
result is delivered only if no newer job of its kind has been submitted since: a result that
arrives for stale settings is dropped (and counted in ``dropped``).

Job functions run in a Python thread and receive a :class:`Job`; they call ``job.check()``
between steps (raises :class:`Cancelled`), ``job.report(done, total, text)`` for progress and
``job.post(fn)`` to hand a partial result to the owner (rows of a set filling in).

**Delivery.** Results, errors, progress and posts are queued in an inbox and run on the
thread that calls :meth:`Runner.process_events` or :meth:`Runner.wait` — the owner's thread,
so the state they change is only ever changed there. A script calls ``wait()``; the window
sets a *waker* (:meth:`Runner.set_waker`), called from the worker thread whenever something
arrives, which asks the Qt event loop to call ``process_events()``.

torch is imported once, by one thread: :data:`TORCH` (a :class:`TorchGate`) does the import
under a lock, and every job that may reach torch (all but those submitted with
``needs_torch=False``) passes the gate first, so no two threads ever run torch's first import
at the same time (a concurrent first import can fail half-way, e.g. "operator prims::fft_r2c
does not exist").
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psygnal import Signal

from ..errors import InputError


class TorchGate:
    """Import torch exactly once, from whichever thread asks first; other threads wait.

    ``importer`` does the import (replaceable in tests). ``ensure()`` returns once the import
    has been done. A failed import is not retried: its error is kept in ``error`` and the
    job goes on (the engine then falls back as it does without torch, e.g. to the CPU).
    """

    def __init__(self, importer: Callable[[], Any] | None = None):
        self._importer = importer or _import_torch
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.thread: str | None = None  # the thread that ran the import
        self.error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def ensure(self) -> None:
        if not self._done.is_set():
            with self._lock:
                if not self._done.is_set():
                    self.thread = threading.current_thread().name
                    try:
                        self._importer()
                    except Exception as err:  # noqa: BLE001 - kept; the job handles torch's absence
                        self.error = err
                    self._done.set()


def _import_torch():
    import torch

    return torch


TORCH = TorchGate()
"""The process-wide gate (every :class:`Runner` uses it unless given another)."""


class Cancelled(Exception):  # noqa: N818 - a control-flow signal, like StopIteration
    """Raised inside a job by ``check()`` once the job has been cancelled."""


@dataclass(eq=False)
class Job:
    """One piece of work in a lane; what its function receives."""

    kind: str
    gen: int
    fn: Callable[[Job], Any]
    on_done: Callable[[Any], None] | None = None
    on_error: Callable[[str, bool], None] | None = None  # (message, is_input_error)
    label: str = ""
    needs_torch: bool = True
    cancel_event: threading.Event = field(default_factory=threading.Event)
    _runner: Runner | None = field(default=None, repr=False)

    def check(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled()

    def report(self, done: int, total: int, text: str = "") -> None:
        if self._runner is not None and not self.cancel_event.is_set():
            self._runner._put(("progress", self, (int(done), int(total), str(text))))

    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on the owner's thread, unless this job is stale or cancelled by then."""
        if self._runner is not None and not self.cancel_event.is_set():
            self._runner._put(("post", self, fn))

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()


class Runner:
    """Runs jobs in threads; delivers results, errors, posts and progress on the owner's thread.

    Signals (psygnal, emitted on the owner's thread)
    -------------------------------------------------
    progress(kind, done, total, text)
    busy_changed(kind, busy, label)
    delivered(kind) : a result was handed to ``on_done``
    """

    progress = Signal(str, int, int, str)
    busy_changed = Signal(str, bool, str)
    delivered = Signal(str)

    def __init__(self, *, gate: TorchGate | None = None):
        self.gate = gate or TORCH
        self._gen: dict[str, int] = {}
        self._running: dict[str, Job] = {}
        self._pending: dict[str, Job] = {}
        self.dropped = 0
        self._queues: dict[str, queue.SimpleQueue] = {}
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._waker: Callable[[], None] | None = None
        self._closed = False

    # --- public -------------------------------------------------------------------------------
    def set_waker(self, fn: Callable[[], None] | None) -> None:
        """``fn()`` is called from worker threads whenever something waits in the inbox (the
        window posts a call of :meth:`process_events` to its event loop)."""
        self._waker = fn

    def submit(
        self,
        kind: str,
        fn: Callable[[Job], Any],
        *,
        on_done=None,
        on_error=None,
        label: str = "",
        needs_torch: bool = True,
    ) -> Job:
        """Run ``fn(job)`` in the lane of ``kind``. ``needs_torch=False`` for a job that never
        imports torch (reading files): it does not wait for the first torch import."""
        gen = self._gen.get(kind, 0) + 1
        self._gen[kind] = gen
        job = Job(kind, gen, fn, on_done, on_error, label, needs_torch, _runner=self)
        if kind in self._running:
            self._running[kind].cancel_event.set()
            if kind in self._pending:
                self.dropped += 1
            self._pending[kind] = job
        else:
            self._start(job)
        return job

    def cancel(self, kind: str | None = None, *, keep: tuple[str, ...] = ("probe",)) -> None:
        """Cancel running and waiting jobs of one kind, or of every kind but ``keep``."""
        kinds = [kind] if kind else [k for k in set(self._running) | set(self._pending) if k not in keep]
        for k in kinds:
            self._gen[k] = self._gen.get(k, 0) + 1  # whatever is in flight is now stale
            if k in self._pending:
                self._pending.pop(k)
                self.dropped += 1
            if k in self._running:
                self._running[k].cancel_event.set()

    def busy(self, kind: str | None = None) -> bool:
        if kind is None:
            return bool(self._running or self._pending)
        return kind in self._running or kind in self._pending

    def latest(self, kind: str) -> int:
        return self._gen.get(kind, 0)

    def process_events(self) -> int:
        """Deliver what has arrived (results, errors, posts, progress) on this thread; the
        number of items handled."""
        n = 0
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return n
            self._handle(item)
            n += 1

    def wait(self, timeout: float | None = None, *, kinds: tuple[str, ...] | None = None) -> bool:
        """Deliver everything until no job (of ``kinds``, default: any but the probe) is running
        or waiting; False if ``timeout`` seconds passed first. Blocks the calling thread: for
        scripts and tests (the window never calls it)."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def busy() -> bool:
            lanes = set(self._running) | set(self._pending)
            return any(k in lanes for k in kinds) if kinds else bool(lanes - {"probe"})

        while True:
            self.process_events()
            if not busy():
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            try:
                item = self._inbox.get(timeout=0.5 if left is None else min(left, 0.5))
            except queue.Empty:
                continue
            self._handle(item)

    def shutdown(self) -> None:
        """Cancel everything and let the threads end (after their current step); nothing is
        delivered any more, so nothing counts as busy."""
        self.cancel(keep=())
        self._closed = True
        for q in self._queues.values():
            q.put(None)
        self._queues.clear()
        kinds = set(self._running) | set(self._pending)
        self._running.clear()
        self._pending.clear()
        for kind in kinds:
            self.busy_changed.emit(kind, False, "")

    # --- internals ----------------------------------------------------------------------------
    def _put(self, item) -> None:
        if self._closed:
            return
        self._inbox.put(item)
        waker = self._waker
        if waker is not None:
            try:
                waker()
            except RuntimeError:  # the window was closed and its waker deleted meanwhile
                pass

    def _start(self, job: Job) -> None:
        self._running[job.kind] = job
        self.busy_changed.emit(job.kind, True, job.label)
        if job.kind not in self._queues:  # one long-lived thread per kind
            q: queue.SimpleQueue = queue.SimpleQueue()
            self._queues[job.kind] = q
            threading.Thread(target=self._loop, args=(q,), daemon=True, name=f"segfix-{job.kind}").start()
        self._queues[job.kind].put(job)

    def _loop(self, q: queue.SimpleQueue) -> None:
        while True:
            job = q.get()
            if job is None:
                return
            self._run(job)

    def _run(self, job: Job) -> None:
        try:
            if job.needs_torch:
                self.gate.ensure()  # torch's first import happens in one thread only
                job.check()
            value = job.fn(job)
            status, msg = "ok", ""
        except Cancelled:
            value, status, msg = None, "cancelled", ""
        except InputError as err:
            value, status, msg = None, "input", str(err)
        except Exception as err:  # noqa: BLE001 - shown to the user, printed for developers
            if not self._closed:  # after shutdown (the interpreter may be ending) nothing is shown
                traceback.print_exc()
            value, status, msg = None, "error", f"{err.__class__.__name__}: {err}"
        self._put(("finished", job, (status, value, msg)))

    def _fresh(self, job: Job) -> bool:
        return job.gen == self._gen.get(job.kind) and not job.cancelled

    def _handle(self, item: tuple[str, Job, Any]) -> None:
        what, job, payload = item
        if what == "progress":
            if self._running.get(job.kind) is job and not job.cancelled:
                self.progress.emit(job.kind, *payload)
        elif what == "post":
            if self._running.get(job.kind) is job and self._fresh(job):
                payload()
        else:
            self._finished(job, *payload)

    def _finished(self, job: Job, status: str, value, msg: str) -> None:
        if self._running.get(job.kind) is job:
            del self._running[job.kind]
        fresh = self._fresh(job)
        nxt = self._pending.pop(job.kind, None)
        if nxt is not None:
            self._start(nxt)
        else:
            self.busy_changed.emit(job.kind, False, "")
        if not fresh:
            self.dropped += 1
            return
        if status == "ok":
            if job.on_done is not None:
                job.on_done(value)
            self.delivered.emit(job.kind)
        elif status in ("input", "error") and job.on_error is not None:
            job.on_error(msg, status == "input")
