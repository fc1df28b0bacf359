"""Pairing an instance set's files: io.instances.pair_instance_set on io.pairing.pair_folders,
the one pairing that the window, refine-instances and evaluate-instances share."""

from __future__ import annotations

from pathlib import Path

import pytest

from segfix_gui.errors import InputError
from segfix_gui.io.instances import list_instance_gts, list_pred_txts, pair_instance_set
from segfix_gui.io.pairing import pair_folders


def _touch(*paths: Path) -> None:
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")


def test_rows_name_every_role_and_none_for_a_folder_not_given(tmp_path):
    _touch(
        tmp_path / "pred" / "c" / "f_0_leftImg8bit_pred.txt",
        tmp_path / "gt" / "val" / "c" / "f_0_gtFine_instanceIds.png",
        tmp_path / "ref" / "c" / "f_0_leftImg8bit_pred.txt",
    )
    (row,) = pair_instance_set(instances=tmp_path / "pred", gt=tmp_path / "gt", refined=tmp_path / "ref")
    assert row["key"] == "f_0" and row["error"] is None
    assert row["instances"] == tmp_path / "pred" / "c" / "f_0_leftImg8bit_pred.txt"
    assert row["gt_instances"] == tmp_path / "gt" / "val" / "c" / "f_0_gtFine_instanceIds.png"
    assert row["refined_instances"] == tmp_path / "ref" / "c" / "f_0_leftImg8bit_pred.txt"
    assert row["offsets"] is None and row["image"] is None


def test_two_predictions_of_one_image_in_one_folder_are_each_an_error(tmp_path):
    a, b = tmp_path / "pred" / "x_leftImg8bit_pred.txt", tmp_path / "pred" / "x_pred.txt"
    other = tmp_path / "pred" / "y_pred.txt"
    _touch(a, b, other, tmp_path / "off" / "x.npz", tmp_path / "off" / "y.npz")
    rows = {r["instances"]: r for r in pair_instance_set(instances=tmp_path / "pred", offsets=tmp_path / "off")}
    assert rows[a]["error"] == (f"{a}: has the same pairing name 'x' as {b}: cannot tell which to use")
    assert rows[b]["error"] == (f"{b}: has the same pairing name 'x' as {a}: cannot tell which to use")
    assert rows[other]["error"] is None and rows[other]["offsets"] == tmp_path / "off" / "y.npz"


def test_one_name_in_two_sub_folders_pairs_by_relative_place(tmp_path):
    _touch(*(tmp_path / d / c / n for d, n in (("pred", "x_pred.txt"), ("off", "x.npz")) for c in ("a", "b")))
    rows = pair_instance_set(instances=tmp_path / "pred", offsets=tmp_path / "off")
    assert [(r["error"], r["offsets"]) for r in rows] == [
        (None, tmp_path / "off" / "a" / "x.npz"),
        (None, tmp_path / "off" / "b" / "x.npz"),
    ]


def test_two_refined_predictions_of_one_image_in_one_folder_are_refused(tmp_path):
    _touch(
        tmp_path / "pred" / "x_pred.txt", tmp_path / "ref" / "x_pred.txt", tmp_path / "ref" / "x_leftImg8bit_pred.txt"
    )
    with pytest.raises(
        InputError, match="x_pred.txt: has the same name as .*x_leftImg8bit_pred.txt: cannot tell which to pair"
    ):
        pair_instance_set(instances=tmp_path / "pred", refined=tmp_path / "ref")


def test_instance_ground_truth_is_the_gtFine_instanceIds_files(tmp_path):
    keep = tmp_path / "gt" / "c" / "x_gtFine_instanceIds.png"
    _touch(keep, tmp_path / "gt" / "c" / "x_gtFine_labelIds.png", tmp_path / "gt" / "c" / "y_gtCoarse_instanceIds.png")
    assert list_instance_gts(tmp_path / "gt") == [keep]


def test_pred_txt_ending_is_matched_in_any_case(tmp_path):
    _touch(tmp_path / "pred" / "x_leftImg8bit_pred.TXT", tmp_path / "pred" / "notes.txt")
    assert list_pred_txts(tmp_path / "pred") == [tmp_path / "pred" / "x_leftImg8bit_pred.TXT"]


def test_no_pred_txt_is_one_line_naming_the_folder(tmp_path):
    (tmp_path / "pred").mkdir()
    with pytest.raises(InputError, match=r"pred: no \*_pred.txt files found"):
        pair_instance_set(instances=tmp_path / "pred", offsets=tmp_path)


def test_semantic_sets_keep_both_files_of_one_name(tmp_path):
    # one_per_key is for instance sets (one _pred.txt per image); refine / evaluate keep
    # pairing x.png and x_leftImg8bit.png of one folder as before
    _touch(tmp_path / "p" / "x.png", tmp_path / "p" / "x_leftImg8bit.png", tmp_path / "o" / "x.npz")
    rows = pair_folders("pred", {"pred": tmp_path / "p", "offsets": tmp_path / "o"})
    assert [(r["error"], r["offsets"]) for r in rows] == [(None, tmp_path / "o" / "x.npz")] * 2


def test_a_skipped_sub_folder_is_not_searched_however_it_is_reached(tmp_path):
    """An output folder inside the input (openseg's ``<input>/label_w_segfix``) holds no inputs."""
    pred, out, off = tmp_path / "pred", tmp_path / "pred" / "label_w_segfix", tmp_path / "off"
    _touch(pred / "x.png", pred / "x_pred.txt", out / "x.png", out / "x_pred.txt", off / "x.npz")
    rows = pair_folders("pred", {"pred": pred, "offsets": off}, skip=(out,))
    assert [(r["pred"], r["offsets"], r["error"]) for r in rows] == [(pred / "x.png", off / "x.npz", None)]
    assert [r["instances"] for r in pair_instance_set(instances=pred, skip=(out,))] == [pred / "x_pred.txt"]
    assert len(pair_folders("pred", {"pred": pred})) == 2  # not skipped: searched
    elsewhere = tmp_path / "elsewhere"
    _touch(elsewhere / "y.png")
    (pred / "link").symlink_to(elsewhere, target_is_directory=True)
    assert [r["pred"] for r in pair_folders("pred", {"pred": pred}, skip=(out, elsewhere))] == [pred / "x.png"]
