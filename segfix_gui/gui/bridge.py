"""The session in a Qt window: results delivered on the event loop, widgets bound to fields.

:func:`attach_runner` makes the session's job :class:`~segfix_gui.session.jobs.Runner` hand
its results to the Qt event loop: worker threads poke a QObject living on the UI thread,
which then calls ``runner.process_events()`` there (one call drains whatever has arrived).

:func:`bind` is napari's ``connect_setattr`` pattern: a widget is updated from one session
field's event with its own signals blocked, so updating it never writes back to the session.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSignalBlocker, Qt, Signal

from ..session.jobs import Runner


class RunnerBridge(QObject):
    """Delivers a Runner's inbox on the UI thread (see the module)."""

    _wake = Signal()

    def __init__(self, runner: Runner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self._poked = False
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        runner.set_waker(self._poke)

    def _poke(self) -> None:  # any thread
        if not self._poked:
            self._poked = True
            self._wake.emit()

    def _drain(self) -> None:  # the UI thread
        self._poked = False
        self.runner.process_events()

    def detach(self) -> None:
        self.runner.set_waker(None)


def attach_runner(runner: Runner, parent: QObject) -> RunnerBridge:
    return RunnerBridge(runner, parent)


def bind(event, update: Callable, *widgets) -> Callable:
    """Call ``update(value)`` on each emission of a session field's ``event``, with the signals
    of ``widgets`` blocked meanwhile (no feedback into the session). Returns the slot."""

    def slot(value, *_old) -> None:
        blockers = [QSignalBlocker(w) for w in widgets]
        try:
            update(value)
        finally:
            for b in blockers:
                b.unblock()

    event.connect(slot)
    return slot


def quietly(setter: Callable, widget, value) -> None:
    """``setter(value)`` on ``widget`` with its signals blocked."""
    blocker = QSignalBlocker(widget)
    try:
        setter(value)
    finally:
        blocker.unblock()
