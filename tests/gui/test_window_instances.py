"""Instance mode as the command line has it: Ctrl+S writes the refined instances (as
``segfix refine-instances`` does, byte for byte), instance folder sets open from a set folder,
and the Open folder set dialog starts near the open set (pytest-qt, offscreen)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

import torch  # noqa: F401  - imported on the main thread before any window's threads
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from segfix_gui.core.instances import refine_instances
from segfix_gui.core.setting import Setting
from segfix_gui.io.instances import read_instances
from segfix_gui.io.offsets import read_offsets
from segfix_gui.io.samples import SamplePaths

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from make_instance_fixture import CITY, DATA, FRAME, make_fixture

pytestmark = pytest.mark.skipif(not (DATA / "gtFine").is_dir(), reason=f"cityscapes_mini not found in {DATA}")


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    d = tmp_path_factory.mktemp("inst")
    files = make_fixture(d)
    files["off"] = files["offsets_gt"] / CITY / f"{FRAME}_leftImg8bit.npz"
    return files


@pytest.fixture(scope="module")
def inst_set(fx, tmp_path_factory):
    """A set folder of two instance samples (the fixture's frame under two cities):
    preds/ (``_pred.txt`` + masks), offsets/, gt/ (instanceIds and labelIds PNGs)."""
    s = tmp_path_factory.mktemp("instset") / "set"
    for role, src in (("preds", fx["pred"]), ("offsets", fx["offsets_gt"]), ("gt", fx["gt"] / "val")):
        for city in (CITY, "bonn"):
            shutil.copytree(src / CITY, s / role / city)
    return s


def wait_result(qtbot, w):
    qtbot.waitUntil(
        lambda: (
            w.session.result is not None
            and w.session.result_is_current()
            and not w.runner.busy("refine")
            and not w.runner.busy("load")
        ),
        timeout=30000,
    )


@pytest.fixture
def opened(open_window, qtbot, fx):
    w = open_window(1400, 900)
    w.open_paths(
        SamplePaths(instances=str(fx["pred_txt"]), offsets=str(fx["off"]), gt_instances=str(fx["gt_instance"]))
    )
    wait_result(qtbot, w)
    return w


def test_ctrl_s_writes_the_refined_instances_as_the_cli_does(opened, qtbot, fx, tmp_path, monkeypatch):
    acts = opened.actions_by_name
    assert acts["export_refined"].isEnabled()
    assert "instances" in acts["export_refined"].text()
    # the label-map exports do not stay enabled only to refuse
    assert not acts["export_figure"].isEnabled() and not acts["export_csv"].isEnabled()
    out = tmp_path / "win" / CITY
    out.mkdir(parents=True)
    asked = {}

    def save(_parent, _title, start, _filter):
        asked["start"] = start
        return str(out / Path(start).name), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save))
    qtbot.keyClick(opened, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    txt = out / fx["pred_txt"].name
    qtbot.waitUntil(txt.is_file, timeout=5000)
    assert Path(asked["start"]).name == fx["pred_txt"].name  # suggested: the input's name
    st = opened.session
    got = read_instances(txt)
    np.testing.assert_array_equal(got.masks, st.result.instances.after.masks)
    field = read_offsets(fx["off"])
    s = st.setting
    expect = refine_instances(
        st.sample.instances,
        field.to_offsets(Setting(threshold=s.threshold, scale=s.scale, min_direction_prob=s.min_direction_prob)),
        device="cpu",
    )
    np.testing.assert_array_equal(got.masks, expect.masks)
    assert st.result.instances.changed.any()  # the refinement moved something

    cli_out = tmp_path / "cli"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "segfix_gui.cli",
            "refine-instances",
            "--input",
            str(fx["pred"]),
            "--offset",
            str(fx["offsets_gt"]),
            "--out",
            str(cli_out),
            "--threshold",
            f"{s.threshold!r}",
            "--scale",
            f"{s.scale!r}",
            "--min-direction-prob",
            f"{s.min_direction_prob!r}",
            "--device",
            "cpu",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    cli_files = sorted(p.relative_to(cli_out / CITY) for p in (cli_out / CITY).rglob("*") if p.is_file())
    win_files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert win_files == cli_files
    for rel in cli_files:  # the same bytes: masks and the .txt
        assert (out / rel).read_bytes() == (cli_out / CITY / rel).read_bytes(), rel


def test_instance_export_never_writes_onto_inputs(opened, fx, dialogs):
    before = fx["pred_txt"].read_bytes()
    assert not opened.export("refined", str(fx["pred_txt"]))  # the input _pred.txt itself
    assert "never overwritten" in dialogs[-1]
    assert fx["pred_txt"].read_bytes() == before
    assert not opened.export("refined", str(fx["pred_txt"].with_name("x.png")))
    assert "_pred.txt" in dialogs[-1]


def test_label_map_exports_come_back_for_a_semantic_sample(opened, qtbot):
    opened.open_demo()
    wait_result(qtbot, opened)
    acts = opened.actions_by_name
    assert acts["export_figure"].isEnabled() and acts["export_csv"].isEnabled()
    assert "labels" in acts["export_refined"].text()


def test_an_instance_set_opens_from_a_set_folder(open_window, qtbot, inst_set):
    w = open_window(1400, 900)
    assert w.open_set(folder=str(inst_set), remember=False)
    st = w.session
    assert len(st.set_samples) == 2 and all(p.is_instances for p in st.set_samples)
    assert [p.title for p in st.set_samples] == [f"bonn/{FRAME}", f"{CITY}/{FRAME}"]
    for p in st.set_samples:  # each _pred.txt with its offsets and instanceIds (not labelIds)
        city = Path(p.instances).parent.name
        assert Path(p.offsets) == inst_set / "offsets" / city / f"{FRAME}_leftImg8bit.npz"
        assert Path(p.gt_instances) == inst_set / "gt" / city / f"{FRAME}_gtFine_instanceIds.png"
    wait_result(qtbot, w)
    assert st.sample.is_instances and st.index == 0
    assert st.result.instances.comparison is not None  # scored against its ground truth
    samples = w.panels["samples"]
    assert samples.table.rowCount() == 2 and "instance" in samples.note.text()
    assert not w.commands["export_set_csv"].isEnabled() and w.session.scores is None  # no mIoU for instances
    assert "Instance mode" in w.panels["tune"].scope.text()  # not "sweeps 0 of 2 samples"
    w.session.step(1)
    assert st.index == 1  # the list follows at once; the sample once it has loaded
    qtbot.waitUntil(lambda: st.sample.paths.instances == st.set_samples[1].instances, timeout=30000)
    assert st.set_samples[1].instances != st.set_samples[0].instances


def test_open_folder_set_dialog_starts_near_the_open_set(open_window, qtbot, inst_set, monkeypatch):
    w = open_window(1400, 900)
    w.open_set(folder=str(inst_set), remember=False)
    wait_result(qtbot, w)
    seen = []
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda _p, _t, start, *a, **k: seen.append(start) or "")
    )
    w.open_folder_dialog()
    assert Path(seen[-1]) == inst_set.resolve().parent
