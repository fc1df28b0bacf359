"""The inspector window, driven through its real widgets (pytest-qt, offscreen).

Numbers shown are checked against the engine's own functions at the same setting.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

# Test code below calls engine functions that import torch (degrade) on the main thread, so
# torch is imported here first, before any window's worker threads exist (the window itself
# imports it once, in one thread: see test_torch_is_imported_once_before_jobs_run).
import torch
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from segfix_gui.core.degrade import degrade
from segfix_gui.core.metrics import change_codes, change_counts, evaluate_pair
from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.refine import refine_labels, source_indices
from segfix_gui.core.setting import Setting
from segfix_gui.gui.layers import widen_codes
from segfix_gui.io.images import read_image, read_labels, write_labels
from segfix_gui.io.offsets import read_offsets, write_offsets
from segfix_gui.labels import get_label_space

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"
SPACE = get_label_space("camvid")

pytestmark = pytest.mark.skipif(
    not (DEMO / "sample.json").is_file(), reason="demo sample missing (python tools/make_demo.py)"
)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def win(open_window):
    w = open_window(1400, 900)
    return w


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


@pytest.fixture
def demo(win, qtbot):
    win.open_demo()
    wait_result(qtbot, win)
    return win


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The demo with a boundary *graded* by a fixed random factor (so the threshold matters),
    written as files: (paths dict, field). A test fixture, not a model's output."""
    d = tmp_path_factory.mktemp("graded")
    f = read_offsets(DEMO / "offsets.npz")
    rng = np.random.default_rng(0)
    b = (f.boundary * rng.uniform(0.2, 1.0, f.boundary.shape)).astype(np.float32)
    field = OffsetField(boundary=b, direction=f.direction)
    write_offsets(d / "x.npz", field)
    paths = {
        "image": str(DEMO / "image.jpg"),
        "pred": str(DEMO / "prediction.png"),
        "offsets": str(d / "x.npz"),
        "gt": str(DEMO / "ground_truth.png"),
    }
    return paths, read_offsets(d / "x.npz")


def open_graded(win, qtbot, graded):
    from segfix_gui.io.samples import SamplePaths

    paths, field = graded
    win.open_paths(SamplePaths(**paths), "camvid")
    wait_result(qtbot, win)
    return field


def engine(field, pred, gt, *, threshold, scale=2.0, mdp=0.0):
    off = field.to_offsets(Setting(threshold=threshold, scale=scale, min_direction_prob=mdp))
    refined = refine_labels(pred, off, device="cpu")
    return off, refined, evaluate_pair(gt, refined, SPACE), change_codes(pred, refined, gt, SPACE)


def table_values(panel):
    """{class: (before, after, delta)} as stored in the table's cells, and the cell texts."""
    out, texts = {}, {}
    t = panel.table
    for r in range(t.rowCount()):
        name = t.item(r, 0).text()
        out[name] = tuple(t.item(r, c).data(Qt.ItemDataRole.UserRole) for c in (1, 2, 3))
        texts[name] = tuple(t.item(r, c).text() for c in (1, 2, 3))
    return out, texts


# --- opening, threshold, numbers --------------------------------------------------------------


def test_demo_opens_with_honest_info(demo):
    st = demo.session
    assert st.sample.shape == (360, 480)
    assert st.sample.gt is not None and st.sample.image is not None
    header = demo.canvas.info.text()
    # the shipped demo: the bundled network's offsets on a real segmentation network's prediction,
    # named with its val mIoU
    assert "bundled offset network" in header and "recommended setting" in header
    assert "oracle" not in header
    assert "trained on CamVid train, val mIoU" in header and "simulated" not in header
    assert st.before is not None and st.result.after is not None


def test_threshold_move_table_equals_engine(win, qtbot, graded):
    field = open_graded(win, qtbot, graded)
    s = win.session.sample
    controls = win.panels["controls"]
    controls.threshold.slider.setValue(700)  # as a user dragging the slider: threshold 0.7
    wait_result(qtbot, win)
    assert win.session.setting.threshold == pytest.approx(0.7)
    off, refined, metrics, codes = engine(field, s.pred, s.gt, threshold=0.7)
    res = win.session.result
    assert np.array_equal(res.offsets, off)
    assert np.array_equal(res.refined, refined)

    values, texts = table_values(win.panels["metrics"])
    before = evaluate_pair(s.gt, s.pred, SPACE)
    assert set(values) == set(SPACE.names)
    for name in SPACE.names:
        b, a, d = values[name]
        assert b == before["per_class_iou"][name]
        assert a == metrics["per_class_iou"][name]
        exp_a = metrics["per_class_iou"][name]
        assert texts[name][1] == ("n/a" if exp_a is None else f"{100 * exp_a:.2f}")
        if a is not None and b is not None:
            assert d == pytest.approx(a - b)
    lb, la, ld = win.panels["metrics"].sample_grid.cells["miou"]
    assert la.text() == f"{100 * metrics['miou']:.2f}"
    assert lb.text() == f"{100 * before['miou']:.2f}"
    assert win.panels["metrics"].sample_grid.cells["boundary_f"][1].text() == f"{100 * metrics['boundary_f']:.2f}"

    # diff layer: the codes drawn are the engine's, and the counts shown are theirs
    drawn = win.canvas.right.layers.diff.image  # widened for display when zoomed out
    assert np.array_equal(drawn, widen_codes(codes, win.canvas.mark_radius))
    assert np.array_equal(res.codes, codes)
    counts = change_counts(codes)
    assert {k: res.counts[k] for k in counts} == counts
    key = win.panels["layers"].key.text()
    assert f"{counts['fixed']:,}" in key and f"{counts['broken']:,}" in key

    # a different threshold gives a different result, and the table follows
    controls.threshold.spin.setValue(0.3)
    wait_result(qtbot, win)
    _, refined3, metrics3, _ = engine(field, s.pred, s.gt, threshold=0.3)
    assert np.array_equal(win.session.result.refined, refined3)
    assert not np.array_equal(refined3, refined)
    values3, _ = table_values(win.panels["metrics"])
    assert all(values3[n][1] == metrics3["per_class_iou"][n] for n in SPACE.names)
    check_chart_and_after(win)
    controls.threshold.spin.setValue(0.55)  # the chart's bars and the after image move in place
    wait_result(qtbot, win)
    check_chart_and_after(win)


def check_chart_and_after(win):
    """The Δ chart's bars are the table's Δ (points) of the classes present, and the after
    image is the refined labels blended over the photo, as a fresh Composite makes it."""
    from segfix_gui.gui.layers import Composite, display_ids, label_lut

    panel, st = win.panels["metrics"], win.session
    values, _ = table_values(panel)
    rows = panel.chart_rows(panel.rows)
    x0, width = panel.bars.opts["x0"], panel.bars.opts["width"]
    shown = np.where(np.asarray(x0) < 0, x0, width)
    np.testing.assert_allclose(shown, [100 * values[r[0]][2] for r in rows], atol=1e-9)
    opt = st.layers
    want = Composite(
        display_ids(st.result.refined, st.sample.space)[0],
        label_lut(st.sample.space, st.hidden),
        st.sample.image,
        labels=(opt["labels"].visible, opt["labels"].opacity),
        photo=(opt["image"].visible, opt["image"].opacity),
    )
    assert np.array_equal(win.canvas.composite.after, want.before)


def test_direction_confidence_and_scale_controls(win, qtbot, graded):
    field = open_graded(win, qtbot, graded)
    s = win.session.sample
    c = win.panels["controls"]
    c.scale.setValue(3.0)
    wait_result(qtbot, win)
    c.direction.spin.setValue(0.5)
    wait_result(qtbot, win)
    off, refined, _, _ = engine(field, s.pred, s.gt, threshold=0.5, scale=3.0, mdp=0.5)
    assert np.array_equal(win.session.result.refined, refined)


def test_stale_results_are_dropped(win, qtbot, graded):
    open_graded(win, qtbot, graded)
    for t in np.linspace(0.1, 0.9, 9):  # a fast drag: nine settings, no waiting
        win.session.set_setting(threshold=float(t))
    wait_result(qtbot, win)
    assert win.session.result.setting.threshold == pytest.approx(0.9)
    assert win.runner.dropped >= 1


def test_window_probe_imports_torch_in_one_thread(win, qtbot):
    from segfix_gui.session.jobs import TORCH

    qtbot.waitUntil(lambda: TORCH.done, timeout=20000)
    # the process-wide gate ran the import once; in this test process the main thread had
    # imported torch already, so the gate's import found it done
    assert TORCH.error is None and TORCH.thread is not None
    assert TORCH.thread in ("segfix-probe", "segfix-refine", "segfix-set", "segfix-sweep")


def test_auto_off_needs_refine_button(win, qtbot, graded):
    open_graded(win, qtbot, graded)
    c = win.panels["controls"]
    c.auto.setChecked(False)
    first = win.session.result
    c.threshold.spin.setValue(0.8)
    qtbot.wait(200)
    assert win.session.result is first and not win.session.result_is_current()
    qtbot.mouseClick(c.refine_btn, Qt.MouseButton.LeftButton)
    wait_result(qtbot, win)
    assert win.session.result.setting.threshold == pytest.approx(0.8)


# --- layers, legend, inspector, views ---------------------------------------------------------


def test_hide_and_isolate_class(demo, qtbot):
    legend = demo.panels["legend"]
    road = SPACE.names.index("road")
    item = legend.list.item(road)
    rect = legend.list.visualItemRect(item)
    qtbot.mouseClick(legend.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert demo.session.hidden == {road}
    road_id = next(c.id for c in SPACE.classes if c.name == "road")
    st, comp = demo.session, demo.canvas.composite
    for shown, ids in ((comp.before, st.sample.pred), (comp.after, st.result.refined)):
        rgb = rgb_of(shown)
        assert np.array_equal(rgb[ids == road_id], photo_of(st)[ids == road_id])  # the photo alone
        other = (ids != road_id) & (ids != 255)
        assert (rgb[other] != photo_of(st)[other]).any(axis=1).mean() > 0.9  # others blended
    assert item.font().strikeOut()
    qtbot.mouseClick(
        legend.list.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, pos=rect.center()
    )
    assert demo.session.hidden == set(range(SPACE.n_classes)) - {road}
    qtbot.mouseClick(legend.show_all, Qt.MouseButton.LeftButton)
    assert demo.session.hidden == set()


def rgb_of(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) R, G, B of a Composite buffer (Qt's RGB32: B, G, R, 0xff on little-endian)."""
    from segfix_gui.gui.layers import rgb_view

    return np.ascontiguousarray(rgb_view(pixels))


def photo_of(state) -> np.ndarray:
    return state.sample.image


def test_layer_toggles_and_opacity(demo, qtbot):
    L = demo.canvas.left.layers
    st = demo.session
    panel = demo.panels["layers"]
    panel.sliders["labels"].setValue(30)
    assert st.layers["labels"].opacity == pytest.approx(0.3)
    r, c = 200, 100
    cls = int(st.sample.pred[r, c])
    from segfix_gui.gui.layers import BACKGROUND, label_lut

    colour = label_lut(st.sample.space)[cls, :3].astype(float)
    a = round(255 * 0.3) / 255
    want = np.rint(photo_of(st)[r, c] * (1 - a) + colour * a)
    np.testing.assert_array_equal(rgb_of(demo.canvas.composite.before)[r, c], want)
    panel.checks["image"].setChecked(False)  # the photo hidden: labels over the background
    want = np.rint(np.array(BACKGROUND) * (1 - a) + colour * a)
    np.testing.assert_array_equal(rgb_of(demo.canvas.composite.before)[r, c], want)
    panel.checks["image"].setChecked(True)
    qtbot.keyClick(demo, Qt.Key.Key_3)  # boundary heat map on
    assert demo.session.layers["boundary"].visible and L.heat.isVisible()
    qtbot.keyClick(demo, Qt.Key.Key_4)  # arrows off
    assert not L.arrows.isVisible() and demo.canvas.arrow_count == 0
    assert not panel.checks["arrows"].isChecked()


def test_inspector_and_source_link(demo, qtbot):
    st = demo.session
    dst, src = source_indices(st.result.offsets)
    w = st.sample.shape[1]
    i = len(dst) // 2
    r, c = divmod(int(dst[i]), w)
    sr, sc = divmod(int(src[i]), w)
    st.set_cursor((r, c))
    insp = demo.panels["inspector"]
    assert insp.text("pixel") == f"(row {r}, col {c})"
    assert insp.text("label from").startswith(f"(row {sr}, col {sc})")
    x, y = demo.canvas.left.layers.link.getData()
    assert list(x) == [c + 0.5, sc + 0.5] and list(y) == [r + 0.5, sr + 0.5]
    conf = float(st.sample.field.direction_confidence()[r, c])
    assert f"p = {conf:.2f}" in insp.text("direction")
    assert insp.text("boundary prob.") == f"{float(st.sample.field.boundary[r, c]):.3f}"
    moving = (st.result.offsets != 0).any(axis=0)
    r2, c2 = map(int, np.argwhere(~moving)[0])
    st.set_cursor((r2, c2))
    assert insp.text("label from").startswith("itself")
    # the cursor follows the mouse over a view
    view = demo.canvas.left
    pt = view.mapFromScene(view.vb.mapViewToScene(QPointF(100.5, 50.5)))
    ev = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(pt),
        QPointF(view.viewport().mapToGlobal(pt)),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(view.viewport(), ev)
    qtbot.waitUntil(
        lambda: st.cursor is not None and abs(st.cursor[0] - 50) <= 1 and abs(st.cursor[1] - 100) <= 1, timeout=3000
    )  # ±1: screen pixels are coarser
    assert insp.text("pixel") == "(row {}, col {})".format(*st.cursor)


def test_view_modes_swipe_and_ground_truth(demo, qtbot):
    st, cv = demo.session, demo.canvas
    assert not cv.right.isHidden()
    qtbot.keyClick(demo, Qt.Key.Key_V)
    assert st.view_mode == "single" and cv.right.isHidden()
    demo.panels["controls"].swipe.setValue(250)
    w = st.sample.shape[1]
    assert cv.left.layers.after_clip.rect().left() == pytest.approx(0.25 * w)
    assert cv.left.layers.before_clip.rect().width() == pytest.approx(0.25 * w)
    qtbot.keyClick(demo, Qt.Key.Key_T)
    assert st.swipe in (0.0, 1.0)
    qtbot.keyClick(demo, Qt.Key.Key_G)
    assert st.after_source == "gt"
    from segfix_gui.gui.layers import Composite, display_ids, label_lut

    opt = st.layers  # the after side shows the ground truth, blended as the prediction is
    want = Composite(
        display_ids(st.sample.gt, st.sample.space)[0],
        label_lut(st.sample.space),
        st.sample.image,
        labels=(opt["labels"].visible, opt["labels"].opacity),
        photo=(opt["image"].visible, opt["image"].opacity),
    )
    assert np.array_equal(cv.composite.after, want.before)
    assert cv.left.layers.pixels_after.boundingRect().width() == st.sample.shape[1]


def test_overlay_hook_draws_on_every_view(demo):
    import pyqtgraph as pg

    items = demo.canvas.add_overlay(lambda v: pg.PlotCurveItem([10, 200], [10, 100]))
    assert len(items) == 2
    assert [i.getViewBox() for i in items] == [v.vb for v in demo.canvas.views]


def test_arrows_one_item_stride_from_zoom(demo, qtbot):
    from segfix_gui.session.arrows import MAX_ARROWS, arrow_points

    cv = demo.canvas
    cv.fit()
    cv.update_arrows()
    far = cv.arrow_count
    assert 0 < far <= MAX_ARROWS and cv._arrow_stride > 1
    cv.left.vb.setRange(xRange=(200, 215), yRange=(200, 215), padding=0)
    cv.update_arrows()
    assert cv._arrow_stride == 1
    off = demo.session.result.offsets
    (x0, x1), (y0, y1) = cv.left.vb.viewRange()
    r0, r1 = max(int(np.floor(y0)), 0), min(int(np.ceil(y1)), 360)
    c0, c1 = max(int(np.floor(x0)), 0), min(int(np.ceil(x1)), 480)
    assert cv.arrow_count == int((off[:, r0:r1, c0:c1] != 0).any(axis=0).sum())
    x, y, _ = arrow_points(off, (0, 360, 0, 480), 1)
    # every shaft points along the offset: from the pixel towards where its label comes from
    shafts_x, shafts_y = x.reshape(-1, 6)[:, :2], y.reshape(-1, 6)[:, :2]
    rr, cc = (shafts_y[:, 0] - 0.5).astype(int), (shafts_x[:, 0] - 0.5).astype(int)
    assert np.all(np.sign(shafts_y[:, 1] - shafts_y[:, 0]).round() == np.sign(off[0, rr, cc]))
    assert np.all(np.sign(shafts_x[:, 1] - shafts_x[:, 0]).round() == np.sign(off[1, rr, cc]))


def test_hard_mat_offsets_disable_threshold(win, qtbot, tmp_path):
    from segfix_gui.io.samples import SamplePaths

    f = read_offsets(DEMO / "offsets.npz")
    write_offsets(tmp_path / "x.mat", f)
    win.open_paths(
        SamplePaths(
            image=str(DEMO / "image.jpg"),
            pred=str(DEMO / "prediction.png"),
            offsets=str(tmp_path / "x.mat"),
            gt=str(DEMO / "ground_truth.png"),
        ),
        "camvid",
    )
    wait_result(qtbot, win)
    c = win.panels["controls"]
    assert win.session.sample.field.is_hard
    assert not c.threshold.isEnabled() and not c.direction.isEnabled()
    assert "hard" in c.threshold.toolTip()
    s = win.session.sample
    expect = refine_labels(s.pred, f.to_offsets(Setting(threshold=0.5, scale=2)), device="cpu")
    assert np.array_equal(win.session.result.refined, expect)


# --- bad input, exports -----------------------------------------------------------------------


def test_broken_files_show_dialog_and_keep_sample(demo, qtbot, tmp_path, dialogs):
    st = demo.session
    sample, result = st.sample, st.result
    small = OffsetField(boundary=np.zeros((36, 48), np.float32), direction=np.full((8, 36, 48), 0.125, np.float32))
    write_offsets(tmp_path / "small.npz", small)
    demo.open_parts({"offsets": str(tmp_path / "small.npz")})
    qtbot.waitUntil(lambda: len(dialogs) == 1, timeout=10000)
    assert dialogs[0] == (f"{tmp_path / 'small.npz'}: offsets are 36×48 but the prediction prediction.png is 360×480")
    assert st.sample is sample and st.result is result
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    demo.open_parts({"offsets": str(tmp_path / "junk.npz")})
    qtbot.waitUntil(lambda: len(dialogs) == 2, timeout=10000)
    assert dialogs[1].startswith(f"{tmp_path / 'junk.npz'}: ")  # the engine's one line
    assert "\n" not in dialogs[1]
    assert st.sample is sample
    # still usable: a threshold change still refines the kept sample
    st.set_setting(threshold=0.999)
    wait_result(qtbot, demo)
    assert st.sample is sample


def test_exports_read_back(demo, qtbot, tmp_path, dialogs):
    st = demo.session
    st.set_setting(threshold=0.4, scale=3.0, min_direction_prob=0.0)  # not the demo's recommendation
    wait_result(qtbot, demo)
    assert demo.export("refined", str(tmp_path / "refined.png"))
    assert np.array_equal(read_labels(tmp_path / "refined.png", SPACE), st.result.refined)

    assert demo.export("offsets", str(tmp_path / "o.npz"))
    back = read_offsets(tmp_path / "o.npz")
    assert back.recommended == {"threshold": pytest.approx(0.4), "min_direction_prob": 0.0, "scale": 3.0}
    assert np.array_equal(back.to_offsets(back.setting()), st.result.offsets)

    assert demo.export("offsets", str(tmp_path / "o.mat"))
    hard = read_offsets(tmp_path / "o.mat")
    assert np.array_equal(hard.hard, st.sample.field.to_offsets(Setting(threshold=0.4, scale=1)))

    assert demo.export("csv", str(tmp_path / "iou.csv"))
    with open(tmp_path / "iou.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:4] == ["class", "iou_before", "iou_after", "delta"]
    by_name = {r[0]: r for r in rows[1:]}
    for name, v in st.result.after["per_class_iou"].items():
        assert (by_name[name][2] == "") if v is None else float(by_name[name][2]) == v
    assert float(by_name["mIoU"][2]) == st.result.after["miou"]

    assert demo.export("view", str(tmp_path / "view.png"))
    view = read_image(tmp_path / "view.png")
    assert view.shape[0] > 100 and view.std() > 10

    # never onto an input
    before = (DEMO / "prediction.png").read_bytes()
    assert not demo.export("refined", str(DEMO / "prediction.png"))
    assert "never overwritten" in dialogs[-1]
    assert (DEMO / "prediction.png").read_bytes() == before
    assert not list(tmp_path.glob(".*part*"))


# --- sets, recent files, drops, shortcuts ---------------------------------------------------


@pytest.fixture(scope="module")
def set_folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("set")
    gt = read_labels(DEMO / "ground_truth.png", SPACE)
    field = read_offsets(DEMO / "offsets.npz")
    for sub in ("images", "preds", "offsets", "gt"):
        (d / sub).mkdir()
    for name, stride in (("a", 4), ("b", 8), ("c", 16)):
        (d / "images" / f"{name}.jpg").write_bytes((DEMO / "image.jpg").read_bytes())
        write_labels(d / "preds" / f"{name}.png", degrade(gt, SPACE, stride=stride))
        write_offsets(d / "offsets" / f"{name}.npz", field)
        write_labels(d / "gt" / f"{name}.png", gt)
    return d


def test_folder_set_list_next_prev_sort(win, qtbot, set_folder):
    assert win.open_set(folder=str(set_folder), space="camvid")
    qtbot.waitUntil(lambda: win.session.scores is not None and win.session.scores.done, timeout=30000)
    wait_result(qtbot, win)
    panel = win.panels["samples"]
    gt = read_labels(set_folder / "gt" / "a.png", SPACE)
    field = read_offsets(set_folder / "offsets" / "a.npz")
    rows = win.session.scores.rows()
    assert len(rows) == 3
    for row in rows:
        pred = read_labels(set_folder / "preds" / f"{row.name}.png", SPACE)
        # scored at the files' recommended setting, the one the first sample opens at
        refined = refine_labels(pred, field.to_offsets(field.setting()), device="cpu")
        assert row.miou_before == evaluate_pair(gt, pred, SPACE)["miou"]
        assert row.miou_after == evaluate_pair(gt, refined, SPACE)["miou"]
    assert win.session.index == 0
    assert win.session.scores.setting.refinement() == field.setting() == win.session.setting.refinement()
    win.session.set_setting(threshold=0.3)  # what the user tuned stays while moving through the set
    wait_result(qtbot, win)
    qtbot.keyClick(win, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: win.session.index == 1, timeout=10000)
    wait_result(qtbot, win)
    assert win.session.sample.name == "b"
    assert win.session.result.setting.threshold == pytest.approx(0.3)
    qtbot.keyClick(win, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: win.session.index == 0, timeout=10000)
    panel.sort.setCurrentIndex(1)  # gain, best first
    assert win.session.sort == "gain"
    qtbot.waitUntil(lambda: win.session.scores.setting == win.session.setting and win.session.scores.done)
    rows = win.session.scores.rows()
    gains = [r.gain for r in sorted(rows, key=lambda r: -r.gain)]
    assert panel.order() == [r.index for r in sorted(rows, key=lambda r: (-r.gain, r.index))] == win.session.order()
    assert gains[0] >= gains[-1]
    shown = [panel.table.item(r, 3).text() for r in range(3)]  # the list shows that order
    assert shown == [f"{100 * g:+.2f}" if round(100 * g, 2) else "0.00" for g in gains]
    wait_result(qtbot, win)


def test_role_folders_and_cli_folder_errors(win, qtbot, set_folder, dialogs):
    assert win.open_set(
        image=str(set_folder / "images"),
        pred=str(set_folder / "preds"),
        offsets=str(set_folder / "offsets"),
        gt=None,
        space="camvid",
    )
    wait_result(qtbot, win)
    assert win.session.sample.gt is None
    assert "changed" in win.panels["metrics"].counts.text()
    assert not win.open_set(folder=str(set_folder / "images"))
    assert "needs sub-folders preds/" in dialogs[-1]


def test_recent_files_remembered(win, qtbot, settings, graded):
    from segfix_gui.gui.window import MainWindow

    open_graded(win, qtbot, graded)
    assert win.recent.entries()[0]["paths"]["offsets"] == graded[0]["offsets"]
    w2 = MainWindow(settings=settings)
    qtbot.addWidget(w2)
    acts = w2.recent.menu.actions()
    assert acts and acts[0].text() == graded[0]["pred"]
    acts[0].trigger()
    wait_result(qtbot, w2)
    assert w2.session.sample.paths.offsets == graded[0]["offsets"]


def test_drop_files_replace_parts(demo, qtbot, tmp_path):
    from segfix_gui.session.drop import classify_files

    roles = classify_files(
        [DEMO / "image.jpg", DEMO / "prediction.png", DEMO / "offsets.npz", DEMO / "ground_truth.png"]
    )
    assert roles == {
        "image": str(DEMO / "image.jpg"),
        "pred": str(DEMO / "prediction.png"),
        "offsets": str(DEMO / "offsets.npz"),
        "gt": str(DEMO / "ground_truth.png"),
    }
    gt2 = tmp_path / "other_gt.png"
    write_labels(gt2, degrade(read_labels(DEMO / "ground_truth.png", SPACE), SPACE, stride=2))
    demo.open_dropped([str(gt2)])
    qtbot.waitUntil(lambda: demo.session.sample.paths.gt == str(gt2), timeout=10000)
    wait_result(qtbot, demo)
    assert demo.session.sample.paths.pred == str(DEMO / "prediction.png")


def test_shortcuts_help_lists_actions(demo, qtbot):
    from segfix_gui.gui.dialogs import HelpDialog

    dlg = HelpDialog(demo, demo.commands.specs)
    qtbot.addWidget(dlg)
    listed = {dlg.table.item(r, 1).text() for r in range(dlg.table.rowCount())}
    assert {"Refine now", "Next sample", "Threshold +0.05", "Export refined labels (PNG)…"} <= listed
    t0 = demo.session.setting.threshold
    qtbot.keyClick(demo, Qt.Key.Key_BracketRight)
    assert demo.session.setting.threshold == pytest.approx(min(t0 + 0.05, 1))
    wait_result(qtbot, demo)


def test_default_layout_fits_1200x800_without_stray_tab_bars(win, qtbot):
    from PySide6.QtWidgets import QTabBar

    win.resize(1200, 800)
    qtbot.waitUntil(lambda: (win.width(), win.height()) == (1200, 800), timeout=3000)
    assert win.docks["tune"].isHidden()  # opened on demand
    win.resize(1500, 950)  # Qt leaves stale tab bars behind after a resize: they are hidden
    qtbot.wait(50)
    docks = [d for d in win.docks.values() if d.isVisible() and not d.isFloating()]
    bars = [b for b in win.findChildren(QTabBar) if b.parent() is win and b.isVisible()]
    assert len(bars) == 3  # inspector | samples, metrics | instances, legend | layers
    for b in bars:  # each sits on top of the front dock of its group, as wide as it
        g = b.geometry()
        assert b.shape() == QTabBar.Shape.RoundedNorth
        assert any(g.x() == d.x() and g.width() == d.width() and g.bottom() + 1 == d.y() for d in docks), [
            b.tabText(i) for i in range(b.count())
        ]
    qtbot.keyClick(win, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert not win.docks["tune"].isHidden()
    assert "Tune" in [d.windowTitle() for d in docks] or win.docks["tune"].isVisible()


def test_set_rows_follow_the_setting_and_the_note_says_it(win, qtbot, set_folder):
    st = win.session
    assert win.open_set(folder=str(set_folder), space="camvid")
    qtbot.waitUntil(lambda: st.scores is not None and st.scores.done and not win.runner.busy(), timeout=30000)
    st.set_setting(threshold=0.25)
    qtbot.waitUntil(lambda: st.scores.setting == st.setting and st.scores.done, timeout=30000)
    wait_result(qtbot, win)
    assert "threshold 0.25" in win.panels["samples"].note.text()
    # the open sample's row is the Metrics panel's figure: one setting, one number
    row = st.scores.rows()[st.index]
    assert row.miou_after == pytest.approx(st.result.after["miou"], rel=1e-12)


def test_device_choice_shows_machine(win, qtbot):
    c = win.panels["controls"]
    qtbot.waitUntil(lambda: c.machine.text().startswith("this machine:"), timeout=20000)

    assert c.device.model().item(2).isEnabled() == torch.cuda.is_available()


# --- command line, screenshot, smoke ----------------------------------------------------------


def _run_gui(args, tmp_path):
    # this checkout's package, not whichever one is installed (cwd is tmp_path)
    root = str(Path(__file__).resolve().parents[2])
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
    )
    return subprocess.run(
        [sys.executable, "-m", "segfix_gui.gui.app", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )


def test_screenshot_of_demo_is_not_blank(tmp_path):
    out = tmp_path / "shot.png"
    proc = _run_gui(["--demo", "--screenshot", str(out), "--size", "1200x800"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    img = read_image(out)
    assert img.shape[:2] == (800, 1200)  # the default layout fits the size asked for
    assert img.std() > 20
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 1000  # a photo and labels, not flat panels


def test_command_line_folder_set(tmp_path, set_folder):
    out = tmp_path / "set.png"
    proc = _run_gui(
        [
            "--folder",
            str(set_folder),
            "--label-space",
            "camvid",
            "--view",
            "single",
            "--screenshot",
            str(out),
            "--size",
            "1200x800",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert read_image(out).std() > 20


def test_command_line_bad_file_and_bad_arguments(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"junk")
    proc = _run_gui(
        ["--pred", str(DEMO / "prediction.png"), "--offsets", str(bad), "--screenshot", str(tmp_path / "s.png")],
        tmp_path,
    )
    assert proc.returncode == 2
    assert f"segfix-gui: error: {bad}: " in proc.stderr
    assert not (tmp_path / "s.png").exists()
    from segfix_gui.gui.app import main

    assert main(["--demo", "--pred", str(DEMO / "prediction.png")]) == 2


def test_smoke_many_graphics_items(qtbot):
    """A few thousand graphics items and setFlags calls (the PySide6 6.12.0 abort in STYLE.md)."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QGraphicsItem

    from segfix_gui.gui.window import configure_pyqtgraph

    configure_pyqtgraph()
    w = pg.GraphicsLayoutWidget()
    qtbot.addWidget(w)
    vb = w.addViewBox()
    items = []
    for i in range(3000):
        a = pg.ArrowItem(pos=(i % 60, i // 60), angle=(i * 7) % 360)
        vb.addItem(a)
        items.append(a)
    flag = QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations
    for i in range(5000):
        items[0].setFlag(flag, i % 2 == 0)
    w.resize(400, 300)
    w.show()
    qtbot.wait(50)
    img = w.grab()
    assert not img.isNull()
    for a in items:
        vb.removeItem(a)
