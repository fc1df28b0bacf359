"""Where the errors are, before and after refinement, on CamVid val: the error profile by distance
to the border and the boundary measures, for ground-truth ("oracle") and bundled-network offsets.

    python benchmarks/boundary_profile.py [--data ../shared/data/camvid] [--keep DIR]
        [--plots DIR] [--json FILE]

Runs the command line as a user would, in-process, in a temporary folder (``--keep`` keeps it):

    segfix degrade         --labels VAL/labels --out coarse --stride 8        # simulated stride-8 network
    segfix gt-offsets      --labels VAL/labels --out oracle                   # perfect offsets
    segfix predict-offsets --images VAL/images --out network --device cpu     # the bundled network
    segfix refine   --input coarse --offset oracle  --out refined_oracle      # the fields' own settings
    segfix refine   --input coarse --offset network --out refined_network
    segfix evaluate --gt VAL/labels --pred coarse --refined refined_oracle  --json oracle.json  --plot oracle.png
    segfix evaluate --gt VAL/labels --pred coarse --refined refined_network --json network.json --plot network.png

and prints, in points (%): the error rate per distance bin for the coarse predictions and both
refinements, then mIoU, boundary F at 1 / 3 / 5 px, boundary IoU and trimap mIoU at 1, 2, 3, 5
and 10 px. ``--plots DIR`` copies the two plots there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from segfix_gui.cli import main as segfix  # noqa: E402


def run(argv: list[str]) -> None:
    t = time.perf_counter()
    code = segfix(argv)
    print(f"  segfix {argv[0]}: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    if code != 0:
        raise SystemExit(f"segfix {' '.join(argv)} exited {code}")


def pct(v, digits: int = 2) -> str:
    return "n/a" if v is None else f"{100 * v:.{digits}f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "camvid"))
    ap.add_argument("--keep", metavar="DIR", help="work here and keep the files (default: a temporary folder)")
    ap.add_argument("--plots", metavar="DIR", help="copy the two profile plots here")
    ap.add_argument("--json", metavar="FILE", help="write both evaluations as one JSON")
    args = ap.parse_args(argv)
    val = Path(args.data) / "val"
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="segfix-profile-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        run(["degrade", "--labels", str(val / "labels"), "--out", str(work / "coarse"), "--stride", "8"])
        run(["gt-offsets", "--labels", str(val / "labels"), "--out", str(work / "oracle")])
        run(["predict-offsets", "--images", str(val / "images"), "--out", str(work / "network"), "--device", "cpu"])
        res = {}
        for name in ("oracle", "network"):
            refined = work / f"refined_{name}"
            run(["refine", "--input", str(work / "coarse"), "--offset", str(work / name), "--out", str(refined)])
            js, png = work / f"{name}.json", work / f"{name}.png"
            run(["evaluate", "--gt", str(val / "labels"), "--pred", str(work / "coarse"), "--refined", str(refined),
                 "--json", str(js), "--plot", str(png)])  # fmt: skip
            res[name] = json.loads(js.read_text())
            if args.plots:
                Path(args.plots).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(png, Path(args.plots) / f"boundary_profile_{name}.png")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    coarse, oracle, network = res["oracle"], res["oracle"]["refined"], res["network"]["refined"]
    assert res["network"]["error_profile"] == coarse["error_profile"]  # the same coarse maps
    print(
        f"CamVid val, {coarse['images']} images, stride-8 coarse predictions; {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print("\n| distance to the border | pixels | coarse error % | oracle | bundled network |")
    print("|---|---:|---:|---:|---:|")
    prof = coarse["error_profile"]
    rows = list(zip(prof["bins_px"], prof["pixels"], prof["error_rate"], strict=True))
    rows.append((f">{prof['beyond_px'] - 1}", prof["pixels_beyond"], prof["error_rate_beyond"]))
    for i, (b, n, r) in enumerate(rows):
        after = []
        for ref in (oracle, network):
            p = ref["error_profile"]
            after.append((p["error_rate"] + [p["error_rate_beyond"]])[i])
        print(f"| {b} px | {n:,} | {pct(r)} | {pct(after[0])} | {pct(after[1])} |")
    print("\n| | coarse | oracle | bundled network |")
    print("|---|---:|---:|---:|")
    rows = [("mIoU", "miou"), ("boundary IoU", "boundary_iou")]
    for name, key in rows:
        print(f"| {name} | {pct(coarse[key])} | {pct(oracle[key])} | {pct(network[key])} |")
    for t in coarse["boundary_f_at"]:
        vals = [pct(r["boundary_f_at"][t]) for r in (coarse, oracle, network)]
        print(f"| boundary F at {t} px | {' | '.join(vals)} |")
    for w in ("1", "2", "3", "5", "10"):
        vals = [pct(r["trimap_iou"][w]) for r in (coarse, oracle, network)]
        print(f"| trimap mIoU, {w} px band | {' | '.join(vals)} |")
    for name in ("oracle", "network"):
        c = res[name]["change"]
        print(f"{name}: {c['fixed']} fixed, {c['broken']} broken, {c['swapped']} swapped pixels")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
