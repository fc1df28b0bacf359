"""Our boundary and footprint helpers against scikit-image's equivalents: same pixels, time.

    python benchmarks/skimage_equivalents.py [--repeat 20]

On the demo's ground truth tiled to 1024×2048 (the Cityscapes size):

- ``core.metrics.boundary_classes`` (1-px class boundaries, 4-neighbourhood, image edges not
  boundaries) against ``skimage.segmentation.find_boundaries(mode="thick", connectivity=1)``;
- ``core.instances.mask_outline`` (a mask's inner outline, image edges outside) against
  ``find_boundaries(mode="inner", connectivity=1)`` of the mask padded by one pixel;
- ``core.metrics._disk`` (offsets within a Euclidean tolerance) against
  ``skimage.morphology.disk``, for integer and fractional tolerances.

Prints whether each pair agrees and the best time of each. The tests hold our helpers to
scikit-image's results (``tests/core/test_metrics.py``); this says why the package keeps its own.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from segfix_gui.core.instances import mask_outline  # noqa: E402
from segfix_gui.core.metrics import _disk, boundary_classes  # noqa: E402
from segfix_gui.io.images import read_labels  # noqa: E402


def best_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    from skimage.morphology import disk
    from skimage.segmentation import find_boundaries

    gt = read_labels(ROOT / "resources" / "demo" / "ground_truth.png")
    labels = np.tile(gt, (3, 5))[:1024, :2048].astype(np.uint8)  # camvid ids; 11 is void
    n = 11

    def ours_b():
        return boundary_classes(labels, n)

    def sk_b():
        edge = find_boundaries(labels, connectivity=1, mode="thick")
        return np.where(edge & (labels < n), labels.astype(np.int16), np.int16(-1))

    mask = labels == 3  # road

    def ours_o():
        return mask_outline(mask)

    def sk_o():
        return find_boundaries(np.pad(mask, 1), connectivity=1, mode="inner")[1:-1, 1:-1]

    print(f"1024×2048 label map, best of {args.repeat}:")
    for name, a, b in (("class boundaries", ours_b, sk_b), ("mask outline", ours_o, sk_o)):
        same = np.array_equal(a(), b())
        ta, tb = best_ms(a, args.repeat), best_ms(b, args.repeat)
        print(f"  {name:<17} same pixels: {same}; ours {ta:6.1f} ms, scikit-image {tb:6.1f} ms ({tb / ta:.1f}×)")
    for tol in (1, 2, 3, 2.5, 3.5):
        d = disk(tol)
        theirs = sorted(map(tuple, (np.argwhere(d) - (np.array(d.shape) - 1) / 2).tolist()))
        ours = sorted(map(tuple, _disk(tol).astype(float).tolist()))
        print(f"  disk, tolerance {tol:g}: scikit-image {d.shape[0]}×{d.shape[1]}, same offsets: {theirs == ours}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
