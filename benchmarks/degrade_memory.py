"""Peak memory of ``segfix degrade`` on one large label map (default 4096×8192).

The map is a CamVid label PNG enlarged (nearest) to the size asked for, so it has real borders.
The command runs in a child process under ``/usr/bin/time -v``; its "Maximum resident set size"
is the figure. ``--baseline-commit`` runs the same command on another commit's code (checked out
with ``git worktree`` into a temporary folder) in the same run, for a before/after pair.

    python benchmarks/degrade_memory.py [--size 4096x8192] [--baseline-commit e3b1308]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "camvid" / "val" / "labels"


def peak_rss_mb(code_root: Path, labels: Path, out: Path) -> tuple[float, int]:
    env = dict(os.environ, PYTHONPATH=str(code_root))
    cmd = [
        "/usr/bin/time",
        "-v",
        sys.executable,
        "-m",
        "segfix_gui.cli",
        "degrade",
        "--labels",
        str(labels),
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=labels.parent)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if m is None:
        raise SystemExit(proc.stderr)
    return int(m.group(1)) / 1024, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="4096x8192", help="HxW of the map (default: %(default)s)")
    ap.add_argument("--baseline-commit", default=None, help="also measure this commit's code")
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.lower().split("x"))
    src = sorted(DATA.glob("*.png"))[0]
    small = np.asarray(Image.open(src))
    rows = (np.arange(h) * small.shape[0]) // h
    cols = (np.arange(w) * small.shape[1]) // w
    big = small[rows][:, cols]
    result = {"size": f"{h}x{w}", "source": src.name, "machine": os.uname().nodename}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "gt").mkdir()
        Image.fromarray(big).save(tmp / "gt" / "big.png")
        mb, rc = peak_rss_mb(ROOT, tmp / "gt", tmp / "out")
        result["this_tree_peak_mb"] = round(mb)
        result["this_tree_exit"] = rc
        if args.baseline_commit:
            base = tmp / "base"
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.baseline_commit],
                check=True,
            )
            try:
                mb, rc = peak_rss_mb(base, tmp / "gt", tmp / "out_base")
                result["baseline_commit"] = args.baseline_commit
                result["baseline_peak_mb"] = round(mb)
                result["baseline_exit"] = rc
                same = np.array_equal(
                    np.asarray(Image.open(tmp / "out" / "big.png")),
                    np.asarray(Image.open(tmp / "out_base" / "big.png")),
                )
                result["outputs_identical"] = bool(same)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
