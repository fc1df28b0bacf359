"""ViewerState (gui.state) on its own, without a window: settings and their validation, display
options and their signals, and loading / refining / moving through a set with real (tiny)
samples, whose numbers are checked against the engine (refine_labels + SemanticEvaluator).

Work runs on the state's Runner, off the UI thread; tests wait with pytest-qt. The runner is
given a torch gate that imports nothing (refinement runs on the CPU here, which needs no torch).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

from segfix_gui.core.metrics import SemanticEvaluator, change_codes, change_counts
from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.refine import refine_labels
from segfix_gui.core.setting import Setting
from segfix_gui.core.targets import gt_offset_field
from segfix_gui.gui.compute import ViewSetting
from segfix_gui.gui.state import (
    DEFAULT_OPACITY,
    DEFAULT_VISIBLE,
    LAYERS,
    LayerOptions,
    ViewerState,
)
from segfix_gui.gui.workers import Runner, TorchGate
from segfix_gui.io.images import read_labels, write_labels, write_png
from segfix_gui.io.offsets import read_offsets, write_offsets
from segfix_gui.io.samples import SamplePaths, demo_paths
from segfix_gui.labels import get_label_space

SPACE = get_label_space("camvid")
TIMEOUT = 20000


# --- tiny samples, written with the package's own writers -----------------------------------


def make_sample(folder, name="s", *, seed=0, shape=(32, 40), recommended=None, image=True, gt=True):
    """Files of a small camvid sample: ground truth with a few regions (and an ignored
    corner), a prediction with its borders shifted, and an oracle offset field whose
    boundary is graded (0.25 .. 1, exact in float16) so the threshold matters."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = shape
    g = np.zeros((h, w), np.uint8)  # sky
    g[h // 2 :, :] = 3  # road
    g[4:14, 6 + seed : 18 + seed] = 1  # building
    g[20:28, 22 : 34 - seed] = 8  # car
    g[0:3, 0:4] = 11  # unlabelled (ignored)
    pred = np.roll(g, 2, axis=1)
    pred = np.roll(pred, 1 + seed % 2, axis=0)
    f = gt_offset_field(g, width=3, ignore_ids=SPACE.ignore_ids)
    grade = rng.choice(np.array([0.25, 0.5, 0.75, 1.0], np.float32), size=g.shape)
    field = OffsetField(boundary=f.boundary * grade, direction=f.direction, recommended=dict(recommended or {}))
    p = SamplePaths(pred=str(folder / f"{name}_pred.png"), offsets=str(folder / f"{name}.npz"), name=name)
    write_labels(p.pred, pred)
    write_offsets(p.offsets, field)
    if gt:
        p = p.with_part("gt", str(folder / f"{name}_gt.png"))
        write_labels(p.gt, g)
    if image:
        p = p.with_part("image", str(folder / f"{name}_image.png"))
        write_png(p.image, rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return p


def engine(paths: SamplePaths, setting: Setting):
    """The engine's own answer for a sample's files: (before, after, refined, offsets)."""
    pred = read_labels(paths.pred, SPACE)
    gt = read_labels(paths.gt, SPACE)
    offsets = read_offsets(paths.offsets).to_offsets(
        Setting(setting.threshold, setting.scale, setting.min_direction_prob)
    )
    refined = refine_labels(pred, offsets, device="cpu")
    before = SemanticEvaluator(SPACE, boundary_tol=3).add(gt, pred)
    after = SemanticEvaluator(SPACE, boundary_tol=3).add(gt, refined)
    return before, after, refined, offsets


def assert_same_metrics(got: dict, want: dict):
    assert got["miou"] == pytest.approx(want["miou"], rel=1e-12, abs=1e-12)
    assert got["boundary_f"] == pytest.approx(want["boundary_f"], rel=1e-12, abs=1e-12)
    assert got["pixel_accuracy"] == pytest.approx(want["pixel_accuracy"], rel=1e-12)
    assert got["per_class_iou"].keys() == want["per_class_iou"].keys()
    for name, v in want["per_class_iou"].items():
        if v is None:
            assert got["per_class_iou"][name] is None
        else:
            assert got["per_class_iou"][name] == pytest.approx(v, rel=1e-12, abs=1e-12)


class Recorder:
    """Every emission of the state's signals, in order (name, args)."""

    NAMES = (
        "sampleChanged",
        "resultChanged",
        "settingChanged",
        "classesChanged",
        "layersChanged",
        "viewChanged",
        "cursorChanged",
        "setChanged",
        "indexChanged",
        "instancesChanged",
        "failed",
        "notice",
    )

    def __init__(self, st):
        self.seen = []
        for n in self.NAMES:
            getattr(st, n).connect(lambda *a, n=n: self.seen.append((n, a)))

    def names(self):
        return [n for n, _ in self.seen]

    def count(self, name):
        return sum(1 for n, _ in self.seen if n == name)

    def clear(self):
        self.seen.clear()


@pytest.fixture
def state(qtbot):
    st = ViewerState(runner=Runner(gate=TorchGate(importer=lambda: None)))
    st.set_setting(device="cpu")
    yield st
    st.runner.cancel(keep=())
    qtbot.waitUntil(lambda: not st.runner.busy(), timeout=TIMEOUT)
    st.runner.shutdown()


def wait_current(qtbot, st):
    qtbot.waitUntil(lambda: st.result_is_current() and not st.runner.busy(), timeout=TIMEOUT)


def opened(qtbot, st, paths, **kw):
    st.open(paths, "camvid", **kw)
    wait_current(qtbot, st)
    return st


# --- without a sample -------------------------------------------------------------------------


def test_initial_state_and_nothing_to_refine(state):
    st = state
    assert st.sample is None and st.result is None and not st.result_is_current()
    assert {n: (o.visible, o.opacity) for n, o in st.layers.items()} == {
        n: (DEFAULT_VISIBLE[n], DEFAULT_OPACITY[n]) for n in LAYERS
    }
    assert (st.view_mode, st.swipe, st.after_source, st.cursor) == ("side", 0.5, "refined", None)
    st.request_refine()
    assert not st.runner.busy()  # no sample: no job
    assert st.can_predict_offsets() == (False, "Open a sample first")


def test_set_setting_changes_emits_and_validates(state):
    st, rec = state, Recorder(state)
    st.set_setting(threshold=0.3, scale=3, min_direction_prob=0.2)
    assert st.setting == ViewSetting(threshold=0.3, scale=3.0, min_direction_prob=0.2, device="cpu")
    assert rec.names() == ["settingChanged"]
    st.set_setting(threshold=0.3)  # no change, no signal
    assert rec.count("settingChanged") == 1
    good = st.setting
    for bad in (
        {"threshold": 1.5},
        {"threshold": -0.01},
        {"scale": 0},
        {"scale": 65},
        {"min_direction_prob": 2},
        {"threshold": float("nan")},
        {"scale": "x"},
        {"device": "tpu"},
    ):
        with pytest.raises(ValueError):
            st.set_setting(**bad)
        assert st.setting == good
    with pytest.raises(TypeError):
        st.set_setting(thresh=0.4)
    assert st.setting == good and rec.count("settingChanged") == 1


def test_layers_visibility_and_opacity(state):
    st, rec = state, Recorder(state)
    st.set_layer("labels", opacity=0.25)
    assert st.layers["labels"] == LayerOptions(DEFAULT_VISIBLE["labels"], 0.25)
    assert rec.seen == [("layersChanged", ("labels",))]
    st.set_layer("labels", opacity=0.25, visible=DEFAULT_VISIBLE["labels"])  # unchanged
    assert len(rec.seen) == 1
    st.toggle_layer("boundary")
    assert st.layers["boundary"].visible is (not DEFAULT_VISIBLE["boundary"])
    assert st.layers["boundary"].opacity == DEFAULT_OPACITY["boundary"]
    st.toggle_layer("boundary")
    assert st.layers["boundary"].visible is DEFAULT_VISIBLE["boundary"]
    assert rec.seen[1:] == [("layersChanged", ("boundary",))] * 2
    st.set_layer("image", visible=0)  # coerced to bool
    assert st.layers["image"].visible is False
    with pytest.raises(KeyError):
        st.set_layer("nope", visible=True)


def test_view_mode_swipe_and_after_source(state):
    st, rec = state, Recorder(state)
    st.set_view(mode="single")
    assert st.view_mode == "single" and rec.count("viewChanged") == 1
    st.set_view(mode="single", swipe=0.5, after_source="refined")  # nothing new
    assert rec.count("viewChanged") == 1
    st.set_view(swipe=1.7)
    assert st.swipe == 1.0
    st.set_view(swipe=-0.2)
    assert st.swipe == 0.0
    st.set_view(swipe=0.25, after_source="gt")
    assert (st.swipe, st.after_source) == (0.25, "gt")
    assert rec.count("viewChanged") == 4
    with pytest.raises(ValueError):
        st.set_view(mode="grid")
    with pytest.raises(ValueError):
        st.set_view(after_source="truth")
    assert (st.view_mode, st.after_source) == ("single", "gt") and rec.count("viewChanged") == 4


def test_rejected_view_change_changes_nothing(state):
    """One call, one outcome: a bad ``after_source`` must not leave the mode half-changed
    (without viewChanged the canvas would never learn of it)."""
    st, rec = state, Recorder(state)
    with pytest.raises(ValueError):
        st.set_view(mode="single", swipe=0.1, after_source="truth")
    assert (st.view_mode, st.swipe, st.after_source) == ("side", 0.5, "refined")
    assert rec.count("viewChanged") == 0


def test_toggle_before_after_goes_to_the_ends_in_single_view(state):
    st, rec = state, Recorder(state)
    st.toggle_before_after()  # from the middle: all "before"
    assert (st.view_mode, st.swipe) == ("single", 1.0)
    st.toggle_before_after()
    assert st.swipe == 0.0
    st.toggle_before_after()
    assert st.swipe == 1.0
    st.set_view(swipe=0.7)
    st.toggle_before_after()
    assert st.swipe == 0.0
    assert rec.count("viewChanged") == 5


def test_cursor(state):
    st, rec = state, Recorder(state)
    st.set_cursor((3, 4))
    st.set_cursor((3, 4))
    assert st.cursor == (3, 4) and rec.count("cursorChanged") == 1
    st.set_cursor(None)
    assert st.cursor is None and rec.count("cursorChanged") == 2


def test_instance_options_without_instances(state):
    st, rec = state, Recorder(state)
    st.select_instance(2)
    st.select_instance(2)
    assert st.selected == 2 and rec.count("instancesChanged") == 1
    st.select_instance(None)
    st.set_min_score(0.5)
    st.set_min_score(0.5)
    assert st.selected is None and st.min_score == 0.5 and rec.count("instancesChanged") == 3
    assert st.shown_instances().shape == (0,)


def test_evaluate_set_without_a_set_says_why(state):
    st, rec = state, Recorder(state)
    st.evaluate_set()
    assert [n for n in rec.names()] == ["notice"]
    assert "folder set" in rec.seen[0][1][0]
    assert not st.runner.busy()


# --- one sample ------------------------------------------------------------------------------


def test_open_uses_recommendation_and_matches_the_engine(state, qtbot, tmp_path):
    paths = make_sample(tmp_path, recommended={"threshold": 0.25, "scale": 2.0, "min_direction_prob": 0.0})
    st, rec = state, Recorder(state)
    st.set_cursor((1, 1))
    rec.clear()
    with qtbot.waitSignal(st.resultChanged, timeout=TIMEOUT):
        st.open(paths, "camvid")
    wait_current(qtbot, st)
    names = rec.names()
    assert names[:3] == ["sampleChanged", "settingChanged", "classesChanged"]
    assert names.index("resultChanged") > names.index("sampleChanged")
    assert st.cursor is None  # a new sample forgets the inspected pixel
    assert st.setting == ViewSetting(threshold=0.25, scale=2.0, min_direction_prob=0.0, device="cpu")
    before, after, refined, offsets = engine(paths, st.setting)
    assert_same_metrics(st.before, before)
    r = st.result
    assert r.setting == st.setting and r.device == "cpu"
    np.testing.assert_array_equal(r.offsets, offsets)
    np.testing.assert_array_equal(r.refined, refined)
    assert_same_metrics(r.after, after)
    pred, gt = st.sample.pred, st.sample.gt
    codes = change_codes(pred, refined, gt, SPACE)
    np.testing.assert_array_equal(r.codes, codes)
    want = change_counts(codes)
    want["changed"] = int((refined != pred).sum())
    assert r.counts == want and want["changed"] > 0
    assert r.moving == int(np.count_nonzero(offsets[0] | offsets[1]))
    assert r.after["miou"] != before["miou"]  # the sample is not trivial


def test_setting_change_refines_again_at_the_new_setting(state, qtbot, tmp_path):
    paths = make_sample(tmp_path)
    st = opened(qtbot, state, paths)
    assert st.setting.threshold == 0.5 and st.setting.scale == 2.0  # defaults: no recommendation
    first = st.result
    with qtbot.waitSignal(st.resultChanged, timeout=TIMEOUT):
        st.set_setting(threshold=0.2, scale=1.0)
    wait_current(qtbot, st)
    assert st.result is not first and st.result.setting.threshold == 0.2
    _, after, refined, _ = engine(paths, st.setting)
    np.testing.assert_array_equal(st.result.refined, refined)
    assert_same_metrics(st.result.after, after)
    assert st.result.counts["changed"] != first.counts["changed"]


def test_many_quick_changes_end_at_the_last_setting(state, qtbot, tmp_path):
    paths = make_sample(tmp_path)
    st = opened(qtbot, state, paths)
    for t in (0.1, 0.2, 0.3, 0.4, 0.6, 0.7):
        st.set_setting(threshold=t)
    wait_current(qtbot, st)
    assert st.result.setting.threshold == 0.7
    _, after, refined, _ = engine(paths, st.setting)
    np.testing.assert_array_equal(st.result.refined, refined)
    assert_same_metrics(st.result.after, after)


def test_manual_mode_keeps_a_stale_result_until_auto(state, qtbot, tmp_path):
    paths = make_sample(tmp_path)
    st = opened(qtbot, state, paths)
    old = st.result
    st.set_auto(False)
    rec = Recorder(st)
    st.set_setting(threshold=0.2)
    assert not st.runner.busy("refine")  # nothing submitted
    assert st.result is old and not st.result_is_current()
    assert rec.names() == ["settingChanged"]
    st.request_refine()  # what the Refine button does
    wait_current(qtbot, st)
    assert st.result.setting.threshold == 0.2
    st.set_setting(threshold=0.9)
    assert not st.result_is_current()
    with qtbot.waitSignal(st.resultChanged, timeout=TIMEOUT):
        st.set_auto(True)
    wait_current(qtbot, st)
    np.testing.assert_array_equal(st.result.refined, engine(paths, st.setting)[2])


def test_result_for_a_replaced_sample_is_dropped(state, qtbot, tmp_path):
    a = make_sample(tmp_path / "a", "a", seed=0)
    b = make_sample(tmp_path / "b", "b", seed=1)
    st = state
    st.open(a, "camvid")
    st.open(b, "camvid")
    wait_current(qtbot, st)
    assert st.sample.paths == b
    np.testing.assert_array_equal(st.result.refined, engine(b, st.setting)[2])


def test_classes_toggle_isolate_show_all(state, qtbot, tmp_path):
    st = opened(qtbot, state, make_sample(tmp_path))
    rec = Recorder(st)
    st.toggle_class(2)
    assert st.hidden == {2}
    st.toggle_class(5)
    st.toggle_class(2)
    assert st.hidden == {5}
    st.isolate_class(3)
    assert st.hidden == set(range(SPACE.n_classes)) - {3}
    st.isolate_class(3)  # isolating the isolated class shows all again
    assert st.hidden == set()
    st.isolate_class(1)
    st.isolate_class(4)  # another class: that one alone
    assert st.hidden == set(range(SPACE.n_classes)) - {4}
    st.show_all_classes()
    assert st.hidden == set()
    assert rec.names() == ["classesChanged"] * 8
    assert not st.runner.busy()  # display only: nothing refines


def test_hidden_classes_kept_in_the_same_space_reset_in_another(state, qtbot, tmp_path):
    paths = make_sample(tmp_path)
    st = opened(qtbot, state, paths)
    st.toggle_class(1)
    opened(qtbot, st, make_sample(tmp_path / "b", "b", seed=1))
    assert st.hidden == {1}
    st.open(paths, "cityscapes")  # camvid ids 0..11 are valid cityscapes ids
    wait_current(qtbot, st)
    assert st.sample.space.name != "camvid" and st.hidden == set()
    assert st.space_name == "cityscapes"


def test_failed_open_names_the_file_and_keeps_the_sample(state, qtbot, tmp_path):
    good = make_sample(tmp_path / "good", "good")
    small = make_sample(tmp_path / "small", "small", shape=(16, 20))
    st = opened(qtbot, state, good)
    sample, result = st.sample, st.result
    bad = good.with_part("offsets", small.offsets)
    with qtbot.waitSignal(st.failed, timeout=TIMEOUT) as sig:
        st.open(bad, "camvid")
    message = sig.args[0]
    assert small.offsets in message and "16×20" in message and "\n" not in message
    qtbot.waitUntil(lambda: not st.runner.busy(), timeout=TIMEOUT)
    assert st.sample is sample and st.result is result
    with qtbot.waitSignal(st.failed, timeout=TIMEOUT) as sig:
        st.open(good.with_part("pred", str(tmp_path / "missing.png")), "camvid")
    assert "missing.png" in sig.args[0] and "not found" in sig.args[0]


def test_open_without_offsets_changes_nothing(state, qtbot, tmp_path):
    paths = make_sample(tmp_path).with_part("offsets", None)
    st = opened(qtbot, state, paths)
    assert st.sample.field is None
    np.testing.assert_array_equal(st.result.refined, st.sample.pred)
    assert st.result.counts["changed"] == 0 and not st.result.codes.any()
    assert_same_metrics(st.result.after, st.before)
    assert st.can_predict_offsets()[0]  # it has an image to predict them from
    st2 = opened(qtbot, st, paths.with_part("image", None))
    assert st2.can_predict_offsets()[0] is False


def test_install_field_refines_at_its_recommendation(state, qtbot, tmp_path):
    paths = make_sample(tmp_path)
    st = opened(qtbot, state, paths)
    f = read_offsets(paths.offsets)
    new = OffsetField(boundary=f.boundary, direction=f.direction, recommended={"threshold": 0.7, "scale": 1.0})
    with qtbot.waitSignal(st.sampleChanged, timeout=TIMEOUT):
        st.install_field(new, source="made in a test")
    wait_current(qtbot, st)
    assert st.sample.field is new and st.sample.field_source == "made in a test"
    assert (st.setting.threshold, st.setting.scale, st.setting.device) == (0.7, 1.0, "cpu")
    _, after, refined, _ = engine(paths, st.setting)
    np.testing.assert_array_equal(st.result.refined, refined)
    assert_same_metrics(st.result.after, after)


def test_demo_opens_at_its_recommended_setting(state, qtbot):
    paths, space = demo_paths()
    st = state
    st.open(paths, space)
    wait_current(qtbot, st)
    f = read_offsets(paths.offsets)
    assert st.setting.refinement() == Setting.resolve(f.recommended)
    _, after, refined, _ = engine(paths, st.setting)
    np.testing.assert_array_equal(st.result.refined, refined)
    assert_same_metrics(st.result.after, after)
    assert st.result.after["miou"] > st.before["miou"]


# --- sets ------------------------------------------------------------------------------------


@pytest.fixture
def three(tmp_path):
    recs = [{"threshold": 0.25}, {"threshold": 0.75}, {}]  # exact in float32 (.npz)
    return [make_sample(tmp_path / f"s{i}", f"s{i}", seed=i, recommended=r) for i, r in enumerate(recs)]


def wait_set(qtbot, st, n):
    qtbot.waitUntil(lambda: len(st.set_rows) == n and not st.runner.busy(), timeout=TIMEOUT)


def test_open_set_evaluates_every_sample_like_the_engine(state, qtbot, three):
    st, rec = state, Recorder(state)
    st.open_set(three, "camvid")
    wait_set(qtbot, st, 3)
    assert st.index == 0 and st.sample.paths == three[0]
    assert ("indexChanged", (0,)) in rec.seen and rec.count("setChanged") >= 2
    assert st.setting.threshold == 0.25  # the first sample's own recommendation
    assert st.set_rows_setting == st.setting
    for i, (row, paths) in enumerate(zip(st.set_rows, three, strict=True)):
        before, after, _, _ = engine(paths, st.setting)
        assert (row.index, row.name, row.error) == (i, paths.name, None)
        assert row.miou_before == pytest.approx(before["miou"], rel=1e-9)
        assert row.miou_after == pytest.approx(after["miou"], rel=1e-9)
        assert row.gain == pytest.approx(after["miou"] - before["miou"], abs=1e-9)


def test_moving_through_a_set_keeps_the_tuned_setting(state, qtbot, three):
    st = state
    st.open_set(three, "camvid")
    wait_set(qtbot, st, 3)
    st.set_setting(threshold=0.6, scale=1.0)
    wait_current(qtbot, st)
    with qtbot.waitSignal(st.indexChanged, timeout=TIMEOUT) as sig:
        st.step(1)
    assert sig.args == [1]
    wait_current(qtbot, st)
    assert st.sample.paths == three[1]
    assert (st.setting.threshold, st.setting.scale) == (0.6, 1.0)  # not s1's 0.75
    np.testing.assert_array_equal(st.result.refined, engine(three[1], st.setting)[2])
    st.go_to(99)  # clamped to the last
    qtbot.waitUntil(lambda: st.index == 2 and st.result_is_current() and not st.runner.busy(), timeout=TIMEOUT)
    st.step(1)  # at the end: stays
    qtbot.waitUntil(lambda: not st.runner.busy(), timeout=TIMEOUT)
    assert st.index == 2
    st.step(-1, order=[2, 0, 1])  # the list sorted as 2, 0, 1: before 2 there is nothing
    qtbot.waitUntil(lambda: not st.runner.busy(), timeout=TIMEOUT)
    assert st.index == 2
    st.step(1, order=[2, 0, 1])
    qtbot.waitUntil(lambda: st.index == 0 and not st.runner.busy(), timeout=TIMEOUT)
    assert st.sample.paths == three[0] and st.setting.threshold == 0.6


def test_a_new_set_starts_at_its_own_recommendation(state, qtbot, three, tmp_path):
    st = state
    st.open_set(three, "camvid")
    wait_set(qtbot, st, 3)
    st.set_setting(threshold=0.95)
    wait_current(qtbot, st)
    st.open_set(three[1:], "camvid")
    wait_set(qtbot, st, 2)
    assert st.index == 0 and st.sample.paths == three[1]
    assert st.setting.threshold == 0.75 and st.set_rows_setting == st.setting


def test_show_set_rows_replaces_the_evaluation(state, qtbot, three):
    from segfix_gui.gui.sets import SetRow

    st = state
    st.open_set(three, "camvid")
    wait_set(qtbot, st, 3)
    rows = [SetRow(0, "s0", 0.1, 0.2), SetRow(1, "s1", 0.3, 0.25)]
    at = ViewSetting(threshold=0.9, device="cpu")
    with qtbot.waitSignal(st.setChanged, timeout=TIMEOUT):
        st.show_set_rows(rows, at)
    assert st.set_rows == rows and st.set_rows_setting == at
    assert rows[1].gain == pytest.approx(-0.05)


def test_step_and_go_to_without_a_set_do_nothing(state):
    st = state
    st.step(1)
    st.go_to(0)
    assert not st.runner.busy() and st.index == -1 and st.sample is None
