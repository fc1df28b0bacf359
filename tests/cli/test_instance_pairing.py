"""How ``segfix refine-instances`` and ``segfix evaluate-instances`` pair their files: through
io.instances.pair_instance_set, as the window does (small synthetic sets, no shared data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segfix_gui.cli import main
from segfix_gui.io.images import write_labels

H, W = 24, 32
CAR = 26


def _errors(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [ln for ln in err.splitlines() if ln.startswith("segfix: error:")]


def _box() -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[4:18, 6:22] = True  # 224 px: counts in the official AP (>= 100 px)
    return m


def _pred(txt: Path) -> Path:
    """``txt`` listing one car mask, ``masks/<stem>.png`` beside it."""
    mask = txt.parent / "masks" / f"{txt.stem}.png"
    mask.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.where(_box(), 255, 0).astype(np.uint8)).save(mask)
    txt.write_text(f"masks/{mask.name} {CAR} 0.9\n")
    return txt


def _gt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_labels(path, np.where(_box(), CAR * 1000 + 1, 7).astype(np.uint16))
    return path


def _offsets(path: Path, cols: int = 0) -> Path:
    """Hard offsets: every pixel takes the label ``cols`` columns to its right."""
    path.parent.mkdir(parents=True, exist_ok=True)
    off = np.zeros((2, H, W), np.int8)
    off[1] = cols
    np.savez(path, format_version=np.int32(1), offsets=off)
    return path


def _refine(tmp_path, inp="pred", offsets="off"):
    return main(
        [
            "refine-instances",
            "--input",
            str(tmp_path / inp),
            "--offset",
            str(tmp_path / offsets),
            "--out",
            str(tmp_path / "out"),
            "--device",
            "cpu",
        ]
    )


def _evaluate(tmp_path, *extra):
    return main(["evaluate-instances", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), *extra])


def _mask_out(tmp_path, rel: str) -> np.ndarray:
    return np.asarray(Image.open(tmp_path / "out" / rel)) != 0


# --- refine-instances ----------------------------------------------------------------------


def test_refine_pairs_mirrored_sub_folders_by_relative_place(tmp_path, capsys):
    # one frame name in two sub-folders, each with its own offsets: formerly refused as "two
    # predictions of one image"; now each pairs with the offsets at its own relative place
    for city, cols in (("a", 0), ("b", 1)):
        _pred(tmp_path / "pred" / city / "x_leftImg8bit_pred.txt")
        _offsets(tmp_path / "off" / city / "x_leftImg8bit.npz", cols)
    assert _refine(tmp_path) == 0, capsys.readouterr().err
    assert np.array_equal(_mask_out(tmp_path, "a/masks/x_leftImg8bit_pred.png"), _box())
    assert not np.array_equal(_mask_out(tmp_path, "b/masks/x_leftImg8bit_pred.png"), _box())


def test_refine_offsets_of_one_name_in_two_sub_folders_pair_by_relative_place(tmp_path, capsys):
    # formerly "has the same name as ...: cannot tell which to pair" for the whole run
    _pred(tmp_path / "pred" / "a" / "x_pred.txt")
    _offsets(tmp_path / "off" / "a" / "x.npz")
    _offsets(tmp_path / "off" / "b" / "x.npz", 1)
    assert _refine(tmp_path) == 0, capsys.readouterr().err
    assert np.array_equal(_mask_out(tmp_path, "a/masks/x_pred.png"), _box())


def test_refine_two_predictions_of_one_image_each_one_line_the_others_go_on(tmp_path, capsys):
    a = _pred(tmp_path / "pred" / "x_leftImg8bit_pred.txt")
    b = _pred(tmp_path / "pred" / "x_pred.txt")
    _pred(tmp_path / "pred" / "y_pred.txt")
    _offsets(tmp_path / "off" / "x.npz")
    _offsets(tmp_path / "off" / "y.npz")
    assert _refine(tmp_path) == 2
    assert _errors(capsys) == [
        f"segfix: error: {a}: has the same pairing name 'x' as {b}: cannot tell which to use",
        f"segfix: error: {b}: has the same pairing name 'x' as {a}: cannot tell which to use",
    ]
    assert sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file()) == ["y_pred.png", "y_pred.txt"]


def test_refine_one_offsets_file_for_two_sub_folders_is_their_error(tmp_path, capsys):
    a = _pred(tmp_path / "pred" / "a" / "x_pred.txt")
    b = _pred(tmp_path / "pred" / "b" / "x_pred.txt")
    off = _offsets(tmp_path / "off" / "x.npz")
    assert _refine(tmp_path) == 2
    assert _errors(capsys) == [
        f"segfix: error: {p}: 2 inputs of this name in different sub-folders would share {off}: "
        "mirror the sub-folders to pair them"
        for p in (a, b)
    ]


def test_refine_reads_a_pred_txt_ending_in_any_case(tmp_path, capsys):
    # listed as the window lists it (formerly "no *_pred.txt files found")
    _pred(tmp_path / "pred" / "x_leftImg8bit_pred.TXT")
    _offsets(tmp_path / "off" / "x_leftImg8bit.npz")
    assert _refine(tmp_path) == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "x_leftImg8bit_pred.TXT").read_bytes() == (
        tmp_path / "pred" / "x_leftImg8bit_pred.TXT"
    ).read_bytes()


# --- evaluate-instances --------------------------------------------------------------------


def test_evaluate_pairs_mirrored_ground_truth_by_relative_place(tmp_path, capsys):
    for city in ("a", "b"):
        _pred(tmp_path / "pred" / city / "x_leftImg8bit_pred.txt")
        _gt(tmp_path / "gt" / city / "x_gtFine_instanceIds.png")
    assert _evaluate(tmp_path) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.startswith("2 images\n")


def test_evaluate_two_predictions_of_one_image_nothing_evaluated(tmp_path, capsys):
    a = _pred(tmp_path / "pred" / "x_leftImg8bit_pred.txt")
    b = _pred(tmp_path / "pred" / "x_pred.txt")
    _gt(tmp_path / "gt" / "x_gtFine_instanceIds.png")
    js = tmp_path / "r.json"
    assert _evaluate(tmp_path, "--json", str(js)) == 2
    captured = capsys.readouterr()
    assert [ln for ln in captured.err.splitlines() if ln.startswith("segfix: error:")] == [
        f"segfix: error: {a}: has the same pairing name 'x' as {b}: cannot tell which to use",
        f"segfix: error: {b}: has the same pairing name 'x' as {a}: cannot tell which to use",
    ]
    assert "2 of 2 predictions could not be read; nothing evaluated" in captured.err
    assert captured.out == "" and not js.exists()


def test_evaluate_ground_truth_of_one_name_elsewhere_is_not_guessed(tmp_path, capsys):
    p = _pred(tmp_path / "pred" / "x_pred.txt")
    g1 = _gt(tmp_path / "gt" / "train" / "x_gtFine_instanceIds.png")
    g2 = _gt(tmp_path / "gt" / "val" / "x_gtFine_instanceIds.png")
    assert _evaluate(tmp_path) == 2
    assert _errors(capsys) == [
        f"segfix: error: {p}: 2 files of this name in {tmp_path / 'gt'} ({g1}, {g2}) and none "
        "at the same relative place: cannot tell which to pair"
    ]


@pytest.mark.parametrize("case", ["no ground truth", "no refined"])
def test_evaluate_missing_partner_is_one_line_naming_the_prediction(tmp_path, capsys, case):
    p = _pred(tmp_path / "pred" / "x_pred.txt")
    name = "y" if case == "no ground truth" else "x"
    _gt(tmp_path / "gt" / f"{name}_gtFine_instanceIds.png")
    (tmp_path / "ref").mkdir()
    assert _evaluate(tmp_path, "--refined", str(tmp_path / "ref")) == 2
    expect = (
        f"no ground truth with this name (expected x_gtFine_instanceIds.png in {tmp_path / 'gt'})"
        if case == "no ground truth"
        else f"no refined prediction with this name in {tmp_path / 'ref'}"
    )
    assert _errors(capsys) == [f"segfix: error: {p}: {expect}"]


def test_evaluate_with_refined_predictions_paired_by_name(tmp_path, capsys):
    _pred(tmp_path / "pred" / "c" / "x_leftImg8bit_pred.txt")
    _pred(tmp_path / "ref" / "c" / "x_leftImg8bit_pred.txt")
    _gt(tmp_path / "gt" / "val" / "c" / "x_gtFine_instanceIds.png")
    js = tmp_path / "r.json"
    assert _evaluate(tmp_path, "--refined", str(tmp_path / "ref"), "--json", str(js)) == 0
    res = json.loads(js.read_text())
    assert res["images"] == 1 and res["refined"]["ap"] == res["ap"]
    assert res["per_instance"][0]["image"] == "x"


def test_evaluate_counts_only_gtFine_instanceIds_as_unevaluated_ground_truth(tmp_path, capsys):
    _pred(tmp_path / "pred" / "x_pred.txt")
    _gt(tmp_path / "gt" / "x_gtFine_instanceIds.png")
    _gt(tmp_path / "gt" / "z_gtCoarse_instanceIds.png")  # not Cityscapes fine ground truth
    assert _evaluate(tmp_path) == 0
    assert capsys.readouterr().out.startswith("1 image\n")
    _gt(tmp_path / "gt" / "sub" / "z_gtFine_instanceIds.png")
    assert _evaluate(tmp_path) == 0
    assert capsys.readouterr().out.startswith("1 image (1 ground-truth images without a prediction not evaluated)\n")


def test_evaluate_unexpected_error_names_the_prediction_file(tmp_path, capsys, monkeypatch):
    import segfix_gui.cli._instance_eval as ev

    p = _pred(tmp_path / "pred" / "x_pred.txt")
    _gt(tmp_path / "gt" / "x_gtFine_instanceIds.png")

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(ev, "_read", boom)
    assert _evaluate(tmp_path) == 2
    assert _errors(capsys) == [f"segfix: error: {p}: unexpected error (RuntimeError: boom)"]
