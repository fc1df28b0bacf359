"""Fixtures of the window's tests (Qt's setup and the Qt-absent rules: ../conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def dialogs(monkeypatch):
    """Every warning dialog's text, instead of a blocking dialog."""
    from PySide6.QtWidgets import QMessageBox

    seen: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda _parent, _title, text, *a, **k: seen.append(text)))
    return seen


@pytest.fixture
def settings(tmp_path):
    """Private QSettings, so tests never touch the user's recent files."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def open_window(qtbot, settings, dialogs):
    """Factory ``open_window(width, height)``: a shown MainWindow with private settings.

    At teardown its background work is cancelled and waited for, and it is closed.
    """
    import shiboken6

    from segfix_gui.gui.window import MainWindow

    made = []

    def make(width: int = 1400, height: int = 900):
        w = MainWindow(settings=settings)
        qtbot.addWidget(w)
        w.resize(width, height)
        w.show()
        qtbot.waitExposed(w)
        made.append(w)
        return w

    yield make
    for w in made:
        if shiboken6.isValid(w):
            w.runner.cancel()
            qtbot.waitUntil(lambda w=w: not w.runner.busy(), timeout=30000)
            w.close()
