"""The Tune panel, driven through the real window (pytest-qt, offscreen).

A small folder set is made from CamVid val frames: predictions by ``degrade``, offsets from
the ground truth's oracle field *softened* (boundary probabilities scaled by a random factor,
directions mixed with noise; one image gets pure-noise directions so refinement hurts it).
A test fixture, not a network's output. Every number the panel shows is compared with the
engine's ``sweep`` / ``refine_labels`` / ``evaluate_pair`` at the same setting.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

import torch  # noqa: F401  - on the main thread, before any window's threads (degrade uses it)
from PySide6.QtCore import QPointF, Qt

from segfix_gui.core.degrade import degrade
from segfix_gui.core.metrics import evaluate_pair
from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.refine import refine_labels
from segfix_gui.core.setting import Setting
from segfix_gui.core.sweep import SweepGrid, SweepSample, sweep
from segfix_gui.core.targets import gt_offset_field
from segfix_gui.io.images import read_labels, write_labels
from segfix_gui.io.offsets import read_offsets, write_offsets
from segfix_gui.labels import get_label_space

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "camvid" / "val"
SPACE = get_label_space("camvid")
N = 4
THRESHOLDS = (0.1, 0.3, 0.5, 0.7, 0.9)
SCALES = (1.0, 2.0)

pytestmark = pytest.mark.skipif(not (DATA / "labels").is_dir(), reason=f"CamVid val frames not found in {DATA}")


# --- fixtures ---------------------------------------------------------------------------------


def soft_field(gt, rng, *, wrong: bool) -> OffsetField:
    """The oracle field with a graded boundary and noisy (or, if ``wrong``, random) directions."""
    f = gt_offset_field(gt, ignore_ids=SPACE.ignore_ids)
    b = (f.boundary * rng.uniform(0.05, 1.0, f.boundary.shape)).astype(np.float32)
    noise = rng.dirichlet(np.ones(8), size=gt.shape).transpose(2, 0, 1).astype(np.float32)
    d = noise if wrong else 0.55 * f.direction + 0.45 * noise
    return OffsetField(boundary=b, direction=d.astype(np.float32))


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Two set folders of the same N frames: ``soft`` (.npz probabilities) and ``hard``
    (the same fields thresholded at 0.5 into openseg .mat)."""
    root = tmp_path_factory.mktemp("tune")
    soft, hard = root / "soft", root / "hard"
    for d in (soft, hard):
        for sub in ("images", "preds", "offsets", "gt"):
            (d / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k, lab in enumerate(sorted((DATA / "labels").glob("*.png"))[:N]):
        gt = read_labels(lab, SPACE)
        pred = degrade(gt, SPACE, stride=(4, 8, 16)[k % 3])
        field = soft_field(gt, rng, wrong=k == N - 1)
        for d in (soft, hard):
            shutil.copy(DATA / "images" / f"{lab.stem}.jpg", d / "images" / f"{lab.stem}.jpg")
            write_labels(d / "gt" / lab.name, gt)
            write_labels(d / "preds" / lab.name, pred)
        write_offsets(soft / "offsets" / f"{lab.stem}.npz", field)
        write_offsets(hard / "offsets" / f"{lab.stem}.mat", field, setting=Setting(threshold=0.5))
    return {"soft": soft, "hard": hard}


def engine_items(folder: Path) -> list[SweepSample]:
    out = []
    for p in sorted((folder / "preds").glob("*.png")):
        off = next((folder / "offsets").glob(f"{p.stem}.*"))
        out.append(
            SweepSample(p.stem, read_labels(folder / "gt" / p.name, SPACE), read_labels(p, SPACE), read_offsets(off))
        )
    return out


def idle(w) -> bool:
    return not any(w.runner.busy(k) for k in ("load", "refine", "set", "sweep"))


def open_set(win, qtbot, folder):
    assert win.open_set(folder=str(folder), space="camvid")
    qtbot.waitUntil(lambda: win.session.sample is not None and idle(win), timeout=30000)
    return win.panels["tune"]


def run_sweep(qtbot, tune, thresholds="0.1:0.9:0.2", scales="1,2", directions="0"):
    tune.fields["thresholds"].setText(thresholds)
    tune.fields["scales"].setText(scales)
    tune.fields["directions"].setText(directions)
    assert tune.run_btn.isEnabled()
    qtbot.mouseClick(tune.run_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tune.result is not None and not tune.runner.busy("sweep"), timeout=30000)
    return tune.result


def click_point(qtbot, tune, metric, x, y):
    """A real left click on the plot where the point (x, y) is drawn."""
    pw = tune.plots[metric]
    vb = pw.getPlotItem().getViewBox()
    scene = vb.mapViewToScene(QPointF(x, y))
    pos = pw.mapFromScene(scene)
    qtbot.mouseClick(pw.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def wait_refined(qtbot, w):
    qtbot.waitUntil(lambda: w.session.result is not None and w.session.result_is_current() and idle(w), timeout=20000)


# --- tests ------------------------------------------------------------------------------------


@pytest.fixture
def win(open_window):
    w = open_window(1500, 1000)
    w.show_panel("tune")  # the Tune dock starts hidden
    return w


def test_curves_equal_engine_and_click_applies_setting(win, qtbot, sets):
    tune = open_set(win, qtbot, sets["soft"])
    assert "Sweeps 4 of the set's 4 samples" in tune.scope.text()
    res = run_sweep(qtbot, tune)
    ref = sweep(engine_items(sets["soft"]), SPACE, SweepGrid(THRESHOLDS, SCALES))
    assert res.keys == ["0", "1", "2", "3"] and res.grid == ref.grid
    for metric in ("miou", "boundary_f"):
        curves = tune.curves[metric]
        assert [c.name() for c in curves] == ["scale 1", "scale 2"]
        for j, curve in enumerate(curves):
            x, y = curve.getData()
            assert np.array_equal(x, THRESHOLDS)
            expect = 100 * (getattr(ref, metric)[:, j, 0] - ref.base[metric])
            assert np.array_equal(y, expect), metric
        # the star sits on the engine's best setting
        best = ref.best(metric)
        sx, sy = tune.stars[metric].getData()
        assert (sx[0], sy[0]) == (best["threshold"], 100 * (best[metric] - ref.base[metric]))
    assert "4 images" in tune.summary.text()

    # a real click on the point (threshold 0.3, scale 2) of the mIoU plot
    i, j = THRESHOLDS.index(0.3), SCALES.index(2.0)
    click_point(qtbot, tune, "miou", 0.3, 100 * (ref.miou[i, j, 0] - ref.base["miou"]))
    qtbot.waitUntil(lambda: win.session.setting.threshold == 0.3 and win.session.setting.scale == 2.0, timeout=5000)
    wait_refined(qtbot, win)
    controls = win.panels["controls"]
    assert controls.threshold.value() == pytest.approx(0.3) and controls.scale.value() == 2.0
    mx, my = tune.markers["miou"].getData()
    assert (mx[0], my[0]) == (0.3, 100 * (ref.miou[i, j, 0] - ref.base["miou"]))
    assert tune.vlines["miou"].value() == pytest.approx(0.3)
    assert "current</b> (threshold 0.3, scale 2)" in tune.summary.text()

    # the IoU table follows, and equals the engine at that setting
    st = win.session
    s = st.sample
    items = engine_items(sets["soft"])
    k = [it.key for it in items].index(s.name)
    refined = refine_labels(items[k].pred, items[k].field.to_offsets(Setting(threshold=0.3, scale=2)), device="cpu")
    want = evaluate_pair(items[k].gt, refined, SPACE)
    metrics = win.panels["metrics"]
    metrics.scope.setCurrentIndex(0)  # the table shows the open sample (a set opens on the set)
    table = metrics.table
    shown = {table.item(r, 0).text(): table.item(r, 2).data(Qt.ItemDataRole.UserRole) for r in range(table.rowCount())}
    assert shown == want["per_class_iou"]
    assert st.result.after["miou"] == want["miou"] == ref.image_miou[k, i, j, 0]
    # and the set's figures at that setting are the sweep's (the whole set's, live)
    qtbot.waitUntil(lambda: st.scores.setting == st.setting and st.scores.done, timeout=30000)
    assert st.set_summary(wait=False)["refined"]["miou"] == pytest.approx(ref.miou[i, j, 0], rel=1e-12)


def test_sort_samples_by_gain_at_chosen_setting(win, qtbot, sets):
    tune = open_set(win, qtbot, sets["soft"])
    ref = run_sweep(qtbot, tune)
    # not the setting the set was evaluated at on opening (0.5, 2): the list must follow
    assert win.session.scores.setting.threshold == 0.5
    i, j = THRESHOLDS.index(0.3), SCALES.index(1.0)
    tune.apply((i, j, 0))
    qtbot.mouseClick(tune.worst_btn, Qt.MouseButton.LeftButton)
    st = win.session
    qtbot.waitUntil(lambda: st.scores.setting == st.setting and st.scores.done, timeout=30000)
    samples = win.panels["samples"]
    assert samples.sort.currentText().startswith("loss")
    gains = ref.image_gains(Setting(0.3, 1.0))
    order = samples.order()
    assert order == sorted(range(N), key=lambda n: gains[str(n)])
    assert gains[str(order[0])] < 0 < gains[str(order[-1])]  # refinement hurts the noisy one
    # the list's numbers are what refine + evaluate give at that setting, for every sample
    items = engine_items(sets["soft"])
    rs = win.session.scores.setting
    assert (rs.threshold, rs.scale) == (0.3, 1.0)
    assert "threshold 0.30, scale 1" in samples.note.text()
    for row in win.session.scores.rows():
        it = items[row.index]
        refined = refine_labels(it.pred, it.field.to_offsets(Setting(threshold=0.3, scale=1)), device="cpu")
        assert row.miou_before == evaluate_pair(it.gt, it.pred, SPACE)["miou"]
        assert row.miou_after == evaluate_pair(it.gt, refined, SPACE)["miou"]
    assert "1 lose" in tune.summary.text()
    wait_refined(qtbot, win)


def test_cancel_shows_no_partial_result(win, qtbot, sets, monkeypatch):
    import segfix_gui.core.sweep as core_sweep

    tune = open_set(win, qtbot, sets["soft"])
    run_sweep(qtbot, tune)  # a complete result first: a cancelled re-run must not leave it up
    assert tune.curves["miou"]
    calls = []
    real = core_sweep.sweep_image

    def slow(*args, **kwargs):
        calls.append(1)
        time.sleep(0.4)
        return real(*args, **kwargs)

    monkeypatch.setattr(core_sweep, "sweep_image", slow)
    qtbot.mouseClick(tune.run_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tune.progress_bar.isVisible() and tune.progress_bar.value() >= 1, timeout=10000)
    assert tune.cancel_btn.isEnabled() and not tune.run_btn.isEnabled()
    qtbot.mouseClick(tune.cancel_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not win.runner.busy("sweep"), timeout=10000)
    qtbot.wait(200)
    assert len(calls) < N  # it stopped early
    assert tune.result is None
    assert all(not tune.curves[m] for m in tune.curves)
    assert all(len(tune.markers[m].getData()[0]) == 0 for m in tune.markers)
    assert "cancelled" in tune.summary.text()
    assert tune.run_btn.isEnabled() and not tune.cancel_btn.isEnabled()


def test_hard_offsets_plot_against_scale(win, qtbot, sets):
    tune = open_set(win, qtbot, sets["hard"])
    res = run_sweep(qtbot, tune, scales="1,2,3")
    assert not res.threshold_matters
    ref = sweep(engine_items(sets["hard"]), SPACE, SweepGrid(THRESHOLDS, (1, 2, 3)))
    (curve,) = tune.curves["miou"]
    x, y = curve.getData()
    assert np.array_equal(x, [1, 2, 3])
    assert np.array_equal(y, 100 * (ref.miou[0, :, 0] - ref.base["miou"]))
    axis = tune.plots["miou"].getPlotItem().getAxis("bottom").labelText
    assert "scale" in axis and "threshold has no effect" in axis
    assert "hard offsets" in tune.summary.text()
    before = win.session.setting.threshold
    click_point(qtbot, tune, "miou", 3.0, y[2])
    qtbot.waitUntil(lambda: win.session.setting.scale == 3.0, timeout=5000)
    assert win.session.setting.threshold == before  # no effect on hard offsets: left alone
    wait_refined(qtbot, win)

    # another set: the shown result no longer applies and is cleared
    open_set(win, qtbot, sets["soft"])
    assert tune.result is None and not tune.curves["miou"]
    assert "changed" in tune.summary.text()


def test_single_sample_bad_grid_and_no_sample(win, qtbot, sets):
    from segfix_gui.io.samples import SamplePaths

    tune = win.panels["tune"]
    assert "Needs a folder set" in tune.scope.text() and not tune.run_btn.isEnabled()
    d = sets["soft"]
    stem = sorted((d / "preds").glob("*.png"))[0].stem
    win.open_paths(
        SamplePaths(
            pred=str(d / "preds" / f"{stem}.png"),
            offsets=str(d / "offsets" / f"{stem}.npz"),
            gt=str(d / "gt" / f"{stem}.png"),
        ),
        "camvid",
    )
    wait_refined(qtbot, win)
    assert "sweeps the open sample" in tune.scope.text()
    tune.fields["thresholds"].setText("0.9:0.1:0.1")
    assert "start 0.9 is above stop 0.1" in tune.size_label.text() and not tune.run_btn.isEnabled()
    tune.fields["thresholds"].setText("0.2,0.6")
    tune.fields["scales"].setText("0")
    assert "outside (0, 64]" in tune.size_label.text() and not tune.run_btn.isEnabled()
    res = run_sweep(qtbot, tune, thresholds="0.2,0.6", scales="2")
    assert res.n_images == 1 and res.grid.size == 2
    ref = sweep(engine_items(d)[:1], SPACE, SweepGrid((0.2, 0.6), (2,)))
    assert np.array_equal(tune.curves["miou"][0].getData()[1], 100 * (ref.miou[:, 0, 0] - ref.base["miou"]))
    assert not tune.worst_btn.isEnabled()  # no list to sort
    tune.apply_best("miou")
    best = ref.best("miou")
    assert win.session.setting.threshold == best["threshold"]
    wait_refined(qtbot, win)
    assert win.session.result.after["miou"] == best["miou"]


def test_direction_confidence_values_choose_the_curves(win, qtbot, sets):
    tune = open_set(win, qtbot, sets["soft"])
    res = run_sweep(qtbot, tune, thresholds="0.2,0.6", scales="2", directions="0,0.4")
    assert res.grid.shape == (2, 1, 2)
    assert tune.direction_box.isVisibleTo(tune) and tune.direction_box.count() == 2
    ref = sweep(engine_items(sets["soft"]), SPACE, SweepGrid((0.2, 0.6), (2,), (0, 0.4)))
    assert not np.array_equal(ref.miou[:, 0, 0], ref.miou[:, 0, 1])  # the choice matters
    for k in (0, 1):
        tune.direction_box.setCurrentIndex(k)
        y = tune.curves["miou"][0].getData()[1]
        assert np.array_equal(y, 100 * (ref.miou[:, 0, k] - ref.base["miou"]))
    tune.apply((1, 0, 1))
    assert (win.session.setting.threshold, win.session.setting.min_direction_prob) == (0.6, 0.4)
    assert "direction ≥ 0.4" in tune.summary.text()
    wait_refined(qtbot, win)
