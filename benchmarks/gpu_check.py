"""GPU check, for a machine with CUDA: CUDA refinement equals CPU bit for bit, and timings.

    python benchmarks/gpu_check.py [--json OUT.json]

Checks ``refine_labels`` on CUDA against the CPU path on random label maps and offsets
(2-D maps of several dtypes and (N, H, W) instance masks) and on a 1024×2048 map with
ground-truth offsets; times refinement per 1024×2048 map on both; times offset prediction
with the bundled network when ``segfix_gui.model`` provides it. Exits 1 if any result differs.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segfix_gui.core.refine import refine_labels
from segfix_gui.core.setting import Setting
from segfix_gui.core.targets import gt_offset_field


def _time(fn, repeat: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def big_map(rng) -> np.ndarray:
    """A 1024×2048 map of 160-px blocks: about 12% of pixels within 5 px of a border."""
    small = rng.integers(0, 19, size=(7, 13)).astype(np.uint8)
    return np.kron(small, np.ones((160, 160), np.uint8))[:1024, :2048]


def main() -> int:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    report = {"machine": platform.node(), "torch": torch.__version__, "cuda": torch.cuda.is_available()}
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        report["skipped"] = True
    else:
        report["gpu"] = torch.cuda.get_device_name(0)
        rng = np.random.default_rng(0)
        mismatches = 0
        cases = 0
        for dtype in (np.uint8, np.uint16, np.int32, np.int64, bool):
            for shape in ((1, 1), (7, 13), (240, 320), (3, 64, 80)):
                labels = rng.integers(0, 2 if dtype is bool else 200, size=shape).astype(dtype)
                h, w = shape[-2:]
                off = rng.integers(-4, 5, size=(2, h, w)).astype(np.int16)
                off[:, rng.random((h, w)) < 0.5] = 0
                a = refine_labels(labels, off, device="cpu")
                b = refine_labels(labels, off, device="cuda")
                cases += 1
                mismatches += int(a.dtype != b.dtype or not np.array_equal(a, b))
        labels = big_map(rng)
        field = gt_offset_field(labels, width=5)
        off = field.to_offsets(Setting(threshold=0.5, scale=2))
        a = refine_labels(labels, off, device="cpu")
        b = refine_labels(labels, off, device="cuda")
        cases += 1
        mismatches += int(not np.array_equal(a, b))
        report.update(cases=cases, mismatches=mismatches, boundary_fraction=float((off != 0).any(0).mean()))

        def cuda_refine():
            refine_labels(labels, off, device="cuda")
            torch.cuda.synchronize()

        report["refine_1024x2048_cpu_ms"] = 1000 * _time(lambda: refine_labels(labels, off, device="cpu"), 5)
        report["refine_1024x2048_cuda_ms"] = 1000 * _time(cuda_refine, 20)
        try:  # offset prediction timing, when the model package provides it
            from segfix_gui.model import gpu_timing  # type: ignore[attr-defined]
        except ImportError:
            gpu_timing = None
        if gpu_timing is not None:
            report.update(gpu_timing())
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 1 if report.get("mismatches") else 0


if __name__ == "__main__":
    sys.exit(main())
