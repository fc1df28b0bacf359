"""The demo as a user meets it: the network's offsets and the upper bound (offsets from the
ground truth, computed when it opens, as ``segfix gt-offsets`` makes them) one click apart,
the header saying which is shown (pytest-qt, offscreen)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

import torch  # noqa: F401  - imported on the main thread before any window's threads
from PySide6.QtCore import Qt

from segfix_gui.core.metrics import evaluate_pair
from segfix_gui.core.refine import refine_labels
from segfix_gui.core.setting import Setting
from segfix_gui.io.images import read_labels
from segfix_gui.io.offsets import read_offsets
from segfix_gui.labels import get_label_space

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"
pytestmark = pytest.mark.skipif(not (DEMO / "sample.json").is_file(), reason="demo sample missing")


def settled(w):
    return (
        w.session.result is not None
        and w.session.result_is_current()
        and not any(w.runner.busy(k) for k in ("load", "refine", "upper"))
    )


@pytest.fixture
def demo(open_window, qtbot):
    w = open_window(1400, 900)
    w.open_demo()
    qtbot.waitUntil(lambda: settled(w) and w.session.upper_ready, timeout=30000)
    return w


def test_demo_opens_at_the_network_with_the_upper_bound_one_click_away(demo, qtbot, tmp_path):
    st, canvas = demo.session, demo.canvas
    assert not st.upper_bound
    net = st.setting
    record = json.loads((ROOT / "resources" / "weights" / "offsetnet-camvid.json").read_text())
    rec = record["recommended"]  # chosen on CamVid val (benchmarks/offset_quality.py)
    assert (net.threshold, net.min_direction_prob, net.scale) == pytest.approx(
        (rec["threshold"], rec["min_direction_prob"], rec["scale"])
    )
    assert "network" in canvas.info.text() and "UPPER BOUND" not in canvas.info.text()
    button = canvas.upper_switch
    assert button.isVisible() and "upper bound" in button.text()
    assert demo.commands["upper_bound"].isEnabled()
    f_network = st.result.after["boundary_f"] - st.before["boundary_f"]

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # one click
    qtbot.waitUntil(lambda: settled(demo) and st.upper_bound, timeout=30000)
    assert "UPPER BOUND" in canvas.info.text() and "network" not in canvas.info.text()
    assert "UPPER BOUND" in dict(st.sample.info_lines(short=True))["offsets"]
    assert button.isChecked() and "Back" in button.text()

    # the field is segfix gt-offsets' field of the demo's ground truth, computed at open time
    out = tmp_path / "gt_offsets"
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    (gt_dir / "ground_truth.png").write_bytes((DEMO / "ground_truth.png").read_bytes())
    subprocess.run(
        [
            sys.executable,
            "-m",
            "segfix_gui.cli",
            "gt-offsets",
            "--labels",
            str(gt_dir),
            "--out",
            str(out),
            "--label-space",
            "camvid",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    cli = read_offsets(out / "ground_truth.npz")
    np.testing.assert_array_equal(st.sample.field.boundary, cli.boundary)
    np.testing.assert_array_equal(st.sample.field.direction, cli.direction)

    # the numbers shown are the engine's at the upper bound's setting, and show the method
    space = get_label_space("camvid")
    gt = read_labels(DEMO / "ground_truth.png", space)
    pred = read_labels(DEMO / "prediction.png", space)
    s = st.setting
    refined = refine_labels(
        pred, cli.to_offsets(Setting(threshold=s.threshold, scale=s.scale, min_direction_prob=s.min_direction_prob))
    )
    np.testing.assert_array_equal(st.result.refined, refined)
    expect = evaluate_pair(gt, refined, space)
    assert st.result.after["boundary_f"] == pytest.approx(expect["boundary_f"], abs=1e-12)
    f_upper = st.result.after["boundary_f"] - st.before["boundary_f"]
    # on the segmenter's prediction of this frame (typical of val, benchmarks/demo_frame.py) the
    # oracle gains about 8 points of boundary F, the network about 2.6
    assert f_upper > 2 * f_network > 0

    qtbot.keyClick(demo, Qt.Key.Key_U)  # and back, at the network's setting
    qtbot.waitUntil(lambda: settled(demo) and not st.upper_bound, timeout=30000)
    assert st.setting == net and "network" in canvas.info.text()
    assert st.sample.paths.offsets == str(DEMO / "offsets.npz")
    assert st.result.after["boundary_f"] - st.before["boundary_f"] == pytest.approx(f_network)


def test_no_upper_bound_without_ground_truth(open_window, qtbot):
    from segfix_gui.io.samples import SamplePaths

    w = open_window(1400, 900)
    w.open_paths(
        SamplePaths(
            image=str(DEMO / "image.jpg"), pred=str(DEMO / "prediction.png"), offsets=str(DEMO / "offsets.npz")
        ),
        "camvid",
    )
    qtbot.waitUntil(lambda: settled(w), timeout=30000)
    assert not w.canvas.upper_switch.isVisible() and not w.commands["upper_bound"].isEnabled()
    w.session.show_upper_bound(True)
    assert not w.session.upper_bound


def test_upper_bound_flag_opens_the_demo_at_the_upper_bound(tmp_path):
    """``segfix-gui --demo --upper-bound --screenshot``: the shot waits for the upper bound
    (computed while the demo opens, then shown — one computation, not two racing)."""
    import os

    from segfix_gui.io.images import read_image

    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "segfix_gui.gui.app",
            "--demo",
            "--upper-bound",
            "--size",
            "1200x800",
            "--screenshot",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert read_image(out).shape[:2] == (800, 1200)
