"""Engine speed and correctness against the original SegFix approach, side by side in one run.

    python benchmarks/engine_speed.py [--maps 16] [--workers 2] [--parts folder,refine,targets,camvid]
        [--json FILE]

1. ``refine_labels`` vs the original per-map refinement on a 1024×2048 Cityscapes map
   (../shared/data/cityscapes_mini label ids enlarged 8× by nearest neighbour) with oracle offsets.
2. Ground-truth offsets (``boundary_targets``: band, distances and directions) vs the original
   per-class distance transform + Sobel of the whole image (also timed: our previous
   nearest-pixel directions, ``smoothing=0``).
3. Whole-folder throughput: ``segfix refine --workers N`` vs the original script's
   ``multiprocessing.Pool(N)`` loop, label PNGs + openseg ``.mat`` offsets in and PNGs out.
4. Correctness on CamVid val with oracle offsets (scale 2): our output vs what the original
   intended (``align_corners=True``) and what it does (the default ``False``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import original  # noqa: E402

from segfix_gui.cli import main as segfix_main  # noqa: E402
from segfix_gui.core.metrics import SemanticEvaluator  # noqa: E402
from segfix_gui.core.refine import refine_labels  # noqa: E402
from segfix_gui.core.setting import Setting  # noqa: E402
from segfix_gui.core.targets import boundary_targets, gt_offset_field  # noqa: E402
from segfix_gui.labels import get_label_space  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CS_LABELS = DATA / "cityscapes_mini/gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png"


def best_of(fn, repeat=3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def id_to_train(space) -> dict[int, int]:
    return {c.id: c.train_id for c in space.classes if 0 <= c.id < 256}


def cityscapes_map() -> np.ndarray:
    small = np.asarray(Image.open(CS_LABELS))
    return np.kron(small, np.ones((8, 8), np.uint8))


# --- 3. the original script's folder loop -------------------------------------------------
_JOB = {}


def _original_process(names):
    from scipy.io import loadmat

    src, off, dst = names
    labels = np.asarray(Image.open(src)).astype(np.uint8)
    offsets = np.moveaxis(loadmat(off)["mat"], 2, 0) * _JOB["scale"]
    out = original.refine_original(labels, offsets, _JOB["id_to_train"])
    Image.fromarray(out).save(dst)


def _init(scale, table):
    _JOB.update(scale=scale, id_to_train=table)


def folder_throughput(labels: np.ndarray, field, n: int, workers: int, space) -> dict:
    from scipy.io import savemat

    hard = field.to_offsets(Setting(threshold=0.5, scale=1))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "pred").mkdir()
        (tmp / "off").mkdir()
        for i in range(n):
            Image.fromarray(labels).save(tmp / "pred" / f"map{i:03d}_leftImg8bit.png")
            # openseg's tester saves with scipy's savemat defaults: int32, uncompressed
            savemat(tmp / "off" / f"map{i:03d}_leftImg8bit.mat", {"mat": np.moveaxis(hard, 0, 2).astype(np.int32)})
        jobs = [
            (
                str(tmp / "pred" / f"map{i:03d}_leftImg8bit.png"),
                str(tmp / "off" / f"map{i:03d}_leftImg8bit.mat"),
                str(tmp / "orig" / f"map{i:03d}_leftImg8bit.png"),
            )
            for i in range(n)
        ]
        (tmp / "orig").mkdir()
        t = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(workers, _init, (2, id_to_train(space))) as pool:
            pool.map(_original_process, jobs)
        t_orig = time.perf_counter() - t
        t = time.perf_counter()
        rc = segfix_main(
            [
                "refine",
                "--input",
                str(tmp / "pred"),
                "--offset",
                str(tmp / "off"),
                "--out",
                str(tmp / "ours"),
                "--scale",
                "2",
                "--workers",
                str(workers),
            ]
        )
        t_ours = time.perf_counter() - t
        assert rc == 0
        same = all(
            np.array_equal(np.asarray(Image.open(j[2])), np.asarray(Image.open(tmp / "ours" / Path(j[2]).name)))
            for j in jobs
        )
    return {
        "maps": n,
        "workers": workers,
        "original_s": t_orig,
        "ours_s": t_ours,
        "original_maps_per_s": n / t_orig,
        "ours_maps_per_s": n / t_ours,
        "ratio": t_orig / t_ours,
        "outputs_equal_to_buggy_original": same,
    }


def camvid_correctness() -> dict:
    from segfix_gui.core.degrade import degrade
    from segfix_gui.io.images import read_labels

    space = get_label_space("camvid")
    table = id_to_train(space)
    files = sorted((DATA / "camvid/val/labels").glob("*.png"))
    evs = {k: SemanticEvaluator(space) for k in ("ours", "intended", "original")}
    differ = foreign = intended_differ = 0
    for f in files:
        gt = read_labels(f, space)
        coarse = degrade(gt, space, stride=8)
        off = gt_offset_field(gt, width=5, ignore_ids=space.ignore_ids).to_offsets(Setting(scale=2))
        ours = refine_labels(coarse, off, device="cpu")
        intended = original.refine_original(coarse, off, table, align_corners=True)
        buggy = original.refine_original(coarse, off, table, align_corners=False)
        intended_differ += int((ours != intended).sum())
        differ += int((ours != buggy).sum())
        present = np.unique(coarse)
        foreign += int((~np.isin(buggy, present)).sum())
        for k, m in (("ours", ours), ("intended", intended), ("original", buggy)):
            evs[k].add(gt, m)
    return {
        "maps": len(files),
        "pixels_differing_from_intended": intended_differ,
        "pixels_differing_from_original": differ,
        "original_foreign_id_pixels": foreign,
        "miou_ours": evs["ours"].result()["miou"],
        "miou_intended": evs["intended"].result()["miou"],
        "miou_original": evs["original"].result()["miou"],
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--maps", type=int, default=48)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--parts", default="folder,refine,targets,camvid", help="which of the measurements to run (comma-separated)"
    )
    ap.add_argument("--json")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    import torch

    space = get_label_space("cityscapes")
    labels = cityscapes_map()
    field = gt_offset_field(labels, width=5, ignore_ids=space.ignore_ids)
    off = field.to_offsets(Setting(scale=2))
    frac = float((off != 0).any(0).mean())
    table = id_to_train(space)
    res = {
        "machine": f"{platform.node()} {os.cpu_count()} cores",
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "map": "1024x2048",
        "boundary_fraction": frac,
    }
    # first, while no torch thread pool exists in this process: forked workers of a process
    # that has run torch's OpenMP code can hang
    if "folder" in parts:
        res["folder"] = folder_throughput(labels, field, args.maps, args.workers, space)
        print("folder", json.dumps(res["folder"]), flush=True)
    if "refine" in parts:
        t_ours = best_of(lambda: refine_labels(labels, off, device="cpu"), 5)
        t_orig = best_of(lambda: original.refine_original(labels, off, table), 3)
        res["refine"] = {"ours_ms": 1000 * t_ours, "original_ms": 1000 * t_orig, "ratio": t_orig / t_ours}
        print("refine", json.dumps(res["refine"]), flush=True)
    if "targets" in parts:
        ign = space.ignore_ids
        t_ours = best_of(lambda: boundary_targets(labels, width=5, ignore_ids=ign), 3)
        t_near = best_of(lambda: boundary_targets(labels, width=5, ignore_ids=ign, smoothing=0), 3)
        t_orig = best_of(lambda: original.gt_targets_original(labels, width=5, ignore_ids=ign), 2)
        res["gt_offsets"] = {
            "ours_ms": 1000 * t_ours,
            "ours_nearest_pixel_ms": 1000 * t_near,
            "original_ms": 1000 * t_orig,
            "ratio": t_orig / t_ours,
            "load_average_1min": os.getloadavg()[0],
        }
        print("gt_offsets", json.dumps(res["gt_offsets"]), flush=True)
    if "camvid" in parts and (DATA / "camvid/val/labels").is_dir():
        res["camvid_oracle"] = camvid_correctness()
        print("camvid_oracle", json.dumps(res["camvid_oracle"]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
