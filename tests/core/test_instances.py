"""Instance masks: _pred.txt files, refinement, matching, the two commands."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segfix_gui.cli import main
from segfix_gui.core.instances import (
    InstanceSet,
    compare_instances,
    gt_instances,
    mask_bbox,
    mask_boundary_f,
    mask_iou,
    mask_outline,
    match_to_gt,
    refine_instances,
)
from segfix_gui.core.metrics import boundary_counts, boundary_f_from_counts
from segfix_gui.errors import InputError
from segfix_gui.io.instances import format_pred_txt, parse_pred_txt, read_instance_gt, read_instances, write_instances

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from make_instance_fixture import DATA, FRAME, make_fixture

needs_data = pytest.mark.skipif(not (DATA / "gtFine").is_dir(), reason=f"shared Cityscapes sample not found at {DATA}")


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    if not (DATA / "gtFine").is_dir():
        pytest.skip(f"shared Cityscapes sample not found at {DATA}")
    return make_fixture(tmp_path_factory.mktemp("instfx"))


def _ap(gt_path, txt, **kwargs):
    from segfix_gui.cityscapes_eval import instance_level_ap
    from segfix_gui.io.instances import mask_path

    lines = parse_pred_txt(txt)
    return instance_level_ap([gt_path], [[(mask_path(txt, e), e.label_id, e.score) for e in lines]], **kwargs)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- file format -----------------------------------------------------------------------

GOLDEN = "masks/a_0.png 26 0.9\nmasks/a_1.png 24 0.125\nb.png 33 1.0\n"


def test_pred_txt_golden_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    masks = rng.random((3, 7, 9)) > 0.5
    inst = InstanceSet(masks, [26, 24, 33], [0.9, 0.125, 1.0], ("masks/a_0.png", "masks/a_1.png", "b.png"))
    txt = tmp_path / "x_leftImg8bit_pred.txt"
    write_instances(txt, inst)
    assert txt.read_text() == GOLDEN
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "a_0.png",
        "a_1.png",
        "b.png",
        "masks",
        "x_leftImg8bit_pred.txt",
    ]
    with Image.open(tmp_path / "masks" / "a_1.png") as im:
        assert im.mode == "L"
        assert set(np.unique(np.asarray(im)).tolist()) <= {0, 255}
    back = read_instances(txt)
    assert np.array_equal(back.masks, masks)
    assert back.label_ids.tolist() == [26, 24, 33]
    assert back.scores.tolist() == [0.9, 0.125, 1.0]
    assert back.names == inst.names
    # and written again it is the same text
    assert format_pred_txt(zip(back.names, back.label_ids, back.scores, strict=True)) == GOLDEN


def test_parser_accepts_blank_lines_and_tabs_and_float_label(tmp_path):
    txt = tmp_path / "a_pred.txt"
    txt.write_text("\nm.png\t26.0   0.5\r\n\n")
    (e,) = parse_pred_txt(txt)
    assert (e.line, e.mask, e.label_id, e.score) == (2, "m.png", 26, 0.5)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("m.png 26\n", "line 1: expected 'relative/mask.png labelId score', found 2 fields"),
        ("m.png 26 0.5\nm.png 24 abc\n", "line 2: score 'abc' is not a number"),
        ("m.png 26 nan\n", "line 1: score 'nan' is not a finite number"),
        ("m.png car 0.5\n", "line 1: label id 'car' is not a non-negative integer"),
        ("m.png 26.5 0.5\n", "line 1: label id '26.5' is not a non-negative integer"),
        ("/abs/m.png 26 0.5\n", "line 1: mask path '/abs/m.png' must be relative"),
        ("m.png 26 0.5\n\n./m.png 24 0.5\n", "line 3: mask './m.png' is already listed on line 1"),
    ],
)
def test_parser_errors_name_file_and_line(tmp_path, text, problem):
    txt = tmp_path / "a_pred.txt"
    txt.write_text(text)
    with pytest.raises(InputError) as err:
        parse_pred_txt(txt)
    assert str(err.value).startswith(f"{txt}: {problem}")


def test_mask_errors_name_file_and_line(tmp_path):
    txt = tmp_path / "a_pred.txt"
    Image.fromarray(np.zeros((4, 6), np.uint8)).save(tmp_path / "m.png")
    Image.fromarray(np.zeros((5, 6), np.uint8)).save(tmp_path / "n.png")
    (tmp_path / "t.png").write_text("not a png")
    txt.write_text("m.png 26 0.5\nmissing.png 26 0.4\n")
    with pytest.raises(InputError, match=r"a_pred.txt: line 2: mask 'missing.png' not found"):
        read_instances(txt)
    txt.write_text("m.png 26 0.5\nn.png 26 0.4\n")
    with pytest.raises(
        InputError,
        match=r"line 2: mask 'n.png' is 5×6 but the mask on line 1 "
        r"is 4×6",
    ):
        read_instances(txt)
    txt.write_text("m.png 26 0.5\n")
    with pytest.raises(
        InputError,
        match=r"line 1: mask 'm.png' is 4×6 but the offsets x.npz "
        r"is 8×8",
    ):
        read_instances(txt, shape=(8, 8), shape_of="the offsets x.npz")
    txt.write_text("t.png 26 0.5\n")
    with pytest.raises(InputError, match=r"line 1: mask 't.png': not an image file"):
        read_instances(txt)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "a_pred.txt").write_text("../m.png 26 0.5\n")
    with pytest.raises(InputError, match=r"line 1: mask '../m.png' lies outside the folder"):
        read_instances(sub / "a_pred.txt", root=sub)


def test_write_is_all_or_nothing(tmp_path):
    txt = tmp_path / "a_pred.txt"
    masks = np.zeros((2, 4, 4), bool)
    masks[:, 1:3, 1:3] = True
    bad = InstanceSet(masks, [26, 26], [0.5, 0.4], ("m0.png", "m1.png"))
    # the second mask "exists" as a source to copy from, but is missing: the copy fails
    with pytest.raises(FileNotFoundError):
        write_instances(txt, bad, copy_from={1: tmp_path / "gone.png"})
    assert list(tmp_path.iterdir()) == []


def test_refined_instances_copy_what_did_not_change_byte_for_byte(tmp_path):
    """The one writer of refined instances (command line and window): the .txt and every
    unchanged mask are the input files' bytes, a changed mask is encoded anew (0 / 255)."""
    from segfix_gui.io.instances import mask_files, write_refined_instances

    src = tmp_path / "in"
    (src / "masks").mkdir(parents=True)
    masks = np.zeros((2, 5, 6), bool)
    masks[0, 1:3, 1:4] = True
    masks[1, 2:5, 3:6] = True
    # inputs encoded unlike ours: 0 / 1 greys, palette; scores written with few digits
    Image.fromarray(masks[0].astype(np.uint8)).save(src / "masks" / "a.png")
    Image.fromarray(masks[1].astype(np.uint8)).convert("P").save(src / "masks" / "b.png")
    txt = src / "x_pred.txt"
    txt.write_text("masks/a.png 26 0.9\nmasks/b.png  24\t.5\n")
    before = read_instances(txt)
    assert [p.name for p in mask_files(txt, before)] == ["a.png", "b.png"]
    moved = before.masks.copy()
    moved[1] = np.roll(moved[1], -1, axis=1)
    after = before.with_masks(moved)
    out = tmp_path / "out" / "x_pred.txt"
    written = write_refined_instances(out, before, after, source=txt)
    assert written == [out, out.parent / "masks" / "a.png", out.parent / "masks" / "b.png"]
    assert out.read_bytes() == txt.read_bytes()
    assert written[1].read_bytes() == (src / "masks" / "a.png").read_bytes()
    assert written[2].read_bytes() != (src / "masks" / "b.png").read_bytes()
    assert np.array_equal(np.asarray(Image.open(written[2])), np.where(moved[1], 255, 0))
    assert np.array_equal(read_instances(out).masks, moved)
    # the caller may say which changed (the window knows): the same files
    again = tmp_path / "again" / "x_pred.txt"
    write_refined_instances(again, before, after, source=txt, changed=[False, True])
    for a, b in zip(written, [again, again.parent / "masks" / "a.png", again.parent / "masks" / "b.png"], strict=True):
        assert a.read_bytes() == b.read_bytes()
    with pytest.raises(ValueError, match="instances read from the source"):
        write_refined_instances(again, before, before.subset([0]), source=txt)


# --- core --------------------------------------------------------------------------------


def _square(h, w, r0, c0, r1, c1):
    m = np.zeros((h, w), bool)
    m[r0:r1, c0:c1] = True
    return m


def test_match_is_greedy_by_score_one_to_one_and_per_class():
    gt = np.zeros((20, 20), np.int32)
    gt[2:10, 2:10] = 26001
    gt[12:18, 12:18] = 24001
    gt[12:18, 2:8] = 26  # a car group: never matched
    masks = np.stack(
        [
            _square(20, 20, 2, 2, 10, 10),
            _square(20, 20, 3, 3, 10, 10),
            _square(20, 20, 12, 12, 18, 18),
            _square(20, 20, 12, 2, 18, 8),
        ]
    )
    inst = InstanceSet(masks, [26, 26, 26, 26], [0.5, 0.9, 0.7, 0.8])
    matched = match_to_gt(inst, gt)
    # the better-scored (if worse) mask takes the car; the person is not a car; the group
    # is not an instance
    assert matched.tolist() == [0, 26001, 0, 0]
    assert gt_instances(gt).ids.tolist() == [24001, 26001]
    # with a stricter match the worse mask (IoU 49/64) no longer qualifies: the exact one does
    assert match_to_gt(inst, gt, min_iou=0.9).tolist() == [26001, 0, 0, 0]


def test_mask_iou_and_boundary_f():
    a = _square(30, 30, 5, 5, 15, 15)
    assert mask_iou(a, a) == 1.0
    assert mask_boundary_f(a, a) == 1.0
    b = np.roll(a, 2, axis=1)
    assert mask_iou(a, b) == pytest.approx(80 / 120)
    assert mask_boundary_f(a, b, tol=2) == 1.0
    assert mask_boundary_f(a, b, tol=1) < 1.0
    assert mask_boundary_f(a, np.zeros_like(a)) == 0.0
    assert math.isnan(mask_boundary_f(np.zeros_like(a), np.zeros_like(a)))


def test_boundary_f_crop_equals_full_image():
    rng = np.random.default_rng(1)
    from scipy import ndimage as ndi

    for _ in range(5):
        a = ndi.binary_opening(rng.random((60, 80)) > 0.4, iterations=2)
        b = ndi.binary_opening(rng.random((60, 80)) > 0.4, iterations=2)
        a[:20] = False
        counts = boundary_counts(a.astype(np.uint8), b.astype(np.uint8), 2, tol=3)
        full = boundary_f_from_counts(counts[1:2], np.array([True]))[0]
        assert mask_boundary_f(b, a, tol=3) == pytest.approx(full)


def test_outline_and_bbox():
    a = _square(6, 6, 0, 1, 4, 5)
    o = mask_outline(a)
    assert o.sum() == 12 and not o[1:3, 2:4].any()
    assert mask_bbox(a) == (0, 1, 4, 5)
    assert mask_bbox(np.zeros((3, 3), bool)) is None


def test_refine_with_zero_offsets_changes_nothing_and_keeps_metadata():
    rng = np.random.default_rng(2)
    inst = InstanceSet(rng.random((3, 10, 12)) > 0.5, [24, 26, 26], [0.3, 0.2, 0.1], ("a", "b", "c"))
    out = refine_instances(inst, np.zeros((2, 10, 12), np.int16), device="cpu")
    assert np.array_equal(out.masks, inst.masks)
    assert out.names == inst.names and out.scores.tolist() == inst.scores.tolist()
    off = np.zeros((2, 10, 12), np.int16)
    off[1, :, 0] = 1  # column 0 takes column 1
    moved = refine_instances(inst, off, device="cpu")
    assert np.array_equal(moved.masks[:, :, 0], inst.masks[:, :, 1])


# --- the fixture and the commands --------------------------------------------------------


@needs_data
def test_fixture_is_at_half_cityscapes_size_with_counting_instances(fx):
    gt = read_instance_gt(fx["gt_instance"])
    assert gt.shape == (512, 1024)
    table = gt_instances(gt)
    assert int((table.sizes >= 100).sum()) == 5
    inst = read_instances(fx["pred_txt"])
    assert len(inst) >= 5 and inst.shape == (512, 1024)


@needs_data
def test_refine_with_gt_offsets_raises_ap(fx, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(
            [
                "refine-instances",
                "--input",
                str(fx["pred"]),
                "--offset",
                str(fx["offsets_gt"]),
                "--out",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    # the same files at the same relative paths, the .txt byte for byte
    assert set(_files(out)) == set(_files(fx["pred"]))
    rel = fx["pred_txt"].relative_to(fx["pred"])
    assert (out / rel).read_bytes() == fx["pred_txt"].read_bytes()
    before = _ap(fx["gt_instance"], fx["pred_txt"])
    after = _ap(fx["gt_instance"], out / rel)
    assert after.ap > before.ap + 0.05
    assert after.ap50 >= before.ap50
    # every mask is closer to its ground truth
    gt = read_instance_gt(fx["gt_instance"])
    cmp = compare_instances(read_instances(fx["pred_txt"]), read_instances(out / rel), gt)
    assert (cmp.iou_after > cmp.iou_before).all()

    js = tmp_path / "r.json"
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate-instances",
                "--gt",
                str(fx["gt"]),
                "--pred",
                str(fx["pred"]),
                "--refined",
                str(out),
                "--json",
                str(js),
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert "average" in table and "person" in table and "mask IoU" in table
    res = json.loads(js.read_text())
    assert res["ap"] == pytest.approx(before.ap) and res["refined"]["ap"] == pytest.approx(after.ap)
    assert res["per_class"]["car"]["ap"] == pytest.approx(before.per_class["car"]["ap"])
    assert res["instances"]["matched"] == len(cmp)
    assert res["refined"]["instances"]["mean_iou"] == pytest.approx(np.mean(cmp.iou_after))
    assert len(res["per_instance"]) == len(cmp)
    assert res["per_instance"][0]["refined_iou"] == pytest.approx(cmp.iou_after[0])
    # Boundary AP beside AP, as instance_level_ap(iou_type="boundary") gives it
    b_before = _ap(fx["gt_instance"], fx["pred_txt"], iou_type="boundary")
    b_after = _ap(fx["gt_instance"], out / rel, iou_type="boundary")
    assert res["boundary_ap"] == b_before.as_dict() and res["refined"]["boundary_ap"] == b_after.as_dict()
    assert res["boundary_ap"]["dilation_ratio"] == 0.005
    assert b_before.ap < before.ap and b_after.ap > b_before.ap  # borders: what refinement fixes
    assert "Boundary AP" in table


@needs_data
def test_refine_with_zero_offsets_changes_nothing(fx, tmp_path):
    out = tmp_path / "out"
    assert (
        main(
            [
                "refine-instances",
                "--input",
                str(fx["pred"]),
                "--offset",
                str(fx["offsets_zero"]),
                "--out",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert _files(out) == _files(fx["pred"])
    rel = fx["pred_txt"].relative_to(fx["pred"])
    assert _ap(fx["gt_instance"], out / rel).as_dict() == _ap(fx["gt_instance"], fx["pred_txt"]).as_dict()


@needs_data
def test_image_without_instances_is_copied_and_needs_no_offsets(fx, tmp_path):
    inp = tmp_path / "in"
    shutil.copytree(fx["pred"], inp)
    (inp / "munich").mkdir()
    empty = inp / "munich" / "munich_000000_000001_leftImg8bit_pred.txt"
    empty.write_text("\n")
    out = tmp_path / "out"
    assert (
        main(
            [
                "refine-instances",
                "--input",
                str(inp),
                "--offset",
                str(fx["offsets_zero"]),
                "--out",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert (out / "munich" / empty.name).read_bytes() == b"\n"


def _bad_case(fx, tmp_path, case):
    """A copy of the fixture's predictions with one broken line; returns (input, txt, line)."""
    inp = tmp_path / "in"
    shutil.copytree(fx["pred"], inp)
    txt = inp / fx["pred_txt"].relative_to(fx["pred"])
    lines = txt.read_text().splitlines()
    n = 2
    mask, label, score = lines[n - 1].split()
    if case == "missing mask":
        lines[n - 1] = f"masks/nope.png {label} {score}"
    elif case == "malformed":
        lines[n - 1] = f"{mask} {label}"
    elif case == "other size":
        Image.fromarray(np.zeros((256, 512), np.uint8)).save(txt.parent / mask)
    elif case == "bad score":
        lines[n - 1] = f"{mask} {label} high"
    txt.write_text("\n".join(lines) + "\n")
    return inp, txt, n


BAD = ["missing mask", "malformed", "other size", "bad score"]


@needs_data
@pytest.mark.parametrize("case", BAD)
def test_refine_bad_input_one_line_nothing_written(fx, tmp_path, capsys, case):
    inp, txt, n = _bad_case(fx, tmp_path, case)
    out = tmp_path / "out"
    capsys.readouterr()
    assert (
        main(
            [
                "refine-instances",
                "--input",
                str(inp),
                "--offset",
                str(fx["offsets_gt"]),
                "--out",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 2
    )
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("segfix: error:")]
    assert len(err) == 1
    assert err[0].startswith(f"segfix: error: {txt}: line {n}: ")
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))


@needs_data
@pytest.mark.parametrize("case", BAD)
def test_evaluate_bad_input_one_line_no_json(fx, tmp_path, capsys, case):
    inp, txt, n = _bad_case(fx, tmp_path, case)
    js = tmp_path / "r.json"
    capsys.readouterr()
    assert main(["evaluate-instances", "--gt", str(fx["gt"]), "--pred", str(inp), "--json", str(js)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("segfix: error:")]
    assert len(err) == 1 and err[0].startswith(f"segfix: error: {txt}: line {n}: ")
    assert not js.exists()


@needs_data
def test_out_inside_input_is_refused(fx, tmp_path, capsys):
    inp = tmp_path / "in"
    shutil.copytree(fx["pred"], inp)
    before = _files(inp)
    for out in (inp, inp / "refined"):
        assert (
            main(["refine-instances", "--input", str(inp), "--offset", str(fx["offsets_gt"]), "--out", str(out)]) == 2
        )
        assert "must not be the input folder" in capsys.readouterr().err
    assert _files(inp) == before and not (inp / "refined").exists()


@needs_data
def test_missing_offsets_is_an_error_for_that_image(fx, tmp_path, capsys):
    empty = tmp_path / "no_offsets"
    empty.mkdir()
    out = tmp_path / "out"
    assert main(["refine-instances", "--input", str(fx["pred"]), "--offset", str(empty), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{fx['pred_txt']}: no offsets file for this image (expected {FRAME}.npz" in err
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))


@needs_data
def test_evaluate_rejects_unknown_label_id_with_its_line(fx, tmp_path, capsys):
    inp = tmp_path / "in"
    shutil.copytree(fx["pred"], inp)
    txt = inp / fx["pred_txt"].relative_to(fx["pred"])
    txt.write_text(txt.read_text().replace(" 24 ", " 99 ", 1))
    assert main(["evaluate-instances", "--gt", str(fx["gt"]), "--pred", str(inp)]) == 2
    assert f"{txt}: line 1: 99 is not a Cityscapes label id" in capsys.readouterr().err
