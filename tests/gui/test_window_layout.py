"""The window's arrangement at the sizes users have (1920×1080, 1366×768): with Tune open the
views keep most of the width and a good share of the window, the samples list shows many rows,
and all panels collapse and come back with one key (pytest-qt, offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

import torch  # noqa: F401  - imported on the main thread before any window's threads
from PySide6.QtCore import Qt

from segfix_gui.io.samples import demo_paths

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"
pytestmark = pytest.mark.skipif(not (DEMO / "sample.json").is_file(), reason="demo sample missing")


def settled(w):
    return (
        w.session.result is not None
        and w.session.result_is_current()
        and not any(w.runner.busy(k) for k in ("load", "refine", "set"))
    )


def demo_set(n: int = 30):
    """The demo sample ``n`` times, as a set (names as CamVid's), without ground truth: the
    list gets its rows and nothing is scored (these tests measure the layout, not figures)."""
    from dataclasses import replace

    paths, _ = demo_paths()
    return [replace(paths, gt=None, name=f"0016E5_{8000 + i:05d}", info=(), summary=()) for i in range(n)]


def visible_rows(table) -> int:
    vp = table.viewport()
    return sum(
        1
        for r in range(table.rowCount())
        if 0 <= table.rowViewportPosition(r) and table.rowViewportPosition(r) + table.rowHeight(r) <= vp.height()
    )


# views' share of the window with Tune open (both views together): 1920×1080 ~42 %, 1366×768
# ~32 % (Tune and the side panels have a minimum; F11 gives the views the whole window)
@pytest.mark.parametrize("size,min_rows,area", [((1920, 1080), 18, 0.40), ((1366, 768), 8, 0.31)])
def test_views_keep_most_of_the_window_with_tune_open(open_window, qtbot, size, min_rows, area):
    W, H = size
    w = open_window(W, H)
    qtbot.wait(50)  # the first show's default sizes
    w.session.open_set(demo_set(), "camvid")
    table = w.panels["samples"].table
    qtbot.waitUntil(lambda: settled(w) and table.rowCount() == 30, timeout=60000)
    w.show_panel("samples")
    qtbot.keyClick(w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # Tune
    qtbot.waitUntil(lambda: w.docks["tune"].isVisible(), timeout=5000)
    qtbot.wait(100)
    views = [v for v in w.canvas.views if v.isVisible()]
    assert len(views) == 2
    for v in views:  # each view of the 360×480 frame gets about a third of the width
        assert v.width() >= 0.27 * W, (v.width(), W)
    # the image area (both views) is the largest part of the window
    share = sum(v.width() * v.height() for v in views) / (W * H)
    print(f"{W}x{H}: views {[v.size().toTuple() for v in views]}, {100 * share:.0f} % of the window")
    assert share >= area
    assert w.docks["tune"].height() <= 0.3 * H
    assert w.centralWidget().width() >= 0.55 * W
    rows = visible_rows(w.panels["samples"].table)
    print(f"{W}x{H}: {rows} sample rows in view")
    assert rows >= min_rows
    # the Tune plots stay usable under the views
    for pw in w.panels["tune"].plots.values():
        assert pw.width() >= 230 and pw.height() >= 150


def test_one_key_collapses_every_panel_and_brings_them_back(open_window, qtbot):
    w = open_window(1366, 768)
    w.open_demo()
    qtbot.waitUntil(lambda: settled(w), timeout=30000)
    w.show_panel("tune")
    qtbot.wait(50)
    before = {n for n, d in w.docks.items() if d.isVisible()}
    assert {"controls", "metrics", "tune"} <= before
    view_w = w.canvas.left.width()
    qtbot.keyClick(w, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: not any(d.isVisible() for d in w.docks.values()), timeout=5000)
    qtbot.waitUntil(lambda: w.centralWidget().width() >= w.width() - 4, timeout=5000)
    assert w.canvas.left.width() > view_w * 1.4
    qtbot.keyClick(w, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: {n for n, d in w.docks.items() if d.isVisible()} == before, timeout=5000)
    # Ctrl+Shift+F does the same, and opening a panel leaves "views only"
    qtbot.keyClick(w, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: not any(d.isVisible() for d in w.docks.values()), timeout=5000)
    w.show_panel("tune")
    qtbot.waitUntil(lambda: {n for n, d in w.docks.items() if d.isVisible()} == before, timeout=5000)
