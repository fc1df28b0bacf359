"""What one frame costs when a set is opened, stage by stage, each beside the way it was done before.

The window's first pass over a set reads each sample (ground truth, prediction, offsets), makes
its evaluator and scores it at the setting (``SetScorer._read_hold_and_score``). Per CamVid frame,
median over the frames, on one core:

- reading the offsets (``read_offsets``), and inside it the range check of the float16 arrays:
  float ``min``/``max`` (before) against one integer maximum of the bit patterns (now);
- the summary of the directions: ``argmax`` and ``max`` row block by row block (before, still the
  path of other dtypes) against one pass over the K planes' bit patterns (now);
- the evaluator's unrefined boundary counts: ``metrics.boundary_counts`` (before) against reading
  them off the tolerance structures (now), and the whole evaluator;
- the candidates at threshold 0 (before) and at 0.1 (now);
- the whole first pass over the set in one thread and in two (``SetScorer``, workers 1 and 2).

    python benchmarks/set_first_pass.py [--frames 60]

The set is the one ``set_latency.py`` makes (CamVid val, stride-8 predictions, offsets from the
bundled network). Prints the machine's load average; compare figures from one run only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def per_frame(fn, items, repeat: int = 1) -> float:
    """Median milliseconds of ``fn(item)`` over the items (after one warm-up call)."""
    fn(items[0])
    times = []
    for it in items:
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn(it)
        times.append((time.perf_counter() - t0) * 1000 / repeat)
    return statistics.median(times)


def main(argv=None) -> int:
    from set_latency import camvid_set

    from segfix_gui.core.evaluator import CANDIDATE_FLOOR, ImageEvaluator
    from segfix_gui.core.metrics import BOUNDARY_TOL, boundary_counts
    from segfix_gui.core.setting import Setting
    from segfix_gui.io.images import read_labels
    from segfix_gui.io.offsets import _unit_f16, read_offsets
    from segfix_gui.io.samples import pair_set
    from segfix_gui.labels import get_label_space
    from segfix_gui.session.sets import SetScorer

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/segfix-set-bench"))
    ap.add_argument("--frames", type=int, default=60)
    args = ap.parse_args(argv)
    root = camvid_set(args.work)
    space = get_label_space("camvid")
    names = sorted(p.stem for p in (root / "preds").glob("*.png"))[: args.frames]
    offsets = [root / "offsets" / f"{n}.npz" for n in names]
    fields = [read_offsets(p) for p in offsets]
    maps = [
        (read_labels(root / "gt" / f"{n}.png", space), read_labels(root / "preds" / f"{n}.png", space)) for n in names
    ]
    n = space.n_classes
    rows = []

    rows.append(("read the offsets (read_offsets, .npz)", per_frame(read_offsets, offsets), None))

    def check_float(f):
        for a in (f.boundary, f.direction):
            lo, hi = float(a.min()), float(a.max())
            assert 0 <= lo and hi <= 1

    def check_bits(f):
        assert _unit_f16(f.boundary) and _unit_f16(f.direction)

    rows.append(
        ("  its range check of the float16 arrays", per_frame(check_bits, fields), per_frame(check_float, fields))
    )

    def summary_before(f):
        f._by_rows(np.argmax, np.uint8)
        f._by_rows(np.max, np.float16)

    def summary_now(f):
        f._cache.clear()
        f.summarized()

    rows.append(
        (
            "summary of the directions (bins, confidence)",
            per_frame(summary_now, fields),
            per_frame(summary_before, fields),
        )
    )
    evs = [ImageEvaluator(g, p, space, boundary_tol=BOUNDARY_TOL) for g, p in maps]
    rows.append(
        (
            "unrefined boundary counts",
            per_frame(lambda ev: ev._img.base_counts(), evs),
            per_frame(lambda ev: boundary_counts(*ev.eval_maps, n, tol=BOUNDARY_TOL), evs),
        )
    )
    rows.append(
        (
            "the whole evaluator (ImageEvaluator)",
            per_frame(lambda m: ImageEvaluator(*m, space, boundary_tol=BOUNDARY_TOL), maps),
            None,
        )
    )
    summaries = [f.summarized() for f in fields]
    work = list(zip(evs, summaries, strict=True))

    def candidates(tmin):
        def run(e):
            ev, f = e
            ev._cands.clear()
            ev._field = None
            ev.candidates(f, 1.0, 0.0, tmin=tmin)

        return run

    rows.append(
        (
            f"candidates (from threshold {CANDIDATE_FLOOR} now, 0 before)",
            per_frame(candidates(CANDIDATE_FLOOR), work),
            per_frame(candidates(0.0), work),
        )
    )

    print(f"{len(names)} CamVid frames (360×480), median ms a frame, one core:")
    print(f"{'stage':<58} {'now':>8} {'before':>8} {'ratio':>6}")
    for name, now, before in rows:
        b = "" if before is None else f"{before:8.2f}"
        r = "" if before is None else f"{before / now:6.1f}"
        print(f"{name:<58} {now:8.2f} {b:>8} {r:>6}")

    samples = pair_set(pred=str(root / "preds"), offsets=str(root / "offsets"), gt=str(root / "gt"))
    setting = Setting(threshold=0.9, scale=1.0)
    SetScorer(samples[:2], "camvid").score(setting)  # numba's kernels loaded
    walls = {}
    for workers in (1, 2, 1, 2):
        t0 = time.perf_counter()
        SetScorer(samples, "camvid", workers=workers).score(setting)
        walls.setdefault(workers, []).append(time.perf_counter() - t0)
    one, two = min(walls[1]), min(walls[2])
    print(
        f"first pass over the {len(samples)} frames (SetScorer.score, best of 2): one thread {one:.2f} s "
        f"({one * 1000 / len(samples):.1f} ms a frame), two threads {two:.2f} s: {one / two:.2f}×"
    )
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
