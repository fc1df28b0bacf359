"""Folder sets in the window: the numbers of the samples list, Tune's starting grid, and what
happens after Predict offsets (issue 13, items 1–5)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch  # noqa: F401 - on the main thread, before any window's threads

from segfix_gui.core.degrade import degrade
from segfix_gui.core.metrics import evaluate_pair
from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.refine import refine_labels
from segfix_gui.io.images import read_labels, write_labels
from segfix_gui.io.offsets import read_offsets, write_offsets
from segfix_gui.io.samples import SamplePaths
from segfix_gui.labels import get_label_space

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"
SPACE = get_label_space("camvid")


def make_set(d: Path, rec: dict, names=("a", "b")) -> Path:
    gt = read_labels(DEMO / "ground_truth.png", SPACE)
    f = read_offsets(DEMO / "offsets.npz")
    field = OffsetField(boundary=f.boundary, direction=f.direction, recommended=rec)
    for sub in ("preds", "offsets", "gt"):
        (d / sub).mkdir(parents=True)
    for k, name in enumerate(names):
        write_labels(d / "preds" / f"{name}.png", degrade(gt, SPACE, stride=8 + 4 * k))
        write_offsets(d / "offsets" / f"{name}.npz", field)
        write_labels(d / "gt" / f"{name}.png", gt)
    return d


def settled(qtbot, w):
    qtbot.waitUntil(
        lambda: w.session.result is not None and w.session.result_is_current() and not w.runner.busy(), timeout=30000
    )


def row_after(d: Path, name: str, setting) -> tuple[float, float]:
    gt = read_labels(d / "gt" / f"{name}.png", SPACE)
    pred = read_labels(d / "preds" / f"{name}.png", SPACE)
    field = read_offsets(d / "offsets" / f"{name}.npz")
    refined = refine_labels(pred, field.to_offsets(setting), device="cpu")
    return evaluate_pair(gt, pred, SPACE)["miou"], evaluate_pair(gt, refined, SPACE)["miou"]


NETWORK = {"threshold": 0.8, "min_direction_prob": 0.6, "scale": 1.0}


def test_a_set_is_scored_at_its_files_recommended_setting(open_window, qtbot, tmp_path):
    d = make_set(tmp_path / "net", NETWORK)
    w = open_window()
    assert w.open_set(folder=str(d), space="camvid")
    settled(qtbot, w)
    st = w.session
    rec = read_offsets(d / "offsets" / "a.npz").setting()
    assert st.setting.refinement() == rec
    assert st.scores.setting.refinement() == rec and st.scores.done
    for row in st.scores.rows():
        before, after = row_after(d, row.name, rec)
        assert (row.miou_before, row.miou_after) == pytest.approx((before, after), rel=1e-12)
    # the list's first row and the Metrics panel tell the same story
    assert st.scores.rows()[0].miou_after == pytest.approx(st.result.after["miou"], rel=1e-12)
    # and the set's summary is the sum of its samples, as segfix evaluate counts it
    summary = st.set_summary(wait=False)
    assert summary["images"] == 2 and summary["complete"]


def test_opening_another_set_takes_that_sets_setting(open_window, qtbot, tmp_path):
    a = make_set(tmp_path / "a", {})
    b = make_set(tmp_path / "b", NETWORK)
    w = open_window()
    w.open_set(folder=str(a), space="camvid")
    settled(qtbot, w)
    w.session.set_setting(threshold=0.3, min_direction_prob=0.0, scale=3.0)  # tuned on set a
    settled(qtbot, w)
    w.open_set(folder=str(b), space="camvid")
    settled(qtbot, w)
    assert w.session.sample.paths.pred.startswith(str(b))
    assert w.session.setting.refinement() == read_offsets(b / "offsets" / "a.npz").setting()
    assert w.session.scores.setting == w.session.setting
    # moving within the set keeps what is tuned there
    w.session.set_setting(threshold=0.7)
    settled(qtbot, w)
    w.session.step(1)
    qtbot.waitUntil(lambda: w.session.index == 1, timeout=20000)
    settled(qtbot, w)
    assert w.session.setting.threshold == pytest.approx(0.7)


def test_tune_starts_at_the_open_samples_direction_confidence(open_window, qtbot, tmp_path):
    d = make_set(tmp_path / "net", NETWORK)
    w = open_window()
    w.show_panel("tune")
    w.open_set(folder=str(d), space="camvid")
    settled(qtbot, w)
    tune = w.panels["tune"]
    assert tune.fields["directions"].text() == "0.6"
    qtbot.keyClicks(tune.fields["directions"], ",0")  # the user's own text is kept
    w.session.step(1)
    qtbot.waitUntil(lambda: w.session.index == 1, timeout=20000)
    settled(qtbot, w)
    assert tune.fields["directions"].text() == "0.6,0"


def test_predicted_offsets_reach_the_sample_list(open_window, qtbot, tmp_path):
    d = make_set(tmp_path / "net", NETWORK)
    w = open_window()
    w.open_set(folder=str(d), space="camvid")
    settled(qtbot, w)
    st = w.session
    file_row = st.scores.rows()[0]
    f = st.sample.field
    flipped = OffsetField(
        boundary=f.boundary, direction=f.direction[::-1].copy(), recommended=NETWORK
    )  # another field, as Predict offsets installs
    st.controller.install_field(flipped, source="test")
    settled(qtbot, w)
    qtbot.waitUntil(lambda: st.scores.rows()[0] != file_row and not w.runner.busy("set"), timeout=30000)
    assert st.scores.rows()[0].miou_after == pytest.approx(st.result.after["miou"], rel=1e-12)
    b = st.scores.rows()[1]
    assert (b.index, b.name) == (1, "b")
    assert (b.miou_before, b.miou_after) == pytest.approx(row_after(d, "b", st.setting), rel=1e-12)
    assert "predicted" not in w.canvas.info.text() or "test" in w.canvas.info.text()
    assert "test" in dict(st.sample.info_lines(short=True))["offsets"]  # the header names the new offsets


def test_single_sample_messages(open_window, qtbot, tmp_path):
    w = open_window()
    w.open_paths(
        SamplePaths(
            image=str(DEMO / "image.jpg"), pred=str(DEMO / "prediction.png"), gt=str(DEMO / "ground_truth.png")
        ),
        "camvid",
    )
    settled(qtbot, w)
    w.show_panel("tune")
    tune = w.panels["tune"]
    tune._scope_text()
    assert "no offsets yet" in tune.scope.text() and "ground truth" not in tune.scope.text()
    assert not w.commands["export_set_csv"].isEnabled()  # no set: the set's exports are off
    assert not w.export("set_csv", str(tmp_path / "x.csv"))
    assert not (tmp_path / "x.csv").exists()
