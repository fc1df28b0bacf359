"""Issue 19, silent wrong results and hangs, through the real command line and the window.

Each case ends in one line naming the file and the problem (``segfix: error: <file>:
<problem>``, exit 2; a dialog in the window), with nothing lost and nothing half-written:
no input file that is not a regular file is ever waited on, a folder that cannot be listed
is never skipped, an interrupted run stops at once and leaves no worker behind.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from kit import errors as _errors
from kit import labels as _labels
from kit import png as _png
from PIL import Image

from segfix_gui.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"


def _hard_npz(path: Path, arr=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, format_version=np.int32(1), offsets=np.zeros((2, 12, 16), np.int8) if arr is None else arr)
    return path


def _moving_npz(path: Path) -> Path:
    """Hard offsets that move every label 3 columns: the refinement differs from its input."""
    off = np.zeros((2, 12, 16), np.int8)
    off[1] = 3
    return _hard_npz(path, off)


def _refine_set(root: Path, names=("a", "b")) -> tuple[Path, Path]:
    for n in names:
        _png(root / "preds" / f"{n}.png", _labels())
        _hard_npz(root / "offsets" / f"{n}.npz")
    return root / "preds", root / "offsets"


def _refine(preds, offs, out, *extra):
    return main(["refine", "--input", str(preds), "--offset", str(offs), "--out", str(out), "--device", "cpu", *extra])


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _instance_pred(txt: Path, masks=("m",), shape=(12, 16)) -> Path:
    """``txt`` listing one car mask ``masks/<name>.png`` per name (the files beside it)."""
    lines = []
    for name in masks:
        m = np.zeros(shape, np.uint8)
        m[2:8, 3:12] = 255
        p = txt.parent / "masks" / f"{name}.png"
        if not p.exists():
            _png(p, m)
        lines.append(f"masks/{name}.png 26 0.9\n")
    txt.parent.mkdir(parents=True, exist_ok=True)
    txt.write_text("".join(lines))
    return txt


# --- item 25: only regular files are read -------------------------------------------------------

REGULAR = "not a regular file: only regular files are read"


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    os.mkfifo(path)
    return path


def _dev_zero(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to("/dev/zero")
    return path


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"), reason="POSIX only")


@needs_fifo
@pytest.mark.parametrize("make", [_fifo, _dev_zero], ids=["fifo", "dev-zero"])
@pytest.mark.parametrize("where", ["prediction", "offsets"])
def test_a_fifo_or_device_as_an_input_is_refused_at_once(tmp_path, capsys, make, where):
    preds, offs = _refine_set(tmp_path, names=("a", "b"))
    bad = make((preds / "b.png") if where == "prediction" else (offs / "b.npz"))
    assert _refine(preds, offs, tmp_path / "out", "--workers", "2") == 2
    (err,) = _errors(capsys)
    kind = "a named pipe (FIFO)" if make is _fifo else "a character device"
    assert err == f"segfix: error: {bad}: is {kind}, {REGULAR}"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


@needs_fifo
@pytest.mark.parametrize("make", [_fifo, _dev_zero], ids=["fifo", "dev-zero"])
def test_a_fifo_or_device_as_the_label_space_is_refused_at_once(tmp_path, capsys, make):
    preds, offs = _refine_set(tmp_path)
    spec = make(tmp_path / "space.json")
    assert _refine(preds, offs, tmp_path / "out", "--label-space", str(spec)) == 2
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {spec}: is a ") and err.endswith(REGULAR)
    assert not (tmp_path / "out").exists()


@needs_fifo
def test_a_fifo_as_a_pred_txt_or_its_mask_is_refused_at_once(tmp_path, capsys):
    inp = tmp_path / "in"
    _instance_pred(inp / "a_pred.txt", masks=("a",))
    _instance_pred(inp / "b_pred.txt", masks=("b",))
    _fifo(inp / "c_pred.txt")
    _fifo(inp / "masks" / "b.png")
    for k in "abc":
        _hard_npz(tmp_path / "offsets" / f"{k}.npz")
    argv = ["--input", str(inp), "--offset", str(tmp_path / "offsets"), "--out", str(tmp_path / "out")]
    assert main(["refine-instances", *argv, "--device", "cpu"]) == 2
    errs = _errors(capsys)
    assert f"segfix: error: {inp / 'c_pred.txt'}: is a named pipe (FIFO), {REGULAR}" in errs
    assert any(
        e.startswith(f"segfix: error: {inp / 'b_pred.txt'}: line 1: mask 'masks/b.png': is a named") for e in errs
    )
    assert (tmp_path / "out" / "a_pred.txt").is_file()


@needs_fifo
@pytest.mark.parametrize("option", ["--weights", "--checkpoint"])
def test_a_fifo_as_weights_is_refused_at_once(tmp_path, capsys, option):
    _png(tmp_path / "images" / "x.png", np.zeros((8, 8, 3), np.uint8))
    w = _fifo(tmp_path / "w.pt")
    argv = ["predict-offsets", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "out"), option, str(w)]
    assert main([*argv, "--device", "cpu"]) == 2
    assert _errors(capsys) == [f"segfix: error: {w}: is a named pipe (FIFO), {REGULAR}"]


@needs_fifo
def test_a_fifo_in_the_window_is_a_dialog(tmp_path, open_window, dialogs, qtbot):
    from segfix_gui.io.samples import SamplePaths

    w = open_window()
    bad = _fifo(tmp_path / "o.npz")
    w.open_paths(SamplePaths(pred=str(DEMO / "prediction.png"), offsets=str(bad)), "camvid")
    qtbot.waitUntil(lambda: len(dialogs) > 0, timeout=20000)
    assert dialogs[0].startswith(f"{bad}: is a named pipe (FIFO), {REGULAR}")  # (opened without it)


# --- item 8: a folder that cannot be listed is never skipped --------------------------------------


@pytest.fixture
def unlistable(monkeypatch):
    """``unlistable(folder)``: listing ``folder`` fails with EACCES, as for a folder without
    read permission (chmod cannot make one for root, who runs some of these tests)."""
    real = os.scandir
    blocked: set[str] = set()

    def scandir(path="."):
        if os.path.realpath(os.fspath(path)) in blocked:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return lambda folder: blocked.add(os.path.realpath(folder))


def test_an_unlistable_sub_folder_is_one_line_not_a_smaller_set(tmp_path, capsys, unlistable):
    preds, offs = _refine_set(tmp_path / "x", names=("a", "b"))
    _png(preds / "c" / "c.png", _labels())
    _hard_npz(offs / "c" / "c.npz")
    unlistable(preds / "c")
    assert _refine(preds, offs, tmp_path / "out") == 2
    assert _errors(capsys) == [
        f"segfix: error: {preds / 'c'}: cannot list this folder (Permission denied): its files would be left out"
    ]
    assert not (tmp_path / "out").exists()


def test_evaluate_never_scores_part_of_a_set(tmp_path, capsys, unlistable):
    for sub in ("a", "b"):
        _png(tmp_path / "gt" / sub / "x.png", _labels())
        _png(tmp_path / "pred" / sub / "x.png", _labels())
    unlistable(tmp_path / "gt" / "b")
    assert main(["evaluate", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred")]) == 2
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {tmp_path / 'gt' / 'b'}: cannot list this folder")
    assert "mIoU" not in capsys.readouterr().out


def test_the_window_says_which_folder_it_cannot_list(tmp_path, open_window, dialogs, qtbot, unlistable):
    preds, offs = _refine_set(tmp_path / "set", names=("a", "b"))
    _png(preds / "c" / "c.png", _labels())
    unlistable(preds / "c")
    w = open_window()
    w.open_set(pred=str(preds), offsets=str(offs), space="camvid")
    qtbot.waitUntil(lambda: len(dialogs) > 0, timeout=20000)
    assert dialogs[0].startswith(f"{preds / 'c'}: cannot list this folder")


# --- item 9: label maps and masks are PNGs --------------------------------------------------------


def _jpeg_named_png(path: Path, arr) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.fromarray(np.asarray(arr, np.uint8)).save(buf, format="JPEG", quality=75)
    path.write_bytes(buf.getvalue())
    return path


def test_a_jpeg_named_png_is_not_a_label_map(tmp_path, capsys):
    preds, offs = _refine_set(tmp_path)
    bad = _jpeg_named_png(preds / "b.png", _labels() * 3)
    assert _refine(preds, offs, tmp_path / "out") == 2
    (err,) = _errors(capsys)
    assert err == (
        f"segfix: error: {bad}: is a JPEG image, not a PNG: label maps must be PNG (lossless, values as stored)"
    )
    gt = tmp_path / "gt"
    _png(gt / "a.png", _labels())
    _jpeg_named_png(gt / "b.png", _labels())
    assert main(["evaluate", "--gt", str(gt), "--pred", str(preds)]) == 2
    errs = _errors(capsys)
    assert any(e.startswith(f"segfix: error: {gt / 'b.png'}: is a JPEG image, not a PNG") for e in errs)


def test_a_jpeg_mask_is_not_an_instance_mask(tmp_path, capsys):
    inp = tmp_path / "in"
    txt = _instance_pred(inp / "a_pred.txt", masks=("a",))
    m = np.zeros((12, 16), np.uint8)
    m[2:8, 3:12] = 255
    _jpeg_named_png(inp / "masks" / "a.png", m)
    _hard_npz(tmp_path / "offsets" / "a.npz")
    argv = ["--input", str(inp), "--offset", str(tmp_path / "offsets"), "--out", str(tmp_path / "out")]
    assert main(["refine-instances", *argv, "--device", "cpu"]) == 2
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {txt}: line 1: mask 'masks/a.png': is a JPEG image, not a PNG")


# --- item 24: the window's screenshot into a folder -----------------------------------------------


@pytest.mark.parametrize("target", [".", "shots/"])
def test_window_screenshot_into_a_folder_is_one_line(tmp_path, capsys, qtbot, monkeypatch, target):
    from segfix_gui.gui.app import main as gui_main

    monkeypatch.chdir(tmp_path)
    argv = ["--pred", str(DEMO / "prediction.png"), "--offsets", str(DEMO / "offsets.npz")]
    assert gui_main([*argv, "--screenshot", target]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (
        err
        == f"segfix-gui: error: {target}: cannot write: is a folder (give the screenshot's file name, e.g. shot.png)\n"
    )
    assert list(tmp_path.iterdir()) == []


# --- items 22, 23: an interrupted batch stops at once and leaves no worker behind -----------------


def _slow_set(root: Path, n: int) -> tuple[Path, Path]:
    """``n`` label maps big enough that two workers take several seconds for them all."""
    rng = np.random.default_rng(0)
    for i in range(n):
        _png(root / "preds" / f"x{i:03d}.png", rng.integers(0, 11, (384, 768)).astype(np.uint8))
        _hard_npz(root / "offsets" / f"x{i:03d}.npz", rng.integers(-1, 2, (2, 384, 768)).astype(np.int8))
    return root / "preds", root / "offsets"


def _segfix(argv, tmp_path) -> subprocess.Popen:
    """``segfix`` in a session of its own (a terminal's Ctrl-C reaches its whole group)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen(
        [sys.executable, "-m", "segfix_gui.cli", *argv],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _live_in_session(sid: int) -> list[int]:
    """Processes of session ``sid`` that still run (zombies waiting to be reaped are not)."""
    live = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            live.append(int(d.name))
    return live


def _wait_for(cond, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
N_SLOW = 48


def _slow_refine(tmp_path) -> tuple[subprocess.Popen, Path]:
    """``segfix refine --workers 2`` started on a slow set of ``N_SLOW`` files; (process, --out)."""
    preds, offs = _slow_set(tmp_path, N_SLOW)
    out = tmp_path / "out"
    argv = ["refine", "--input", str(preds), "--offset", str(offs), "--out", str(out), "--device", "cpu"]
    return _segfix([*argv, "--workers", "2"], tmp_path), out


@needs_proc
@pytest.mark.parametrize("target", ["group", "parent"])
def test_ctrl_c_with_two_workers_stops_the_batch(tmp_path, target):
    proc, out = _slow_refine(tmp_path)
    try:
        assert _wait_for(lambda: out.is_dir() and any(out.iterdir()), 120), proc.communicate()
        if target == "group":  # a terminal's Ctrl-C
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "segfix: interrupted" and "Traceback" not in err
    written = sorted(p.name for p in out.iterdir())
    assert len(written) < N_SLOW // 2  # the queued items were not run after the interrupt
    assert all(not n.startswith(".") for n in written)  # no half-written temporary file
    assert _wait_for(lambda: not _live_in_session(proc.pid), 20), _live_in_session(proc.pid)


@needs_proc
def test_kill_9_of_the_parent_leaves_no_worker_alive(tmp_path):
    proc, out = _slow_refine(tmp_path)
    try:
        assert _wait_for(lambda: out.is_dir() and any(out.iterdir()), 120), proc.communicate()
        assert len(_live_in_session(proc.pid)) > 2  # the parent, its forkserver and workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)  # (its pipes stay open while a worker lives)
        assert _wait_for(lambda: not _live_in_session(proc.pid), 30), _live_in_session(proc.pid)
    finally:
        for pid in _live_in_session(proc.pid):
            os.kill(pid, signal.SIGKILL)
    assert all(not p.name.startswith(".") for p in out.iterdir())  # stopped cleanly: no temporary file


# --- item 12: a label space never merges or drops classes silently -------------------------------


def _spec(path: Path, classes) -> Path:
    path.write_text(json.dumps({"name": "mine", "classes": classes}))
    return path


def _cls(i, name=None, color=None, **extra):
    return {"id": i, "name": name or f"c{i}", "color": color or [i % 256, i // 256, 7], **extra}


@pytest.mark.parametrize(
    "case",
    [
        ("256 classes", [_cls(i) for i in range(256)], "classes[255] (id 255, 'c255'): more than 255 evaluated"),
        ("one colour", [_cls(0, color=[9, 9, 9]), _cls(1, color=[9, 9, 9])], "colour (9, 9, 9) is also classes[0]'s"),
        ("one name", [_cls(0, "car"), _cls(1, "car")], "classes[1] (id 1, 'car'): name 'car' is also classes[0]'s"),
        (
            "colour of ignore",
            [_cls(0, color=[0, 0, 0]), _cls(1, "void", [0, 0, 0], ignore=True)],
            "colour (0, 0, 0) is also classes[0]'s",
        ),
    ],
    ids=lambda c: c[0],
)
def test_a_label_space_that_would_merge_or_drop_classes_is_refused(tmp_path, capsys, case):
    _, classes, expect = case
    preds, offs = _refine_set(tmp_path)
    spec = _spec(tmp_path / "space.json", classes)
    assert _refine(preds, offs, tmp_path / "out", "--label-space", str(spec)) == 2
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {spec}: not a valid label space spec: ") and expect in err, err
    assert not (tmp_path / "out").exists()


def test_classes_sharing_an_evaluation_index_may_share_a_colour_and_name(tmp_path):
    from segfix_gui.labels import get_label_space

    spec = _spec(
        tmp_path / "space.json",
        [
            _cls(0, "car", [1, 2, 3], train_id=0),
            _cls(1, "car", [1, 2, 3], train_id=0),
            _cls(2, "void", [0, 0, 0], ignore=True),
            _cls(3, "void", [0, 0, 0], ignore=True),
            *[_cls(i + 4, train_id=i + 1) for i in range(254)],  # indices up to 254: allowed
        ],
    )
    space = get_label_space(spec)
    assert space.n_classes == 255 and space.names[0] == "car"


# --- items 7, 13: one mask file is one mask -----------------------------------------------------


def test_two_pred_txt_listing_one_mask_are_both_refused(tmp_path, capsys):
    inp, offs, out = tmp_path / "in", tmp_path / "offsets", tmp_path / "out"
    a = _instance_pred(inp / "a_pred.txt", masks=("m",))
    b = _instance_pred(inp / "b_pred.txt", masks=("m",))  # the same masks/m.png
    _instance_pred(inp / "c_pred.txt", masks=("n",))
    _moving_npz(offs / "a.npz")
    for k in "bc":
        _hard_npz(offs / f"{k}.npz")
    argv = ["refine-instances", "--input", str(inp), "--offset", str(offs), "--out", str(out), "--device", "cpu"]
    assert main([*argv, "--workers", "2"]) == 2
    errs = _errors(capsys)
    shared = Path(os.path.realpath(out)) / "masks" / "m.png"
    assert f"segfix: error: {a}: refused: {b} would be written to the same output {shared}: rename one of them" in errs
    assert f"segfix: error: {b}: refused: {a} would be written to the same output {shared}: rename one of them" in errs
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "c_pred.txt",
        "masks/n.png",
    ]


@pytest.mark.parametrize("how", ["symlinked folder", "hard link"])
def test_one_mask_listed_twice_under_two_names_is_refused(tmp_path, capsys, how):
    inp = tmp_path / "in"
    txt = _instance_pred(inp / "a_pred.txt", masks=("m",))
    if how == "symlinked folder":
        (inp / "again").symlink_to("masks", target_is_directory=True)
        other = "again/m.png"
    else:
        os.link(inp / "masks" / "m.png", inp / "masks" / "n.png")
        other = "masks/n.png"
    txt.write_text(f"masks/m.png 26 0.9\n{other} 26 0.8\n")
    _hard_npz(tmp_path / "offsets" / "a.npz")
    argv = ["--input", str(inp), "--offset", str(tmp_path / "offsets"), "--out", str(tmp_path / "out")]
    assert main(["refine-instances", *argv, "--device", "cpu"]) == 2
    assert _errors(capsys) == [
        f"segfix: error: {txt}: line 2: mask '{other}' is the file listed on line 1 ('masks/m.png') under another name"
    ]
    _png(tmp_path / "gt" / "a_gtFine_instanceIds.png", np.full((12, 16), 7, np.uint16))
    assert main(["evaluate-instances", "--gt", str(tmp_path / "gt"), "--pred", str(inp)]) == 2
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {txt}: line 2: mask '{other}' is the file listed on line 1")


# --- item 10: an input that fails now leaves no earlier result behind ------------------------------


def test_refine_instances_removes_an_earlier_runs_output_of_a_failing_input(tmp_path, capsys):
    inp, offs, out = tmp_path / "in", tmp_path / "offsets", tmp_path / "out"
    _instance_pred(inp / "a_pred.txt", masks=("a",))
    _instance_pred(inp / "b_pred.txt", masks=("b",))
    for k in "ab":
        _moving_npz(offs / f"{k}.npz")
    argv = ["refine-instances", "--input", str(inp), "--offset", str(offs), "--out", str(out), "--device", "cpu"]
    assert main(argv) == 0
    capsys.readouterr()
    (offs / "b.npz").write_bytes(b"broken")
    assert main(argv) == 2
    (err,) = _errors(capsys)
    assert err.endswith(f"(the output of an earlier run, {out / 'b_pred.txt'}, was removed)")
    assert (out / "a_pred.txt").is_file() and not (out / "b_pred.txt").exists()


# --- item 11: NaN is never a result ----------------------------------------------------------------


@pytest.fixture(scope="module")
def overflowing_weights(tmp_path_factory) -> Path:
    """Offset-network weights, all finite (float32), whose outputs overflow to NaN."""
    import torch

    from segfix_gui.model.net import build
    from segfix_gui.model.train import save_weights

    model = build("tiny")
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1e30)
    path = tmp_path_factory.mktemp("weights") / "huge.pt"
    save_weights(path, model, half=False)
    return path


def test_predict_offsets_never_writes_a_field_of_nan(tmp_path, capsys, overflowing_weights):
    images, out = tmp_path / "images", tmp_path / "out"
    _png(images / "a.png", np.random.default_rng(0).integers(0, 256, (32, 48, 3)).astype(np.uint8))
    argv = ["predict-offsets", "--images", str(images), "--out", str(out), "--device", "cpu"]
    assert main(argv) == 0
    assert (out / "a.npz").is_file()
    capsys.readouterr()
    assert main([*argv, "--weights", str(overflowing_weights)]) == 2
    (err,) = _errors(capsys)
    assert err == (
        f"segfix: error: {images / 'a.png'}: the network's 'boundary' for this image holds NaN or infinite "
        f"values (weights: {overflowing_weights}) (the output of an earlier run, {out / 'a.npz'}, was removed)"
    )
    assert list(out.iterdir()) == []


def test_the_window_never_shows_a_field_of_nan(overflowing_weights):
    from segfix_gui.errors import InputError
    from segfix_gui.session.compute import predict_field

    image = np.zeros((32, 48, 3), np.uint8)
    with pytest.raises(InputError) as err:
        predict_field(image, weights=overflowing_weights, device="cpu")
    assert (
        str(err.value) == f"{overflowing_weights}: the network's 'boundary' for this image holds NaN or infinite values"
    )


def test_no_offset_file_holding_nan_is_written(tmp_path):
    from segfix_gui.core.offsets import OffsetField
    from segfix_gui.errors import InputError
    from segfix_gui.io.offsets import write_offsets

    b = np.full((4, 4), np.nan, np.float32)
    d = np.full((8, 4, 4), 1 / 8, np.float32)
    for fmt in ("npz", "mat"):
        with pytest.raises(InputError, match="not written: the field's 'boundary' holds NaN"):
            write_offsets(tmp_path / f"x.{fmt}", OffsetField(boundary=b, direction=d))
    assert list(tmp_path.iterdir()) == []


def _train_data(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("val", 2)):
        for i in range(n):
            _png(root / split / "images" / f"x{i}.png", rng.integers(0, 256, (48, 64, 3)).astype(np.uint8))
            lab = np.zeros((48, 64), np.uint8)
            lab[:, 20 + i :] = 1
            lab[30:, :] = 2
            _png(root / split / "labels" / f"x{i}.png", lab)
    return root


def test_train_that_diverges_saves_no_weights(tmp_path, capsys, monkeypatch):
    # --lr is bounded to (0, 1] at parse time, so the divergence is forced: from the second
    # step on, the loss the training loop gets is NaN (as an exploding run's would be)
    import segfix_gui.model.train as train_module

    real, calls = train_module.offset_loss, []

    def diverging(*args, **kwargs):
        loss, lb, ld = real(*args, **kwargs)
        calls.append(1)
        return (loss * float("nan") if len(calls) > 1 else loss), lb, ld

    monkeypatch.setattr(train_module, "offset_loss", diverging)
    data, out = _train_data(tmp_path / "data"), tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(out), "--model", "tiny", "--epochs", "2", "--batch", "2"]
    argv += ["--crop", "32", "32", "--device", "cpu", "--no-pretrained", "--lr", "0.5"]
    assert main(argv) == 2
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {out}: training diverged at ")
    assert err.endswith(
        "(a lower --lr than 0.5?); this epoch is neither logged nor saved, and no weights.pt is written"
    )
    assert not (out / "weights.pt").exists() and not (out / "record.json").exists()
    assert "nan" not in (out / "log.csv").read_text()


def test_weights_that_overflow_float16_are_not_written(tmp_path):
    import torch

    from segfix_gui.errors import InputError
    from segfix_gui.model.net import build
    from segfix_gui.model.train import save_weights

    model = build("tiny")
    with torch.no_grad():
        next(model.parameters()).fill_(1e6)  # finite in float32, infinite in float16
    with pytest.raises(InputError, match=r"not written: the weights hold NaN or infinite values \(.* as float16\)"):
        save_weights(tmp_path / "w.pt", model)
    assert list(tmp_path.iterdir()) == []
