"""Work off the UI thread: one lane per kind of job, progress, cancel, stale results dropped.

Each *kind* (``"load"``, ``"refine"``, ``"set"``, …) runs at most one job at a time. Submitting
a job of a kind that is busy cancels the running one and queues the new one in its place
(replacing any job still waiting), so dragging a slider never builds a backlog. A job's
result is delivered only if no newer job of its kind has been submitted since: a result
that arrives for stale settings is dropped (and counted in ``dropped``).

Job functions run in a Python thread and receive a :class:`Job`; they call ``job.check()``
between steps (raises :class:`Cancelled`) and ``job.report(done, total, text)``.

torch is imported once, by one thread: :data:`TORCH` (a :class:`TorchGate`) does the import
under a lock, and every job that may reach torch (all but those submitted with
``needs_torch=False``) passes the gate first, so no two threads ever run torch's first import
at the same time (a concurrent first import can fail half-way, e.g. "operator prims::fft_r2c
does not exist"). The window's device probe makes that import in the background at start-up,
so the window shows before torch has loaded (~0.9 s on the 2-core machine).
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

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
            self._runner._progress_from_thread.emit(self, int(done), int(total), str(text))

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()


class Runner(QObject):
    """Runs jobs in threads; delivers results, errors and progress on the UI thread."""

    progress = Signal(str, int, int, str)  # kind, done, total, text
    busyChanged = Signal(str, bool, str)  # kind, busy, label
    delivered = Signal(str)  # kind: a result was handed to on_done
    _finished_from_thread = Signal(object, str, object, str)  # job, status, value, message
    _progress_from_thread = Signal(object, int, int, str)

    def __init__(self, parent=None, *, gate: TorchGate | None = None):
        super().__init__(parent)
        self.gate = gate or TORCH
        self._gen: dict[str, int] = {}
        self._running: dict[str, Job] = {}
        self._pending: dict[str, Job] = {}
        self.dropped = 0
        self._queues: dict[str, queue.SimpleQueue] = {}
        self._finished_from_thread.connect(self._on_finished)
        self._progress_from_thread.connect(self._on_progress)

    # --- public -------------------------------------------------------------------------------
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

    # --- internals ----------------------------------------------------------------------------
    def _start(self, job: Job) -> None:
        self._running[job.kind] = job
        self.busyChanged.emit(job.kind, True, job.label)
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

    def shutdown(self) -> None:
        """Cancel everything and let the threads end (after their current step); nothing is
        delivered any more, so nothing counts as busy."""
        self.cancel(keep=())
        for q in self._queues.values():
            q.put(None)
        self._queues.clear()
        kinds = set(self._running) | set(self._pending)
        self._running.clear()
        self._pending.clear()
        for kind in kinds:
            self.busyChanged.emit(kind, False, "")

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
            traceback.print_exc()
            value, status, msg = None, "error", f"{err.__class__.__name__}: {err}"
        try:
            self._finished_from_thread.emit(job, status, value, msg)
        except RuntimeError:  # the window was closed and its runner deleted meanwhile
            pass

    @Slot(object, int, int, str)
    def _on_progress(self, job: Job, done: int, total: int, text: str) -> None:
        if self._running.get(job.kind) is job and not job.cancelled:
            self.progress.emit(job.kind, done, total, text)

    @Slot(object, str, object, str)
    def _on_finished(self, job: Job, status: str, value, msg: str) -> None:
        if self._running.get(job.kind) is job:
            del self._running[job.kind]
        fresh = job.gen == self._gen.get(job.kind) and not job.cancelled
        nxt = self._pending.pop(job.kind, None)
        if nxt is not None:
            self._start(nxt)
        else:
            self.busyChanged.emit(job.kind, False, "")
        if not fresh:
            self.dropped += 1
            return
        if status == "ok":
            if job.on_done is not None:
                job.on_done(value)
            self.delivered.emit(job.kind)
        elif status in ("input", "error") and job.on_error is not None:
            job.on_error(msg, status == "input")
