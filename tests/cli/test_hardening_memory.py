"""Bounded memory, whatever a file claims (issue 19, items 14-21).

Every refusal here is decided from headers and declared sizes: the files are small, crafted
to declare what a hostile one would, and nothing large is ever allocated. The peaks the real
hostile files reach are measured by ``benchmarks/memory_peak.py`` (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from kit import errors as _errors
from kit import npz as _npz
from kit import png as _png

from segfix_gui.cli import main
from segfix_gui.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


@pytest.fixture
def no_array_loads(monkeypatch):
    """Fail the test if any array data is loaded: the refusal must come from the headers."""

    def refuse(*_a, **_k):
        raise AssertionError("array data was loaded before the refusal")

    monkeypatch.setattr(np, "load", refuse)
    import scipy.io

    monkeypatch.setattr(scipy.io, "loadmat", refuse)


# --- 14. .npz: every dimension of every member counts ----------------------------------------

LEADING = {
    "boundary with a leading dimension": (
        {"boundary.npy": np.zeros((3, 12, 16), np.float16), "direction.npy": np.zeros((8, 12, 16), np.float16)},
        "'boundary' must be H×W, found shape (3, 12, 16)",
    ),
    "direction with two leading dimensions": (
        {"boundary.npy": np.zeros((12, 16), np.float16), "direction.npy": np.zeros((2, 8, 12, 16), np.float16)},
        "'direction' must be (K, H, W), found shape (2, 8, 12, 16)",
    ),
    "offsets with a leading dimension": (
        {"offsets.npy": np.zeros((5, 2, 12, 16), np.int8)},
        "'offsets' must be (2, H, W), found shape (5, 2, 12, 16)",
    ),
    "a wide scalar": (
        {"format_version.npy": np.array(b"1" * 64, "S64"), "offsets.npy": np.zeros((2, 12, 16), np.int8)},
        "'format_version' must be a single number, found |S64",
    ),
    "16-byte numbers": (
        {"boundary.npy": np.zeros((12, 16), np.complex128), "direction.npy": np.zeros((8, 12, 16), np.float16)},
        "'boundary' must hold numbers of at most 8 bytes, found complex128",
    ),
}


@pytest.mark.parametrize("case", LEADING)
def test_npz_members_are_sized_by_every_dimension_before_loading(tmp_path, capsys, no_array_loads, case):
    members, problem = LEADING[case]
    _png(tmp_path / "preds" / "a.png", np.zeros((12, 16)))
    off = _npz(tmp_path / "offsets" / "a.npz", {k: _npy(v) for k, v in members.items()})
    argv = ["refine", "--input", str(tmp_path / "preds"), "--offset", str(tmp_path / "offsets")]
    assert main([*argv, "--out", str(tmp_path / "out"), "--device", "cpu"]) == 2
    assert _errors(capsys) == [f"segfix: error: {off}: {problem}"]
    assert not list((tmp_path / "out").rglob("*.png"))


# --- 15. .mat: the variables needed only, their shapes checked first --------------------------


def test_mat_third_dimension_is_checked_before_loading(tmp_path, no_array_loads):
    from scipy.io import savemat

    from segfix_gui.io.offsets import read_offsets

    path = tmp_path / "x.mat"
    savemat(path, {"mat": np.zeros((12, 16, 5), np.int8)})
    with pytest.raises(InputError, match=r"'mat' must be H×W×2, found shape \(12, 16, 5\)"):
        read_offsets(path)
    savemat(path, {"depth": np.zeros((2, 12, 16), np.uint8), "dir_deg": np.zeros((12, 16), np.uint8)})
    with pytest.raises(InputError, match=r"'depth' must be H×W, found shape \(2, 12, 16\)"):
        read_offsets(path)
    savemat(path, {"depth": np.zeros((12, 16), np.uint8), "dir_deg": np.zeros((12, 16)), "deg_reduce": np.zeros(3)})
    with pytest.raises(InputError, match=r"'deg_reduce' must be one positive number, found shape \(1, 3\)"):
        read_offsets(path)
    savemat(path, {"mat": np.array([["a", "cell"]], object)})
    with pytest.raises(InputError, match="'mat' must hold numbers, found a MATLAB"):
        read_offsets(path)


def test_mat_reads_only_the_variables_it_needs(tmp_path, monkeypatch):
    import scipy.io
    from scipy.io import savemat

    from segfix_gui.io.offsets import read_offsets

    asked = []
    real = scipy.io.loadmat

    def spy(path, **kw):
        asked.append(kw.get("variable_names"))
        return real(path, **kw)

    monkeypatch.setattr(scipy.io, "loadmat", spy)
    path = tmp_path / "x.mat"
    savemat(path, {"mat": np.ones((12, 16, 2), np.int8), "extra": np.zeros((40, 40)), "depth": np.zeros((3, 3))})
    field = read_offsets(path)
    assert field.hard is not None and field.hard.shape == (2, 12, 16)
    savemat(path, {"depth": np.ones((12, 16), np.uint8), "dir_deg": np.zeros((12, 16), np.uint8), "junk": 1.0})
    read_offsets(path)
    assert asked == [["mat"], ["depth", "dir_deg"]]


# --- 16. checkpoints: refused by their declared (inflated) size -------------------------------


def _deflated_weights(path: Path, nbytes: int) -> Path:
    """A ``torch.save`` archive whose tensor member is ``nbytes`` of zeros, deflated: a small
    file that declares ``nbytes`` once inflated (torch's reader inflates such members)."""
    import torch

    buf = io.BytesIO()
    torch.save({"format": "segfix-offset-net", "version": 1, "w": torch.zeros(nbytes, dtype=torch.uint8)}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            deflate = info.filename.rsplit("/", 2)[-2:-1] == ["data"]
            dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED)
    return path


@pytest.fixture
def small_tensor_limit(monkeypatch):
    import segfix_gui.model.predictor as predictor

    monkeypatch.setattr(predictor, "MAX_TENSOR_BYTES", 1 << 20)

    def refuse(*_a, **_k):
        raise AssertionError("torch.load ran before the refusal")

    import torch

    monkeypatch.setattr(torch, "load", refuse)


@pytest.mark.parametrize("option", ["--weights", "--checkpoint"])
def test_deflated_huge_tensor_is_refused_before_it_is_inflated(tmp_path, capsys, small_tensor_limit, option):
    weights = _deflated_weights(tmp_path / "w.pt", 2 << 20)
    assert weights.stat().st_size < 100_000
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(DEMO / "image.jpg", images / "x.jpg")
    argv = ["predict-offsets", "--images", str(images), "--out", str(tmp_path / "o"), option, str(weights)]
    assert main([*argv, "--device", "cpu"]) == 2
    what = "weights file" if option == "--weights" else "checkpoint"
    (err,) = _errors(capsys)
    assert re.fullmatch(
        rf"segfix: error: {re.escape(str(weights))}: declares 2,097,\d{{3}} bytes of tensors once inflated, "
        rf"more than the 1,048,576 a {what} may hold \(a damaged or hostile file\?\)",
        err,
    )
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_training_checkpoint_is_refused_by_its_declared_size(tmp_path, capsys, small_tensor_limit):
    run = tmp_path / "run"
    run.mkdir()
    ckpt = _deflated_weights(run / "last.pt", 2 << 20)
    data = tmp_path / "data"
    data.mkdir()
    assert main(["train", "--data", str(data), "--out", str(run), "--resume", "--device", "cpu"]) == 2
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {ckpt}: declares 2,097,")
    assert err.endswith("more than the 1,048,576 a training checkpoint may hold (a damaged or hostile file?)")


# --- 17. the bundled network runs large images tile by tile -----------------------------------


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    import torch

    from segfix_gui.model.net import build
    from segfix_gui.model.train import save_weights

    torch.manual_seed(0)
    model = build("tiny")
    model.train()
    with torch.no_grad():
        model(torch.rand(2, 3, 64, 64))  # BN statistics off their init
    path = tmp_path_factory.mktemp("w") / "tiny.pt"
    save_weights(path, model.eval())
    return path


def test_tile_windows_cover_each_pixel_once():
    from segfix_gui.model.predictor import tile_windows

    for total in (1, 100, 1024, 1025, 3000, 8192):
        cover = np.zeros(total, int)
        for win, keep in tile_windows(total, 1024, 64):
            assert win.stop - win.start <= 1024 and win.start % 32 == 0
            cover[win][keep] += 1
        assert (cover == 1).all()


def test_tiled_field_equals_the_whole_image_field(tiny_weights):
    """With a halo as wide as the receptive field, the tiled field is the untiled one (at the
    storage precision, bit for bit); small tiles on a small image."""
    from segfix_gui.core.offsets import as_stored
    from segfix_gui.model.predictor import RECEPTIVE_RADIUS, OffsetPredictor, tile_windows

    image = np.random.default_rng(0).integers(0, 256, (72, 1200, 3), dtype=np.uint8)
    whole = OffsetPredictor(tiny_weights, device="cpu", tile=2048, halo=0)
    b, d = whole.probabilities(image[None])
    tiled = OffsetPredictor(tiny_weights, device="cpu", tile=2 * RECEPTIVE_RADIUS + 64, halo=RECEPTIVE_RADIUS)
    assert len(tile_windows(1200, tiled.tile, tiled.halo)) == 19  # cores of 64 columns
    (field,) = tiled.predict_batch([image])
    assert np.array_equal(field.boundary, as_stored(b[0]))
    assert np.array_equal(field.direction, as_stored(d[0]))


def test_images_within_one_tile_run_whole(tiny_weights, monkeypatch):
    from segfix_gui.model.predictor import OffsetPredictor

    pred = OffsetPredictor(tiny_weights, device="cpu", tile=128, halo=32)
    calls = []
    real = pred.probabilities
    monkeypatch.setattr(pred, "probabilities", lambda x: calls.append(x.shape) or real(x))
    pred.predict_batch([np.zeros((96, 128, 3), np.uint8), np.zeros((96, 128, 3), np.uint8)], batch=2)
    assert calls == [(2, 96, 128, 3)]
    calls.clear()
    pred.predict(np.zeros((96, 300, 3), np.uint8))
    assert len(calls) == 5 and all(s[2] <= 128 for s in calls)  # cores of 64 columns


# --- 18-20. options that size the work --------------------------------------------------------


@pytest.mark.parametrize(
    "command", ["refine", "gt-offsets", "evaluate", "evaluate-instances", "refine-instances", "sweep"]
)
def test_workers_have_an_upper_bound(tmp_path, capsys, command):
    argv = {
        "refine": ["refine", "--input", "p", "--offset", "o", "--out", "x"],
        "gt-offsets": ["gt-offsets", "--labels", "p", "--out", "x"],
        "evaluate": ["evaluate", "--gt", "g", "--pred", "p"],
        "evaluate-instances": ["evaluate-instances", "--gt", "g", "--pred", "p"],
        "refine-instances": ["refine-instances", "--input", "p", "--offset", "o", "--out", "x"],
        "sweep": ["sweep", "--gt", "g", "--pred", "p", "--offsets", "o"],
    }[command]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--workers", "10000"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --workers: at most" in err and "not 10000" in err
    from segfix_gui.cli._common import max_workers

    with pytest.raises(SystemExit):
        main([*argv, "--workers", str(max_workers() + 1)])


def test_sweep_grid_product_is_bounded(tmp_path, capsys):
    argv = ["sweep", "--gt", str(tmp_path), "--pred", str(tmp_path), "--offsets", str(tmp_path)]
    grid = ["--thresholds", "0.001:1:0.001", "--scales", "1:64:0.1", "--min-direction-probs", "0.001:1:0.001"]
    assert main([*argv, *grid]) == 2
    assert _errors(capsys) == [
        "segfix: error: --thresholds × --scales × --min-direction-probs: 1,000 thresholds × 631 scales × "
        "1,000 direction confidences make 631,000,000 settings, at most 10,000"
    ]


def test_sweep_counts_are_bounded_by_the_label_space(tmp_path, capsys):
    spec = tmp_path / "many.json"
    classes = [{"id": i, "name": f"c{i}", "color": [i, i, 255 - i]} for i in range(250)]
    spec.write_text(json.dumps({"name": "many", "classes": classes}))
    argv = ["sweep", "--gt", str(tmp_path), "--pred", str(tmp_path), "--offsets", str(tmp_path)]
    assert main([*argv, "--label-space", str(spec), "--thresholds", "0:1:0.01", "--scales", "1:10:1"]) == 2
    (err,) = _errors(capsys)
    assert err.startswith("segfix: error: --thresholds × --scales × --min-direction-probs: 1,010 settings of ")
    assert "at most" in err


def test_gui_size_is_bounded(capsys):
    pytest.importorskip("PySide6")
    from segfix_gui.gui.app import main as gui_main

    for size in ("16000x16000", "100000x100000", "0x100"):
        with pytest.raises(SystemExit) as exc:
            gui_main(["--demo", "--size", size])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith(f"segfix-gui: error: argument --size: {size}: a window is from 1x1 to 7680x4320")


# --- 21. small text files are read with a size limit ------------------------------------------


def test_label_space_spec_is_read_with_a_size_limit(tmp_path, capsys):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * ((1 << 20) + 1))
    argv = ["evaluate", "--gt", str(tmp_path), "--pred", str(tmp_path)]
    assert main([*argv, "--label-space", str(big)]) == 2
    assert _errors(capsys) == [
        f"segfix: error: {big}: is 1,048,577 bytes, more than the 1,048,576 a label space spec may be"
    ]


def test_label_space_spec_that_never_ends_is_refused(tmp_path):
    from segfix_gui.labels import get_label_space

    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputError) as exc:
        get_label_space(link)
    assert str(exc.value).startswith(f"{link}: ")
    assert "\n" not in str(exc.value)


def test_pred_txt_is_read_with_a_size_limit(tmp_path, monkeypatch):
    import segfix_gui.io.instances as instances

    monkeypatch.setattr(instances, "LIST_LIMIT", 1000)
    txt = tmp_path / "x_pred.txt"
    txt.write_text("".join(f"masks/m{i:03d}.png 26 0.9\n" for i in range(100)))  # 2,200 bytes
    with pytest.raises(InputError, match=r"x_pred.txt: is 2,200 bytes, more than the 1,000 a _pred.txt file may"):
        instances.parse_pred_txt(txt)
    txt.write_text("".join(f"masks/m{i:03d}.png 26 0.9\n" for i in range(40)))
    assert len(instances.parse_pred_txt(txt)) == 40


def test_weights_record_is_read_with_a_size_limit(tmp_path):
    from segfix_gui.model.predictor import read_record

    (tmp_path / "w.json").write_bytes(b"{" + b" " * (1 << 20) + b"}")
    with pytest.raises(InputError, match=r"w.json: is 1,048,578 bytes, more than the 1,048,576 a weights record"):
        read_record(tmp_path / "w.pt")
