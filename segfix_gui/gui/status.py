"""The status bar: the session's one-line notes, and work in progress with its progress and a
Cancel button (shown only once work has run for a moment: a slider drag never flickers)."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QPushButton

BUSY_DELAY_MS = 250
QUIET_KINDS = ("probe",)


class StatusBar:
    def __init__(self, window: QMainWindow, session):
        self.session = session
        sb = window.statusBar()
        self.text = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(lambda: session.jobs.cancel())
        sb.addWidget(self.text, 1)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)
        self._busy: dict[str, str] = {}
        self._shown = False
        self._timer = QTimer(window)
        self._timer.setSingleShot(True)
        self._timer.setInterval(BUSY_DELAY_MS)
        self._timer.timeout.connect(self._show_busy)
        session.jobs.busy_changed.connect(self._on_busy)
        session.jobs.progress.connect(self._on_progress)
        session.events.status.connect(lambda text, *_: self.text.setText(text))

    def set_text(self, text: str) -> None:
        self.text.setText(text)

    def _on_busy(self, kind: str, busy: bool, label: str) -> None:
        """Work in progress shows only once it has run for BUSY_DELAY_MS: quick refinements (a
        slider drag) never relayout or repaint the window."""
        if kind in QUIET_KINDS:
            return
        if busy:
            self._busy[kind] = label
            if not self._shown:
                self._timer.start()
        else:
            self._busy.pop(kind, None)
        if not self._busy:
            self._timer.stop()
            if self._shown:
                self._shown = False
                self.progress.setVisible(False)
                self.cancel_button.setVisible(False)
                self.text.setText("ready")
        elif self._shown:
            self.text.setText(", ".join(self._busy.values()))

    def _show_busy(self) -> None:
        if self._busy:
            self._shown = True
            self.progress.setRange(0, 0)
            self.progress.setVisible(True)
            self.cancel_button.setVisible(True)
            self.text.setText(", ".join(self._busy.values()))

    def _on_progress(self, kind: str, done: int, total: int, text: str) -> None:
        if kind in QUIET_KINDS or not self._shown:
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{text} %p%")
