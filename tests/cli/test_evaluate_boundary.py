"""``segfix evaluate``'s boundary measures: JSON keys, numbers equal to the core's, the plot."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from segfix_gui.cli import main
from segfix_gui.core.degrade import degrade
from segfix_gui.core.metrics import BorderOptions, SemanticEvaluator
from segfix_gui.labels import get_label_space

CAMVID = get_label_space("camvid")
OLD_KEYS = {"miou", "pixel_accuracy", "boundary_f", "per_class_iou", "per_class_boundary_f"}
NEW_KEYS = {
    "boundary_iou",
    "boundary_iou_per_class",
    "boundary_iou_dilation_ratio",
    "error_profile",
    "boundary_f_at",
    "trimap_iou",
}


def make_gt(seed: int, h: int = 60, w: int = 80) -> np.ndarray:
    """Discs of a few CamVid classes on a background, a little void (id 11)."""
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
    """gt/, pred/ (stride-8 coarse) and ref/ (refined with oracle offsets) for three images."""
    for d in ("gt", "pred"):
        (tmp_path / d).mkdir()
    for i in range(3):
        gt = make_gt(i, h=60, w=80)
        Image.fromarray(gt).save(tmp_path / "gt" / f"im{i}.png")
        Image.fromarray(degrade(gt, CAMVID, stride=8)).save(tmp_path / "pred" / f"im{i}.png")
    assert main(["gt-offsets", "--labels", str(tmp_path / "gt"), "--out", str(tmp_path / "off")]) == 0
    assert main(["refine", "--input", str(tmp_path / "pred"), "--offset", str(tmp_path / "off"),
                 "--out", str(tmp_path / "ref")]) == 0  # fmt: skip
    return tmp_path


def _expected(t, folder, options):
    ev = SemanticEvaluator(CAMVID, 3, options)
    for i in range(3):
        ev.add(np.asarray(Image.open(t / "gt" / f"im{i}.png")), np.asarray(Image.open(t / folder / f"im{i}.png")))
    return json.loads(json.dumps(ev.result(), allow_nan=True).replace("NaN", "null"))


def test_evaluate_json_has_the_boundary_measures_of_the_core(folders, capsys):
    t = folders
    args = ["evaluate", "--gt", str(t / "gt"), "--pred", str(t / "pred"), "--refined", str(t / "ref")]
    assert main([*args, "--json", str(t / "m.json"), "--plot", str(t / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "boundary IoU" in out and "trimap mIoU at 1, 2" in out and ">20 px" in out
    m = json.loads((t / "m.json").read_text())
    assert OLD_KEYS | NEW_KEYS <= set(m) and OLD_KEYS | NEW_KEYS <= set(m["refined"])
    for key, folder in ((None, "pred"), ("refined", "ref")):
        got = m if key is None else m[key]
        want = _expected(t, folder, BorderOptions())
        for k in OLD_KEYS | NEW_KEYS:
            assert got[k] == want[k], k
    prof = m["error_profile"]
    assert prof["bins_px"] == list(range(1, 21)) and len(prof["pixels"]) == len(prof["error_rate"]) == 20
    assert set(prof["per_class"]) == set(CAMVID.names)
    assert list(m["boundary_f_at"]) == ["1", "3", "5"] and list(m["trimap_iou"]) == [str(w) for w in range(1, 11)]
    assert m["boundary_f_at"]["3"] == pytest.approx(m["boundary_f"])
    # oracle offsets: fewer errors next to borders, higher boundary IoU
    assert m["refined"]["error_profile"]["error_rate"][0] < prof["error_rate"][0]
    assert m["refined"]["boundary_iou"] > m["boundary_iou"]
    png = Image.open(t / "p.png")
    assert png.format == "PNG" and png.size[0] > 600
    assert not list(t.glob(".p.*"))  # no temporary file left


def test_evaluate_options_and_old_figures_unchanged(folders, capsys):
    t = folders
    base = ["evaluate", "--gt", str(t / "gt"), "--pred", str(t / "pred")]
    assert main([*base, "--json", str(t / "a.json")]) == 0
    opts = ["--boundary-f-at", "2,4", "--trimap-widths", "1,3", "--profile-max-px", "5", "--dilation-ratio", "0.02"]
    assert main([*base, *opts, "--json", str(t / "b.json")]) == 0
    a, b = (json.loads((t / f).read_text()) for f in ("a.json", "b.json"))
    for k in OLD_KEYS:
        assert a[k] == b[k]
    assert list(b["boundary_f_at"]) == ["2", "4"] and list(b["trimap_iou"]) == ["1", "3"]
    assert b["error_profile"]["bins_px"] == [1, 2, 3, 4, 5] and b["boundary_iou_dilation_ratio"] == 0.02
    assert b == _expected(
        t, "pred", BorderOptions(max_px=5, dilation_ratio=0.02, f_tols=(2, 4), trimap_widths=(1, 3))
    ) | {"images": 3}
    capsys.readouterr()


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (["--trimap-widths", "1.5"], "whole pixels"),
        (["--trimap-widths", "1:30:1"], "--trimap-widths"),
        (["--boundary-f-at", "0"], "--boundary-f-at"),
        (["--profile-max-px", "101"], "--profile-max-px"),
    ],
)
def test_evaluate_bad_boundary_options_are_one_line(folders, capsys, opts, message):
    t = folders
    assert main(["evaluate", "--gt", str(t / "gt"), "--pred", str(t / "pred"), *opts]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_plot_without_refined_and_unwritable(folders, capsys):
    t = folders
    assert main(["evaluate", "--gt", str(t / "gt"), "--pred", str(t / "pred"), "--plot", str(t / "one.png")]) == 0
    assert Image.open(t / "one.png").format == "PNG"
    (t / "afile").write_text("x")
    assert (
        main(["evaluate", "--gt", str(t / "gt"), "--pred", str(t / "pred"), "--plot", str(t / "afile" / "p.png")]) == 2
    )
    assert "cannot write" in capsys.readouterr().err
