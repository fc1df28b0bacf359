"""Bad, hostile and unlucky inputs through the real command line (issue 12).

Each case runs ``segfix_gui.cli.main([...])`` in-process: one line naming the file, exit 2, the
batch goes on for the other files, inputs never overwritten.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from kit import errors as _errors
from kit import labels as _labels
from kit import npz as _npz
from kit import png as _png
from PIL import Image

from segfix_gui.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"
CAMVID = ROOT.parent / "shared" / "data" / "camvid"


def _hard_npz(path: Path, arr) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, format_version=np.int32(1), offsets=arr)
    return path


def _refine_set(tmp_path, names=("a", "b")):
    """preds/{names}.png and offsets/{names}.npz (zero hard offsets): a valid set."""
    for n in names:
        _png(tmp_path / "preds" / f"{n}.png", _labels())
        _hard_npz(tmp_path / "offsets" / f"{n}.npz", np.zeros((2, 12, 16), np.int8))
    return tmp_path / "preds", tmp_path / "offsets"


def _refine(preds, offs, out):
    return main(["refine", "--input", str(preds), "--offset", str(offs), "--out", str(out), "--device", "cpu"])


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- data loss: an output folder holding an input ------------------------------------------


def test_refine_refuses_an_output_folder_that_holds_the_input(tmp_path, capsys):
    preds, offs = _refine_set(tmp_path / "T")
    before = _tree(tmp_path / "T")
    assert _refine(preds, offs, tmp_path / "T") == 2
    (err,) = _errors(capsys)
    assert f"{tmp_path / 'T'}: the output folder must not hold the input folder" in err
    assert _tree(tmp_path / "T") == before


@pytest.mark.parametrize("command", ["degrade", "gt-offsets"])
def test_label_commands_refuse_out_holding_or_inside_labels(tmp_path, capsys, command):
    gt = tmp_path / "G" / "gt"
    _png(gt / "x.png", _labels())
    before = _tree(tmp_path / "G")
    for out in (tmp_path / "G", gt, gt / "sub"):
        assert main([command, "--labels", str(gt), "--out", str(out)]) == 2
        (err,) = _errors(capsys)
        assert "the output folder must not" in err and str(out) in err
    assert _tree(tmp_path / "G") == before


def test_predict_offsets_and_train_refuse_out_holding_the_input(tmp_path, capsys):
    images = tmp_path / "W" / "images"
    images.mkdir(parents=True)
    shutil.copy(DEMO / "image.jpg", images / "x.jpg")
    assert main(["predict-offsets", "--images", str(images), "--out", str(tmp_path / "W"), "--device", "cpu"]) == 2
    assert "must not hold the input folder" in _errors(capsys)[0]
    data = tmp_path / "R" / "data"
    data.mkdir(parents=True)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "R"), "--no-pretrained", "--device", "cpu"]) == 2
    assert "must not hold the input folder" in _errors(capsys)[0]
    assert not (tmp_path / "R" / "last.pt").exists()


# --- silent wrong output: hard offsets at the integer minimum --------------------------------


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
@pytest.mark.parametrize("fmt", ["npz", "mat"])
def test_hard_offsets_at_the_integer_minimum_are_refused(tmp_path, capsys, dtype, fmt):
    from scipy.io import savemat

    preds, offs = _refine_set(tmp_path, names=("a", "b"))
    arr = np.zeros((2, 12, 16), dtype)
    arr[0, 3, 4] = np.iinfo(dtype).min
    (offs / "a.npz").unlink()
    if fmt == "npz":
        _hard_npz(offs / "a.npz", arr)
    else:
        savemat(offs / "a.mat", {"mat": np.moveaxis(arr, 0, 2)})
    out = tmp_path / "out"
    assert _refine(preds, offs, out) == 2
    (err,) = _errors(capsys)
    assert f"a.{fmt}: '" in err and f"up to {-int(np.iinfo(dtype).min)} pixels" in err
    assert not (out / "a.png").exists() and (out / "b.png").exists()


def test_uint8_mat_unit_steps_are_accepted(tmp_path, capsys):
    from scipy.io import savemat

    preds, offs = _refine_set(tmp_path, names=("a",))
    (offs / "a.npz").unlink()
    savemat(offs / "a.mat", {"mat": np.ones((12, 16, 2), np.uint8)})  # every pixel one step down-right
    out = tmp_path / "out"
    assert _refine(preds, offs, out) == 0, capsys.readouterr().err
    # the same steps as int16 in a .npz give the same map, and it moved
    _hard_npz(tmp_path / "offs16" / "a.npz", np.ones((2, 12, 16), np.int16))
    assert _refine(preds, tmp_path / "offs16", tmp_path / "out16") == 0
    refined = np.asarray(Image.open(out / "a.png"))
    assert np.array_equal(refined, np.asarray(Image.open(tmp_path / "out16" / "a.png")))
    assert not np.array_equal(refined, _labels())


# --- silent wrong output: low-bit grayscale PNGs -------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _gray_png(path: Path, ids: np.ndarray, bits: int) -> Path:
    """A grayscale PNG of ``bits`` bits per pixel, written by hand (no PIL)."""
    h, w = ids.shape
    rows = []
    for r in range(h):
        acc, n, row = 0, 0, bytearray()
        for v in ids[r]:
            acc = (acc << bits) | int(v)
            n += bits
            if n == 8:
                row.append(acc)
                acc, n = 0, 0
        if n:
            row.append(acc << (8 - n))
        rows.append(b"\0" + bytes(row))
    ihdr = struct.pack(">IIBBBBB", w, h, bits, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + _chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_low_bit_grayscale_labels_are_the_stored_ids(tmp_path, capsys, bits):
    ids = (np.arange(12 * 16).reshape(12, 16) % min(2**bits, 12)).astype(np.uint8)  # camvid: 0..11
    _gray_png(tmp_path / "gt" / "x.png", ids, bits)
    _png(tmp_path / "pred" / "x.png", ids)  # the same ids, 8-bit
    js = tmp_path / "m.json"
    assert main(["evaluate", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), "--json", str(js)]) == 0, (
        capsys.readouterr().err
    )
    res = json.loads(js.read_text())
    assert res["pixel_accuracy"] == pytest.approx(1.0)
    # and through degrade (stride 1 copies): the written ids are the stored ones
    assert main(["degrade", "--labels", str(tmp_path / "gt"), "--out", str(tmp_path / "d"), "--stride", "1"]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "d" / "x.png")), ids)


# --- tracebacks and memory: broken .npz ------------------------------------------------------


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _npy_header_only(shape, dtype="<f4") -> bytes:
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {tuple(shape)}, }}"
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")


def _lie_about_size(path: Path, size: int) -> None:
    """Patch a stored zip's declared uncompressed size (central directory and local header)."""
    data = bytearray(path.read_bytes())
    for sig, off in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        i = data.find(sig)
        data[i + off : i + off + 4] = struct.pack("<I", size)
    path.write_bytes(bytes(data))


BAD_NPZ = {
    "member not .npy": (
        {"offsets.npy": _npy(np.zeros((2, 12, 16), np.int8)), "notes.txt": b"hello"},
        "member 'notes.txt' is not a .npy array",
    ),
    "format_version string": (
        {"format_version.npy": _npy(np.array("1")), "offsets.npy": _npy(np.zeros((2, 12, 16), np.int8))},
        "'format_version' must be an integer",
    ),
    "format_version NaN": (
        {"format_version.npy": _npy(np.float32("nan")), "offsets.npy": _npy(np.zeros((2, 12, 16), np.int8))},
        "'format_version' must be an integer",
    ),
    "format_version complex": (
        {"format_version.npy": _npy(np.complex64(1j)), "offsets.npy": _npy(np.zeros((2, 12, 16), np.int8))},
        "'format_version' must be an integer",
    ),
    "10^12 elements": (
        {
            "boundary.npy": _npy_header_only((1_000_000, 1_000_000)),
            "direction.npy": _npy_header_only((8, 1_000_000, 1_000_000)),
        },
        "declares",
    ),
    "pickled member": (
        {"offsets.npy": _npy(np.array([{"a": 1}], dtype=object))},
        "refused: it would run code (pickled objects in an offsets file are never loaded)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_NPZ))
def test_broken_npz_is_one_line_and_the_batch_goes_on(tmp_path, capsys, case):
    preds, offs = _refine_set(tmp_path)
    (offs / "a.npz").unlink()
    members, expect = BAD_NPZ[case]
    _npz(offs / "a.npz", members)
    out = tmp_path / "out"
    assert _refine(preds, offs, out) == 2
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {offs / 'a.npz'}: ") and expect in err, err
    assert (out / "b.png").exists() and not (out / "a.png").exists()


def test_declared_size_is_refused_from_the_header_without_loading(tmp_path, capsys, monkeypatch):
    """A small .npz whose member declares 30000×30000 float32 (3.6 GB): refused before loading."""
    preds, offs = _refine_set(tmp_path)
    (offs / "a.npz").unlink()
    header = _npy_header_only((30000, 30000))
    path = _npz(
        offs / "a.npz",
        {"boundary.npy": header + b"\0" * 1000, "direction.npy": _npy(np.zeros((8, 1, 1), np.float16))},
        stored=True,
    )
    _lie_about_size(path, len(header) + 30000 * 30000 * 4)  # the zip says the data is all there
    assert zipfile.ZipFile(path).infolist()[0].file_size == len(header) + 30000 * 30000 * 4
    real_load = np.load

    def load(file, *a, **k):
        assert Path(file).name != "a.npz", "the oversized file was loaded"
        return real_load(file, *a, **k)

    monkeypatch.setattr(np, "load", load)
    out = tmp_path / "out"
    assert _refine(preds, offs, out) == 2
    (err,) = _errors(capsys)
    assert "a.npz: 'boundary' declares a 30000×30000 field, more than the 268,435,456 pixels" in err
    assert (out / "b.png").exists()


# --- decompression bombs ------------------------------------------------------------------------


def _bomb(path: Path, w=30000, h=30000) -> Path:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + _chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize("size", [(30000, 30000), (20000, 20000)])  # over 2× and over 1× the limit
def test_png_bomb_is_one_line_in_refine(tmp_path, capsys, size):
    preds, offs = _refine_set(tmp_path)
    _bomb(preds / "a.png", *size)
    out = tmp_path / "out"
    assert _refine(preds, offs, out) == 2
    (err,) = _errors(capsys)
    assert err == (
        f"segfix: error: {preds / 'a.png'}: the image declares more than 268,435,456 "
        "pixels, the most this program reads (a damaged or hostile file?)"
    )
    assert (out / "b.png").exists()


@pytest.mark.parametrize("pil_limit", [None, 89_478_485, 1000])
def test_the_pixel_limit_is_ours_whatever_pils_is(tmp_path, monkeypatch, pil_limit):
    """PIL's decompression-bomb limit is a process-wide setting that importing this package
    leaves alone; reading applies our limit (2**28) whatever it is, and restores it."""
    from segfix_gui.errors import InputError
    from segfix_gui.io.images import open_image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pil_limit)
    # 14000×14000 = 196 M pixels: above PIL's default refusal (2 × 89 M), below ours
    with pytest.raises(InputError, match="cannot read image") as err:
        open_image(_bomb(tmp_path / "big.png", 14000, 14000))
    assert "declares more" not in str(err.value)
    with pytest.raises(InputError, match="declares more than 268,435,456 pixels"):
        open_image(_bomb(tmp_path / "bomb.png", 20000, 20000))
    assert Image.MAX_IMAGE_PIXELS == pil_limit
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(small)  # 1,600 pixels, above 1000
    assert open_image(small).size == (40, 40)


def test_png_bomb_as_an_instance_mask_is_one_line(tmp_path, capsys):
    from segfix_gui.errors import InputError
    from segfix_gui.io.instances import read_mask

    with pytest.raises(InputError, match="declares more than 268,435,456 pixels"):
        read_mask(_bomb(tmp_path / "m.png"))
    # through the command: a _pred.txt naming the bomb as its mask
    inp = tmp_path / "in"
    _bomb(inp / "masks" / "m0.png")
    (inp / "x_leftImg8bit_pred.txt").write_text("masks/m0.png 26 0.9\n")
    _hard_npz(tmp_path / "off" / "x.npz", np.zeros((2, 12, 16), np.int8))
    assert (
        main(
            [
                "refine-instances",
                "--input",
                str(inp),
                "--offset",
                str(tmp_path / "off"),
                "--out",
                str(tmp_path / "out"),
                "--device",
                "cpu",
            ]
        )
        == 2
    )
    (err,) = _errors(capsys)
    assert "declares more than 268,435,456 pixels" in err


# --- outputs that cannot be written; unexpected errors ------------------------------------------


def test_output_whose_parent_is_a_file_is_that_files_error(tmp_path, capsys):
    preds, offs = _refine_set(tmp_path, names=("b",))
    _png(preds / "sub" / "a.png", _labels())
    _hard_npz(offs / "sub" / "a.npz", np.zeros((2, 12, 16), np.int8))
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").write_text("a file where a folder would go")
    assert _refine(preds, offs, out) == 2
    (err,) = _errors(capsys)[:1]
    assert err == f"segfix: error: {out / 'sub' / 'a.png'}: cannot write: a parent folder is a file"
    assert (out / "b.png").exists()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_disk_full_or_read_only_is_that_files_error(tmp_path, capsys, monkeypatch, code):
    preds, offs = _refine_set(tmp_path)
    real = os.replace

    def replace(src, dst, *a, **k):
        if Path(dst).name == "a.png":
            raise OSError(code, os.strerror(code))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)
    out = tmp_path / "out"
    assert _refine(preds, offs, out) == 2
    errs = _errors(capsys)
    assert errs[0] == f"segfix: error: {out / 'a.png'}: cannot write: {os.strerror(code)}"
    assert (out / "b.png").exists() and not (out / "a.png").exists()
    assert [p.name for p in out.iterdir()] == ["b.png"]  # no temporary file left behind


def test_evaluate_json_naming_a_folder(tmp_path, capsys):
    _png(tmp_path / "gt" / "x.png", _labels())
    _png(tmp_path / "pred" / "x.png", _labels())
    (tmp_path / "js").mkdir()
    assert (
        main(
            ["evaluate", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), "--json", str(tmp_path / "js")]
        )
        == 2
    )
    assert _errors(capsys) == [f"segfix: error: {tmp_path / 'js'}: cannot write: is a folder"]


def test_any_unexpected_error_is_that_files_line(tmp_path, capsys, monkeypatch):
    import segfix_gui.core.refine as core_refine

    preds, offs = _refine_set(tmp_path, names=("a", "b", "c"))
    real = core_refine.refine_labels
    calls = []

    def flaky(labels, offsets, **k):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom\nsecond line")
        return real(labels, offsets, **k)

    monkeypatch.setattr(core_refine, "refine_labels", flaky)
    out = tmp_path / "out"
    assert _refine(preds, offs, out) == 2
    captured = capsys.readouterr().err
    assert f"segfix: error: {preds / 'b.png'}: unexpected error (RuntimeError: boom second line)" in captured
    assert "1 failed" in captured and "2 refined label maps written" in captured
    assert (out / "a.png").exists() and (out / "c.png").exists()


def test_stale_output_of_a_file_that_now_fails_is_removed(tmp_path, capsys):
    gt = tmp_path / "gt"
    _png(gt / "a.png", _labels())
    _png(gt / "b.png", _labels())
    out = tmp_path / "out"
    assert main(["degrade", "--labels", str(gt), "--out", str(out)]) == 0
    (gt / "a.png").write_bytes(b"not a png any more")
    capsys.readouterr()
    assert main(["degrade", "--labels", str(gt), "--out", str(out)]) == 2
    (err,) = _errors(capsys)
    assert err.endswith(f"(the output of an earlier run, {out / 'a.png'}, was removed)")
    assert not (out / "a.png").exists() and (out / "b.png").exists()


# --- pairing across sub-folders; symlinks -------------------------------------------------------


def test_mirrored_sub_folders_pair_by_relative_path(tmp_path, capsys):
    preds, offs = tmp_path / "preds", tmp_path / "offsets"
    _png(preds / "a" / "x.png", _labels())
    _png(preds / "b" / "x.png", _labels())
    _hard_npz(offs / "a" / "x.npz", np.zeros((2, 12, 16), np.int8))
    down = np.zeros((2, 12, 16), np.int8)
    down[1] = 1  # every pixel takes the label one column right
    _hard_npz(offs / "b" / "x.npz", down)
    out = tmp_path / "out"
    assert _refine(preds, offs, out) == 0, capsys.readouterr().err
    assert np.array_equal(np.asarray(Image.open(out / "a" / "x.png")), _labels())
    assert not np.array_equal(np.asarray(Image.open(out / "b" / "x.png")), _labels())


def test_same_name_in_two_sub_folders_never_shares_one_offsets_file(tmp_path, capsys):
    preds, offs = tmp_path / "preds", tmp_path / "offsets"
    _png(preds / "a" / "x.png", _labels())
    _png(preds / "b" / "x.png", _labels())
    _png(preds / "y.png", _labels())
    _hard_npz(offs / "x.npz", np.zeros((2, 12, 16), np.int8))
    _hard_npz(offs / "y.npz", np.zeros((2, 12, 16), np.int8))
    out = tmp_path / "out"
    assert _refine(preds, offs, out) == 2
    errs = _errors(capsys)
    assert len(errs) == 2 and all(
        f"2 inputs of this name in different sub-folders would share {offs / 'x.npz'}" in e for e in errs
    )
    assert (out / "y.png").exists() and not (out / "a").exists()


def test_symlinked_sub_folders_are_followed_once(tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    _png(elsewhere / "x.png", _labels())
    gt = tmp_path / "gt"
    _png(gt / "y.png", _labels())
    (gt / "linked").symlink_to(elsewhere, target_is_directory=True)
    (gt / "loop").symlink_to(gt, target_is_directory=True)
    out = tmp_path / "out"
    assert main(["degrade", "--labels", str(gt), "--out", str(out)]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == ["linked/x.png", "y.png"]


# --- label-space specs ---------------------------------------------------------------------------

GOOD_CLASS = {"id": 0, "name": "sky", "color": [1, 2, 3]}
BAD_SPECS = {
    "classes a dict": ('{"classes": {"0": "sky"}}', "'classes' must be a list"),
    "classes strings": ('{"classes": ["sky", "road"]}', "classes[0] must be an object"),
    "id Infinity": (
        '{"classes": [{"id": Infinity, "name": "sky", "color": [1, 2, 3]}]}',
        "classes[0]: id must be an integer 0..65535, not Infinity",
    ),
    "train_id 300": (
        json.dumps({"classes": [{**GOOD_CLASS, "train_id": 300}]}),
        "classes[0] (id 0, 'sky'): train_id 300 is out of range (0..255)",
    ),
    "train_id -1": (
        json.dumps({"classes": [{**GOOD_CLASS, "train_id": -1}]}),
        "classes[0] (id 0, 'sky'): train_id -1 is out of range",
    ),
    "deep nesting": ('{"classes": ' + "[" * 200000 + "]" * 200000 + "}", "nested too deeply"),
    "all ignored": (json.dumps({"classes": [{**GOOD_CLASS, "ignore": True}]}), "every class is ignored"),
    "ignore string": (
        json.dumps({"classes": [{**GOOD_CLASS, "ignore": "false"}]}),
        "classes[0] (id 0, 'sky'): ignore must be true or false, not \"false\"",
    ),
}


@pytest.mark.parametrize("case", list(BAD_SPECS))
def test_bad_label_space_spec_is_one_line_naming_file_and_entry(tmp_path, capsys, case):
    text, expect = BAD_SPECS[case]
    spec = tmp_path / "space.json"
    spec.write_text(text)
    _png(tmp_path / "gt" / "x.png", _labels())
    for argv in (
        ["evaluate", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "gt")],
        ["refine", "--input", str(tmp_path / "gt"), "--offset", str(tmp_path), "--out", str(tmp_path / "out")],
    ):
        assert main([*argv, "--label-space", str(spec)]) == 2
        (err,) = _errors(capsys)
        assert err.startswith(f"segfix: error: {spec}: ") and expect in err, err


# --- hostile checkpoints and weights -----------------------------------------------------------


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def _evil_pt(path: Path) -> Path:
    import torch

    torch.save({"state": _Evil()}, path)
    return path


def test_malicious_weights_refused_in_our_words(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(DEMO / "image.jpg", images / "x.jpg")
    evil = _evil_pt(tmp_path / "evil.pt")
    assert (
        main(
            [
                "predict-offsets",
                "--images",
                str(images),
                "--out",
                str(tmp_path / "o"),
                "--weights",
                str(evil),
                "--device",
                "cpu",
            ]
        )
        == 2
    )
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {evil}: refused: it would run code (")
    assert err.endswith("only tensors and plain containers are ever read") or err.endswith("are ever read)")


needs_camvid = pytest.mark.skipif(not (CAMVID / "train").is_dir(), reason="shared CamVid not found")


@pytest.mark.parametrize("kind", ["malicious", "foreign", "not torch"])
def test_train_resume_with_a_bad_checkpoint_is_one_line(tmp_path, capsys, kind):
    import torch

    run = tmp_path / "run"
    run.mkdir()
    ckpt = run / "last.pt"
    if kind == "malicious":
        _evil_pt(ckpt)
    elif kind == "foreign":
        torch.save({"epoch": 3, "weights": torch.zeros(2)}, ckpt)
    else:
        ckpt.write_bytes(b"junk")
    data = tmp_path / "data"
    data.mkdir()
    assert main(["train", "--data", str(data), "--out", str(run), "--resume", "--device", "cpu"]) == 2
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {ckpt}: ")
    assert {
        "malicious": "refused: it would run code",
        "foreign": "not a segfix training checkpoint",
        "not torch": "not a readable training checkpoint",
    }[kind] in err


@needs_camvid
def test_train_with_malicious_imagenet_weights_is_one_line(tmp_path, capsys):
    evil = _evil_pt(tmp_path / "evil.pt")
    assert (
        main(
            [
                "train",
                "--data",
                str(CAMVID),
                "--out",
                str(tmp_path / "run"),
                "--device",
                "cpu",
                "--imagenet-weights",
                str(evil),
                "--epochs",
                "1",
                "--train-limit",
                "1",
                "--val-limit",
                "1",
            ]
        )
        == 2
    )
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {evil}: refused: it would run code")


# --- the window ------------------------------------------------------------------------------------


def test_window_start_with_a_bad_label_space_is_one_line(tmp_path, capsys, qtbot):
    from segfix_gui.gui.app import main as gui_main

    spec = tmp_path / "space.json"
    spec.write_text(BAD_SPECS["train_id 300"][0])
    assert (
        gui_main(
            [
                "--pred",
                str(DEMO / "prediction.png"),
                "--offsets",
                str(DEMO / "offsets.npz"),
                "--label-space",
                str(spec),
                "--screenshot",
                str(tmp_path / "s.png"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip() == (f"segfix-gui: error: {spec}: not a valid label space spec: {BAD_SPECS['train_id 300'][1]}")


@pytest.mark.parametrize("what", ["npz", "bomb", "space"])
def test_window_shows_one_message_naming_the_file(tmp_path, open_window, dialogs, qtbot, what):
    from segfix_gui.io.samples import SamplePaths

    w = open_window()
    pred, offsets, space = str(DEMO / "prediction.png"), str(DEMO / "offsets.npz"), "camvid"
    if what == "npz":
        members, expect = BAD_NPZ["format_version string"]
        offsets = str(_npz(tmp_path / "o.npz", members))
        bad = offsets
    elif what == "bomb":
        pred = bad = str(_bomb(tmp_path / "p.png"))
        expect = "declares more than 268,435,456 pixels"
    else:
        spec = tmp_path / "space.json"
        spec.write_text(BAD_SPECS["ignore string"][0])
        space = bad = str(spec)
        expect = "ignore must be true or false"
    try:
        w.open_paths(SamplePaths(pred=pred, offsets=offsets), space)
    except Exception as err:  # noqa: BLE001 - a synchronous refusal must not raise either
        pytest.fail(f"open_paths raised {err!r}")
    qtbot.waitUntil(lambda: len(dialogs) > 0, timeout=20000)
    assert dialogs[0].startswith(f"{bad}: ") and expect in dialogs[0]


# --- issue 19: inputs are never written or removed; outputs only inside --out --------------------
#
# Every file written or removed goes through one guard (io.atomic.OutputGuard) that checks its
# real path: links inside --out can lead neither into an input folder nor out of --out, a report
# file never lands on an input, and two inputs never share one output.


def _dir_link(link: Path, target: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(target, link.parent), target_is_directory=True)
    return link


def _moving_npz(path: Path) -> Path:
    """Hard offsets that move every label 3 columns: the refinement differs from its input."""
    off = np.zeros((2, 12, 16), np.int8)
    off[1] = 3
    return _hard_npz(path, off)


def _instance_pred(txt: Path, shape=(12, 16)) -> Path:
    """``txt`` listing one car mask ``masks/<stem>.png`` beside it."""
    mask = np.zeros(shape, np.uint8)
    mask[2:8, 3:12] = 255
    _png(txt.parent / "masks" / f"{txt.stem}.png", mask)
    txt.write_text(f"masks/{txt.stem}.png 26 0.9\n")
    return txt


@pytest.mark.parametrize("command", ["refine", "degrade"])
def test_out_sub_folder_linked_into_the_input_loses_nothing(tmp_path, capsys, command):
    # out/a -> ../in/a: x.png was overwritten by its own output, and y.png (which fails) was
    # deleted as "the output of an earlier run"
    inp, offs, out = tmp_path / "in", tmp_path / "offsets", tmp_path / "out"
    for name in ("a/x.png", "c/v.png", "c/w.png"):  # c/: fine, run by two worker processes
        _png(inp / name, _labels())
        _moving_npz((offs / name).with_suffix(".npz"))
    if command == "refine":
        _png(inp / "a" / "y.png", _labels())  # no offsets: fails
        argv = ["refine", "--input", str(inp), "--offset", str(offs), "--out", str(out), "--device", "cpu"]
    else:
        (inp / "a" / "y.png").write_bytes(b"not a png")  # fails
        argv = ["degrade", "--labels", str(inp), "--out", str(out), "--stride", "4"]
    _dir_link(out / "a", inp / "a")
    before = _tree(inp)
    assert main([*argv, "--workers", "2"]) == 2
    errs = _errors(capsys)
    assert _tree(inp) == before
    assert sorted(p.name for p in (out / "c").iterdir()) == ["v.png", "w.png"]
    real_out = Path(os.path.realpath(out))
    for name in ("x.png", "y.png"):
        line = f"segfix: error: {real_out / 'a' / name}: refused: it is inside the input folder {inp} (real path "
        assert any(e.startswith(line) for e in errs), errs


def _outside_case(tmp_path, command):
    """Inputs in in/sub/ for ``command``, and its argv writing to out/."""
    inp, offs, out = tmp_path / "in", tmp_path / "offsets", tmp_path / "out"
    if command == "predict-offsets":
        (inp / "sub").mkdir(parents=True)
        shutil.copy(DEMO / "image.jpg", inp / "sub" / "x.jpg")
        return ["predict-offsets", "--images", str(inp), "--out", str(out), "--device", "cpu"]
    _hard_npz(offs / "sub" / "x.npz", np.zeros((2, 12, 16), np.int8))
    if command == "refine-instances":
        (inp / "sub").mkdir(parents=True)
        _instance_pred(inp / "sub" / "x_pred.txt")
        return ["refine-instances", "--input", str(inp), "--offset", str(offs), "--out", str(out), "--device", "cpu"]
    _png(inp / "sub" / "x.png", _labels())
    if command == "refine":
        return ["refine", "--input", str(inp), "--offset", str(offs), "--out", str(out), "--device", "cpu"]
    return [command, "--labels", str(inp), "--out", str(out)]


@pytest.mark.parametrize("command", ["refine", "degrade", "gt-offsets", "predict-offsets", "refine-instances"])
def test_outputs_never_leave_out_through_a_linked_sub_folder(tmp_path, capsys, command):
    # out/sub -> ../elsewhere: outputs were written into elsewhere/
    argv = _outside_case(tmp_path, command)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _dir_link(tmp_path / "out" / "sub", elsewhere)
    assert main(argv) == 2
    (err,) = _errors(capsys)
    real_out = Path(os.path.realpath(tmp_path / "out"))
    assert err.startswith(f"segfix: error: {real_out / 'sub'}")
    assert f": refused: it is outside the output folder {tmp_path / 'out'} (real path {elsewhere}" in err
    assert list(elsewhere.iterdir()) == []


def test_report_files_never_land_on_an_input(tmp_path, capsys):
    gt, pred, offs = tmp_path / "gt", tmp_path / "pred", tmp_path / "offsets"
    _png(gt / "x.png", _labels())
    _png(pred / "x.png", _labels())
    _hard_npz(offs / "x.npz", np.zeros((2, 12, 16), np.int8))
    sweep_pred = tmp_path / "sweep_pred"  # z.png has no ground truth: it is not swept, but an input
    _png(sweep_pred / "x.png", _labels())
    _png(sweep_pred / "z.png", _labels())
    ipred, igt = tmp_path / "ipred", tmp_path / "igt"
    ipred.mkdir()
    _instance_pred(ipred / "x_pred.txt")
    _png(igt / "x_gtFine_instanceIds.png", np.full((12, 16), 7, np.uint16))
    link = tmp_path / "report.json"
    link.symlink_to(gt / "x.png")
    before = _tree(tmp_path)
    evaluate = ["evaluate", "--gt", str(gt), "--pred", str(pred)]
    sweep = ["sweep", "--gt", str(gt), "--pred", str(sweep_pred), "--offsets", str(offs)]
    sweep += ["--thresholds", "0.5", "--scales", "1"]
    cases = [
        (evaluate + ["--json", str(gt / "x.png")], gt / "x.png"),
        (evaluate + ["--json", str(link)], link),
        (evaluate + ["--json", str(pred / "metrics.json")], pred / "metrics.json"),  # among the inputs
        (["evaluate-instances", "--gt", str(igt), "--pred", str(ipred), "--json", str(ipred / "x_pred.txt")], None),
        (sweep + ["--csv", str(sweep_pred / "z.png")], sweep_pred / "z.png"),
        (sweep + ["--plot", str(sweep_pred / "z.png")], sweep_pred / "z.png"),
        (sweep + ["--plot", str(offs / "plot.png")], offs / "plot.png"),
    ]
    for argv, target in cases:
        assert main(argv) == 2, argv
        errs = _errors(capsys)
        target = target or ipred / "x_pred.txt"
        assert errs[-1].startswith(f"segfix: error: {target}: refused: it is inside the input folder"), errs
        assert _tree(tmp_path) == before


@pytest.mark.parametrize("broken", [False, True])
def test_two_inputs_of_one_output_are_both_refused(tmp_path, capsys, broken):
    # x.png and x.PNG both went to out/x.npz; when x.PNG failed, x.png's fresh output was
    # removed as "an earlier run's"
    gt, out = tmp_path / "gt", tmp_path / "out"
    _png(gt / "x.png", _labels())
    if broken:
        (gt / "x.PNG").write_bytes(b"not a png")
    else:
        _png(gt / "x.PNG", _labels(ids=(3, 4)))
    assert main(["gt-offsets", "--labels", str(gt), "--out", str(out)]) == 2
    errs = _errors(capsys)
    real = Path(os.path.realpath(out)) / "x.npz"
    assert sorted(errs) == [
        f"segfix: error: {gt / 'x.PNG'}: refused: {gt / 'x.png'} would be written to the same output {real}: "
        "rename one of them",
        f"segfix: error: {gt / 'x.png'}: refused: {gt / 'x.PNG'} would be written to the same output {real}: "
        "rename one of them",
    ]
    assert not real.exists()


def test_two_inputs_meeting_through_a_link_inside_out_are_both_refused(tmp_path, capsys):
    preds, offs = tmp_path / "preds", tmp_path / "offsets"
    for sub in ("a", "b"):
        _png(preds / sub / "x.png", _labels())
        _moving_npz(offs / sub / "x.npz")
    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    _dir_link(out / "b", out / "a")  # out/b/x.png is out/a/x.png
    assert _refine(preds, offs, out) == 2
    errs = _errors(capsys)
    assert len(errs) == 2 and all("would be written to the same output" in e for e in errs)
    assert f"{preds / 'a' / 'x.png'}: refused: {preds / 'b' / 'x.png'}" in errs[0]
    assert list((out / "a").iterdir()) == []


def test_predict_offsets_refuses_both_inputs_of_one_output(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(DEMO / "image.jpg", images / "x.jpg")
    shutil.copy(DEMO / "image.jpg", images / "x.png")
    out = tmp_path / "o"
    assert main(["predict-offsets", "--images", str(images), "--out", str(out), "--device", "cpu"]) == 2
    errs = _errors(capsys)
    assert len(errs) == 2 and all("would be written to the same output" in e for e in errs)
    assert not out.exists() or list(out.iterdir()) == []


def test_train_never_writes_through_a_link_into_its_data(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    victim = data / "notes.txt"
    victim.write_text("keep me")
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").symlink_to(victim)  # the log was opened for writing through the link
    assert main(["train", "--data", str(data), "--out", str(run), "--no-pretrained", "--device", "cpu"]) == 2
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {run / 'log.csv'}: refused: it is inside the input folder {data}")
    assert victim.read_text() == "keep me"


def test_window_screenshot_onto_an_input_is_refused(tmp_path, capsys, qtbot):
    from segfix_gui.gui.app import main as gui_main
    from segfix_gui.io.images import read_labels, write_labels
    from segfix_gui.labels import get_label_space

    pred, offsets = tmp_path / "x.png", tmp_path / "x.npz"
    shutil.copy(DEMO / "prediction.png", pred)
    shutil.copy(DEMO / "offsets.npz", offsets)
    link = tmp_path / "shot.png"
    link.symlink_to(pred)
    s = tmp_path / "set"
    for sub in ("preds", "offsets"):
        (s / sub).mkdir(parents=True)
    space = get_label_space("camvid")
    for n in ("a", "b"):
        write_labels(s / "preds" / f"{n}.png", read_labels(DEMO / "prediction.png", space))
        shutil.copy(DEMO / "offsets.npz", s / "offsets" / f"{n}.npz")
    before = _tree(tmp_path)
    single = ["--pred", str(pred), "--offsets", str(offsets)]
    for argv, target in (
        (single, pred),
        (single, offsets),
        (single, link),
        (["--folder", str(s)], s / "preds" / "b.png"),  # another sample of the set
        (["--folder", str(s)], s / "preds" / "new.png"),  # would join the set's predictions
        (["--pred", str(s / "preds"), "--offsets", str(s / "offsets")], s / "offsets" / "a.npz"),
    ):
        assert gui_main([*argv, "--screenshot", str(target)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert err.count("\n") == 1 and err.startswith(f"segfix-gui: error: {target}: refused: it is "), err
        assert _tree(tmp_path) == before
