"""What the panels show stays readable: the Tune curves' key is outside the plots (it covers
no point and no star), the per-class Δ chart gives every class present its own line of text
(19 Cityscapes or 150 ADE20K classes), sample names are cut in the middle with the full name
in a tooltip (pytest-qt, offscreen)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

import pyqtgraph as pg
import torch  # noqa: F401  - imported on the main thread before any window's threads
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage, QPainter

from segfix_gui.core.degrade import degrade
from segfix_gui.core.targets import gt_offset_field
from segfix_gui.io.images import write_labels
from segfix_gui.io.offsets import write_offsets
from segfix_gui.io.samples import SamplePaths
from segfix_gui.labels import get_label_space

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"


def settled(w):
    return (
        w.session.result is not None
        and w.session.result_is_current()
        and not any(w.runner.busy(k) for k in ("load", "refine", "set", "sweep"))
    )


def blocks_sample(tmp_path, space_name: str, n_classes: int, name: str = "x"):
    """A label map of ``n_classes`` square blocks (ids 1..n, or 0..n-1 for Cityscapes train
    ids), a degraded prediction and oracle offsets, written as files."""
    space = get_label_space(space_name)
    ids = [c.id for c in space.classes if c.id not in space.ignore_ids][:n_classes]
    side = int(np.ceil(np.sqrt(len(ids))))
    blk = 24
    gt = np.full((side * blk, side * blk), ids[0], np.uint8)
    for k, cid in enumerate(ids):
        r, c = divmod(k, side)
        gt[r * blk : (r + 1) * blk, c * blk : (c + 1) * blk] = cid
    pred = degrade(gt, space, stride=8)
    for part, arr in (("gt", gt), ("pred", pred)):
        write_labels(tmp_path / f"{name}_{part}.png", arr)
    write_offsets(tmp_path / f"{name}.npz", gt_offset_field(gt, ignore_ids=space.ignore_ids))
    return SamplePaths(
        pred=str(tmp_path / f"{name}_pred.png"),
        gt=str(tmp_path / f"{name}_gt.png"),
        offsets=str(tmp_path / f"{name}.npz"),
    ), len(ids)


def drawn_tick_texts(axis: pg.AxisItem) -> list[str]:
    """The tick labels the axis really draws (pyqtgraph leaves out those that would overlap)."""
    img = QImage(10, 10, QImage.Format.Format_ARGB32)
    p = QPainter(img)
    try:
        specs = axis.generateDrawSpecs(p)
    finally:
        p.end()
    return [t[2] for t in specs[2]] if specs else []


@pytest.mark.parametrize("space_name,n", [("cityscapes-trainid", 19), ("ade20k", 150)])
def test_every_class_of_the_delta_chart_gets_its_line(open_window, qtbot, tmp_path, space_name, n):
    w = open_window(1400, 900)
    paths, n_ids = blocks_sample(tmp_path, space_name, n)
    assert n_ids == n
    w.open_paths(paths, space_name)
    qtbot.waitUntil(lambda: settled(w), timeout=60000)
    m = w.panels["metrics"]
    rows = m.chart_rows(m.rows)
    assert len(rows) == n  # every class present, none of the absent ones
    assert m.chart.minimumHeight() >= n * m.row_px()  # a line of text per class
    qtbot.waitUntil(lambda: m.chart.height() >= n * m.row_px(), timeout=5000)
    axis = m.chart.getPlotItem().getAxis("left")
    names = sorted(r[0] for r in rows)
    # none left out for lack of room (once the axis has its final size)
    qtbot.waitUntil(lambda: sorted(drawn_tick_texts(axis)) == names, timeout=10000)
    # each label is at least a font line from the next
    vb = m.chart.getPlotItem().getViewBox()
    y0, y1 = (vb.mapViewToDevice(QPointF(0, float(i))).y() for i in (0, 1))
    assert abs(y1 - y0) >= m.row_px() - 1


def test_tune_key_covers_no_point_and_no_star(open_window, qtbot):
    w = open_window(1920, 1080)
    w.open_demo()
    qtbot.waitUntil(lambda: settled(w), timeout=30000)
    w.show_panel("tune")
    tune = w.panels["tune"]
    tune.fields["thresholds"].setText("0.1:0.9:0.2")
    tune.fields["scales"].setText("1,2,3")
    tune.run()
    qtbot.waitUntil(lambda: tune.result is not None and not w.runner.busy("sweep"), timeout=60000)
    for m, pw in tune.plots.items():
        items = pw.getPlotItem().items + list(pw.getPlotItem().scene().items())
        assert not any(isinstance(i, pg.LegendItem) and i.isVisible() for i in items), m
        # the star (best) and every curve's points lie inside the plot's view, not under a title
        vb = pw.getPlotItem().getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        xs, ys = tune.stars[m].getData()
        assert len(xs) == 1 and x0 <= xs[0] <= x1 and y0 <= ys[0] <= y1
        top = vb.mapViewToScene(QPointF(float(xs[0]), float(ys[0]))).y()
        assert top - vb.sceneBoundingRect().top() >= 9  # the star (18 px) is drawn whole
    key = tune.key.text()
    for s in tune.series["miou"]:
        assert s.label in key
    assert "best" in key


def test_sample_names_show_what_tells_them_apart_with_the_full_name_in_a_tooltip(open_window, qtbot, tmp_path):
    """Every CamVid frame starts 0016E5_: the list shows the part after it ("07959"), not
    "001…959", and the full name in the tooltip."""
    names = ["0016E5_07959", "0016E5_08103"]
    paths = []
    for name in names:
        p, _ = blocks_sample(tmp_path, "camvid", 11, name=name)
        paths.append(SamplePaths(pred=p.pred, gt=p.gt, offsets=p.offsets, name=name))
    w = open_window(1400, 900)
    w.session.open_set(paths, "camvid")
    qtbot.waitUntil(lambda: settled(w) and w.session.scores is not None and w.session.scores.done, timeout=60000)
    table = w.panels["samples"].table
    assert table.textElideMode() == Qt.TextElideMode.ElideLeft  # if still too long, the end stays
    shown = {table.item(r, 0).text(): table.item(r, 0).toolTip() for r in range(table.rowCount())}
    assert shown == {"07959": f"{names[0]} (sample 1 of 2)", "08103": f"{names[1]} (sample 2 of 2)"}
    # the whole short name fits its column at this size
    from PySide6.QtGui import QFontMetrics

    fm = QFontMetrics(table.font())
    assert fm.horizontalAdvance("07959") + 8 <= table.columnWidth(0)


def test_a_float32_recommendation_is_on_the_sweep_grid(open_window, qtbot):
    """The demo's offsets record their setting as float32 (direction confidence 0.3 is
    0.300000011…); it reads back as 0.3 (the shortest decimal), and the sweep's point at the
    recommendation is the current setting, not "not on the grid"."""
    rec = json.loads((DEMO / "sample.json").read_text(encoding="utf-8"))["offsets_recommended"]
    assert float(np.float32(rec["min_direction_prob"])) != rec["min_direction_prob"]  # not exact in float32
    w = open_window(1400, 900)
    w.open_demo()
    qtbot.waitUntil(lambda: settled(w), timeout=30000)
    s = w.session.setting
    assert (s.threshold, s.min_direction_prob, s.scale) == (rec["threshold"], rec["min_direction_prob"], rec["scale"])
    tune = w.panels["tune"]
    tune.fields["thresholds"].setText(f"{rec['threshold'] / 2:g},{rec['threshold']:g}")
    tune.fields["scales"].setText(f"{rec['scale']:g}")
    tune.run()
    qtbot.waitUntil(lambda: tune.result is not None and not w.runner.busy("sweep"), timeout=60000)
    assert tune.current_index() == (1, 0, 0)
    assert "not on the sweep grid" not in tune.summary.text()
    assert len(tune.markers["miou"].getData()[0]) == 1  # the ring marks it
