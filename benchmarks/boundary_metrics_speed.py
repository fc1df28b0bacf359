"""Cost of the boundary measures against ``SemanticEvaluator.add`` on one 1024×2048 map, same run.

    python benchmarks/boundary_metrics_speed.py [--repeat 7] [--json FILE] [--without-numba]

Map: the ``cityscapes_mini`` ground truth (``../shared/data``, 128×256 Cityscapes label ids)
enlarged 8× by nearest neighbour to 1024×2048; prediction: ``degrade(gt, cityscapes, stride=8)``
(a simulated stride-8 network). Timed, best and median of ``--repeat`` after one warm-up call
(numba compiles and caches its kernels on the first):

- baseline: ``SemanticEvaluator(space).add(gt, pred)`` (confusion matrix + boundary F at 3 px);
- all the new measures together: ``gt_borders`` (distance to the border, boundary IoU band,
  1-px boundaries of the ground truth) + ``border_counts`` (error profile, boundary IoU, boundary
  F at 1, 3, 5 px, trimap IoU at 1–10 px);
- their parts, and ``border_counts`` alone (the cost per further prediction of one image, e.g.
  per setting of a sweep, when the ground-truth part is kept).

The goal (issue 21): all new measures together at most 3× ``add``.

``--without-numba`` also times each row on the NumPy/SciPy path that :mod:`segfix_gui.core.distance`
takes where numba is not installed, in the same run, and prints the ratio to the compiled one.

``--sweep N`` also times ``segfix sweep``'s engine (``core.sweep.sweep``) on the first N CamVid
val images (9 thresholds × 3 scales), without and with boundary IoU (``dilation_ratio=0.005``,
what ``--boundary-iou`` adds), in the same run. Offsets: SYNTHETIC soft fields (uniform random
boundary probabilities, Dirichlet directions, seed 0) so that every threshold moves other pixels —
the worst case for the boundary IoU pass, which runs once per distinct refined map.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from segfix_gui.core.degrade import degrade  # noqa: E402
from segfix_gui.core.distance import other_label_distance_keys, own_label_band  # noqa: E402
from segfix_gui.core.metrics import (  # noqa: E402
    BorderOptions,
    SemanticEvaluator,
    border_counts,
    gt_borders,
)
from segfix_gui.labels import IGNORE, get_label_space  # noqa: E402

GT = ROOT.parent / "shared/data/cityscapes_mini/gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png"


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up (compilation, caches)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts), float(np.median(ts))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--sweep", type=int, default=0, metavar="N", help="also time a sweep of N CamVid val images")
    ap.add_argument("--without-numba", action="store_true", help="also time the NumPy path of core.distance")
    args = ap.parse_args(argv)

    from PIL import Image

    space = get_label_space("cityscapes")
    gt = np.kron(np.asarray(Image.open(GT)), np.ones((8, 8), np.uint8))
    pred = degrade(gt, space, stride=8)
    g = space.to_eval(gt)
    opts = BorderOptions()
    prepared = gt_borders(gt, space, options=opts)

    def all_new():
        border_counts(gt_borders(gt, space, options=opts), pred, space)

    rows = {
        "SemanticEvaluator.add (baseline)": lambda: SemanticEvaluator(space).add(gt, pred),
        "all new measures (gt_borders + border_counts)": all_new,
        "  gt_borders": lambda: gt_borders(gt, space, options=opts),
        "    distance to the border (exact), binned": lambda: other_label_distance_keys(g, g != IGNORE, 20),
        "    boundary IoU band": lambda: own_label_band(g, prepared.dilation),
        "  border_counts (one more prediction)": lambda: border_counts(prepared, pred, space),
        "add with borders=BorderOptions() (all in one call)": lambda: SemanticEvaluator(space, borders=opts).add(
            gt, pred
        ),
    }
    res = {name: timed(fn, args.repeat) for name, fn in rows.items()}
    base = res["SemanticEvaluator.add (baseline)"][1]
    print(
        f"1024×2048 map, {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}, median (best) of {args.repeat}"
    )
    for name, (best, med) in res.items():
        print(f"{name:<52} {1000 * med:8.1f} ms ({1000 * best:7.1f})  {med / base:5.2f}× add")
    ratio = res["all new measures (gt_borders + border_counts)"][1] / base
    print(f"all new measures / add: {ratio:.2f} (goal: at most 3)")
    if args.without_numba:
        from segfix_gui.core import distance

        compiled = distance._compiled
        distance._compiled = lambda: None  # as where numba is not installed
        try:
            slow = {name: timed(fn, args.repeat) for name, fn in rows.items()}
        finally:
            distance._compiled = compiled
        print("without numba (core.distance's NumPy/SciPy path), median (best):")
        for name, (best, med) in slow.items():
            print(f"{name:<52} {1000 * med:8.1f} ms ({1000 * best:7.1f})  {med / res[name][1]:5.1f}× compiled")
    if args.sweep:
        res.update(sweep_timing(args.sweep))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "median_ms": {k: 1000 * v[1] for k, v in res.items()},
                    "best_ms": {k: 1000 * v[0] for k, v in res.items()},
                    "ratio": ratio,
                    "load_average": os.getloadavg()[0],
                },
                indent=2,
            )
            + "\n"
        )
    return 0


def sweep_timing(n: int) -> dict:
    from segfix_gui.core.offsets import OffsetField
    from segfix_gui.core.sweep import SweepGrid, SweepSample, sweep
    from segfix_gui.io.images import read_labels

    space = get_label_space("camvid")
    rng = np.random.default_rng(0)
    samples = []
    for path in sorted((ROOT.parent / "shared/data/camvid/val/labels").glob("*.png"))[:n]:
        gt = read_labels(path, space)
        h, w = gt.shape
        field = OffsetField(
            boundary=rng.random((h, w)).astype(np.float32),
            direction=rng.dirichlet(np.full(8, 0.7), size=(h, w)).transpose(2, 0, 1).astype(np.float32),
        )
        samples.append(SweepSample(path.stem, gt, degrade(gt, space, stride=8), field))
    grid = SweepGrid(thresholds=tuple(np.round(np.arange(0.1, 0.95, 0.1), 2)), scales=(1, 2, 3))
    out = {}
    for name, ratio in (("sweep, 27 settings", None), ("sweep, 27 settings, with boundary IoU", 0.005)):
        t = time.perf_counter()
        sweep(samples, space, grid, dilation_ratio=ratio)
        out[name] = (time.perf_counter() - t,) * 2
    a, b = (v[0] for v in out.values())
    print(f"sweep of {n} CamVid val images × 27 settings: {a:.1f} s, with boundary IoU {b:.1f} s ({b / a:.2f}×)")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
