"""Sweep speed and exactness: ``segfix sweep`` against refining + evaluating every setting from
scratch, in the same run, on the CamVid validation set.

    python benchmarks/sweep_speed.py [--images 101] [--workers 1,2] [--json FILE] [--keep DIR]

Inputs (made before any timing, in a temporary folder):

- ground truth: ../shared/data/camvid/val/labels;
- predictions: ``degrade(gt, camvid, stride=8)`` — a *simulated* coarse network;
- offsets, two sets:
  * ``oracle``: ``gt_offset_field`` — boundary exactly 0/1, so the threshold sweep is flat;
  * ``soft``: SYNTHETIC probabilities made from the ground truth so that the threshold
    matters — boundary = logistic of the distance to the nearest other label
    (``1 / (1 + exp(d - 3.5))``), blurred (sigma 1) plus Gaussian noise (sigma 0.08), clipped to
    [0, 1]; direction = softmax of (2.5 on the true bin + N(0, 1) noise on every bin), a random
    bin off the band. Not the output of any network: only a realistic *shape* of input.

Timed, each from the files (load each image once):

1. ``segfix sweep`` (in-process ``main``) on ``soft``: thresholds 0.1:0.9:0.1 × scales 1,2,3
   = 27 settings, with ``--csv`` and ``--plot``, once per ``--workers`` count (the CSVs must
   be identical);
2. the naive baseline on the same files and settings: per image load once, then per setting
   ``to_offsets`` → ``refine_labels`` → ``SemanticEvaluator.add`` → ``change_codes``;
3. ``segfix sweep`` on ``oracle``.

Every figure of 1 is compared with 2 (mIoU, boundary F, pixel accuracy, fixed / broken /
swapped per setting, and the base values): the script exits 1 if any differs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from segfix_gui.cli import main as segfix_main  # noqa: E402
from segfix_gui.core.degrade import degrade  # noqa: E402
from segfix_gui.core.metrics import SemanticEvaluator, change_codes, change_counts  # noqa: E402
from segfix_gui.core.offsets import OffsetField  # noqa: E402
from segfix_gui.core.refine import refine_labels  # noqa: E402
from segfix_gui.core.setting import Setting  # noqa: E402
from segfix_gui.core.targets import boundary_targets, gt_offset_field  # noqa: E402
from segfix_gui.io.images import read_labels, write_labels  # noqa: E402
from segfix_gui.io.offsets import read_offsets, write_offsets  # noqa: E402
from segfix_gui.labels import get_label_space  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
THRESHOLDS = [round(0.1 * i, 1) for i in range(1, 10)]
SCALES = [1.0, 2.0, 3.0]


def synthetic_soft_field(gt: np.ndarray, space, rng) -> OffsetField:
    """SYNTHETIC boundary / direction probabilities from the ground truth (see module doc)."""
    from scipy import ndimage as ndi

    band, bins, dist = boundary_targets(gt, width=5, ignore_ids=space.ignore_ids)
    d = np.where(np.isfinite(dist), dist, 10.0)
    boundary = ndi.gaussian_filter(1.0 / (1.0 + np.exp(d - 3.5)), 1.0)
    boundary = np.clip(boundary + rng.normal(0, 0.08, d.shape), 0, 1).astype(np.float32)
    bins = np.where(band, bins, rng.integers(0, 8, bins.shape)).astype(np.int64)
    logits = rng.normal(0, 1, (8,) + gt.shape)
    np.put_along_axis(logits, bins[None], 2.5 + np.take_along_axis(logits, bins[None], 0), 0)
    e = np.exp(logits - logits.max(0))
    return OffsetField(boundary=boundary, direction=(e / e.sum(0)).astype(np.float32))


def prepare(root: Path, gts: list[Path], space) -> None:
    rng = np.random.default_rng(0)
    for d in ("pred", "soft", "oracle"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for path in gts:
        gt = read_labels(path, space)
        write_labels(root / "pred" / path.name, degrade(gt, space, stride=8))
        write_offsets(root / "soft" / f"{path.stem}.npz", synthetic_soft_field(gt, space, rng))
        write_offsets(root / "oracle" / f"{path.stem}.npz", gt_offset_field(gt, ignore_ids=space.ignore_ids))


def run_cli(argv: list[str]) -> tuple[float, str]:
    out = io.StringIO()
    t = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = segfix_main(argv)
    dt = time.perf_counter() - t
    if code != 0:
        raise SystemExit(f"segfix {' '.join(argv)} exited with {code}")
    return dt, out.getvalue()


def naive(gt_dir: Path, pred_dir: Path, off_dir: Path, space) -> tuple[float, dict]:
    """Refine and evaluate every setting from scratch (each image read once)."""
    t = time.perf_counter()
    settings = [(th, s) for th in THRESHOLDS for s in SCALES]
    evs = {k: SemanticEvaluator(space) for k in settings}
    base = SemanticEvaluator(space)
    change = {k: np.zeros(3, np.int64) for k in settings}
    for pred_path in sorted(pred_dir.glob("*.png")):
        gt = read_labels(gt_dir / pred_path.name, space)
        pred = read_labels(pred_path, space)
        field = read_offsets(off_dir / f"{pred_path.stem}.npz")
        base.add(gt, pred)
        for th, s in settings:
            refined = refine_labels(pred, field.to_offsets(Setting(threshold=th, scale=s)), device="cpu")
            evs[th, s].add(gt, refined)
            c = change_counts(change_codes(pred, refined, gt, space))
            change[th, s] += (c["fixed"], c["broken"], c["swapped"])
    dt = time.perf_counter() - t
    out = {}
    for k in settings:
        r = evs[k].result()
        out[k] = {
            "miou": r["miou"],
            "boundary_f": r["boundary_f"],
            "pixel_accuracy": r["pixel_accuracy"],
            "fixed": int(change[k][0]),
            "broken": int(change[k][1]),
            "swapped": int(change[k][2]),
        }
    b = base.result()
    out["base"] = {k: b[k] for k in ("miou", "boundary_f", "pixel_accuracy")}
    return dt, out


def compare(csv_path: Path, ref: dict) -> int:
    """Number of figures in the CSV that differ from the naive results."""
    bad = 0
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != len(ref) - 1:
        print(f"MISMATCH: {len(rows)} rows, expected {len(ref) - 1}")
        return 1
    for row in rows:
        k = (float(row["threshold"]), float(row["scale"]))
        for key, want in ref[k].items():
            got = type(want)(float(row[key])) if isinstance(want, int) else float(row[key])
            if got != want:
                bad += 1
                print(f"MISMATCH at threshold {k[0]}, scale {k[1]}: {key} {got!r} != {want!r}")
        for key, want in ref["base"].items():
            if float(row[f"base_{key}"]) != want:
                bad += 1
                print(f"MISMATCH base {key}: {row[f'base_{key}']} != {want!r}")
    return bad


def tail(text: str, n: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-n:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=101, help="CamVid val images (default: all 101)")
    ap.add_argument(
        "--workers",
        default="1",
        help="segfix sweep --workers counts to time, comma-separated; the first is "
        "the one compared with the naive baseline (default: 1)",
    )
    ap.add_argument("--json", help="write the figures as JSON")
    ap.add_argument("--keep", help="keep the inputs, CSV and plot in this folder")
    args = ap.parse_args()

    gt_dir = DATA / "camvid" / "val" / "labels"
    if not gt_dir.is_dir():
        print(f"CamVid data not found at {gt_dir}")
        return 1
    space = get_label_space("camvid")
    workers = [int(w) for w in args.workers.split(",")]
    gts = sorted(gt_dir.glob("*.png"))[: args.images]
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sweep_speed_"))
    try:
        t = time.perf_counter()
        prepare(root, gts, space)
        print(
            f"inputs: {len(gts)} CamVid val images, prepared in {time.perf_counter() - t:.1f} s "
            f"(not timed) under {root}"
        )
        common = [
            "sweep",
            "--gt",
            str(gt_dir),
            "--pred",
            str(root / "pred"),
            "--thresholds",
            "0.1:0.9:0.1",
            "--scales",
            "1,2,3",
            "--label-space",
            "camvid",
        ]
        times = {}
        for w in workers:
            csv_w = root / ("soft.csv" if w == workers[0] else f"soft_w{w}.csv")
            times[w], out = run_cli(
                common
                + [
                    "--workers",
                    str(w),
                    "--offsets",
                    str(root / "soft"),
                    "--csv",
                    str(csv_w),
                    "--plot",
                    str(root / "soft.png"),
                ]
            )
            print(
                f"\nsegfix sweep --workers {w}, SYNTHETIC soft offsets, {len(THRESHOLDS)} "
                f"thresholds × {len(SCALES)} scales: {times[w]:.2f} s"
            )
            if w == workers[0]:
                print(tail(out, 5))
            elif csv_w.read_text() != (root / "soft.csv").read_text():
                print(f"MISMATCH: the CSV with --workers {w} differs")
                return 1
        fast_s = times[workers[0]]
        naive_s, ref = naive(gt_dir, root / "pred", root / "soft", space)
        print(f"\nnaive (refine + evaluate every setting from scratch, images read once): {naive_s:.2f} s")
        bad = compare(root / "soft.csv", ref)
        print(
            f"figures compared: {len(ref) - 1} settings × 6 + base; {'all identical' if not bad else f'{bad} DIFFER'}"
        )
        oracle_s, out_o = run_cli(
            common
            + ["--workers", str(workers[0]), "--offsets", str(root / "oracle"), "--csv", str(root / "oracle.csv")]
        )
        print(f"\nsegfix sweep, oracle (ground-truth) offsets: {oracle_s:.2f} s")
        print(tail(out_o, 3))
        ratio = naive_s / fast_s
        print(f"\nspeed-up: {ratio:.1f}× ({naive_s:.1f} s naive / {fast_s:.1f} s sweep)")
        report = {
            "machine": platform.node(),
            "cpus": os.cpu_count(),
            "images": len(gts),
            "settings": len(THRESHOLDS) * len(SCALES),
            "sweep_soft_s_by_workers": times,
            "sweep_soft_s": fast_s,
            "naive_soft_s": naive_s,
            "ratio": ratio,
            "sweep_oracle_s": oracle_s,
            "mismatches": bad,
        }
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        return 1 if bad else 0
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
