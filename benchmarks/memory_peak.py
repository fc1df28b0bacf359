"""Peak memory of the folder commands on one 4096×8192 map (the issue's "big map" case).

    python benchmarks/memory_peak.py [--commands sweep,degrade,gt-offsets,refine] [--size 4096x8192]

Makes, in a temporary folder, one Cityscapes-id label map of that size (the val frame of
../shared/data/cityscapes_mini enlarged by nearest neighbour), a stride-8 simulated prediction
and soft offsets (float16 .npz, ground-truth directions with a graded boundary), then runs each
command as its own process (``python -m segfix_gui.cli …``) and reports the peak resident
memory of that process (``ru_maxrss`` of the child). Goal: under 1.5 GB each.
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


def peak_of(args: list[str]) -> tuple[float, float, int]:
    """(peak RSS in MB, seconds, exit status) of ``python -m segfix_gui.cli args``."""
    script = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run([sys.executable, '-m', 'segfix_gui.cli'] + sys.argv[1:],"
        " stdout=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
    )
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", script] + args, capture_output=True, text=True, cwd=ROOT, check=True)
    kb, rc = out.stdout.split()
    return int(kb) / 1024, time.perf_counter() - t, int(rc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commands", default="sweep,degrade,gt-offsets,refine")
    ap.add_argument("--size", default="4096x8192")
    a = ap.parse_args()
    h, w = (int(v) for v in a.size.lower().split("x"))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        make_inputs(d, h, w)
        cmds = commands(d)
        print(f"{'command':<12} {'peak RSS':>10} {'time':>8}  status   (map {h}×{w})")
        for name in a.commands.split(","):
            mb, sec, rc = peak_of(cmds[name])
            print(f"{name:<12} {mb:>7.0f} MB {sec:>7.1f}s  {rc}")


if __name__ == "__main__":
    main()
