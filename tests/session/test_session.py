"""The session (segfix_gui.session) on its own, without Qt: settings and their validation,
display options and their events, and opening / refining / moving through a set with real
(tiny) samples, whose numbers are checked against the engine (refine_labels +
SemanticEvaluator) and against the command line (segfix refine + segfix evaluate).

Work runs on the session's job runner, off the test's thread; tests wait with
``session.wait()``. The runner gets a torch gate that imports nothing (refinement on the CPU
needs no torch).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny import SPACE, TIMEOUT, Recorder, assert_same_metrics, engine, make_sample

from segfix_gui.core.evaluator import CHANGE_KINDS
from segfix_gui.core.metrics import SemanticEvaluator, change_codes, change_counts
from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.refine import refine_labels
from segfix_gui.core.setting import Setting
from segfix_gui.io.images import write_labels
from segfix_gui.io.offsets import read_offsets
from segfix_gui.io.samples import SamplePaths, demo_paths
from segfix_gui.session import LAYERS, LayerOptions, Session, ViewSetting
from segfix_gui.session.jobs import TorchGate
from segfix_gui.session.session import DEFAULT_OPACITY, DEFAULT_VISIBLE


@pytest.fixture
def session():
    s = Session()
    s.jobs.gate = TorchGate(importer=lambda: None)
    s.set_setting(device="cpu")
    yield s
    s.close()


def opened(s: Session, paths, space="camvid", **kw) -> Session:
    assert s.open_sample(paths, space, **kw)
    assert s.wait(TIMEOUT)
    assert s.result_is_current()
    return s


# --- without a sample -------------------------------------------------------------------------


def test_initial_state_and_nothing_to_refine(session):
    s = session
    assert s.sample is None and s.result is None and not s.result_is_current()
    assert {n: (o.visible, o.opacity) for n, o in s.layers.items()} == {
        n: (DEFAULT_VISIBLE[n], DEFAULT_OPACITY[n]) for n in LAYERS
    }
    assert (s.view_mode, s.swipe, s.after_source, s.cursor, s.camera) == ("side", 0.5, "refined", None, None)
    s.refine()
    assert not s.jobs.busy()  # no sample: no job
    assert s.can_predict_offsets() == (False, "Open a sample first")
    assert s.set_summary() is None


def test_set_setting_emits_the_new_value_and_validates(session):
    s, rec = session, Recorder(session)
    s.set_setting(threshold=0.3, scale=3, min_direction_prob=0.2)
    assert s.setting == ViewSetting(threshold=0.3, scale=3.0, min_direction_prob=0.2, device="cpu")
    assert rec.seen == [("setting", s.setting)]  # the event carries the value
    s.set_setting(threshold=0.3)  # no change, no event
    assert rec.count("setting") == 1
    s.set_setting(Setting(threshold=0.7, scale=2, min_direction_prob=0.3))  # a Setting, as a script gives it
    assert s.setting == ViewSetting(threshold=0.7, scale=2.0, min_direction_prob=0.3, device="cpu")
    good = s.setting
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
            s.set_setting(**bad)
        assert s.setting == good
    with pytest.raises(TypeError):
        s.set_setting(thresh=0.4)
    assert s.setting == good and rec.count("setting") == 2


@pytest.mark.parametrize(
    ("name", "start", "delta", "expect"),
    [
        ("scale", 0.5, -0.5, 0.5),  # the open low end: it stays (Shift+S at 0.5 raised before)
        ("scale", 64.0, 0.5, 64.0),  # S at 64
        ("scale", 1.0, -0.5, 0.5),
        ("threshold", 0.98, 0.05, 1.0),
        ("threshold", 0.02, -0.05, 0.0),
        ("min_direction_prob", 1.0, 0.05, 1.0),
    ],
)
def test_nudges_stay_inside_the_settings_ranges(session, name, start, delta, expect):
    s = session
    s.set_setting(**{name: start})
    s.nudge(name, delta)
    assert getattr(s.setting, name) == expect


def test_layers_visibility_and_opacity(session):
    s, rec = session, Recorder(session)
    s.set_layer("labels", opacity=0.25)
    assert s.layers["labels"] == LayerOptions(DEFAULT_VISIBLE["labels"], 0.25)
    assert rec.names() == ["layers"] and rec.values("layers")[0]["labels"].opacity == 0.25
    s.set_layer("labels", opacity=0.25, visible=DEFAULT_VISIBLE["labels"])  # unchanged
    assert rec.count("layers") == 1
    s.toggle_layer("boundary")
    assert s.layers["boundary"].visible is (not DEFAULT_VISIBLE["boundary"])
    assert s.layers["boundary"].opacity == DEFAULT_OPACITY["boundary"]
    s.toggle_layer("boundary")
    assert s.layers["boundary"].visible is DEFAULT_VISIBLE["boundary"]
    assert rec.count("layers") == 3
    s.set_layer("image", visible=0)  # coerced to bool
    assert s.layers["image"].visible is False
    with pytest.raises(ValueError):
        s.set_layer("nope", visible=True)
    with pytest.raises(ValueError):
        s.set_layer("labels", opacity=1.5)
    assert s.layers["labels"].opacity == 0.25


def test_view_mode_swipe_and_after_source(session, tmp_path):
    s, rec = session, Recorder(session)
    s.set_view(mode="single")
    assert s.view_mode == "single" and rec.names() == ["view_mode"]
    s.set_view(mode="single", swipe=0.5, after_source="refined")  # nothing new
    assert rec.names() == ["view_mode"]
    s.set_view(swipe=1.7)
    assert s.swipe == 1.0
    s.set_view(swipe=-0.2)
    assert s.swipe == 0.0
    s.set_view(after_source="gt")  # no sample with ground truth: not applied, said why
    assert s.after_source == "refined" and "ground truth" in s.status
    opened(s, make_sample(tmp_path))
    s.set_view(swipe=0.25, after_source="gt")
    assert (s.swipe, s.after_source) == (0.25, "gt") and s.after_shows_gt()
    with pytest.raises(ValueError):
        s.set_view(mode="grid")
    with pytest.raises(ValueError):
        s.set_view(mode="side", after_source="truth")  # a rejected call changes nothing
    assert (s.view_mode, s.after_source) == ("single", "gt")


def test_toggle_before_after_goes_to_the_ends_in_single_view(session):
    s = session
    s.toggle_before_after()  # from the middle: all "before"
    assert (s.view_mode, s.swipe) == ("single", 1.0)
    s.toggle_before_after()
    assert s.swipe == 0.0
    s.set_view(swipe=0.7)
    s.toggle_before_after()
    assert s.swipe == 0.0


def test_cursor_and_camera(session, tmp_path):
    s, rec = session, Recorder(session)
    s.set_cursor((3, 4))  # no sample: nothing to inspect
    assert s.cursor is None
    opened(s, make_sample(tmp_path))
    rec.clear()
    s.set_cursor((3, 4))
    s.set_cursor((3, 4))
    assert s.cursor == (3, 4) and rec.values("cursor") == [(3, 4)]
    s.set_cursor((100, 4))  # outside the image
    assert s.cursor is None
    s.set_camera((1, 2, 10, 20))
    assert s.camera == (1.0, 2.0, 10.0, 20.0) and rec.values("camera") == [(1.0, 2.0, 10.0, 20.0)]
    opened(s, make_sample(tmp_path / "b", "b", seed=1))
    assert s.camera is None and s.cursor is None  # a new sample: fitted, nothing inspected


def test_instance_options_without_instances(session):
    s, rec = session, Recorder(session)
    s.select_instance(2)
    s.select_instance(2)
    assert s.selected == 2 and rec.count("selected") == 1
    s.select_instance(None)
    s.set_min_score(0.5)
    s.set_min_score(0.5)
    assert s.selected is None and s.min_score == 0.5 and rec.count("min_score") == 1
    assert s.shown_instances().shape == (0,)


# --- one sample ------------------------------------------------------------------------------


def test_open_uses_recommendation_and_matches_the_engine(session, tmp_path):
    paths = make_sample(tmp_path, recommended={"threshold": 0.25, "scale": 2.0, "min_direction_prob": 0.0})
    s, rec = session, Recorder(session)
    opened(s, paths)
    names = rec.names()
    assert names.index("setting") < names.index("sample") < names.index("result")
    assert s.setting == ViewSetting(threshold=0.25, scale=2.0, min_direction_prob=0.0, device="cpu")
    before, after, refined, offsets = engine(paths, s.setting)
    assert_same_metrics(s.before, before)
    r = s.result
    assert r.setting == s.setting and r.device == "cpu"
    np.testing.assert_array_equal(r.offsets, offsets)
    np.testing.assert_array_equal(r.refined, refined)
    assert_same_metrics(r.after, after)
    pred, gt = s.sample.pred, s.sample.gt
    codes = change_codes(pred, refined, gt, SPACE)
    np.testing.assert_array_equal(r.codes, codes)
    want = change_counts(codes)
    want["changed"] = int((refined != pred).sum())
    assert r.counts == want and want["changed"] > 0
    assert r.after["miou"] != before["miou"]  # the sample is not trivial
    summary = s.sample_summary()
    assert summary["miou"] == before["miou"] and summary["refined"]["miou"] == after["miou"]


def test_the_samples_boundary_measures_follow_its_result(session, tmp_path):
    """The Boundary panel's profile and boundary IoU of the open sample are the engine's
    (``SemanticEvaluator`` with the boundary measures, as ``segfix evaluate --json``), before
    and at each setting; a hovered bin names exactly the pixels at that distance."""
    from scipy.ndimage import distance_transform_edt

    from segfix_gui.core.metrics import BorderOptions

    paths = make_sample(tmp_path)
    s = opened(session, paths)
    for threshold in (0.5, 0.25):
        s.set_setting(threshold=threshold)
        assert s.wait(TIMEOUT)
        before, _, refined, _ = engine(paths, s.setting)
        gt, pred = s.sample.gt, s.sample.pred
        want_b = SemanticEvaluator(SPACE, 3, BorderOptions()).add(gt, pred)
        want_a = SemanticEvaluator(SPACE, 3, BorderOptions()).add(gt, refined)
        p = s.borders
        assert p.setting == s.result.setting and p.scope == "sample"
        assert p.boundary_iou() == (want_b["boundary_iou"], want_a["boundary_iou"])
        assert want_b["boundary_iou"] != want_a["boundary_iou"]  # refinement moved a border
        pixels, rb, ra = p.curve()
        assert pixels[:-1].tolist() == want_b["error_profile"]["pixels"]
        for rates, want in ((rb, want_b), (ra, want_a)):
            got = [None if np.isnan(v) else v for v in rates[:-1]]
            assert got == want["error_profile"]["error_rate"]
    # per class: the bins of one class's ground-truth pixels
    road = SPACE.names.index("road")
    pixels_road, _, _ = p.curve(road)
    assert 0 < pixels_road.sum() < pixels.sum()
    # hovering bin 2 highlights the pixels 2 <= d < 3 px from another label (void counts as one)
    s.hover_border_bin(2)
    g = SPACE.to_eval(s.sample.gt)
    d = np.zeros(g.shape)
    for label in np.unique(g):  # each pixel's distance to the nearest pixel of another label
        d[g == label] = distance_transform_edt(g == label)[g == label]
    valid = g != 255
    np.testing.assert_array_equal(s.border_mask(), valid & (np.floor(d) == 2))
    s.set_border_class(road)
    np.testing.assert_array_equal(s.border_mask(), valid & (np.floor(d) == 2) & (g == road))
    s.hover_border_bin(None)
    assert s.border_mask() is None
    with pytest.raises(ValueError, match="class index"):
        s.set_border_class(99)


def test_setting_change_refines_again_at_the_new_setting(session, tmp_path):
    paths = make_sample(tmp_path)
    s = opened(session, paths)
    assert s.setting.threshold == 0.5 and s.setting.scale == 2.0  # defaults: no recommendation
    first = s.result
    s.set_setting(threshold=0.2, scale=1.0)
    assert s.wait(TIMEOUT)
    assert s.result is not first and s.result.setting.threshold == 0.2
    _, after, refined, _ = engine(paths, s.setting)
    np.testing.assert_array_equal(s.result.refined, refined)
    assert_same_metrics(s.result.after, after)


def test_many_quick_changes_end_at_the_last_setting(session, tmp_path):
    paths = make_sample(tmp_path)
    s = opened(session, paths)
    for t in (0.1, 0.2, 0.3, 0.4, 0.6, 0.7):
        s.set_setting(threshold=t)
    assert s.wait(TIMEOUT)
    assert s.result.setting.threshold == 0.7
    np.testing.assert_array_equal(s.result.refined, engine(paths, s.setting)[2])


def test_manual_mode_keeps_a_stale_result_until_auto(session, tmp_path):
    paths = make_sample(tmp_path)
    s = opened(session, paths)
    old = s.result
    s.set_auto(False)
    s.set_setting(threshold=0.2)
    assert not s.jobs.busy("refine")  # nothing submitted
    assert s.result is old and not s.result_is_current()
    s.refine()  # what the Refine button does
    assert s.wait(TIMEOUT) and s.result.setting.threshold == 0.2
    s.set_setting(threshold=0.9)
    assert not s.result_is_current()
    s.set_auto(True)
    assert s.wait(TIMEOUT) and s.result_is_current()
    np.testing.assert_array_equal(s.result.refined, engine(paths, s.setting)[2])


def test_result_for_a_replaced_sample_is_dropped(session, tmp_path):
    a = make_sample(tmp_path / "a", "a", seed=0)
    b = make_sample(tmp_path / "b", "b", seed=1)
    s = session
    s.open_sample(a, "camvid")
    s.open_sample(b, "camvid")
    assert s.wait(TIMEOUT)
    assert s.sample.paths == b
    np.testing.assert_array_equal(s.result.refined, engine(b, s.setting)[2])


def test_classes_toggle_isolate_show_all(session, tmp_path):
    s = opened(session, make_sample(tmp_path))
    rec = Recorder(s)
    s.toggle_class(2)
    assert s.hidden == {2}
    s.toggle_class(5)
    s.toggle_class(2)
    assert s.hidden == {5}
    s.isolate_class(3)
    assert s.hidden == set(range(SPACE.n_classes)) - {3}
    s.isolate_class(3)  # isolating the isolated class shows all again
    assert s.hidden == set()
    s.isolate_class(4)
    s.show_all_classes()
    assert s.hidden == set()
    assert rec.names() == ["hidden"] * 7
    assert not s.jobs.busy()  # display only: nothing refines


def test_a_label_space_the_ids_do_not_fit_is_warned_about(session, tmp_path):
    """CamVid ids are valid Cityscapes ids, but most are void there: the numbers would be
    meaningless (building 0.00), so the session warns before they show."""
    paths = make_sample(tmp_path)
    s = opened(session, paths)
    assert s.space_warning is None
    s.toggle_class(1)
    s.set_label_space("cityscapes")
    assert s.wait(TIMEOUT)
    assert s.sample.space.name == "cityscapes" and s.hidden == set()  # another space: hidden reset
    assert s.space_warning is not None and "cityscapes" in s.space_warning and "void" in s.space_warning
    assert s.status == s.space_warning
    s.set_label_space("camvid")
    assert s.wait(TIMEOUT) and s.space_warning is None


def test_failed_open_names_the_file_and_keeps_the_sample(session, tmp_path):
    good = make_sample(tmp_path / "good", "good")
    s = opened(session, good)
    sample, result = s.sample, s.result
    rec = Recorder(s)
    s.open_sample(good.with_part("pred", str(tmp_path / "missing.png")), "camvid")
    assert s.wait(TIMEOUT)
    (message,) = rec.values("failed")
    assert "missing.png" in message and "not found" in message and "\n" not in message
    assert s.sample is sample and s.result is result


def test_an_unreadable_optional_partner_is_left_out_saying_so(session, tmp_path):
    """A sample whose only fault is its image (or ground truth, or offsets) opens without it,
    with the one-line error in a dialog (a file the user chose) and in the header's note."""
    paths = make_sample(tmp_path / "a", "a")
    small = make_sample(tmp_path / "small", "small", shape=(16, 20))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    s, rec = session, Recorder(session)
    opened(s, paths.with_part("image", str(broken)))
    assert s.sample.image is None and s.sample.gt is not None
    (message,) = rec.values("failed")
    assert message.startswith(f"{broken}: ") and message.endswith("opened without its image")
    assert s.sample_note == message
    rec.clear()
    opened(s, paths.with_part("offsets", small.offsets))  # offsets of another size
    assert s.sample.field is None and small.offsets in s.sample_note and "16×20" in s.sample_note
    opened(s, paths)
    assert s.sample_note is None


def test_open_without_offsets_changes_nothing(session, tmp_path):
    paths = make_sample(tmp_path).with_part("offsets", None)
    s = opened(session, paths)
    assert s.sample.field is None
    np.testing.assert_array_equal(s.result.refined, s.sample.pred)
    assert s.result.counts["changed"] == 0 and not s.result.codes.any()
    assert_same_metrics(s.result.after, s.before)
    assert s.can_predict_offsets()[0]  # it has an image to predict them from
    opened(s, paths.with_part("image", None))
    assert s.can_predict_offsets()[0] is False


def test_installed_offsets_take_their_recommendation_where_there_were_none(session, tmp_path):
    paths = make_sample(tmp_path)
    s = opened(session, paths.with_part("offsets", None))
    f = read_offsets(paths.offsets)
    new = OffsetField(boundary=f.boundary, direction=f.direction, recommended={"threshold": 0.7, "scale": 1.0})
    s.controller.install_field(new, source="made in a test")
    assert s.wait(TIMEOUT)
    assert s.sample.field is new and s.sample.field_source == "made in a test"
    assert "made in a test" in dict(s.sample.info_lines(short=True))["offsets"]  # the header names it
    assert (s.setting.threshold, s.setting.scale, s.setting.device) == (0.7, 1.0, "cpu")
    _, after, refined, _ = engine(paths, s.setting)
    np.testing.assert_array_equal(s.result.refined, refined)
    assert_same_metrics(s.result.after, after)


def test_new_offsets_keep_the_users_setting(session, tmp_path):
    paths = make_sample(tmp_path)
    s = opened(session, paths)
    s.set_setting(threshold=0.3)
    f = read_offsets(paths.offsets)
    new = OffsetField(boundary=f.boundary, direction=f.direction, recommended={"threshold": 0.9})
    s.controller.install_field(new, source="predicted")
    assert s.wait(TIMEOUT)
    assert s.setting.threshold == 0.3 and s.result.setting.threshold == 0.3


def test_demo_opens_at_its_recommended_setting_and_its_upper_bound(session):
    paths, _space = demo_paths()
    s = session
    s.open_demo()
    assert s.wait(TIMEOUT)
    f = read_offsets(paths.offsets)
    assert s.setting.refinement() == Setting.resolve(f.recommended)
    _, after, refined, _ = engine(paths, s.setting)
    np.testing.assert_array_equal(s.result.refined, refined)
    assert_same_metrics(s.result.after, after)
    assert s.upper_ready  # computed in the background when the demo opened
    own_setting = s.setting
    s.show_upper_bound(True)
    assert s.wait(TIMEOUT) and s.upper_bound
    assert s.setting.refinement() == Setting()  # the upper bound's setting
    assert s.result.after["miou"] > after["miou"]
    s.toggle_upper_bound()
    assert s.wait(TIMEOUT) and not s.upper_bound and s.setting == own_setting
    np.testing.assert_array_equal(s.result.refined, refined)


# --- sets ------------------------------------------------------------------------------------


@pytest.fixture
def three(tmp_path):
    recs = [{"threshold": 0.25}, {"threshold": 0.75}, {}]  # exact in float32 (.npz)
    return [make_sample(tmp_path / f"s{i}", f"s{i}", seed=i, recommended=r) for i, r in enumerate(recs)]


def set_folder(root, three):
    """The three samples as a set folder (preds/, offsets/, gt/, images/), as the CLI reads it."""
    import shutil

    for sub in ("preds", "offsets", "gt", "images"):
        (root / sub).mkdir(parents=True)
    for p in three:
        shutil.copy(p.pred, root / "preds" / f"{p.name}.png")
        shutil.copy(p.offsets, root / "offsets" / f"{p.name}.npz")
        shutil.copy(p.gt, root / "gt" / f"{p.name}.png")
        shutil.copy(p.image, root / "images" / f"{p.name}.png")
    return root


def test_open_set_scores_every_sample_like_the_engine(session, three):
    s, rec = session, Recorder(session)
    assert s.open_set(three, "camvid")
    assert s.wait(TIMEOUT)
    assert s.index == 0 and s.sample.paths == three[0]
    assert s.setting.threshold == 0.25  # the first sample's own recommendation
    sc = s.scores
    assert sc.done and sc.setting == s.setting and sc.n_scored == 3
    for i, (row, paths) in enumerate(zip(sc.rows(), three, strict=True)):
        before, after, _, _ = engine(paths, s.setting)
        assert (row.index, row.name, row.error, row.scored) == (i, paths.name, None, True)
        assert row.miou_before == pytest.approx(before["miou"], rel=1e-12)
        assert row.miou_after == pytest.approx(after["miou"], rel=1e-12)
    assert rec.values("set_samples")[-1] == tuple(three)


def test_the_set_follows_the_setting_live_from_held_evaluators(session, three):
    """After the first scoring every sample is held: a threshold move re-scores without reading
    a file, and each row equals the engine at the new setting (the open sample's row too)."""
    s = session
    s.open_set(three, "camvid")
    assert s.wait(TIMEOUT)
    assert s.controller.scorer.all_held
    for t in (0.6, 0.3, 0.8):
        s.set_setting(threshold=t)
        assert s.wait(TIMEOUT)
        assert s.scores.setting == s.setting and s.scores.done
        for row, paths in zip(s.scores.rows(), three, strict=True):
            _, after, _, _ = engine(paths, s.setting)
            assert row.miou_after == pytest.approx(after["miou"], rel=1e-12)
        assert s.scores.rows()[s.index].miou_after == pytest.approx(s.result.after["miou"], rel=1e-12)


def test_set_summary_equals_segfix_refine_and_evaluate(session, three, tmp_path):
    """The whole set's figures at a setting are those of ``segfix refine`` + ``segfix evaluate``
    on the same files, key for key."""
    from segfix_gui.cli import main

    root = set_folder(tmp_path / "set", three)
    s = session
    assert s.open_folder(root, "camvid")
    assert s.wait(TIMEOUT)
    setting = Setting(threshold=0.6, scale=1.0, min_direction_prob=0.0)
    s.set_setting(setting)
    got = s.set_summary()
    out = tmp_path / "refined"
    assert (
        main(
            ["refine", "--input", str(root / "preds"), "--offset", str(root / "offsets"), "--out", str(out)]
            + ["--threshold", "0.6", "--scale", "1", "--min-direction-prob", "0", "--label-space", "camvid"]
        )
        == 0
    )
    report = tmp_path / "metrics.json"
    argv = ["evaluate", "--gt", str(root / "gt"), "--pred", str(root / "preds"), "--refined", str(out)]
    assert main(argv + ["--json", str(report), "--label-space", "camvid"]) == 0
    want = json.loads(report.read_text())
    assert got["complete"] and got["setting"] == setting.as_dict()
    for key in ("miou", "pixel_accuracy", "boundary_f", "images"):
        assert got[key] == pytest.approx(want[key], rel=1e-12)
    for key in ("miou", "pixel_accuracy", "boundary_f"):
        assert got["refined"][key] == pytest.approx(want["refined"][key], rel=1e-12)
    for g, w in ((got, want), (got["refined"], want["refined"])):
        assert g["per_class_iou"].keys() == w["per_class_iou"].keys()
        for name, v in w["per_class_iou"].items():
            assert (g["per_class_iou"][name] is None) == (v is None)
            if v is not None:
                assert g["per_class_iou"][name] == pytest.approx(v, rel=1e-12)
    assert got["change"] == want["change"]
    # the boundary measures (the Boundary panel's set profile, boundary IoU in Metrics)
    assert s.set_borders.done and s.set_borders.setting == s.setting
    for g, w in ((got, want), (got["refined"], want["refined"])):
        for key in ("boundary_iou", "error_profile", "boundary_f_at", "trimap_iou", "boundary_iou_per_class"):
            assert g[key] == w[key], key
    assert s.set_borders.boundary_iou() == (want["boundary_iou"], want["refined"]["boundary_iou"])
    pixels, before, after = s.set_borders.curve()
    prof = want["error_profile"]
    assert pixels.tolist() == prof["pixels"] + [prof["pixels_beyond"]]
    for got_rates, w in ((before, prof), (after, want["refined"]["error_profile"])):
        want_rates = w["error_rate"] + [w["error_rate_beyond"]]
        assert [None if np.isnan(v) else v for v in got_rates] == want_rates


def test_the_sets_boundary_measures_wait_until_the_setting_has_rested(session, three, monkeypatch):
    """Measured once the setting has stayed unchanged for SET_BORDERS_DELAY, counted from its
    last change (not from when the set's scores came): a setting that has rested that long
    already is measured at once."""
    import time

    from segfix_gui.session import controller

    monkeypatch.setattr(controller, "SET_BORDERS_DELAY", 1.0)
    s = session
    s.open_set(three, "camvid")
    assert s.wait(TIMEOUT)
    moved = time.monotonic()
    s.set_setting(threshold=0.6, scale=1.0)
    assert s.wait(TIMEOUT)
    assert s.set_borders.setting == s.setting and time.monotonic() - moved >= 1.0
    s.set_borders = None
    again = time.monotonic()
    s.controller.measure_set_borders()  # the setting has rested over a second by now
    assert s.wait(TIMEOUT)
    assert s.set_borders.setting == s.setting and time.monotonic() - again < 0.9


def test_rows_fill_in_as_the_set_is_scored(tmp_path):
    many = [make_sample(tmp_path / f"m{i}", f"m{i}", seed=i % 3) for i in range(12)]
    s = Session()
    s.jobs.gate = TorchGate(importer=lambda: None)
    s.set_setting(device="cpu")
    seen = []
    s.events.scores.connect(lambda v, *_: seen.append(None if v is None else (v.n_scored, v.done)))
    try:
        s.open_set(many, "camvid")
        assert s.wait(TIMEOUT)
    finally:
        s.close()
    shown = [x for x in seen if x is not None]
    assert shown[-1] == (12, True)
    assert all(not done for _, done in shown[:-2]) and shown[0][0] < 12  # partial snapshots first


def test_moving_through_a_set_keeps_the_tuned_setting_and_follows_the_sort(session, three):
    s = session
    s.open_set(three, "camvid")
    assert s.wait(TIMEOUT)
    s.set_setting(threshold=0.6, scale=1.0)
    assert s.wait(TIMEOUT)
    s.step(1)
    assert s.index == 1  # the list selects at once
    assert s.wait(TIMEOUT)
    assert s.sample.paths == three[1]
    assert (s.setting.threshold, s.setting.scale) == (0.6, 1.0)  # not s1's 0.75
    np.testing.assert_array_equal(s.result.refined, engine(three[1], s.setting)[2])
    s.go_to(99)  # clamped to the last
    assert s.wait(TIMEOUT) and s.index == 2
    s.step(1)  # at the end: stays
    assert s.wait(TIMEOUT) and s.index == 2
    gains = {r.index: r.gain for r in s.scores.rows()}
    s.set_sort("loss")
    assert s.order() == sorted(gains, key=lambda i: (gains[i], i))
    s.set_sort("gain")
    assert s.order() == sorted(gains, key=lambda i: (-gains[i], i))
    order = s.order()
    s.go_to(order[0])
    assert s.wait(TIMEOUT)
    s.step(1)
    assert s.wait(TIMEOUT) and s.index == order[1] and s.setting.threshold == 0.6
    with pytest.raises(ValueError):
        s.set_sort("name")


def test_a_new_set_replaces_the_old_at_its_own_recommendation(session, three):
    s = session
    s.open_set(three, "camvid")
    assert s.wait(TIMEOUT)
    s.set_setting(threshold=0.95)
    assert s.wait(TIMEOUT)
    s.open_set(three[1:], "camvid")
    assert s.wait(TIMEOUT)
    assert s.set_samples == tuple(three[1:]) and s.index == 0
    assert s.setting.threshold == 0.75 and s.scores.n_scored == 2


def test_opening_a_sample_or_the_demo_replaces_the_set(session, three):
    s = session
    s.open_set(three, "camvid")
    assert s.wait(TIMEOUT)
    s.open_demo()
    assert s.wait(TIMEOUT)
    assert s.set_samples == () and s.index == -1 and s.scores is None
    assert s.sample.name.startswith("CamVid")
    s.step(1)  # no set: N does nothing
    assert s.wait(TIMEOUT) and s.sample.name.startswith("CamVid")


def test_a_set_sample_that_fails_shows_its_error_not_the_previous_sample(session, three, tmp_path):
    bad = three[1].with_part("pred", str(tmp_path / "missing.png"))
    s = session
    s.open_set([three[0], bad, three[2]], "camvid")
    assert s.wait(TIMEOUT)
    assert s.scores.error_of(1) is not None and "missing.png" in s.scores.error_of(1)
    assert s.scores.n_scored == 2 and s.scores.done
    s.step(1)
    assert s.wait(TIMEOUT)
    assert s.index == 1 and s.sample is None and s.result is None
    assert "missing.png" in s.sample_error
    s.step(1)
    assert s.wait(TIMEOUT)
    assert s.index == 2 and s.sample.paths == three[2] and s.sample_error is None


def test_a_set_sample_with_only_an_unreadable_image_opens_without_it(session, three, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    s = session
    s.open_set([three[0], three[1].with_part("image", str(broken))], "camvid")
    assert s.wait(TIMEOUT)
    s.step(1)
    assert s.wait(TIMEOUT)
    assert s.sample is not None and s.sample.image is None and str(broken) in s.sample_note
    assert s.scores.rows()[1].miou_after == pytest.approx(engine(three[1], s.setting)[1]["miou"], rel=1e-12)


def test_predicted_offsets_in_a_set_rescore_that_sample_only(session, three):
    s = session
    s.open_set(three, "camvid")
    assert s.wait(TIMEOUT)
    s.set_setting(threshold=0.6)
    assert s.wait(TIMEOUT)
    before_rows = s.scores.rows()
    f = read_offsets(three[0].offsets)
    flat = OffsetField(boundary=np.zeros_like(f.boundary), direction=f.direction, recommended={"threshold": 0.1})
    scored = []
    s.events.scores.connect(lambda v, *_: scored.append(v))
    s.controller.install_field(flat, source="a test")
    assert s.wait(TIMEOUT)
    assert s.setting.threshold == 0.6  # the user's setting is kept
    rows = s.scores.rows()
    assert rows[0].miou_after == pytest.approx(rows[0].miou_before)  # nothing moves now
    assert rows[1:] == before_rows[1:]
    assert all(v.scored[1] is s.scores.scored[1] for v in scored)  # the others were not scored again


def test_the_set_upper_bound_beside_the_network(session, three):
    s = session
    s.open_set(three, "camvid")
    assert s.wait(TIMEOUT)
    assert s.can_show_upper_bound()[0]  # a set sample with ground truth has one
    s.show_upper_bound(True)
    assert s.wait(TIMEOUT)
    assert s.upper_bound and s.upper_scores is not None and s.upper_scores.done
    up = s.upper_scores.summary()
    assert up["refined"]["miou"] > up["miou"]
    assert up["setting"] == Setting().as_dict()
    assert s.scores.setting != s.setting or True  # the network's figures stay at its setting
    s.show_upper_bound(False)
    assert s.wait(TIMEOUT) and not s.upper_bound


def test_label_maps_of_another_space_give_a_warning_in_a_set(session, three):
    s = session
    s.open_set(three, "cityscapes")
    assert s.wait(TIMEOUT)
    assert s.space_warning is not None


def test_wait_for_a_set_summary_from_a_script(tmp_path, three):
    """The notebook example of the README: open, wait, set, summary."""
    root = set_folder(tmp_path / "set", three)
    s = Session()
    try:
        s.open_folder(root, "camvid")
        s.wait()
        s.set_setting(Setting(threshold=0.7, scale=2, min_direction_prob=0.3))
        summary = s.set_summary()
    finally:
        s.close()
    assert summary["images"] == 3 and summary["complete"]
    assert summary["setting"] == {"threshold": 0.7, "scale": 2.0, "min_direction_prob": 0.3}


def command_line_counts(gt, pred, field_, setting):
    """A sample's counts the command line's way: ``refine_labels`` at ``setting``, then
    ``SemanticEvaluator`` on both maps, and ``change_codes``."""
    before = SemanticEvaluator(SPACE, 3)
    before.add(gt, pred)
    refined = pred if field_ is None else refine_labels(pred, field_.to_offsets(setting), device="cpu")
    after = SemanticEvaluator(SPACE, 3)
    after.add(gt, refined)
    changed = refined != pred
    c = change_counts(change_codes(pred[changed], refined[changed], gt[changed], SPACE))
    return (before.conf, before.bcounts), (after.conf, after.bcounts), [c[k] for k in CHANGE_KINDS], int(changed.sum())


def test_held_scores_equal_the_command_lines_counts(three):
    """A sample is scored through its held evaluator (summarized offsets, incremental counts):
    the same integer counts as refining it and evaluating both maps, at several settings, the
    first time (files read) and after (held)."""
    from segfix_gui.session.sets import SetScorer

    scorer = SetScorer(three, "camvid", workers=1)
    for setting in (Setting(threshold=0.5, scale=2.0), Setting(0.25, 1.0), Setting(0.75, 3.0, 0.2)):
        got = scorer.score(setting)
        assert scorer.all_held
        for i, row in enumerate(got.scored):
            gt, pred, field_ = scorer.arrays(i)
            before, after, change, changed = command_line_counts(gt, pred, field_, setting)
            for x, y in zip(row.before + row.after, before + after, strict=True):
                np.testing.assert_array_equal(x, y)
            assert row.change.tolist() == change and row.changed == changed


def test_a_tight_budget_holds_only_what_fits(three):
    from segfix_gui.session.sets import SetScorer, held_bytes

    scorer = SetScorer(three, "camvid", workers=1, budget=1)
    scorer.score(Setting())
    assert scorer.held == {} and scorer.held_bytes == 0
    one = SetScorer(three[:1], "camvid", workers=1)
    one.score(Setting())
    size = one.held[0].nbytes
    scorer = SetScorer(three, "camvid", workers=1, budget=size)
    scorer.score(Setting())
    assert len(scorer.held) == 1 and scorer.held_bytes <= size
    assert held_bytes(one.held[0].evaluator, one.held[0].field) == size


def test_short_names_tell_samples_apart():
    from segfix_gui.session.sets import short_names

    assert short_names(["0016E5_07959", "0016E5_08101"]) == ["07959", "08101"]
    assert short_names(["im0", "im1"]) == ["im0", "im1"]  # a cut would leave nothing
    assert short_names(["x"]) == ["x"]


def test_labels_written_by_the_session_helpers_round_trip(tmp_path):
    g = np.zeros((4, 5), np.uint8)
    write_labels(tmp_path / "g.png", g)
    assert SamplePaths(pred=str(tmp_path / "g.png")).missing() == []


def test_the_sets_table_and_figure(session, three, tmp_path):
    """File ▸ Export the set's table / figure: every number the set's summary's (the engine's
    counts), the setting to three decimals, and never onto a file of the set."""
    import csv

    from PIL import Image

    from segfix_gui.errors import InputError
    from segfix_gui.session.guard import check_not_input
    from segfix_gui.session.report import setting_text, write_set_csv, write_set_figure

    s = session
    s.open_set(three, "camvid")
    s.set_setting(threshold=0.6)
    summary = s.set_summary()
    s.score_set_upper_bound()
    assert s.wait(TIMEOUT)
    out = tmp_path / "set.csv"
    write_set_csv(out, s.scores, upper=s.upper_scores)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    by = {(r["scope"], r["name"]): r for r in rows}
    assert by[("set", "mIoU")]["before"] == repr(summary["miou"])
    assert by[("set", "mIoU")]["after"] == repr(summary["refined"]["miou"])
    assert by[("set", "mIoU")]["upper_bound_after"] == repr(s.upper_scores.summary()["refined"]["miou"])
    for name, v in summary["refined"]["per_class_iou"].items():
        assert by[("set", name)]["after"] == ("" if v is None else repr(v))
    samples = [r for r in rows if r["scope"] == "sample"]
    assert [r["name"] for r in samples] == [p.name for p in three]
    assert {(r["images"], r["threshold"], r["scale"]) for r in rows} == {("3", "0.600", "2.000")}
    assert setting_text(s.setting) == "threshold 0.600, scale 2.000, direction confidence ≥ 0.000"
    fig = tmp_path / "set.png"
    write_set_figure(fig, s.scores, upper=s.upper_scores)
    with Image.open(fig) as im:
        assert im.format == "PNG" and im.size[0] > 600
    with pytest.raises(InputError, match="refused: it is the input file"):
        check_not_input(three[1].gt, None, s.set_samples)
