"""pytest's setup for the whole checkout: the tests (tests/) and the doctests of the package
(segfix_gui/, collected with --doctest-modules). Qt renders offscreen (no display needed).

Without Qt — PySide6 or pyqtgraph not installed, or hidden with ``SEGFIX_TEST_WITHOUT_QT=1``
(then run pytest with ``-p no:pytest-qt``) — every other test runs and each window test is
skipped with the reason: those that use pytest-qt's ``qtbot`` and those marked ``gui``; the
window's modules (segfix_gui/gui) are not collected for doctests. ``.ci/run`` runs the suite that
way too.
"""

from __future__ import annotations

import importlib.abc
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

QT_PACKAGES = ("PySide6", "shiboken6", "pyqtgraph", "pytestqt")


class _HideQt(importlib.abc.MetaPathFinder):
    """Makes ``import PySide6`` (and the other Qt packages) fail as if they were not installed."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in QT_PACKAGES:
            raise ModuleNotFoundError(f"No module named {fullname!r} (hidden: SEGFIX_TEST_WITHOUT_QT=1)", name=fullname)
        return None


if os.environ.get("SEGFIX_TEST_WITHOUT_QT") == "1":
    loaded = sorted({m.split(".")[0] for m in sys.modules} & set(QT_PACKAGES))
    if loaded:
        raise pytest.UsageError(f"SEGFIX_TEST_WITHOUT_QT=1 but {', '.join(loaded)} is loaded: add -p no:pytest-qt")
    sys.meta_path.insert(0, _HideQt())


def _qt_missing() -> str | None:
    """Why the window cannot be tested here, or None when it can."""
    try:
        import pyqtgraph  # noqa: F401
        from PySide6 import QtWidgets  # noqa: F401
    except ImportError as err:
        return f"Qt is not installed ({err.name or err}): the window's tests need PySide6 and pyqtgraph"
    return None


QT_MISSING = _qt_missing()
# the window's modules import Qt: without it there is nothing of theirs to collect doctests from
collect_ignore_glob = ["segfix_gui/gui/*"] if QT_MISSING else []


def pytest_collection_modifyitems(config, items):
    reason = QT_MISSING
    if reason is None and not config.pluginmanager.has_plugin("pytest-qt"):
        reason = "pytest-qt is not installed (or disabled): the window's tests need its qtbot fixture"
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "qtbot" in getattr(item, "fixturenames", ()) or item.get_closest_marker("gui"):
            item.add_marker(skip)
