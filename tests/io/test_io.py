"""Files: offset formats, label maps, label spaces — round trips and clear errors."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from PIL import Image
from scipy.io import loadmat, savemat

from segfix_gui import InputError, OffsetField, get_label_space, read_offsets, write_offsets
from segfix_gui.core.setting import Setting
from segfix_gui.io.images import read_labels, write_labels
from segfix_gui.io.pairing import pair_key


def soft_field(h=6, w=7, k=8, seed=0):
    rng = np.random.default_rng(seed)
    d = rng.random((k, h, w)).astype(np.float32)
    return OffsetField(boundary=rng.random((h, w)).astype(np.float32), direction=d / d.sum(0))


@pytest.mark.parametrize("k", [4, 8, 16])
def test_npz_round_trip_keeps_the_setting(tmp_path, k):
    f = soft_field(k=k)
    f.recommended = {"threshold": 0.6, "scale": 1.0, "min_direction_prob": 0.2}
    write_offsets(tmp_path / "x.npz", f)
    g = read_offsets(tmp_path / "x.npz")
    assert g.k == k and g.recommended == pytest.approx(f.recommended)
    for thr in (0.2, 0.5, 0.8):
        # float16 storage: compare away from the threshold
        keep = np.abs(f.boundary - thr) > 1e-3
        assert (f.to_offsets(Setting(threshold=thr))[:, keep] == g.to_offsets(Setting(threshold=thr))[:, keep]).all()


def test_mat_round_trip_is_openseg_layout(tmp_path):
    f = soft_field()
    write_offsets(tmp_path / "x.mat", f, setting=Setting(threshold=0.4))
    raw = loadmat(tmp_path / "x.mat")["mat"]
    assert raw.shape == (6, 7, 2) and set(np.unique(raw)) <= {-1, 0, 1}
    g = read_offsets(tmp_path / "x.mat")
    assert g.is_hard
    assert (g.to_offsets(Setting(scale=2)) == f.to_offsets(Setting(threshold=0.4, scale=2))).all()
    write_offsets(tmp_path / "y.npz", g)
    assert (read_offsets(tmp_path / "y.npz").to_offsets(Setting(scale=1)) == g.to_offsets(Setting(scale=1))).all()


def test_written_files_follow_the_umask_and_leave_no_temporaries(tmp_path):
    write_offsets(tmp_path / "x.npz", soft_field())
    mode = stat.S_IMODE(os.stat(tmp_path / "x.npz").st_mode)
    assert mode & 0o044  # readable by others under the usual umask 022
    assert sorted(os.listdir(tmp_path)) == ["x.npz"]


def _bad(tmp_path, name, writer):
    p = tmp_path / name
    writer(p)
    with pytest.raises(InputError) as e:
        read_offsets(p)
    msg = str(e.value)
    assert msg.startswith(str(p)) and "\n" not in msg
    return msg


def test_bad_offset_files_give_one_line_naming_the_file(tmp_path):
    f = soft_field()
    assert "not a readable .npz" in _bad(tmp_path, "trunc.npz", lambda p: p.write_bytes(b"PK\x03\x04junk"))
    assert "not a zip archive" in _bad(tmp_path, "junk.npz", lambda p: p.write_bytes(b"hello world"))
    assert "empty .npz" in _bad(tmp_path, "empty.npz", lambda p: np.savez(p))
    assert "missing key 'direction'" in _bad(tmp_path, "nokey.npz", lambda p: np.savez(p, boundary=f.boundary))
    assert "NaN" in _bad(
        tmp_path, "nan.npz", lambda p: np.savez(p, boundary=np.full((6, 7), np.nan, np.float32), direction=f.direction)
    )
    assert "[0, 1]" in _bad(
        tmp_path, "range.npz", lambda p: np.savez(p, boundary=f.boundary * 3, direction=f.direction)
    )
    assert "bins" in _bad(
        tmp_path, "k5.npz", lambda p: np.savez(p, boundary=f.boundary, direction=np.full((5, 6, 7), 0.2, np.float32))
    )
    assert "is 5×7 but 'boundary' is 6×7" in _bad(
        tmp_path, "shape.npz", lambda p: np.savez(p, boundary=f.boundary, direction=f.direction[:, :5])
    )
    assert "pickled" in _bad(
        tmp_path,
        "pickle.npz",
        lambda p: np.savez(p, boundary=np.array([{"a": 1}], dtype=object), direction=f.direction),
    )
    assert "missing key 'mat'" in _bad(tmp_path, "foreign.mat", lambda p: savemat(p, {"x": np.ones(3)}))
    assert "H×W×2" in _bad(tmp_path, "shape.mat", lambda p: savemat(p, {"mat": np.ones((4, 4, 3))}))
    assert "not a readable MATLAB" in _bad(tmp_path, "junk.mat", lambda p: p.write_bytes(b"hello"))
    assert "non-integer" in _bad(tmp_path, "frac.mat", lambda p: savemat(p, {"mat": np.full((4, 4, 2), 0.5)}))
    assert "file not found" in _bad(tmp_path, "gone.npz", lambda p: None)


def test_label_maps(tmp_path):
    space = get_label_space("camvid")
    ids = np.array([[0, 3, 11], [8, 8, 1]], np.uint8)
    write_labels(tmp_path / "ids.png", ids)
    assert (read_labels(tmp_path / "ids.png", space) == ids).all()
    Image.fromarray(space.colorize(ids)).save(tmp_path / "colour.png")
    assert (read_labels(tmp_path / "colour.png", space) == ids).all()
    wrong = space.colorize(ids)
    wrong[1, 2] = (1, 2, 3)
    Image.fromarray(wrong).save(tmp_path / "wrong.png")
    with pytest.raises(InputError, match=r"colour \(1, 2, 3\) at \(row 1, col 2\) is not in the camvid palette"):
        read_labels(tmp_path / "wrong.png", space)
    write_labels(tmp_path / "big.png", np.array([[0, 40]], np.uint8))
    with pytest.raises(InputError, match="label id 40 is not in the camvid label space"):
        read_labels(tmp_path / "big.png", space)
    (tmp_path / "text.png").write_text("not a png")
    with pytest.raises(InputError, match="not an image file"):
        read_labels(tmp_path / "text.png")
    good = (tmp_path / "ids.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match="trunc.png: "):
        read_labels(tmp_path / "trunc.png")


def test_label_spaces():
    cs = get_label_space("cityscapes")
    assert cs.n_classes == 19 and cs.names[0] == "road" and cs.to_eval(np.array([7, 0, 26])).tolist() == [0, 255, 13]
    tid = get_label_space("cityscapes-trainid")
    assert tid.names == cs.names and tid.to_eval(np.array([0, 18, 255])).tolist() == [0, 18, 255]
    ade = get_label_space("ade20k")
    assert ade.n_classes == 150 and ade.to_eval(np.array([0, 1, 150])).tolist() == [255, 0, 149]
    cam = get_label_space("camvid")
    assert cam.n_classes == 11 and cam.ignore_ids == (11,)


def test_user_label_space_spec(tmp_path):
    spec = {
        "name": "mine",
        "classes": [
            {"id": 0, "name": "bg", "color": [0, 0, 0]},
            {"id": 5, "name": "thing", "color": [9, 9, 9]},
            {"id": 255, "name": "void", "color": [1, 1, 1], "ignore": True},
        ],
    }
    (tmp_path / "mine.json").write_text(json.dumps(spec))
    s = get_label_space(str(tmp_path / "mine.json"))
    assert s.names == ("bg", "thing") and s.to_eval(np.array([5, 255])).tolist() == [1, 255]
    (tmp_path / "bad.json").write_text(json.dumps({"classes": [{"id": 0}]}))
    with pytest.raises(InputError, match="bad.json: not a valid label space spec"):
        get_label_space(str(tmp_path / "bad.json"))
    with pytest.raises(InputError, match="unknown label space 'nope'"):
        get_label_space("nope")


def test_pair_keys_follow_dataset_conventions():
    assert pair_key("a/x.png") == pair_key("b/x.npz") == "x"
    assert pair_key("f_000_leftImg8bit.png") == pair_key("f_000_gtFine_labelIds.png") == "f_000"
    assert pair_key("f_000_leftImg8bit_pred.txt") == pair_key("f_000_leftImg8bit.mat") == "f_000"


def _openseg_targets(path, depth, dir_deg, **extra):
    savemat(
        path,
        {"dir_deg": dir_deg.astype(np.uint8), "depth": depth.astype(np.uint8), "deg_reduce": 2, **extra},
        do_compression=True,
    )


def test_openseg_target_mat_reads_as_a_field(tmp_path):
    # the original's generator on a vertical border at column 20 (left class A, right B):
    # depth = distance to the border, dir_deg = (atan2(d_row, d_col) in degrees + 180) / 2
    col = np.arange(40)
    depth = np.tile(np.where(col < 20, 20 - col, col - 19), (30, 1))
    dir_deg = np.tile(np.where(col < 20, 180, 90), (30, 1))  # left: 180° (0, -1); right: 0°
    depth[0, :] = 0  # no distance (ignored pixels): no band
    dir_deg[5, 21] = 112  # 2·112 − 180 = 44°: down-right, bin 5 = (1, 1)
    _openseg_targets(tmp_path / "t.mat", depth, dir_deg)
    f = read_offsets(tmp_path / "t.mat")
    assert not f.is_hard and f.k == 8
    band = (depth >= 1) & (depth <= 5)
    assert ((f.boundary > 0.5) == band).all()
    bins = f.bins()
    assert (bins[1:, 15:20] == 0).all() and (bins[1:, 20:25] == 4)[np.arange(29) != 4].all()
    assert bins[5, 21] == 5
    off = f.to_offsets(Setting(scale=2))
    assert (off[:, 3, 17] == (0, -2)).all() and (off[:, 5, 21] == (2, 2)).all()
    assert not off[:, 0].any() and not off[:, :, :15].any()


def test_openseg_target_mat_errors(tmp_path):
    d = np.ones((4, 5))
    assert "'dir_deg' is 4×4 but 'depth' is 4×5" in _bad(
        tmp_path, "shape.mat", lambda p: _openseg_targets(p, d, d[:, :4])
    )
    assert "'depth' must be H×W" in _bad(
        tmp_path, "dims.mat", lambda p: _openseg_targets(p, np.ones((4, 5, 2)), np.ones((4, 5, 2)))
    )
    assert "deg_reduce" in _bad(
        tmp_path, "reduce.mat", lambda p: savemat(p, {"dir_deg": d, "depth": d, "deg_reduce": -1})
    )


def test_recommended_setting_reads_back_as_written(tmp_path):
    # stored as float32 in the .npz; 0.8 must not come back as 0.800000011920929
    import numpy as np

    from segfix_gui.core.offsets import OffsetField
    from segfix_gui.io.offsets import read_offsets, write_offsets

    d = np.full((8, 4, 5), 1 / 8, np.float32)
    field = OffsetField(
        boundary=np.zeros((4, 5), np.float32),
        direction=d,
        recommended={"threshold": 0.8, "min_direction_prob": 0.6, "scale": 1.3},
    )
    write_offsets(tmp_path / "x.npz", field)
    got = read_offsets(tmp_path / "x.npz").recommended
    assert got == {"threshold": 0.8, "min_direction_prob": 0.6, "scale": 1.3}


@pytest.mark.parametrize("form", ["ids8", "ids16", "colour"])
def test_a_refined_prediction_is_written_in_its_inputs_form(tmp_path, form):
    """The one writer of refined label maps (segfix refine, the window's export)."""
    from segfix_gui.io.samples import read_prediction, write_prediction

    space = get_label_space("camvid")
    ids = np.array([[0, 1, 2], [3, 11, 1]], np.uint8)
    src = tmp_path / "in.png"
    if form == "colour":
        Image.fromarray(space.colorize(ids)).save(src)
    elif form == "ids16":
        Image.fromarray(ids.astype(np.uint16)).save(src)  # a 16-bit file of small ids
    else:
        Image.fromarray(ids).save(src)
    labels, colour = read_prediction(src, space)
    assert colour == (form == "colour") and np.array_equal(labels, ids)
    refined = labels[:, ::-1].copy()
    write_prediction(tmp_path / "out.png", refined, space, colour=colour)
    again, colour_again = read_prediction(tmp_path / "out.png", space)
    assert colour_again == colour and np.array_equal(again, refined)
    with Image.open(tmp_path / "out.png") as im:
        assert im.mode == ("RGB" if colour else "L")
    if colour:
        with pytest.raises(ValueError, match="label space"):
            write_prediction(tmp_path / "x.png", refined, None, colour=True)
