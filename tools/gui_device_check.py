"""Check the window's refinement path on a CUDA machine (no Qt needed).

The window refines through ``segfix_gui.session.compute.refine`` with the device chosen in its
controls. This runs that same function with ``device="cpu"`` and ``device="cuda"`` on the demo
and on the 1024×2048 sample of ``benchmarks/gui_latency.py`` at several thresholds, checks the
refined labels, diff codes and metrics are identical, and prints the timings of both.

Usage::

    python tools/gui_device_check.py [--data ../shared/data/cityscapes_mini]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="cityscapes_mini folder (for the 1024×2048 sample)")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from segfix_gui.gui import compute
    from segfix_gui.io.samples import SamplePaths, demo_paths

    cuda = torch.cuda.is_available()
    print(
        f"torch {torch.__version__}, cuda available: {cuda}" + (f" ({torch.cuda.get_device_name(0)})" if cuda else "")
    )
    devices = ["cpu"] + (["cuda"] if cuda else [])
    samples = [("demo 360×480", *demo_paths())]
    tmp = None
    if args.data is not None:
        import gui_latency

        gui_latency.DATA = args.data
        tmp = tempfile.TemporaryDirectory()
        samples.append(("1024×2048", SamplePaths(**gui_latency.make_sample(Path(tmp.name))), "cityscapes"))
    ok = True
    for label, paths, space in samples:
        loaded = compute.load(paths, space)
        s, base = loaded.sample, loaded.base
        times = {d: [] for d in devices}
        for thr in (0.2, 0.35, 0.5, 0.65, 0.8, 0.5, 0.5, 0.5):
            results = {}
            for d in devices:
                compute.refine(s, compute.ViewSetting(thr, 2.0, 0.0, d), base=base)  # warm
                t0 = time.perf_counter()
                results[d] = compute.refine(s, compute.ViewSetting(thr, 2.0, 0.0, d), base=base)
                times[d].append((time.perf_counter() - t0) * 1000)
            if cuda:
                a, b = results["cpu"], results["cuda"]
                same = (
                    np.array_equal(a.refined, b.refined)
                    and np.array_equal(a.codes, b.codes)
                    and a.after == b.after
                    and a.counts == b.counts
                )
                ok &= same
                if not same:
                    print(f"  {label} threshold {thr}: CPU and CUDA DIFFER")
        for d in devices:
            print(
                f"{label}: compute.refine on {d}: median {statistics.median(times[d]):.1f} ms "
                f"(refine + diff codes + metrics)"
            )
        if cuda:
            print(f"{label}: CPU and CUDA results identical at every threshold: {ok}")
    if tmp is not None:
        tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
