"""What the window opens, decided without Qt (segfix_gui.session.opening)."""

from __future__ import annotations

import numpy as np
import pytest

from segfix_gui.errors import InputError
from segfix_gui.io.images import write_labels
from segfix_gui.io.samples import SamplePaths
from segfix_gui.session.opening import NOTHING_DROPPED, SetSource, dropped, merge_parts, waiting_text


def test_merge_parts_replaces_and_keeps_the_setting_unless_offsets_change():
    cur = SamplePaths(image="i.jpg", pred="p.png", offsets="o.npz", gt="g.png", name="x")
    new, keep = merge_parts(cur, {"gt": "g2.png"})
    assert (new.image, new.pred, new.offsets, new.gt, new.name) == ("i.jpg", "p.png", "o.npz", "g2.png", None)
    assert keep
    new, keep = merge_parts(cur, {"offsets": "o2.mat"})
    assert new.offsets == "o2.mat" and not keep


def test_instance_files_turn_the_sample_into_an_instance_sample_and_back():
    cur = SamplePaths(image="i.png", pred="p.png", offsets="o.npz", gt="g.png")
    inst, _ = merge_parts(cur, {"instances": "x_pred.txt"})
    assert inst.is_instances and inst.pred is None and inst.gt is None and inst.offsets == "o.npz"
    back, _ = merge_parts(inst, {"pred": "p2.png"})
    assert not back.is_instances and back.pred == "p2.png" and back.image == "i.png"


def test_waiting_text_names_what_is_missing():
    assert waiting_text(SamplePaths(image="i.png")) == ("waiting for: prediction (File ▸ Open … or drop files)")
    assert waiting_text(SamplePaths(pred="p.png")) is None  # offsets may come later


def test_set_source_pairs_a_set_folder(tmp_path):
    for sub in ("preds", "offsets", "gt"):
        (tmp_path / sub).mkdir()
    write_labels(tmp_path / "preds" / "a.png", np.zeros((2, 2), np.uint8))
    write_labels(tmp_path / "gt" / "a.png", np.zeros((2, 2), np.uint8))
    src = SetSource(folder=str(tmp_path))
    [s] = src.samples()
    assert s.name == "a" and s.gt.endswith("a.png") and s.offsets is None
    entry = src.resolved().recent_entry("camvid")
    assert entry["pred"] == str(tmp_path / "preds") and entry["image"] is None
    with pytest.raises(InputError, match="preds/"):
        SetSource(folder=str(tmp_path / "preds")).samples()


def test_a_sample_whose_partners_cannot_be_told_apart_fails_to_load_naming_them(tmp_path):
    """Two ground truths of the prediction's name in different sub-folders, none beside it: the
    set still opens, and that sample's loading fails with the pairing's one line (a dialog in
    the window), not silently without ground truth."""
    from segfix_gui.io.samples import load_sample

    for sub in ("preds", "offsets", "gt/c1", "gt/c2"):
        (tmp_path / sub).mkdir(parents=True)
    for f in ("preds/a.png", "preds/b.png", "gt/c1/a.png", "gt/c2/a.png", "gt/c1/b.png"):
        write_labels(tmp_path / f, np.zeros((2, 2), np.uint8))
    a, b = SetSource(folder=str(tmp_path)).samples()
    assert a.pairing_error and "a.png" in a.pairing_error and b.pairing_error is None
    with pytest.raises(InputError) as err:
        load_sample(a, "camvid")
    assert str(err.value) == a.pairing_error and "\n" not in str(err.value)
    assert str(err.value).startswith(str(tmp_path / "preds" / "a.png"))
    assert load_sample(b, "camvid").gt is not None  # its partner is unambiguous


def test_dropped(tmp_path):
    assert dropped([str(tmp_path)]) == ("set", SetSource(folder=str(tmp_path)))
    what, parts = dropped([str(tmp_path / "x.npz"), str(tmp_path / "x_gt.png")])
    assert what == "parts" and parts == {"offsets": str(tmp_path / "x.npz"), "gt": str(tmp_path / "x_gt.png")}
    assert dropped([str(tmp_path / "notes.doc")]) == ("error", NOTHING_DROPPED)
