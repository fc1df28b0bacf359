"""tools/make_demo.py: the demo's prediction is a real segmentation network's, named in the header
with its val mIoU (from the segmenter's run folder), or the simulated stride-8 map on request."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from segfix_gui.core.degrade import degrade
from segfix_gui.io.images import read_labels, write_labels
from segfix_gui.io.samples import demo_paths
from segfix_gui.labels import get_label_space

ROOT = Path(__file__).resolve().parents[1]
CAMVID = ROOT.parent / "shared" / "data" / "camvid"
FRAME = "0016E5_08101"
SPACE = get_label_space("camvid")

pytestmark = pytest.mark.skipif(
    not (CAMVID / "val" / "labels" / f"{FRAME}.png").is_file(), reason="CamVid data (../shared/data) absent"
)


def _make_demo():
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "tools" / "make_demo.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def segmenter_run(tmp_path):
    """A segmenter run folder as benchmarks/segmenter.py leaves it: record.json and val/*.png."""
    run = tmp_path / "run"
    (run / "val").mkdir(parents=True)
    gt = read_labels(CAMVID / "val" / "labels" / f"{FRAME}.png", SPACE)
    pred = gt.copy()
    pred[100:140, 200:260] = 3  # a wrong region, so the copy is recognisable
    write_labels(run / "val" / f"{FRAME}.png", pred)
    record = {"network": "lite0-fpn", "options": {"epochs": 40, "seed": 0}, "val": {"miou": 63.456, "boundary_f": 55.1}}
    (run / "record.json").write_text(json.dumps(record))
    return run, pred


def test_demo_prediction_is_the_segmenters_named_with_its_val_miou(tmp_path, segmenter_run):
    run, pred = segmenter_run
    out = tmp_path / "demo"
    args = ["--data", str(CAMVID), "--frame", FRAME, "--out", str(out), "--segmenter", str(run)]
    assert _make_demo().main(args) == 0
    np.testing.assert_array_equal(read_labels(out / "prediction.png", SPACE), pred)
    meta = json.loads((out / "sample.json").read_text(encoding="utf-8"))
    assert meta["prediction_kind"] == "segmenter"
    assert meta["prediction_short"] == "lite0-fpn, trained on CamVid train, val mIoU 63.5"
    assert "simulated" not in meta["prediction_info"] and "40 epochs" in meta["prediction_info"]
    # the window's header shows the short text as "prediction: ..."
    paths, _ = demo_paths(out)
    assert dict(paths.summary)["prediction"] == "lite0-fpn, trained on CamVid train, val mIoU 63.5"
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "real segmentation network" in readme and "a simulation" not in readme


def test_demo_can_still_use_the_simulated_prediction(tmp_path):
    out = tmp_path / "demo"
    args = ["--data", str(CAMVID), "--frame", FRAME, "--out", str(out), "--prediction", "simulated"]
    assert _make_demo().main(args) == 0
    gt = read_labels(CAMVID / "val" / "labels" / f"{FRAME}.png", SPACE)
    np.testing.assert_array_equal(read_labels(out / "prediction.png", SPACE), degrade(gt, SPACE, stride=8))
    meta = json.loads((out / "sample.json").read_text(encoding="utf-8"))
    assert meta["prediction_kind"] == "simulated" and "simulated stride-8" in meta["prediction_short"]
    assert "--prediction simulated" in meta["made_by"]


def test_demo_without_a_segmenter_run_says_what_to_run(tmp_path, capsys):
    args = ["--data", str(CAMVID), "--frame", FRAME, "--out", str(tmp_path / "demo"), "--segmenter", str(tmp_path)]
    assert _make_demo().main(args) == 2
    err = capsys.readouterr().err
    assert "record.json: not found" in err and "benchmarks/segmenter.py train" in err
    assert not (tmp_path / "demo").exists()
