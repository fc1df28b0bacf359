"""Peak memory of the folder commands on one 4096×8192 map (the issue's "big map" case), and
of every command against files that claim more than memory holds (issue 19, items 14-21).

    python benchmarks/memory_peak.py [--commands sweep,degrade,gt-offsets,refine] [--size 4096x8192]
    python benchmarks/memory_peak.py --hostile [--cases npz-leading,mat-third-dim,...]

Makes, in a temporary folder, one Cityscapes-id label map of that size (the val frame of
../shared/data/cityscapes_mini enlarged by nearest neighbour), a stride-8 simulated prediction
and soft offsets (float16 .npz, ground-truth directions with a graded boundary), then runs each
command as its own process (``python -m segfix_gui.cli …``) and reports the peak resident
memory of that process (``ru_maxrss`` of the child). Goal: under 1.5 GB each.

``--hostile`` makes, instead, small files that declare huge contents (deflated zeros: a few MB
on disk, GBs once inflated) and option values that size the work, runs the command each one
reaches, and reports its peak and the one line it ends with (:data:`HOSTILE`). Each case is a
memory item of issue 19; ``predict-offsets`` runs the bundled network on 2160×3840 and
4096×8192 images (tiled).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CS = ROOT.parent / "shared" / "data" / "cityscapes_mini" / "gtFine" / "val" / "frankfurt"
FRAME = "frankfurt_000000_000294"


def make_inputs(folder: Path, h: int, w: int) -> None:
    import numpy as np
    from PIL import Image

    from segfix_gui.core.degrade import degrade
    from segfix_gui.core.offsets import OffsetField
    from segfix_gui.core.targets import gt_offset_field
    from segfix_gui.io.images import write_labels
    from segfix_gui.io.offsets import write_offsets
    from segfix_gui.labels import get_label_space

    space = get_label_space("cityscapes")
    small = np.asarray(Image.open(CS / f"{FRAME}_gtFine_labelIds.png"))
    gt = np.asarray(Image.fromarray(small).resize((w, h), Image.NEAREST))
    for sub in ("gt", "pred", "off"):
        (folder / sub).mkdir()
    write_labels(folder / "gt" / "x.png", gt)
    write_labels(folder / "pred" / "x.png", degrade(gt, space, stride=8))
    oracle = gt_offset_field(gt, ignore_ids=space.ignore_ids)
    rng = np.random.default_rng(0)
    boundary = (oracle.boundary * rng.uniform(0.35, 1.0, gt.shape).astype(np.float32)).astype(np.float16)
    field = OffsetField(boundary=boundary, direction=oracle.direction.astype(np.float16))
    del oracle
    write_offsets(folder / "off" / "x.npz", field)


def commands(d: Path) -> dict[str, list[str]]:
    return {
        "sweep": [
            "sweep",
            "--gt",
            str(d / "gt"),
            "--pred",
            str(d / "pred"),
            "--offsets",
            str(d / "off"),
            "--thresholds",
            "0.3:0.7:0.2",
            "--scales",
            "1,2",
            "--label-space",
            "cityscapes",
        ],
        "degrade": [
            "degrade",
            "--labels",
            str(d / "gt"),
            "--out",
            str(d / "o_degrade"),
            "--stride",
            "8",
            "--label-space",
            "cityscapes",
        ],
        "gt-offsets": [
            "gt-offsets",
            "--labels",
            str(d / "gt"),
            "--out",
            str(d / "o_gt"),
            "--label-space",
            "cityscapes",
        ],
        "refine": [
            "refine",
            "--input",
            str(d / "pred"),
            "--offset",
            str(d / "off"),
            "--out",
            str(d / "o_refine"),
            "--label-space",
            "cityscapes",
        ],
    }


def peak_of(args: list[str], module: str = "segfix_gui.cli") -> tuple[float, float, int, str]:
    """(peak RSS in MB, seconds, exit status, last error line of stderr) of ``python -m module args``
    (the largest of the process and any workers it waited for)."""
    script = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run([sys.executable, '-m', sys.argv[1]] + sys.argv[2:],"
        " stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,"
        " env={**__import__('os').environ, 'QT_QPA_PLATFORM': 'offscreen'})\n"
        "lines = r.stderr.strip().splitlines() or ['']\n"
        "last = ([ln for ln in lines if ': error: ' in ln] or lines)[-1]\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode, last)"
    )
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", script, module] + args, capture_output=True, text=True, cwd=ROOT, check=True
    )
    kb, rc, last = (out.stdout.strip().split(" ", 2) + [""])[:3]
    return int(kb) / 1024, time.perf_counter() - t, int(rc), last


# --------------------------------------------------------------------------- hostile files

DEFLATE_CHUNK = 1 << 24


def _deflated_zeros(zf, name: str, head: bytes, nbytes: int) -> None:
    """A zip member of ``head`` then ``nbytes`` zeros, deflated as it is written (a few MB of
    file per GB; nothing large is held in memory)."""
    import zipfile

    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    zero = bytes(DEFLATE_CHUNK)
    with zf.open(info, "w", force_zip64=True) as f:
        f.write(head)
        left = nbytes
        while left > 0:
            f.write(zero[: min(left, DEFLATE_CHUNK)])
            left -= DEFLATE_CHUNK


def _npy_head(shape, dtype: str) -> bytes:
    import io

    import numpy as np
    from numpy.lib import format as npformat

    buf = io.BytesIO()
    npformat.write_array_header_1_0(buf, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def make_hostile(d: Path) -> dict[str, tuple[str, list[str]]]:
    """``{case: (module, argv)}``, the files they read made in ``d``."""
    import zipfile

    import numpy as np
    import torch
    from scipy.io import savemat

    from segfix_gui.io.images import write_labels

    pred = d / "pred"
    pred.mkdir()
    write_labels(pred / "x.png", np.zeros((1024, 2048), np.uint8))
    refine = ["refine", "--input", str(pred), "--out", str(d / "o"), "--device", "cpu", "--offset"]
    cases: dict[str, tuple[str, list[str]]] = {}

    # 14: a boundary with a leading dimension: 1400 × 1024×2048 float16 = 2.9 GB, 2.8 MB of file
    off = d / "npz"
    off.mkdir()
    with zipfile.ZipFile(off / "x.npz", "w") as zf:
        zf.writestr("format_version.npy", _npy_bytes(np.int32(1)))
        shape = (700, 1024, 2048)
        _deflated_zeros(zf, "boundary.npy", _npy_head(shape, "<f2"), 2 * int(np.prod(shape)))
        zf.writestr("direction.npy", _npy_bytes(np.zeros((8, 1024, 2048), np.float16)))
    cases["npz-leading"] = ("segfix_gui.cli", refine + [str(off)])

    # 15: .mat: a third dimension of 600 (1.2 GB of int8), and a valid 'mat' beside 1.2 GB of junk
    for case, arrays in (
        ("mat-third-dim", {"mat": ("z", (1024, 2048, 600))}),
        ("mat-extra-variable", {"mat": ("s", (1024, 2048, 2)), "junk": ("z", (1024, 2048, 600))}),
    ):
        folder = d / case
        folder.mkdir()
        data = {k: np.zeros(shape, np.int8) for k, (_, shape) in arrays.items()}  # zero pages: not resident
        savemat(folder / "x.mat", data, do_compression=True)
        del data
        cases[case] = ("segfix_gui.cli", refine + [str(folder)])

    # 16: a weights file whose one tensor member is 2 GB of deflated zeros (2 MB of file)
    images = d / "images"
    images.mkdir()
    Image_save(images / "x.png", np.zeros((64, 64, 3), np.uint8))
    buf = __import__("io").BytesIO()
    torch.save({"format": "segfix-offset-net", "version": 1, "w": torch.zeros(4, dtype=torch.uint8)}, buf)
    src = zipfile.ZipFile(buf)
    with zipfile.ZipFile(d / "w.pt", "w") as zf:
        for info in src.infolist():
            if info.filename.endswith("/data/0"):
                _deflated_zeros(zf, info.filename, b"", 2 << 30)
            else:
                zf.writestr(info, src.read(info), compress_type=zipfile.ZIP_STORED)
    po = ["predict-offsets", "--images", str(images), "--device", "cpu"]
    cases["checkpoint-deflate"] = ("segfix_gui.cli", po + ["--out", str(d / "o_w"), "--weights", str(d / "w.pt")])

    # 17: the bundled network on large images (tiled)
    for h, w in ((2160, 3840), (4096, 8192)):
        folder = d / f"images_{h}x{w}"
        folder.mkdir()
        rng = np.random.default_rng(0)
        small = rng.integers(0, 256, (h // 64, w // 64, 3), dtype=np.uint8)
        Image_save(folder / "x.png", np.kron(small, np.ones((64, 64, 1), np.uint8)))
        cases[f"predict-offsets-{h}x{w}"] = (
            "segfix_gui.cli",
            ["predict-offsets", "--images", str(folder), "--out", str(d / f"o_{h}"), "--device", "cpu"],
        )

    # 18-20: options that size the work
    cases["workers-10000"] = ("segfix_gui.cli", refine[:-1] + ["--offset", str(off), "--workers", "10000"])
    cases["sweep-grid-1000^3"] = (
        "segfix_gui.cli",
        ["sweep", "--gt", str(pred), "--pred", str(pred), "--offsets", str(off)]
        + ["--thresholds", "0.001:1:0.001", "--scales", "0.064:64:0.064", "--min-direction-probs", "0.001:1:0.001"],
    )
    cases["gui-size-16000"] = (
        "segfix_gui.gui.app",
        ["--demo", "--size", "16000x16000", "--screenshot", str(d / "s.png")],
    )

    # 21: a label space and a _pred.txt that never end
    (d / "zero.json").symlink_to("/dev/zero")
    cases["label-space-dev-zero"] = (
        "segfix_gui.cli",
        ["evaluate", "--gt", str(pred), "--pred", str(pred), "--label-space", str(d / "zero.json")],
    )
    inst = d / "inst"
    inst.mkdir()
    (inst / "x_pred.txt").symlink_to("/dev/zero")
    cases["pred-txt-dev-zero"] = (
        "segfix_gui.cli",
        ["refine-instances", "--input", str(inst), "--offset", str(off), "--out", str(d / "o_i"), "--device", "cpu"],
    )
    return cases


def _npy_bytes(arr) -> bytes:
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def Image_save(path: Path, arr) -> None:  # noqa: N802 - reads as the PIL call it wraps
    from PIL import Image

    Image.fromarray(arr).save(path)


HOSTILE = (
    "npz-leading,mat-third-dim,mat-extra-variable,checkpoint-deflate,predict-offsets-2160x3840,"
    "predict-offsets-4096x8192,workers-10000,sweep-grid-1000^3,gui-size-16000,label-space-dev-zero,pred-txt-dev-zero"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commands", default="sweep,degrade,gt-offsets,refine")
    ap.add_argument("--size", default="4096x8192")
    ap.add_argument("--hostile", action="store_true", help="the hostile-file cases instead (issue 19)")
    ap.add_argument("--cases", default=HOSTILE, help="with --hostile: which, comma-separated")
    a = ap.parse_args()
    h, w = (int(v) for v in a.size.lower().split("x"))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    if a.hostile:
        with tempfile.TemporaryDirectory() as tmp:
            cases = make_hostile(Path(tmp))
            print(f"{'case':<26} {'peak RSS':>10} {'time':>8}  status  last line")
            for name in a.cases.split(","):
                module, args = cases[name]
                mb, sec, rc, last = peak_of(args, module)
                print(f"{name:<26} {mb:>7.0f} MB {sec:>7.1f}s  {rc:>4}    {last.replace(tmp, '…')[:150]}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        make_inputs(d, h, w)
        cmds = commands(d)
        print(f"{'command':<12} {'peak RSS':>10} {'time':>8}  status   (map {h}×{w})")
        for name in a.commands.split(","):
            mb, sec, rc, _ = peak_of(cmds[name])
            print(f"{name:<12} {mb:>7.0f} MB {sec:>7.1f}s  {rc}")


if __name__ == "__main__":
    main()
