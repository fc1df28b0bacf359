"""model.data on its own: which files a split pairs, the arrays load_split gives (images as
read, targets equal to core.targets'), subsets, and one-line InputErrors naming the file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from segfix_gui.core.targets import boundary_targets, gt_offset_field
from segfix_gui.errors import InputError
from segfix_gui.io.images import read_image, write_labels, write_png
from segfix_gui.labels import get_label_space
from segfix_gui.model.data import MAX_WIDTH, Split, load_split, split_files

SPACE = get_label_space("camvid")


def labels_for(seed: int, shape=(24, 30)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = shape
    lab = np.zeros((h, w), np.uint8)
    lab[h // 2 + seed :, :] = 3
    r, c = rng.integers(2, h // 2), rng.integers(2, w // 2)
    lab[r : r + 8, c : c + 10] = 1 + seed % 9
    lab[-3:, -5:] = 11  # ignored
    return lab


def make_split(root: Path, split: str, names, *, shape=(24, 30), colour_labels=False, image_suffix=".png"):
    """Write ``root/split/images`` + ``labels`` with the package's writers; returns
    {name: (image, labels)}."""
    img_dir, lab_dir = root / split / "images", root / split / "labels"
    img_dir.mkdir(parents=True, exist_ok=True)
    lab_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, name in enumerate(names):
        rng = np.random.default_rng(100 + i)
        image = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
        lab = labels_for(i, shape)
        write_png(img_dir / f"{name}{image_suffix}", image)
        if colour_labels:
            write_png(lab_dir / f"{name}.png", SPACE.colorize(lab))
        else:
            write_labels(lab_dir / f"{name}.png", lab)
        out[name] = (image, lab)
    return out


# --- pairing ---------------------------------------------------------------------------------


def test_split_files_pairs_images_with_labels_of_the_same_name(tmp_path):
    make_split(tmp_path, "train", ["a", "b"])
    base = tmp_path / "train"
    write_png(base / "images" / "no_label.png", np.zeros((4, 4, 3), np.uint8))
    write_labels(base / "labels" / "no_image.png", np.zeros((4, 4), np.uint8))
    (base / "images" / "city").mkdir()
    write_png(base / "images" / "city" / "x_leftImg8bit.png", np.zeros((4, 4, 3), np.uint8))
    write_labels(base / "labels" / "x_gtFine_labelIds.png", np.zeros((4, 4), np.uint8))
    write_png(base / "images" / "c.jpg", np.zeros((4, 4, 3), np.uint8))
    write_labels(base / "labels" / "c.png", np.zeros((4, 4), np.uint8))
    (base / "labels" / "notes.txt").write_text("not a label")
    pairs = split_files(tmp_path, "train")
    got = {(i.relative_to(base / "images").as_posix(), lab.name) for i, lab in pairs}
    assert got == {
        ("a.png", "a.png"),
        ("b.png", "b.png"),
        ("c.jpg", "c.png"),
        ("city/x_leftImg8bit.png", "x_gtFine_labelIds.png"),
    }
    assert len(pairs) == 4
    assert all(i.parent.is_relative_to(base / "images") and lab.parent == base / "labels" for i, lab in pairs)
    assert pairs == split_files(tmp_path, "train")  # the same order every time


def test_split_files_missing_folder_or_no_pairs(tmp_path):
    (tmp_path / "val" / "images").mkdir(parents=True)
    with pytest.raises(InputError) as err:
        split_files(tmp_path, "val")
    assert err.value.path == str(tmp_path / "val" / "labels")
    assert "val/images and val/labels" in str(err.value)
    with pytest.raises(InputError) as err:
        split_files(tmp_path, "test")
    assert err.value.path == str(tmp_path / "test" / "images")
    (tmp_path / "val" / "labels").mkdir()
    write_labels(tmp_path / "val" / "labels" / "a.png", np.zeros((4, 4), np.uint8))
    write_png(tmp_path / "val" / "images" / "b.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError) as err:
        split_files(tmp_path, "val")
    assert err.value.path == str(tmp_path / "val") and "no image with a label" in str(err.value)


# --- load_split ------------------------------------------------------------------------------


def test_load_split_gives_the_images_and_the_targets_of_core_targets(tmp_path):
    files = make_split(tmp_path, "train", ["f0", "f1", "f2"])
    s = load_split(tmp_path, "train")
    assert isinstance(s, Split) and s.names == ["f0", "f1", "f2"]
    assert s.images.shape == (3, 24, 30, 3) and s.images.dtype == np.uint8
    assert s.distance.shape == s.bins.shape == s.valid.shape == (3, 24, 30)
    assert (s.distance.dtype, s.bins.dtype, s.valid.dtype) == (np.float32, np.uint8, bool)
    for k, name in enumerate(s.names):
        image, lab = files[name]
        np.testing.assert_array_equal(s.images[k], image)
        band, bins, dist = boundary_targets(lab, width=MAX_WIDTH, directions=8, ignore_ids=SPACE.ignore_ids)
        np.testing.assert_array_equal(s.distance[k], dist)
        np.testing.assert_array_equal(s.bins[k], bins)
        np.testing.assert_array_equal(s.valid[k], lab != 11)
        # the band is where the distance is finite; ignored pixels get none
        np.testing.assert_array_equal(np.isfinite(s.distance[k]), band)
        assert not band[lab == 11].any() and band.any() and not band.all()
        assert s.distance[k][band].max() <= MAX_WIDTH
        # a narrower band cut from these targets is core.targets' band of that width
        band3, _, _ = boundary_targets(lab, width=3, ignore_ids=SPACE.ignore_ids)
        np.testing.assert_array_equal(s.distance[k] <= 3, band3)
        # and the bins are the oracle field's directions
        oracle = gt_offset_field(lab, width=MAX_WIDTH, ignore_ids=SPACE.ignore_ids)
        np.testing.assert_array_equal(s.bins[k][band], oracle.bins()[band])


def test_load_split_subsets_and_determinism(tmp_path):
    make_split(tmp_path, "train", [f"n{i}" for i in range(5)])
    full = load_split(tmp_path, "train")
    again = load_split(tmp_path, "train")
    for a in ("images", "distance", "bins", "valid"):
        np.testing.assert_array_equal(getattr(full, a), getattr(again, a))
    every = load_split(tmp_path, "train", every=2)
    assert every.names == ["n0", "n2", "n4"]
    np.testing.assert_array_equal(every.bins, full.bins[[0, 2, 4]])
    np.testing.assert_array_equal(every.images, full.images[[0, 2, 4]])
    limited = load_split(tmp_path, "train", every=2, limit=2)
    assert limited.names == ["n0", "n2"]
    np.testing.assert_array_equal(limited.distance, full.distance[[0, 2]])


def test_the_shared_batch_loop_gives_the_same_split_and_names_a_bad_file(tmp_path):
    """segfix train computes the targets with cli._common.run_batch (worker processes);
    the arrays are those of the in-process default, and a bad file is one line naming it."""
    import functools

    from segfix_gui.cli._common import run_batch

    make_split(tmp_path, "train", [f"n{i}" for i in range(3)])
    run = functools.partial(run_batch, workers=2, desc="targets")
    here, there = load_split(tmp_path, "train"), load_split(tmp_path, "train", run=run)
    assert here.names == there.names
    for a in ("images", "distance", "bins", "valid"):
        np.testing.assert_array_equal(getattr(here, a), getattr(there, a))
    bad = tmp_path / "train" / "labels" / "n1.png"
    bad.write_bytes(b"not a png")
    for runner in (None, run):
        with pytest.raises(InputError, match=rf"^{re.escape(str(bad))}: not an image file"):
            load_split(tmp_path, "train", run=runner)


def test_colour_coded_labels_give_the_same_targets(tmp_path):
    make_split(tmp_path / "ids", "train", ["a", "b"])
    make_split(tmp_path / "rgb", "train", ["a", "b"], colour_labels=True)
    ids, rgb = load_split(tmp_path / "ids", "train"), load_split(tmp_path / "rgb", "train")
    for a in ("images", "distance", "bins", "valid"):
        np.testing.assert_array_equal(getattr(ids, a), getattr(rgb, a))


def test_jpeg_images_are_read_as_the_reader_reads_them(tmp_path):
    make_split(tmp_path, "train", ["a"], image_suffix=".jpg")
    s = load_split(tmp_path, "train")
    np.testing.assert_array_equal(s.images[0], read_image(tmp_path / "train" / "images" / "a.jpg"))


# --- bad inputs: one line, naming the file ----------------------------------------------------


def test_labels_of_another_size_name_the_label_file(tmp_path):
    make_split(tmp_path, "train", ["a", "b"])
    bad = tmp_path / "train" / "labels" / "b.png"
    write_labels(bad, labels_for(0, (20, 30)))
    with pytest.raises(InputError) as err:
        load_split(tmp_path, "train")
    assert err.value.path == str(bad)
    assert "labels are 20×30 but the image is 24×30" in str(err.value)
    assert "\n" not in str(err.value)


def test_images_of_several_sizes_are_refused(tmp_path):
    make_split(tmp_path, "train", ["a"])
    make_split(tmp_path, "train", ["b"], shape=(16, 30))
    with pytest.raises(InputError) as err:
        load_split(tmp_path, "train")
    assert err.value.path == str(tmp_path / "train") and "one size" in str(err.value)


def test_an_id_outside_the_space_names_the_label_file(tmp_path):
    make_split(tmp_path, "train", ["a"])
    bad = tmp_path / "train" / "labels" / "a.png"
    lab = labels_for(0)
    lab[0, 0] = 50
    write_labels(bad, lab)
    with pytest.raises(InputError) as err:
        load_split(tmp_path, "train")
    assert err.value.path == str(bad) and "label id 50" in str(err.value)
    assert load_split(tmp_path, "train", space="ade20k").names == ["a"]  # valid there


def test_an_unreadable_image_names_the_image(tmp_path):
    make_split(tmp_path, "train", ["a"])
    bad = tmp_path / "train" / "images" / "a.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(InputError) as err:
        load_split(tmp_path, "train")
    assert err.value.path == str(bad) and "not an image" in str(err.value)
