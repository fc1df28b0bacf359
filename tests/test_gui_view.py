"""The picture: view modes keep the fitted view, the diff marks show at any zoom, the colour
keys, the figure export, and the panels' readability (pytest-qt, offscreen)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

import torch  # noqa: E402,F401  (before any worker thread: see tests/test_gui.py)

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "demo"

pytestmark = pytest.mark.skipif(not (DEMO / "sample.json").is_file(),
                                reason="demo sample missing (python tools/make_demo.py)")


def wait_result(qtbot, w):
    qtbot.waitUntil(lambda: w.state.result is not None and w.state.result_is_current()
                    and not w.runner.busy("refine") and not w.runner.busy("load"), timeout=20000)


def settle(qtbot, ms: int = 60):
    """Let layouts and zero-delay timers run (as the event loop does between user actions)."""
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(ms // 3)


@pytest.fixture
def demo(open_window, qtbot):
    w = open_window(1400, 900)
    w.open_demo()
    wait_result(qtbot, w)
    settle(qtbot)
    return w


def _ranges(view):
    (x0, x1), (y0, y1) = view.vb.viewRange()
    return np.array([x0, x1, y0, y1])


# --- item 6: before | after <-> single view ---------------------------------------------------

def test_view_toggles_keep_the_fitted_view(demo, qtbot):
    cv, st = demo.canvas, demo.state
    h, w = st.sample.shape
    assert cv.left.is_fitted()
    fitted = _ranges(cv.left)
    single = None
    for _ in range(3):  # round trips: V, V
        qtbot.keyClick(demo, Qt.Key.Key_V)
        settle(qtbot)
        assert st.view_mode == "single" and cv.left.is_fitted()
        if single is None:
            single = _ranges(cv.left)
        np.testing.assert_allclose(_ranges(cv.left), single, atol=0.5)
        # the divider is in the middle of the image, and the image in the middle of the view
        x0, x1, _, _ = _ranges(cv.left)
        assert cv.swipe_line.value() == pytest.approx(st.swipe * w)
        assert (x0 + x1) / 2 == pytest.approx(w / 2, abs=1)
        qtbot.keyClick(demo, Qt.Key.Key_V)
        settle(qtbot)
        assert st.view_mode == "side" and cv.left.is_fitted()
        np.testing.assert_allclose(_ranges(cv.left), fitted, atol=0.5)
        # both panes keep the same width, so one fit fits both
        assert abs(cv.left.vb.width() - cv.right.vb.width()) <= 2
    np.testing.assert_allclose(_ranges(cv.right), fitted, atol=2)  # a pane may be 1 px narrower
    qtbot.keyClick(demo, Qt.Key.Key_F)
    settle(qtbot)
    np.testing.assert_allclose(_ranges(cv.left), fitted, atol=0.5)


def test_view_toggle_keeps_centre_and_zoom_when_zoomed_in(demo, qtbot):
    cv, st = demo.canvas, demo.state
    cv.left.vb.setRange(xRange=(100, 200), yRange=(100, 200), padding=0)
    settle(qtbot)
    cx, cy, ppx = cv.left.zoom_state()
    for mode in ("single", "side", "single", "side"):
        st.set_view(mode=mode)
        settle(qtbot)
        assert not cv.left.is_fitted()
        np.testing.assert_allclose(cv.left.zoom_state(), (cx, cy, ppx), rtol=0.01, atol=0.5)


# --- drawing: layer images in the painter's fast format, opacity in the table ----------------

def test_layer_images_fast_format_and_opacity_in_table(demo, qtbot):
    from PySide6.QtGui import QImage

    st, L = demo.state, demo.canvas.left.layers
    item = L.labels_before
    demo.panels["layers"].sliders["labels"].setValue(50)
    item.render()
    assert item.qimage.format() == QImage.Format.Format_ARGB32_Premultiplied
    assert item.opacity() == 1.0 and item.layer_opacity() == pytest.approx(0.5)
    r, c = 200, 100
    cls = int(st.sample.pred[r, c])
    colour = item.qimage.pixelColor(c, r)
    assert colour.alpha() == pytest.approx(128, abs=1)
    assert (colour.red(), colour.green(), colour.blue()) == pytest.approx(
        tuple(int(v) for v in st.sample.space.colors[cls]), abs=2)
    st.toggle_class(cls)  # hiding a class still zeroes its colour at any opacity
    item.render()
    assert item.qimage.pixelColor(c, r).alpha() == 0
    L.image.render()
    assert L.image.qimage.format() == QImage.Format.Format_RGB32
