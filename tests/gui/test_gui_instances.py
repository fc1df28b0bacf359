"""Instance mode of the window, driven through its real widgets (pytest-qt, offscreen).

The sample is ``tests/make_instance_fixture.py``'s: the Cityscapes frame of
``../shared/data/cityscapes_mini`` upscaled ×4 to 512×1024, every ground-truth thing instance
as a degraded (stride-8 pooled) mask, oracle offsets of the instance map. Every figure the
list shows is compared with ``segfix_gui.core.instances`` at the same setting.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

import torch  # noqa: F401  - imported here, on the main thread, before any window's threads
from PySide6.QtCore import Qt

from segfix_gui.core.instances import (
    compare_instances,
    mask_bbox,
    mask_outline,
    refine_instances,
)
from segfix_gui.core.setting import Setting
from segfix_gui.io.images import read_image
from segfix_gui.io.instances import read_instance_gt, read_instances
from segfix_gui.io.offsets import read_offsets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from make_instance_fixture import DATA, FRAME, make_fixture

pytestmark = pytest.mark.skipif(not (DATA / "gtFine").is_dir(), reason=f"cityscapes_mini not found in {DATA}")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    """The instance fixture plus an image (the frame upscaled to 512×1024)."""
    from PIL import Image

    d = tmp_path_factory.mktemp("instances")
    files = make_fixture(d)
    src = DATA / "leftImg8bit" / "val" / "frankfurt" / f"{FRAME}_leftImg8bit.png"
    h, w = files["shape"]
    image = d / "image.png"
    Image.open(src).convert("RGB").resize((w, h), Image.BILINEAR).save(image)
    name = f"{FRAME}_leftImg8bit.npz"
    files.update(
        image=image,
        off_gt=files["offsets_gt"] / "frankfurt" / name,
        off_zero=files["offsets_zero"] / "frankfurt" / name,
    )
    return files


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


def paths(fx, *, offsets="off_gt", gt=True, image=True):
    from segfix_gui.io.samples import SamplePaths

    return SamplePaths(
        image=str(fx["image"]) if image else None,
        instances=str(fx["pred_txt"]),
        offsets=str(fx[offsets]),
        gt_instances=str(fx["gt_instance"]) if gt else None,
    )


@pytest.fixture
def opened(win, qtbot, fx):
    win.open_paths(paths(fx))
    wait_result(qtbot, win)
    return win


def engine(fx, *, threshold=0.5, scale=1.0, offsets="off_gt"):
    gt = read_instance_gt(fx["gt_instance"])
    before = read_instances(fx["pred_txt"], shape=gt.shape, shape_of="the ground truth")
    after = refine_instances(before, read_offsets(fx[offsets]).to_offsets(Setting(threshold=threshold, scale=scale)))
    return before, after, compare_instances(before, after, gt, tol=3)


def listed(panel):
    """{instance index: (class, score, (iou_b, iou_a), (bf_b, bf_a))} from the table cells."""
    from segfix_gui.gui.panels.instances import AFTER_ROLE, BEFORE_ROLE, BF, CLASS, IOU, SCORE

    t = panel.table
    out = {}
    for r in range(t.rowCount()):
        i = panel.index_at(r)
        out[i] = (
            t.item(r, CLASS).text(),
            t.item(r, SCORE).data(Qt.ItemDataRole.UserRole),
            tuple(t.item(r, IOU).data(role) for role in (BEFORE_ROLE, AFTER_ROLE)),
            tuple(t.item(r, BF).data(role) for role in (BEFORE_ROLE, AFTER_ROLE)),
        )
    return out


def nan_none(v):
    return None if np.isnan(v) else float(v)


# --- tests ------------------------------------------------------------------------------------


def test_open_instances_list_equals_engine(opened, fx):
    st, panel = opened.session, opened.panels["instances"]
    assert st.sample.is_instances and st.sample.shape == fx["shape"]
    assert st.setting.scale == 1.0  # instances refine at scale 1, as the original
    assert not opened.docks["instances"].visibleRegion().isEmpty()  # brought to the front
    before, after, cmp = engine(fx)
    rows = listed(panel)
    assert sorted(rows) == list(range(len(before)))
    names = {24: "person", 26: "car"}
    for i, (cls, score, iou, bf) in rows.items():
        assert cls == names[int(before.label_ids[i])]
        assert score == before.scores[i]
        assert iou == (nan_none(cmp.iou_before[i]), nan_none(cmp.iou_after[i]))
        assert bf == (nan_none(cmp.bf_before[i]), nan_none(cmp.bf_after[i]))
    assert np.array_equal(st.result.instances.after.masks, after.masks)
    # the text shows the same numbers
    r = panel.row_of(0)
    assert panel.table.item(r, 2).text() == (f"{100 * cmp.iou_before[0]:.1f}→{100 * cmp.iou_after[0]:.1f}")
    assert "6 matched to ground truth" in panel.summary.text()


def test_outlines_one_item_per_view_and_class_colours(opened, fx):
    from segfix_gui.gui.outlines import OutlineItem
    from segfix_gui.session.instances import outline_segments

    st, cv = opened.session, opened.canvas
    n = len(st.sample.instances)
    for v in cv.views:  # one outline item per side of a view, however many instances
        for clip in (v.layers.before_clip, v.layers.after_clip):
            assert sum(isinstance(c, OutlineItem) for c in clip.childItems()) == 1
    assert [i.count for i in cv.outlines_before] == [n, n]
    assert [i.count for i in cv.outlines_after] == [n, n]
    _before, after, _cmp = engine(fx)
    for seg, mask in zip(st.result.instances.outlines.segments, after.masks, strict=True):
        assert np.array_equal(seg, outline_segments(mask))
    # class colours: persons red, cars blue (Cityscapes palette), one path per colour
    colours = {tuple(pen.color().getRgb()[:3]) for _p, _h, pen in cv.outlines_before[0]._groups}
    assert colours == {(220, 20, 60), (0, 0, 142)}
    # side by side: predicted outlines in the left view, refined ones in the right view
    assert cv.left.layers.before_clip.isVisible() and not cv.left.layers.after_clip.isVisible()
    assert cv.right.layers.after_clip.isVisible() and not cv.right.layers.before_clip.isVisible()


def test_outline_segments_are_the_edges_of_core_outline():
    from segfix_gui.session.instances import outline_segments

    rng = np.random.default_rng(1)
    for _ in range(20):
        mask = rng.random((23, 31)) < 0.4
        mask[rng.integers(0, 23), :] = True  # touches the image border
        seg = outline_segments(mask)
        # every segment separates a mask pixel from a non-mask pixel or the border
        inside = np.zeros_like(mask)
        for x0, y0, x1, _y1 in seg.astype(int):
            cells = [(y0, x0 - 1), (y0, x0)] if x0 == x1 else [(y0 - 1, x0), (y0, x0)]
            vals = [mask[r, c] if 0 <= r < 23 and 0 <= c < 31 else False for r, c in cells]
            assert vals[0] != vals[1]
            r, c = cells[int(vals[1])]
            inside[r, c] = True
        assert np.array_equal(inside, mask_outline(mask))
        # and every such edge is there once
        p = np.pad(mask, 1)
        edges = np.count_nonzero(p[:, 1:] != p[:, :-1]) + np.count_nonzero(p[1:] != p[:-1])
        assert len(seg) == edges == len({tuple(s) for s in seg.tolist()})
    assert outline_segments(np.zeros((4, 4), bool)).shape == (0, 4)


def test_setting_change_refines_again_off_the_ui_thread(opened, qtbot, fx):
    st, panel = opened.session, opened.panels["instances"]
    opened.panels["controls"].threshold.spin.setValue(0.95)
    opened.panels["controls"].scale.setValue(2.0)
    wait_result(qtbot, opened)
    assert (st.result.setting.threshold, st.result.setting.scale) == (0.95, 2.0)
    _before, after, cmp = engine(fx, threshold=0.95, scale=2.0)
    assert np.array_equal(st.result.instances.after.masks, after.masks)
    for i, (_c, _s, iou, bf) in listed(panel).items():
        assert iou == (nan_none(cmp.iou_before[i]), nan_none(cmp.iou_after[i]))
        assert bf == (nan_none(cmp.bf_before[i]), nan_none(cmp.bf_after[i]))


def test_select_zooms_to_instance_and_highlights(opened, qtbot):
    st, panel, cv = opened.session, opened.panels["instances"], opened.canvas
    target = 3  # a car (0.75)
    cv.fit()
    row = panel.row_of(target)
    qtbot.mouseClick(
        panel.table.viewport(),
        Qt.MouseButton.LeftButton,
        pos=panel.table.visualItemRect(panel.table.item(row, 1)).center(),
    )
    assert st.selected == target
    r0, c0, r1, c1 = panel.box_of(target)
    before_box = mask_bbox(st.sample.instances.masks[target])
    after_box = mask_bbox(st.result.instances.after.masks[target])
    assert (r0, c0) == tuple(min(a, b) for a, b in zip(before_box[:2], after_box[:2], strict=True))
    (x0, x1), (y0, y1) = cv.left.vb.viewRange()
    assert x0 <= c0 and x1 >= c1 and y0 <= r0 and y1 >= r1  # the box is in view
    h, w = st.sample.shape
    assert (x1 - x0) < 0.8 * w  # zoomed in, not the whole frame
    (x0, x1), (y0, y1) = cv.right.vb.viewRange()  # linked: the after view shows it too
    assert x0 <= c0 and x1 >= c1 and y0 <= r0 and y1 >= r1
    for item in cv.outlines_before + cv.outlines_after:
        assert not item._selected.isEmpty()  # highlighted in every view
    panel.table.clearSelection()
    assert st.selected is None
    assert cv.outlines_before[0]._selected.isEmpty()


def test_score_threshold_hides_instances(opened, qtbot):
    st, panel, cv = opened.session, opened.panels["instances"], opened.canvas
    scores = st.sample.instances.scores
    panel.select(0)  # score 0.9 stays; select the lowest one to see it deselected
    low = int(np.argmin(scores))
    panel.select(low)
    assert st.selected == low
    panel.score.spin.setValue(0.78)
    keep = [i for i in range(len(scores)) if scores[i] >= 0.78]
    assert st.min_score == pytest.approx(0.78)
    assert sorted(panel.visible_indices()) == keep
    assert [i.count for i in cv.outlines_before + cv.outlines_after] == [len(keep)] * 4
    assert st.selected is None  # it was hidden
    assert f"{len(keep)} shown" in panel.summary.text()
    # hiding a class in the legend hides its instances too
    person = st.sample.space.to_eval(24)
    st.toggle_class(int(person))
    assert panel.visible_indices() == []  # the remaining ones are persons
    st.show_all_classes()
    panel.score.spin.setValue(0.0)
    assert len(panel.visible_indices()) == len(scores)


def test_broken_pred_txt_dialog_and_previous_sample_stays(opened, qtbot, fx, tmp_path, dialogs):
    st = opened.session
    sample, result = st.sample, st.result
    bad = tmp_path / "x_pred.txt"
    bad.write_text("masks/a.png 26\n")
    opened.open_parts({"instances": str(bad)})
    qtbot.waitUntil(lambda: len(dialogs) == 1, timeout=10000)
    assert dialogs[0] == (
        f"{bad}: line 1: expected 'relative/mask.png labelId score', found 2 fields: 'masks/a.png 26'"
    )
    assert st.sample is sample and st.result is result
    # a mask of another size names the line and both sizes
    (tmp_path / "m.png").write_bytes(b"")
    from PIL import Image

    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(tmp_path / "m.png")
    bad.write_text("m.png 26 0.5\n")
    opened.open_parts({"instances": str(bad)})
    qtbot.waitUntil(lambda: len(dialogs) == 2, timeout=10000)
    assert dialogs[1].startswith(f"{bad}: line 1: mask 'm.png' is 8×8 but the offsets ")
    assert "\n" not in dialogs[1]
    assert st.sample is sample
    st.set_setting(threshold=0.3)  # still usable
    wait_result(qtbot, opened)
    assert st.sample is sample and st.result.instances is not None


def test_drop_and_recent_and_back_to_semantic(win, qtbot, fx, dialogs):
    from segfix_gui.session.drop import classify_files

    roles = classify_files([fx["pred_txt"], fx["gt_instance"], fx["off_zero"], fx["image"]])
    assert roles == {
        "instances": str(fx["pred_txt"]),
        "gt_instances": str(fx["gt_instance"]),
        "offsets": str(fx["off_zero"]),
        "image": str(fx["image"]),
    }
    win.open_dropped([str(fx["pred_txt"]), str(fx["off_zero"])])
    wait_result(qtbot, win)
    st = win.session
    assert st.sample.is_instances and st.sample.gt_instances is None
    assert not st.result.instances.changed.any()  # zero offsets change nothing
    assert "no ground truth" in win.panels["instances"].summary.text()
    win.open_dropped([str(fx["gt_instance"])])  # adds the ground truth, keeps the rest
    qtbot.waitUntil(lambda: st.sample.gt_instances is not None, timeout=10000)
    wait_result(qtbot, win)
    assert st.sample.paths.instances == str(fx["pred_txt"])
    cmp = st.result.instances.comparison
    assert np.array_equal(cmp.iou_before, cmp.iou_after, equal_nan=True)
    assert win.recent.entries()[0]["paths"]["instances"] == str(fx["pred_txt"])
    assert dialogs == []


def test_open_instance_sample_dialog_and_tune_note(opened, fx):
    from segfix_gui.gui.dialogs import OpenSampleDialog
    from segfix_gui.io.samples import INSTANCE_PARTS

    dlg = OpenSampleDialog(opened, opened.session.sample.paths, parts=INSTANCE_PARTS)
    assert list(dlg.edits) == ["image", "instances", "offsets", "gt_instances"]
    assert dlg.paths().instances == str(fx["pred_txt"])  # prefilled with the open sample
    dlg.edits["gt_instances"].setText("")
    got = dlg.paths()
    assert got.is_instances and got.gt_instances is None and got.pred is None
    dlg.deleteLater()
    assert "Instance mode" in opened.panels["tune"].scope.text()
    assert not opened.panels["controls"].space.isEnabled()
    assert opened.panels["controls"].space.currentText() == "cityscapes"


def test_exports_in_instance_mode(opened, tmp_path, fx, dialogs):
    mask = fx["pred_txt"].parent / opened.session.sample.instances.names[0]
    before = mask.read_bytes()
    assert not opened.export("view", str(mask))  # an input mask is never overwritten
    assert "never overwritten" in dialogs[-1] and mask.read_bytes() == before
    assert not opened.export("refined", str(tmp_path / "r.png"))  # a _pred.txt, not a PNG
    assert "_pred.txt" in dialogs[-1]
    assert not opened.export("csv", str(tmp_path / "t.csv"))  # label maps only
    assert "label maps" in dialogs[-1]
    assert opened.export("view", str(tmp_path / "view.png"))
    assert read_image(tmp_path / "view.png").std() > 10


def test_inspector_names_instances(opened, qtbot):
    st = opened.session
    i = 0
    r0, c0, r1, c1 = mask_bbox(st.sample.instances.masks[i])
    rr, cc = np.nonzero(st.sample.instances.masks[i])
    st.set_cursor((int(rr[len(rr) // 2]), int(cc[len(cc) // 2])))
    text = opened.panels["inspector"].text("predicted")
    assert "person #1 (0.90)" in text
    assert opened.panels["inspector"].text("true class").startswith("person, instance 24")


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


def test_command_line_instance_mode_screenshot(tmp_path, fx):
    out = tmp_path / "inst.png"
    proc = _run_gui(
        [
            "--image",
            str(fx["image"]),
            "--instances",
            str(fx["pred_txt"]),
            "--offsets",
            str(fx["off_gt"]),
            "--gt-instances",
            str(fx["gt_instance"]),
            "--select",
            "5",
            "--screenshot",
            str(out),
            "--size",
            "1200x800",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    img = read_image(out)
    assert img.shape[:2] == (800, 1200) and img.std() > 20
    proc = _run_gui(["--instances", str(fx["pred_txt"]), "--screenshot", str(out)], tmp_path)
    assert proc.returncode == 2 and "needs --instances and --offsets" in proc.stderr
