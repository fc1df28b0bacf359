"""Tracebacks and unclear messages (issue 19): every bad input ends in one line
``segfix: error: <file>: <problem>`` (exit status 2), an absurd option value is an argument
error before any file is read, and no run leaves a temporary file behind."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from kit import errors as _errors
from kit import png as _png
from PIL import Image

from segfix_gui.cli import main
from segfix_gui.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"
WEIGHTS = ROOT / "resources" / "weights" / "offsetnet-camvid.pt"


def _labels(h=12, w=16) -> np.ndarray:
    a = np.zeros((h, w), np.uint8)
    a[:, w // 2 :] = 1
    return a


def _hard_npz(path: Path, shape=(12, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, format_version=np.int32(1), offsets=np.zeros((2, *shape), np.int8))
    return path


def _refine(preds, offs, out):
    return main(["refine", "--input", str(preds), "--offset", str(offs), "--out", str(out), "--device", "cpu"])


# --- errors.InputError ------------------------------------------------------------------------


def test_input_error_pickles_round_trip():
    for err in (InputError("a/b.png", "bad"), InputError(None, "no file"), InputError("x\ny.png", "p\tq")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is InputError
        assert (back.path, back.problem, str(back)) == (err.path, err.problem, str(err))


def test_control_characters_never_split_the_line():
    err = InputError("in/a\nb\r\x1b[31m.png", "bad\u2028line")
    assert str(err) == "in/a\\nb\\r\\x1b[31m.png: bad\\u2028line"
    assert len(str(err).splitlines()) == 1
    assert str(InputError(None, str(err))) == str(err)  # escaping twice changes nothing


def test_a_newline_in_a_file_name_is_escaped_in_the_error_line(tmp_path, capsys):
    _png(tmp_path / "preds" / "a\nb.png", _labels())
    (tmp_path / "offs").mkdir()
    (tmp_path / "offs" / "a\nb.npz").write_bytes(b"junk")
    assert _refine(tmp_path / "preds", tmp_path / "offs", tmp_path / "out") == 2
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {tmp_path / 'offs'}/a\\nb.npz: not a readable .npz file")


# --- segfix train -----------------------------------------------------------------------------


def _dataset(root: Path, n=2, size=64, bad_label=False) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for i in range(n):
            _png(root / split / "images" / f"{i}.png", rng.integers(0, 255, (size, size, 3), np.uint8))
            lab = _labels(size, size)
            if bad_label and split == "train" and i == n - 1:
                lab[:] = 200  # not a CamVid id
            _png(root / split / "labels" / f"{i}.png", lab)
    return root


def _train(data, out, *extra):
    argv = ["train", "--data", str(data), "--out", str(out), "--device", "cpu", "--no-pretrained", "--epochs", "1"]
    return main([*argv, *extra])


def test_train_with_fewer_images_than_the_batch_is_one_line(tmp_path, capsys):
    data = _dataset(tmp_path / "data", n=2)
    assert _train(data, tmp_path / "run", "--batch", "4") == 2
    (err,) = _errors(capsys)
    assert err == (
        f"segfix: error: {data / 'train'}: 2 training images, fewer than the batch of 4 crops a step "
        "takes: give --batch 2 or less, or more images"
    )
    assert not (tmp_path / "run" / "weights.pt").exists()


def test_train_with_a_bad_label_in_the_worker_pool_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # the targets are computed by two workers
    data = _dataset(tmp_path / "data", n=2, bad_label=True)
    assert _train(data, tmp_path / "run", "--batch", "1") == 2
    (err,) = _errors(capsys)
    bad = data / "train" / "labels" / "1.png"
    assert err == f"segfix: error: {bad}: label id 200 is not in the camvid label space (ids 0..11)"


def _unshare_ok() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "-U", "true"], capture_output=True).returncode == 0


needs_unprivileged = pytest.mark.skipif(
    not _unshare_ok(), reason="needs root and `unshare -U` (to run as a user whom permissions stop)"
)


def _segfix_unprivileged(*argv, cwd) -> subprocess.CompletedProcess:
    """``segfix ARGV`` in a user namespace, where root's files are checked as anyone else's."""
    code = "import sys; from segfix_gui.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        ["unshare", "-U", sys.executable, "-c", code, *argv], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@needs_unprivileged
@pytest.mark.parametrize("command", ["train", "refine", "evaluate", "degrade", "gt-offsets", "evaluate-instances"])
def test_a_folder_that_cannot_be_searched_is_one_line(tmp_path, command):
    data = _dataset(tmp_path / "data", n=1)
    (tmp_path / "out").mkdir()
    os.chmod(tmp_path, 0o777)
    locked = data / "train"
    labels = str(locked / "labels")
    argv = {
        "train": ["train", "--data", "data", "--out", "out/run", "--device", "cpu", "--no-pretrained"],
        "refine": ["refine", "--input", labels, "--offset", labels, "--out", "out/r"],
        "evaluate": ["evaluate", "--gt", labels, "--pred", labels],
        "degrade": ["degrade", "--labels", labels, "--out", "out/d"],
        "gt-offsets": ["gt-offsets", "--labels", labels, "--out", "out/g"],
        "evaluate-instances": ["evaluate-instances", "--gt", labels, "--pred", labels],
    }[command]
    for p in [tmp_path / "out", *tmp_path.joinpath("data").rglob("*")]:
        os.chmod(p, 0o777 if p.is_dir() else 0o666)
    os.chmod(locked, 0)
    try:
        res = _segfix_unprivileged(*argv, cwd=tmp_path)
    finally:
        os.chmod(locked, 0o755)
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2
    assert lines[0].startswith("segfix: error: ") and "Permission denied" in lines[0], lines


# --- label spaces, weights, instance ground truth ---------------------------------------------


def _space(path: Path, n: int) -> Path:
    classes = [{"id": i, "name": f"c{i}", "color": [i % 256, i // 256, 7]} for i in range(n)]
    path.write_text(json.dumps({"name": "big", "classes": classes}))
    return path


@pytest.mark.parametrize("n", [256, 300])
def test_more_than_255_evaluated_classes_are_refused_in_one_line(tmp_path, capsys, n):
    spec = _space(tmp_path / "space.json", n)
    _png(tmp_path / "gt" / "a.png", _labels())
    assert (
        main(["evaluate", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "gt"), "--label-space", str(spec)])
        == 2
    )
    (err,) = _errors(capsys)
    assert err.startswith(f"segfix: error: {spec}: not a valid label space spec: classes[255] (id 255, 'c255'): ")
    assert "at most 255 are supported" in err


def test_255_evaluated_classes_are_fine(tmp_path, capsys):
    spec = _space(tmp_path / "space.json", 255)
    _png(tmp_path / "gt" / "a.png", _labels())
    assert (
        main(["evaluate", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "gt"), "--label-space", str(spec)])
        == 0
    )


@pytest.mark.parametrize("scale", [0, 1000])
def test_weights_recommending_an_impossible_scale_are_one_line(tmp_path, capsys, scale):
    shutil.copy(WEIGHTS, tmp_path / "net.pt")
    record = json.loads(WEIGHTS.with_suffix(".json").read_text())
    record["recommended"]["scale"] = scale
    (tmp_path / "net.json").write_text(json.dumps(record))
    _png(tmp_path / "images" / "x.png", np.zeros((32, 32, 3), np.uint8))
    argv = ["predict-offsets", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "o")]
    assert main([*argv, "--weights", str(tmp_path / "net.pt"), "--device", "cpu"]) == 2
    (err,) = _errors(capsys)
    assert err == f"segfix: error: {tmp_path / 'net.json'}: recommended scale {scale} is outside (0, 64]"


def _instance_case(tmp_path, gt_value: int, label: str = "26") -> tuple[Path, Path, Path]:
    gt = np.full((12, 16), 7, np.uint16)
    gt[2:8, 2:8] = 26001
    gt[0, 0] = gt_value
    gt_path = tmp_path / "gt" / "x_gtFine_instanceIds.png"
    gt_path.parent.mkdir(parents=True)
    Image.fromarray(gt).save(gt_path)
    mask = np.zeros((12, 16), np.uint8)
    mask[2:8, 2:8] = 255
    _png(tmp_path / "pred" / "masks" / "x_0.png", mask)
    txt = tmp_path / "pred" / "x_pred.txt"
    txt.write_text(f"masks/x_0.png {label} 0.9\n")
    return gt_path, tmp_path / "pred", txt


def test_instance_ground_truth_outside_cityscapes_is_one_line(tmp_path, capsys):
    gt_path, pred, _ = _instance_case(tmp_path, 40000)
    assert main(["evaluate-instances", "--gt", str(tmp_path / "gt"), "--pred", str(pred)]) == 2
    errs = _errors(capsys)
    assert errs[0] == (
        f"segfix: error: {gt_path}: label id 40 (pixel value 40000) is not a Cityscapes label id (ids 0..33): "
        "not Cityscapes instance ground truth"
    )


def test_a_pred_txt_label_id_beyond_any_label_is_one_line(tmp_path, capsys):
    _, pred, txt = _instance_case(tmp_path, 7, label="1e30")
    assert main(["evaluate-instances", "--gt", str(tmp_path / "gt"), "--pred", str(pred)]) == 2
    errs = _errors(capsys)
    assert errs[0] == f"segfix: error: {txt}: line 1: label id '1e30' is not a label id (0..65535)"


# --- offset files: the line names the offsets file --------------------------------------------


def _odd_offsets(path: Path, case: str) -> Path:
    import scipy.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    z = np.zeros((12, 16), np.uint8)
    if case == "deg_reduce text":
        sio.savemat(path, {"depth": z, "dir_deg": z, "deg_reduce": "two"})
    elif case == "format_version (1,)":
        np.savez(path, format_version=np.array([1], np.int32), offsets=np.zeros((2, 12, 16), np.int8))
    return path


ODD = {
    "deg_reduce text": ("x.mat", "'deg_reduce' must be one positive number, found text"),
    "format_version (1,)": ("x.npz", None),
}


@pytest.mark.parametrize("case", list(ODD))
def test_odd_offset_files_name_the_offsets_file(tmp_path, capsys, case):
    name, problem = ODD[case]
    _png(tmp_path / "preds" / "x.png", _labels())
    off = _odd_offsets(tmp_path / "offs" / name, case)
    rc = _refine(tmp_path / "preds", tmp_path / "offs", tmp_path / "out")
    errs = _errors(capsys)
    if problem is None:  # a one-element version array is the version
        assert rc == 0 and not errs
    else:
        assert rc == 2 and errs == [f"segfix: error: {off}: {problem}"]


def test_any_failure_reading_offsets_names_the_offsets_file(tmp_path, monkeypatch):
    from segfix_gui.io import offsets

    off = _hard_npz(tmp_path / "x.npz")
    monkeypatch.setattr(offsets, "_check_hard", lambda *a, **k: (_ for _ in ()).throw(TypeError("odd")))
    with pytest.raises(InputError) as info:
        offsets.read_offsets(off)
    assert str(info.value) == f"{off}: not a readable offsets file (TypeError: odd)"


# --- sweep names files, never its jobs ---------------------------------------------------------


def test_sweep_error_lines_name_the_file(tmp_path, capsys, monkeypatch):
    from segfix_gui.io import samples

    _png(tmp_path / "gt" / "x.png", _labels())
    _png(tmp_path / "pred" / "x.png", _labels())
    _hard_npz(tmp_path / "offs" / "x.npz")
    monkeypatch.setattr(samples, "load_sweep_sample", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    argv = [
        "sweep",
        "--gt",
        str(tmp_path / "gt"),
        "--pred",
        str(tmp_path / "pred"),
        "--offsets",
        str(tmp_path / "offs"),
    ]
    assert main(argv) == 2
    errs = _errors(capsys)
    assert errs[0] == f"segfix: error: {tmp_path / 'pred' / 'x.png'}: unexpected error (RuntimeError: boom)"
    assert not any("SweepJob" in e for e in errs)


# --- absurd option values are argument errors --------------------------------------------------

ABSURD = [
    (["evaluate", "--gt", "g", "--pred", "p"], "--boundary-tol", "1e9", "must be a number in (0, 32] px, not 1e9"),
    (["evaluate", "--gt", "g", "--pred", "p"], "--dilation-ratio", "1e9", "(0, 1]"),
    (["sweep", "--gt", "g", "--pred", "p", "--offsets", "o"], "--boundary-tol", "1000", "(0, 32] px"),
    (["evaluate-instances", "--gt", "g", "--pred", "p"], "--boundary-tol", "nan", "(0, 32] px"),
    (["evaluate-instances", "--gt", "g", "--pred", "p"], "--dilation-ratio", "inf", "(0, 1]"),
    (["degrade", "--labels", "l", "--out", "o"], "--stride", "1e21", "must be a whole number in [1, 1024], not 1e21"),
    (["degrade", "--labels", "l", "--out", "o"], "--stride", "1000000000000000000000", "[1, 1024]"),
    (["gt-offsets", "--labels", "l", "--out", "o"], "--width", "1e9", "(0, 64] px"),
    (["predict-offsets", "--images", "i", "--out", "o"], "--batch", "100000", "[1, 64]"),
    (["train", "--data", "d", "--out", "o"], "--epochs", "1e9", "[1, 10000]"),
    (["train", "--data", "d", "--out", "o"], "--batch", "2.5", "whole number"),
    (["train", "--data", "d", "--out", "o"], "--lr", "1e6", "(0, 1]"),
    (["train", "--data", "d", "--out", "o"], "--boundary-width", "1e9", "(0, 8] px"),
    (["train", "--data", "d", "--out", "o"], "--direction-width", "100", "(0, 8] px"),
    (["train", "--data", "d", "--out", "o"], "--near-weight", "-1", "[0, 1000]"),
    (["train", "--data", "d", "--out", "o"], "--cos-weight", "nan", "[0, 1000]"),
    (["train", "--data", "d", "--out", "o"], "--seed", "1e30", "[0, 4294967295]"),
    (
        ["refine", "--input", "i", "--offset", "o", "--out", "x"],
        "--scale",
        "64.0000001",
        "scale 64.0000001 is outside (0, 64]",
    ),
]


@pytest.mark.parametrize(
    ("argv", "option", "value", "expect"), ABSURD, ids=[f"{a[0]} {o} {v}" for a, o, v, _ in ABSURD]
)
def test_absurd_option_values_are_argument_errors(capsys, argv, option, value, expect):
    with pytest.raises(SystemExit) as info:
        main([*argv, option, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"argument {option}" in err and expect in err, err


def test_train_crop_is_bounded(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--data", "d", "--out", "o", "--crop", "288", "100000000"])
    assert "argument --crop: must be a whole number in [32, 8192], not 100000000" in capsys.readouterr().err


def test_sweep_scales_say_the_value_given(tmp_path, capsys):
    for d in ("gt", "pred", "offs"):
        (tmp_path / d).mkdir()
    argv = [
        "sweep",
        "--gt",
        str(tmp_path / "gt"),
        "--pred",
        str(tmp_path / "pred"),
        "--offsets",
        str(tmp_path / "offs"),
    ]
    assert main([*argv, "--scales", "64.0000001"]) == 2
    (err,) = _errors(capsys)
    assert err == "segfix: error: --scales '64.0000001': 64.0000001 is outside (0, 64]"


def test_boundary_f_tolerances_share_the_bound(tmp_path, capsys):
    _png(tmp_path / "gt" / "a.png", _labels())
    argv = ["evaluate", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "gt"), "--boundary-f-at", "1,33"]
    assert main(argv) == 2
    (err,) = _errors(capsys)
    assert "33 is outside (0, 32]" in err


# --- code-carrying pickles ---------------------------------------------------------------------


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("option", ["--weights", "--checkpoint"])
def test_raw_pickles_that_would_run_code_are_refused(tmp_path, capsys, protocol, option):
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"state_dict": _Evil()}, protocol=protocol))
    _png(tmp_path / "images" / "x.png", np.zeros((32, 32, 3), np.uint8))
    argv = ["predict-offsets", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "o"), "--device", "cpu"]
    if option == "--checkpoint":
        argv += ["--arch", "hrnet48"]
    assert main([*argv, option, str(evil)]) == 2
    err = capsys.readouterr().err
    assert "Warning" not in err and "Traceback" not in err and "operand" not in err
    (line,) = err.strip().splitlines()  # one wording for weights and checkpoints, naming the call
    assert line == f"segfix: error: {evil}: refused: it would run code (it would call posix.system); " + (
        "only tensors and plain containers are ever read"
    )


def test_pickle_code_finds_nothing_in_real_weights():
    from segfix_gui.model.predictor import pickle_code

    assert pickle_code(WEIGHTS) is None


# --- temporary files ---------------------------------------------------------------------------


def test_a_name_as_long_as_the_file_system_allows_can_be_written(tmp_path, capsys):
    name = "x" * (255 - len(".png"))
    _png(tmp_path / "preds" / f"{name}.png", _labels())
    _hard_npz(tmp_path / "offs" / f"{name}.npz")
    assert _refine(tmp_path / "preds", tmp_path / "offs", tmp_path / "out") == 0
    assert os.listdir(tmp_path / "out") == [f"{name}.png"]


def test_temporary_names_fit_the_name_limit(tmp_path):
    from segfix_gui.io.atomic import atomic_path

    for n in (1, 200, 251):
        target = tmp_path / ("é" * (n // 2) + "a" * (n % 2) + ".npz")
        if len(os.fsencode(target.name)) > 255:
            continue
        with atomic_path(target) as tmp:
            assert len(os.fsencode(os.path.basename(tmp))) <= 255
            assert tmp.endswith(".npz") and os.path.basename(tmp).startswith(".")
            np.savez(tmp, a=np.zeros(1))
        assert target.exists()


def _stale(folder: Path, name: str) -> Path:
    """A temporary file of ``name`` as a killed writer (a pid that is gone) leaves it."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(proc.stdout)
    stem, suffix = os.path.splitext(name)
    path = folder / f".{stem}.{dead}-abcdef.part{suffix}"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half")
    return path


def test_a_later_run_removes_what_a_killed_run_left(tmp_path, capsys):
    _png(tmp_path / "preds" / "a.png", _labels())
    _hard_npz(tmp_path / "offs" / "a.npz")
    stale = _stale(tmp_path / "out" / "sub", "a.png")
    live = tmp_path / "out" / f".a.{os.getpid()}-abcdef.part.png"  # a writer that is alive: kept
    live.write_bytes(b"busy")
    other = tmp_path / "out" / ".notes.txt"  # not a temporary file: kept
    other.write_text("mine")
    assert _refine(tmp_path / "preds", tmp_path / "offs", tmp_path / "out") == 0
    assert not stale.exists() and live.exists() and other.exists()


def test_a_report_file_write_removes_its_own_stale_temporaries(tmp_path, capsys):
    from segfix_gui.io.atomic import write_text

    stale = _stale(tmp_path, "r.json")
    other = _stale(tmp_path, "s.json")
    write_text(tmp_path / "r.json", "{}")
    assert not stale.exists() and other.exists()


def test_sigterm_leaves_no_temporary_file(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        from segfix_gui.cli import main
        from segfix_gui.io import atomic

        real = atomic.atomic_path

        def slow(path):
            cm = real(path)
            class Slow:
                def __enter__(self):
                    tmp = cm.__enter__()
                    print("writing", flush=True)
                    time.sleep(60)
                    return tmp
                def __exit__(self, *exc):
                    return cm.__exit__(*exc)
            return Slow()

        atomic.atomic_path = slow
        sys.exit(main(["gt-offsets", "--labels", {str(tmp_path / "labels")!r}, "--out", {str(tmp_path / "out")!r}]))
        """
    )
    _png(tmp_path / "labels" / "a.png", _labels())
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        assert [p.name for p in (tmp_path / "out").iterdir()][0].endswith(".part.npz")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert "segfix: terminated" in err and "Traceback" not in err
    deadline = time.monotonic() + 5
    while list((tmp_path / "out").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list((tmp_path / "out").iterdir()) == []
