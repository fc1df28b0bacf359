"""The ``segfix`` command line, run in-process as a user would run it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from segfix_gui.cli import main
from segfix_gui.core.degrade import degrade
from segfix_gui.core.refine import refine_labels
from segfix_gui.core.setting import Setting
from segfix_gui.core.targets import gt_offset_field
from segfix_gui.io.offsets import read_offsets
from segfix_gui.labels import get_label_space

CAMVID = get_label_space("camvid")


def make_gt(seed: int, h=48, w=64) -> np.ndarray:
    """Discs of a few classes on a background, borders at any angle, a little void."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[:h, :w]
    gt = np.full((h, w), 3, np.uint8)
    for _ in range(5):
        r, c, rad = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(6, 16)
        gt[(rr - r) ** 2 + (cc - c) ** 2 < rad**2] = rng.integers(0, 11)
    gt[rng.random(gt.shape) < 0.002] = 11
    return gt


@pytest.fixture
def folders(tmp_path):
    """gt/, pred/ (stride-8 coarse), off/ (oracle .npz) for three images."""
    for d in ("gt", "pred", "off"):
        (tmp_path / d).mkdir()
    for i in range(3):
        gt = make_gt(i)
        Image.fromarray(gt).save(tmp_path / "gt" / f"im{i}.png")
        Image.fromarray(degrade(gt, CAMVID, stride=8)).save(tmp_path / "pred" / f"im{i}.png")
    assert main(["gt-offsets", "--labels", str(tmp_path / "gt"), "--out", str(tmp_path / "off")]) == 0
    return tmp_path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    return err


def test_refine_evaluate_round(folders, capsys):
    t = folders
    assert (
        main(
            [
                "refine",
                "--input",
                str(t / "pred"),
                "--offset",
                str(t / "off"),
                "--out",
                str(t / "ref"),
                "--scale",
                "2",
                "--label-space",
                "camvid",
            ]
        )
        == 0
    )
    for i in range(3):
        pred = np.asarray(Image.open(t / "pred" / f"im{i}.png"))
        field = read_offsets(t / "off" / f"im{i}.npz")
        expect = refine_labels(pred, field.to_offsets(Setting(scale=2)), device="cpu")
        assert (np.asarray(Image.open(t / "ref" / f"im{i}.png")) == expect).all()
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "--gt",
                str(t / "gt"),
                "--pred",
                str(t / "pred"),
                "--refined",
                str(t / "ref"),
                "--json",
                str(t / "m.json"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "mIoU" in out and "fixed" in out
    m = json.loads((t / "m.json").read_text())
    assert {"miou", "pixel_accuracy", "boundary_f", "per_class_iou", "refined", "change"} <= set(m)
    assert set(m["per_class_iou"]) == set(CAMVID.names)
    assert all(v is None or 0 <= v <= 1 for v in m["per_class_iou"].values())
    assert m["refined"]["miou"] > m["miou"]  # oracle offsets help
    assert m["change"]["fixed"] > m["change"]["broken"]


def test_mat_offsets_and_cityscapes_names(tmp_path):
    """The original's inputs: `<name>_leftImg8bit.png` predictions and `.mat` offsets."""
    (tmp_path / "pred" / "frankfurt").mkdir(parents=True)
    (tmp_path / "off").mkdir()
    gt = (make_gt(5) % 3 + 7).astype(np.uint8)  # cityscapes ids 7, 8, 9
    pred = np.roll(gt, 3, axis=1)
    Image.fromarray(pred).save(tmp_path / "pred/frankfurt/f_000001_000019_leftImg8bit.png")
    unit = gt_offset_field(gt).to_offsets(Setting(scale=1))
    savemat(tmp_path / "off/f_000001_000019_leftImg8bit.mat", {"mat": np.moveaxis(unit, 0, 2)})
    assert (
        main(
            [
                "refine",
                "--input",
                str(tmp_path / "pred"),
                "--offset",
                str(tmp_path / "off"),
                "--out",
                str(tmp_path / "out"),
                "--label-space",
                "cityscapes",
            ]
        )
        == 0
    )
    got = np.asarray(Image.open(tmp_path / "out/frankfurt/f_000001_000019_leftImg8bit.png"))
    assert (got == refine_labels(pred, unit * 2, device="cpu")).all()


def test_batch_goes_on_past_bad_files(folders, capsys):
    t = folders
    (t / "pred" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    shutil.copy(t / "pred" / "im0.png", t / "pred" / "nooffsets.png")
    small = np.zeros((10, 10), np.uint8)
    Image.fromarray(small).save(t / "pred" / "small.png")
    shutil.copy(t / "off" / "im0.npz", t / "off" / "small.npz")
    capsys.readouterr()
    rc = main(
        ["refine", "--input", str(t / "pred"), "--offset", str(t / "off"), "--out", str(t / "ref"), "--workers", "2"]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "broken.png: " in err
    assert "nooffsets.png: no offsets file for this prediction" in err
    assert "offsets are 48×64 but the prediction small.png is 10×10" in err
    assert "Traceback" not in err
    written = sorted(p.name for p in (t / "ref").iterdir())
    assert written == ["im0.png", "im1.png", "im2.png"]  # nothing for the bad ones, no temporaries


@pytest.mark.parametrize("problem", ["nan", "missing", "colour", "empty", "range", "foreign_mat", "truncated_png"])
def test_bad_inputs_exit_2_with_one_line(folders, capsys, problem):
    t = folders
    if problem == "nan":
        f = read_offsets(t / "off" / "im1.npz")
        np.savez(t / "off" / "im1.npz", boundary=np.full(f.shape, np.nan, np.float32), direction=f.direction)
        expect = "im1.npz: 'boundary' holds NaN"
    elif problem == "missing":
        np.savez(t / "off" / "im1.npz", boundary=np.zeros((48, 64), np.float32))
        expect = "im1.npz: missing key 'direction'"
    elif problem == "colour":
        rgb = np.zeros((48, 64, 3), np.uint8)
        rgb[2, 5] = (7, 7, 7)
        Image.fromarray(rgb).save(t / "pred" / "im1.png")
        expect = "im1.png: colour (7, 7, 7) at (row 2, col 5) is not in the camvid palette"
    elif problem == "range":
        f = read_offsets(t / "off" / "im1.npz")
        np.savez(t / "off" / "im1.npz", boundary=f.boundary * 2, direction=f.direction)
        expect = "im1.npz: 'boundary' values must be probabilities in [0, 1], found 0..2"
    elif problem == "foreign_mat":
        (t / "off" / "im1.npz").unlink()
        savemat(t / "off" / "im1.mat", {"logits": np.zeros((48, 64))})
        expect = "im1.mat: missing key 'mat' (found logits"
    elif problem == "truncated_png":
        data = (t / "pred" / "im1.png").read_bytes()
        (t / "pred" / "im1.png").write_bytes(data[: len(data) // 2])
        expect = "im1.png: cannot read image"
    else:
        np.savez(t / "off" / "im1.npz")
        expect = "im1.npz: empty .npz file"
    capsys.readouterr()
    rc = main(
        [
            "refine",
            "--input",
            str(t / "pred"),
            "--offset",
            str(t / "off"),
            "--out",
            str(t / "ref"),
            "--label-space",
            "camvid",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert any(expect in line for line in err), err
    assert not (t / "ref" / "im1.png").exists()
    assert all(line.startswith("segfix: ") for line in err)


def test_output_equal_to_input_is_refused(folders, capsys):
    t = folders
    before = {p.name: p.read_bytes() for p in (t / "pred").iterdir()}
    rc = main(["refine", "--input", str(t / "pred"), "--offset", str(t / "off"), "--out", str(t / "pred")])
    assert rc == 2
    assert "must not be the input folder" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (t / "pred").iterdir()} == before


def test_colour_coded_predictions_stay_colour_coded(folders):
    t = folders
    (t / "cpred").mkdir()
    for i in range(3):
        ids = np.asarray(Image.open(t / "pred" / f"im{i}.png"))
        Image.fromarray(CAMVID.colorize(ids)).save(t / "cpred" / f"im{i}.png")
    assert (
        main(
            [
                "refine",
                "--input",
                str(t / "cpred"),
                "--offset",
                str(t / "off"),
                "--out",
                str(t / "cref"),
                "--label-space",
                "camvid",
            ]
        )
        == 0
    )
    assert main(["refine", "--input", str(t / "pred"), "--offset", str(t / "off"), "--out", str(t / "ref")]) == 0
    rgb = np.asarray(Image.open(t / "cref" / "im0.png"))
    assert rgb.ndim == 3
    assert (CAMVID.ids_from_colors(rgb) == np.asarray(Image.open(t / "ref" / "im0.png"))).all()


def test_gt_offsets_formats_and_options(folders):
    t = folders
    assert (
        main(
            [
                "gt-offsets",
                "--labels",
                str(t / "gt"),
                "--out",
                str(t / "mat"),
                "--format",
                "mat",
                "--directions",
                "16",
                "--width",
                "3",
            ]
        )
        == 0
    )
    f = read_offsets(t / "mat" / "im0.mat")
    assert f.is_hard and np.abs(f.hard).max() == 2  # 16-bin steps have length 2


def test_evaluate_reports_missing_ground_truth(folders, capsys):
    t = folders
    shutil.copy(t / "pred" / "im0.png", t / "pred" / "orphan.png")
    capsys.readouterr()
    assert main(["evaluate", "--gt", str(t / "gt"), "--pred", str(t / "pred")]) == 2
    assert "orphan.png: no ground truth with this name" in capsys.readouterr().err


def test_two_predictions_of_one_image_are_not_counted_twice(folders, capsys):
    """x.png and x_leftImg8bit.png pair with the same ground truth: evaluate and sweep refuse
    both, one line each naming the other, instead of counting the image twice."""
    t = folders
    shutil.copy(t / "pred" / "im0.png", t / "pred" / "im0_leftImg8bit.png")
    capsys.readouterr()
    assert main(["evaluate", "--gt", str(t / "gt"), "--pred", str(t / "pred")]) == 2
    err = capsys.readouterr().err
    for a, b in (("im0.png", "im0_leftImg8bit.png"), ("im0_leftImg8bit.png", "im0.png")):
        line = next(x for x in err.splitlines() if x.startswith(f"segfix: error: {t / 'pred' / a}:"))
        assert b in line and "same pairing name" in line
    assert (
        main(
            [
                "sweep",
                "--gt",
                str(t / "gt"),
                "--pred",
                str(t / "pred"),
                "--offsets",
                str(t / "off"),
                "--thresholds",
                "0.5",
                "--scales",
                "1",
            ]
        )
        == 2
    )
    assert "same pairing name" in capsys.readouterr().err


def test_bad_options_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as e:
        main(["refine", "--input", "a", "--offset", "b", "--out", "c", "--threshold", "2"])
    assert e.value.code == 2
    assert "threshold 2 is outside [0, 1]" in capsys.readouterr().err


@pytest.mark.parametrize("scale", ["1e30", "40000", "0", "-2", "nan"])
def test_scale_is_capped_on_the_command_line(capsys, scale):
    with pytest.raises(SystemExit) as e:
        main(["refine", "--input", "a", "--offset", "b", "--out", "c", "--scale", scale])
    assert e.value.code == 2
    assert "argument --scale: scale" in capsys.readouterr().err


def test_recommended_scale_out_of_range_names_the_file(tmp_path, capsys):
    from segfix_gui.io.images import write_labels

    (tmp_path / "p").mkdir()
    (tmp_path / "o").mkdir()
    write_labels(tmp_path / "p" / "x.png", np.zeros((4, 4), np.uint8))
    np.savez(
        tmp_path / "o" / "x.npz",
        boundary=np.zeros((4, 4), np.float32),
        direction=np.full((8, 4, 4), 0.125, np.float32),
        recommended_scale=np.float32(40000),
    )
    rc = main(
        ["refine", "--input", str(tmp_path / "p"), "--offset", str(tmp_path / "o"), "--out", str(tmp_path / "out")]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{tmp_path / 'o' / 'x.npz'}: 'recommended_scale': scale 40000 is outside (0, 64]" in err
    assert not (tmp_path / "out" / "x.png").exists()


def test_missing_folder(tmp_path, capsys):
    (tmp_path / "off").mkdir()
    rc = main(
        ["refine", "--input", str(tmp_path / "nope"), "--offset", str(tmp_path / "off"), "--out", str(tmp_path / "o")]
    )
    assert rc == 2
    assert capsys.readouterr().err.strip() == f"segfix: error: {tmp_path / 'nope'}: folder not found"


def test_console_script_runs(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "segfix_gui", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "refine" in r.stdout
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "segfix_gui",
            "refine",
            "--input",
            str(tmp_path / "x"),
            "--offset",
            str(tmp_path / "x"),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "folder not found" in r.stderr
