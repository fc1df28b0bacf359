"""The picture: view modes keep the fitted view, the diff marks show at any zoom, the colour
keys, the figure export, and the panels' readability (pytest-qt, offscreen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

import torch  # noqa: F401  (before any worker thread: see tests/gui/test_gui.py)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"

pytestmark = pytest.mark.skipif(
    not (DEMO / "sample.json").is_file(), reason="demo sample missing (python tools/make_demo.py)"
)


def wait_result(qtbot, w):
    qtbot.waitUntil(
        lambda: (
            w.session.result is not None
            and w.session.result_is_current()
            and not w.runner.busy("refine")
            and not w.runner.busy("load")
        ),
        timeout=20000,
    )


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
    cv, st = demo.canvas, demo.session
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
    cv, st = demo.canvas, demo.session
    cv.left.vb.setRange(xRange=(100, 200), yRange=(100, 200), padding=0)
    settle(qtbot)
    cx, cy, ppx = cv.left.zoom_state()
    for mode in ("single", "side", "single", "side"):
        st.set_view(mode=mode)
        settle(qtbot)
        assert not cv.left.is_fitted()
        np.testing.assert_allclose(cv.left.zoom_state(), (cx, cy, ppx), rtol=0.01, atol=0.5)


# --- drawing: photo and labels as one opaque image, other layers in the painter's fast format --


def test_layer_images_fast_formats_and_opacity(demo, qtbot):
    from PySide6.QtGui import QImage

    from segfix_gui.gui.layers import label_lut, rgb_view

    st, cv = demo.session, demo.canvas
    L = cv.left.layers
    before, after = cv.composite.qimages()
    assert before.format() == after.format() == QImage.Format.Format_RGB32  # drawn unblended
    assert L.pixels_before._qimage is before and cv.right.layers.pixels_after._qimage is after
    demo.panels["layers"].sliders["labels"].setValue(50)
    r, c = 200, 100
    cls = int(st.sample.pred[r, c])
    colour = label_lut(st.sample.space)[cls, :3].astype(float)
    a = round(255 * 0.5) / 255
    want = np.rint(st.sample.image[r, c] * (1 - a) + colour * a)
    np.testing.assert_array_equal(before.pixelColor(c, r).getRgb()[:3], want)  # Qt reads the buffer
    st.toggle_class(st.sample.space.to_eval(np.array([cls]))[0])  # a hidden class: the photo alone
    np.testing.assert_array_equal(rgb_view(cv.composite.before)[r, c], st.sample.image[r, c])
    L.heat.render()
    assert L.heat.qimage.format() == QImage.Format.Format_ARGB32_Premultiplied


# --- item 8: diff marks at any zoom, colour keys next to the views ---------------------------


def test_widen_codes_keeps_true_marks_and_priority():
    from segfix_gui.core.metrics import BROKEN, FIXED, SWAPPED
    from segfix_gui.gui.layers import mark_radius, widen_codes

    codes = np.zeros((9, 12), np.uint8)
    codes[4, 3] = FIXED
    codes[4, 5] = BROKEN
    codes[0, 11] = SWAPPED
    assert widen_codes(codes, 0) is codes
    out = widen_codes(codes, 1)
    assert out[4, 3] == FIXED and out[4, 5] == BROKEN  # true marks stay what they are
    assert out[4, 4] == BROKEN  # where halos meet, broken wins
    assert np.all(out[3:6, 2] == FIXED) and np.all(out[3:6, 6] == BROKEN)
    assert out[1, 10] == SWAPPED and out[0, 9] == 0  # clipped at the edge, 3×3 only
    assert (out != 0).sum() == 9 + 9 + 4 - 3  # two overlapping squares and a corner
    assert mark_radius(8.0) == 0 and mark_radius(1.0) == 1 and mark_radius(0.5) == 3


def test_diff_marks_widened_when_zoomed_out_true_codes_kept(demo, qtbot):
    cv, st = demo.canvas, demo.session
    codes = st.result.codes.copy()
    cv.fit()
    cv.update_arrows()
    shown = cv.left.layers.diff.image
    if cv.pixels_per_image_pixel() < 3:
        assert cv.mark_radius >= 1
        assert (shown != 0).sum() > (codes != 0).sum()
        assert "widened" in cv.key.diff.text()
    np.testing.assert_array_equal(shown[codes != 0], codes[codes != 0])
    np.testing.assert_array_equal(st.result.codes, codes)  # the numbers' codes untouched
    cv.left.vb.setRange(xRange=(200, 230), yRange=(150, 180), padding=0)
    cv.update_arrows()
    assert cv.mark_radius == 0
    np.testing.assert_array_equal(cv.left.layers.diff.image, codes)


def test_view_key_shows_diff_counts_and_heat_scale(demo, qtbot):
    key, st = demo.canvas.key, demo.session
    text = key.diff.text()
    for name in ("fixed", "broken", "swapped"):
        assert name in text and f"{st.result.counts[name]:,}" in text
    assert key.heat.isHidden()
    qtbot.keyClick(demo, Qt.Key.Key_3)  # boundary layer on
    assert not key.heat.isHidden()
    from segfix_gui.gui.canvas import heat_bar
    from segfix_gui.gui.layers import heat_lut

    bar = heat_bar(256, 4)
    right = bar.pixelColor(255, 0)
    assert (right.red(), right.green(), right.blue()) == tuple(int(v) for v in heat_lut()[255, :3])


# --- item 10: figure export and the IoU CSV's context ----------------------------------------


def test_figure_export_is_offscreen_at_image_resolution(demo, qtbot, tmp_path):
    from segfix_gui.gui.export import figure_layers, render_figure
    from segfix_gui.gui.layers import DIFF_COLOURS, label_lut
    from segfix_gui.io.images import read_image

    st = demo.session
    h, w = st.sample.shape
    path = tmp_path / "fig.png"
    assert demo.export("figure", str(path), scale=1.0)
    fig = read_image(path)
    assert fig.shape[1] >= 3 * w and fig.shape[0] > h  # three panels, header and legend
    # the panels are the layers' colours at the image's own resolution: find the "before"
    # panel's top-left by the first panel pixel that equals the composed layers
    layers = figure_layers(st.sample, st.result, layers=st.layers, hidden=st.hidden)
    assert set(layers) == {"before", "after", "diff"}
    labels = layers["before"][-1]
    lut = label_lut(st.sample.space, st.hidden)
    np.testing.assert_array_equal(labels[..., :3], lut[st.sample.pred][..., :3])
    assert labels[..., 3].max() == round(255 * st.layers["labels"].opacity)
    # twice the scale: twice the panel size, same header/legend layout idea
    big = render_figure(st.sample, st.result, st.before, scale=2.0, panels=("before", "after"))
    assert big.width() >= 4 * w and big.width() < 5 * w
    # the diff panel shows the change colours (widened at scale 1, like the window's)
    diff = layers["diff"][-1]
    fixed = np.all(diff[..., :3] == DIFF_COLOURS[1], axis=-1)
    assert fixed.sum() >= (st.result.codes == 1).sum() > 0
    with pytest.raises(ValueError):
        render_figure(st.sample, st.result, scale=0)


def test_figure_and_csv_carry_the_setting(demo, qtbot, tmp_path):
    import csv

    from segfix_gui.gui.export import iou_csv

    st = demo.session
    st.set_setting(threshold=0.35, scale=3.0, min_direction_prob=0.1)
    wait_result(qtbot, demo)
    assert demo.export("csv", str(tmp_path / "iou.csv"))
    with open(tmp_path / "iou.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["sample"] for r in rows} == {st.sample.name}
    assert {(r["threshold"], r["direction_confidence"], r["scale"]) for r in rows} == {("0.35", "0.1", "3")}
    assert float(next(r for r in rows if r["class"] == "mIoU")["iou_after"]) == st.result.after["miou"]
    text = iou_csv(st.before, st.result.after, sample_name="x", setting=st.result.setting, hard=True)
    assert text.splitlines()[1].endswith(",x,,,3")  # hard offsets: no threshold
    # the figure's header states the setting: render it twice and see the pixels differ
    from segfix_gui.gui.export import render_figure

    a = render_figure(st.sample, st.result, st.before)
    st.set_setting(threshold=0.6)
    wait_result(qtbot, demo)
    b = render_figure(st.sample, st.result, st.before)
    assert a.size() == b.size() and a != b
