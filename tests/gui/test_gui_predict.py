"""The window's "Predict offsets": a sample opened without offsets, the bundled network run in
the background, its field installed and refined at the field's recommended setting; and the
demo's offsets are the network's (pytest-qt, offscreen)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

import torch  # noqa: F401  (imported on the main thread before any worker exists)
from PySide6.QtCore import Qt

from segfix_gui.core.metrics import evaluate_pair
from segfix_gui.core.refine import refine_labels
from segfix_gui.io.images import read_image, read_labels
from segfix_gui.io.offsets import read_offsets
from segfix_gui.labels import get_label_space

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"
WEIGHTS = ROOT / "resources" / "weights" / "offsetnet-camvid.pt"
SPACE = get_label_space("camvid")

pytestmark = [
    pytest.mark.skipif(
        not (DEMO / "sample.json").is_file(), reason="demo sample missing (python tools/make_demo.py --offsets network)"
    ),
    pytest.mark.skipif(not WEIGHTS.is_file(), reason="bundled offset-network weights missing"),
]


@pytest.fixture(scope="module")
def network():
    """A fresh prediction of the bundled network on the demo image (CPU), for comparison."""
    from segfix_gui.model import OffsetPredictor

    pred = OffsetPredictor(None, device="cpu")
    return pred.predict(read_image(DEMO / "image.jpg"))


def settled(w) -> bool:
    return (
        w.session.result is not None
        and w.session.result_is_current()
        and not any(w.runner.busy(k) for k in ("load", "refine", "predict"))
    )


def open_without_offsets(w, qtbot, *, image=True, gt=True):
    from segfix_gui.io.samples import SamplePaths

    w.open_paths(
        SamplePaths(
            image=str(DEMO / "image.jpg") if image else None,
            pred=str(DEMO / "prediction.png"),
            gt=str(DEMO / "ground_truth.png") if gt else None,
        ),
        "camvid",
    )
    qtbot.waitUntil(lambda: w.session.sample is not None and settled(w), timeout=20000)
    return w.session.sample


@pytest.fixture
def win(open_window):
    w = open_window(1400, 900)
    w.session.set_setting(device="cpu")
    return w


def test_open_without_offsets_then_predict(win, qtbot, network, dialogs):
    s = open_without_offsets(win, qtbot)
    st = win.session
    assert s.field is None
    # image, labels and the metrics before are shown; refining changes nothing yet
    assert np.array_equal(st.result.refined, s.pred)
    before = evaluate_pair(s.gt, s.pred, SPACE)
    assert st.before["miou"] == pytest.approx(before["miou"])
    assert dict(s.info_lines())["offsets"].startswith("none yet")
    act, btn = win.commands["predict_offsets"], win.panels["controls"].predict_btn
    assert act.isEnabled() and btn.isEnabled()
    assert "Ctrl+Shift+P" in [k for spec in win.action_specs if spec.name == "predict_offsets" for k in spec.keys]

    act.trigger()
    qtbot.waitUntil(lambda: st.sample.field is not None and settled(win), timeout=60000)
    assert not dialogs
    f = st.sample.field
    assert np.array_equal(f.boundary, network.boundary)
    assert np.array_equal(f.direction, network.direction)
    assert f.recommended == network.recommended
    # refined at the field's recommended setting, numbers equal the engine's there
    rec = network.setting()
    assert st.setting.refinement() == rec
    off = network.to_offsets(rec)
    refined = refine_labels(s.pred, off, device="cpu")
    assert np.array_equal(st.result.offsets, off)
    assert np.array_equal(st.result.refined, refined)
    after = evaluate_pair(s.gt, refined, SPACE)
    t = win.panels["metrics"].table
    shown = {t.item(r, 0).text(): t.item(r, 2).data(Qt.ItemDataRole.UserRole) for r in range(t.rowCount())}
    assert shown == after["per_class_iou"]
    assert win.panels["metrics"].sample_grid.cells["miou"][1].text() == f"{100 * after['miou']:.2f}"
    assert "bundled offset network" in dict(st.sample.info_lines())["offsets"]


def test_predicted_offsets_export_and_inspect(win, qtbot, network, tmp_path, dialogs):
    open_without_offsets(win, qtbot, gt=False)
    st = win.session
    st.set_cursor((180, 240))  # the inspector with no field yet
    win.commands["predict_offsets"].trigger()
    qtbot.waitUntil(lambda: st.sample.field is not None and settled(win), timeout=60000)
    st.set_cursor((181, 240))
    out = tmp_path / "predicted.npz"
    assert win.export("offsets", str(out))
    back = read_offsets(out)
    assert np.allclose(back.boundary, network.boundary, atol=1e-3)
    assert np.allclose(back.direction, network.direction, atol=1e-3)
    assert not dialogs


def test_export_offsets_refused_without_field(win, qtbot, tmp_path, dialogs):
    open_without_offsets(win, qtbot)
    assert not win.export("offsets", str(tmp_path / "none.npz"))
    assert not (tmp_path / "none.npz").exists()
    assert dialogs and "no offsets yet" in dialogs[-1]


def test_predict_needs_an_image(win, qtbot):
    open_without_offsets(win, qtbot, image=False)
    act, btn = win.commands["predict_offsets"], win.panels["controls"].predict_btn
    assert not act.isEnabled() and not btn.isEnabled()
    assert "image" in act.toolTip() and "image" in btn.toolTip()


@pytest.mark.parametrize("broken", ["missing", "junk"])
def test_missing_or_broken_weights_dialog(win, qtbot, tmp_path, dialogs, monkeypatch, broken):
    from segfix_gui.model import predictor

    bad = tmp_path / "w.pt"
    if broken == "junk":
        bad.write_bytes(b"not torch weights")
    monkeypatch.setattr(predictor, "bundled_path", lambda: bad)
    open_without_offsets(win, qtbot)
    sample = win.session.sample
    win.commands["predict_offsets"].trigger()
    qtbot.waitUntil(lambda: len(dialogs) == 1, timeout=30000)
    assert dialogs[0].startswith(str(bad)) and "\n" not in dialogs[0]
    assert win.session.sample is sample and sample.field is None
    win.session.set_setting(scale=1.0)  # still alive and refining
    qtbot.waitUntil(lambda: settled(win), timeout=20000)
    assert win.isVisible()


def test_cli_opens_without_offsets(tmp_path):
    import os
    import subprocess
    import sys

    out = tmp_path / "shot.png"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "segfix_gui.gui.app",
            "--image",
            str(DEMO / "image.jpg"),
            "--pred",
            str(DEMO / "prediction.png"),
            "--gt",
            str(DEMO / "ground_truth.png"),
            "--screenshot",
            str(out),
            "--size",
            "900x600",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 0


def test_demo_offsets_are_the_networks(network):
    meta = json.loads((DEMO / "sample.json").read_text(encoding="utf-8"))
    assert meta["offsets_kind"] == "network"
    assert "bundled offset network" in meta["offsets_info"]
    assert meta["prediction_kind"] == "segmenter" and "real segmentation network" in meta["prediction_info"]
    f = read_offsets(DEMO / "offsets.npz")
    assert not f.is_hard
    msg = "the demo is stale: rerun python tools/make_demo.py --offsets network"
    assert np.allclose(f.boundary, network.boundary, atol=1e-3), msg
    assert np.allclose(f.direction, network.direction, atol=1e-3), msg
    assert set(f.recommended) == set(network.recommended), msg
    assert all(f.recommended[k] == pytest.approx(v) for k, v in network.recommended.items()), msg
    readme = (DEMO / "README.md").read_text(encoding="utf-8")
    assert "--offsets network" in readme and "real segmentation network" in readme
    assert np.array_equal(read_labels(DEMO / "ground_truth.png", SPACE).shape, f.shape)


def test_drop_image_and_prediction_opens_without_offsets(win, qtbot):
    win.open_dropped([str(DEMO / "image.jpg"), str(DEMO / "prediction.png")])
    qtbot.waitUntil(lambda: win.session.sample is not None and settled(win), timeout=20000)
    s = win.session.sample
    assert s.field is None and s.image is not None
    assert win.commands["predict_offsets"].isEnabled()


def test_tune_plan_skips_a_sample_without_offsets(win, qtbot):
    from segfix_gui.session.sets import plan_sample

    s = open_without_offsets(win, qtbot)
    plan = plan_sample(s)
    assert not plan.items and "no offsets yet" in plan.skipped[0]
