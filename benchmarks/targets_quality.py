"""Ground-truth directions side by side: ours against the original SegFix's, as oracle offsets.

    python benchmarks/targets_quality.py [--data ../shared/data/camvid] [--split val]
        [--openseg /path/to/openseg.pytorch] [--every N] [--sigmas 1,2,3] [--json OUT.json]

On every ground-truth map of the split, the stride-8 simulated coarse prediction
(``segfix_gui.core.degrade.degrade``) is refined with oracle offsets from each rule, same band
(distance to another label ≤ 5, exact), only the direction differs:

- ``ours``: ``segfix gt-offsets`` now (``boundary_targets``: Gaussian derivative, σ = 4, of each
  class's clipped distance map);
- ``ours, nearest pixel``: the previous rule (``smoothing=0``: vector from the single nearest
  other-label pixel);
- ``original (rewrite)``: ``benchmarks/original.py`` — whole-image distance transform per class,
  5×5 OpenCV-style Sobel;
- ``original (openseg kernel)``: the original's own direction kernel, built by calling
  ``sobel_kernel`` from openseg's ``lib/datasets/preprocess/cityscapes/dt_offset_generator.py``
  (its code is run from the given checkout or git directory, never copied here), applied as
  its ``conv2d`` applies it (zero padding) to each class's whole-image distance transform;
- ``--sigmas``: ours with other σ (how the default was chosen).

For each rule and scale 1, 2, 3: mIoU and boundary F (3 px) after refinement; and at scale 2
the share of band pixels whose offset lands on a pixel of another ground-truth label
("leaves"), for all band pixels, those in thin structures (their segment is at most 4 px wide
there: the own-class distance never exceeds 2 within 2 px) and at junctions (3 or more labels
within 2 px).
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import original  # noqa: E402

from segfix_gui.core.degrade import degrade  # noqa: E402
from segfix_gui.core.metrics import SemanticEvaluator  # noqa: E402
from segfix_gui.core.offsets import DIRECTIONS, angles_to_bins  # noqa: E402
from segfix_gui.core.refine import refine_labels  # noqa: E402
from segfix_gui.core.targets import boundary_targets  # noqa: E402
from segfix_gui.io.images import read_labels  # noqa: E402
from segfix_gui.labels import get_label_space  # noqa: E402

GENERATOR = "lib/datasets/preprocess/cityscapes/dt_offset_generator.py"
SCALES = (1, 2, 3)
WIDTH = 5


def openseg_sobel_kernel(openseg: str, ksize: int = 5):
    """The original's ``sobel_kernel`` function, executed from its own source.

    ``openseg`` is a checkout or a (bare) git directory of openseg.pytorch. Only that one
    function is taken out of the module (the module itself runs a whole job at import).
    Returns the (d_row, d_col) correlation kernels as numpy arrays.
    """
    p = Path(openseg)
    if (p / GENERATOR).is_file():
        src = (p / GENERATOR).read_text()
    else:
        src = subprocess.run(
            ["git", "--git-dir", str(p), "show", f"HEAD:{GENERATOR}"], check=True, capture_output=True, text=True
        ).stdout
    tree = ast.parse(src)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "sobel_kernel")
    import torch

    scope = {"np": np, "torch": torch}
    exec(compile(ast.Module([fn], []), GENERATOR, "exec"), scope)
    kx, ky = (scope["sobel_kernel"]((ksize, ksize), i)[0].numpy() for i in (0, 1))
    # openseg stacks [sobel_y, sobel_x] and reads channel 0 as rows, 1 as columns
    return ky, kx


def openseg_kernel_targets(labels, kernels, *, width, ignore_ids):
    """Each class's whole-image EDT, the openseg kernel applied as its conv2d (cross-
    correlation, zero padding), read on the class's own band."""
    ky, kx = kernels
    band = np.zeros(labels.shape, bool)
    d_row = np.zeros(labels.shape)
    d_col = np.zeros(labels.shape)
    for c in np.unique(labels):
        if c in ignore_ids:
            continue
        mask = labels == c
        dist = ndi.distance_transform_edt(mask)
        sel = mask & (dist <= width)
        if not sel.any():
            continue
        d_row[sel] = ndi.correlate(dist, ky, mode="constant")[sel]
        d_col[sel] = ndi.correlate(dist, kx, mode="constant")[sel]
        band |= sel
    return band, angles_to_bins(d_row, d_col, 8)


def offsets_of(band, bins, scale):
    steps = np.rint(DIRECTIONS[8] * scale).astype(np.int16)
    off = np.zeros((2,) + band.shape, np.int16)
    b = bins[band].astype(np.int64)
    off[0][band] = steps[b, 0]
    off[1][band] = steps[b, 1]
    return off


def pixel_kinds(gt, ignore_ids):
    """Thin-structure and junction masks (see the module docstring)."""
    own = np.zeros(gt.shape)
    for c in np.unique(gt):
        m = gt == c
        own[m] = ndi.distance_transform_edt(m)[m]
    thin = ndi.maximum_filter(np.where(np.isin(gt, list(ignore_ids)), 0, own), size=5) <= 2
    # count distinct labels in a 5×5 window: compare against shifted copies
    h, w = gt.shape
    pad = np.pad(gt, 2, mode="edge")
    seen = [gt]
    distinct = np.ones(gt.shape, np.int16)
    for dr in range(-2, 3):
        for dc in range(-2, 3):
            s = pad[2 + dr : 2 + dr + h, 2 + dc : 2 + dc + w]
            new = np.ones(gt.shape, bool)
            for t in seen:
                new &= s != t
            distinct += new
            seen.append(np.where(new, s, gt))
    return thin, distinct >= 3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "camvid"))
    ap.add_argument("--split", default="val")
    ap.add_argument(
        "--openseg", default=None, help="openseg.pytorch checkout or git dir (adds the original's own kernel)"
    )
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--sigmas", default="", help="extra σ values for our rule, comma-separated")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    space = get_label_space("camvid")
    ign = tuple(space.ignore_ids)
    files = sorted((Path(args.data) / args.split / "labels").glob("*.png"))[:: args.every]
    rules = {
        "ours": lambda g: boundary_targets(g, width=WIDTH, ignore_ids=ign)[:2],
        "ours, nearest pixel (before)": lambda g: boundary_targets(g, width=WIDTH, ignore_ids=ign, smoothing=0)[:2],
        "original (rewrite, 5x5 Sobel)": lambda g: original.gt_targets_original(g, width=WIDTH, ignore_ids=ign),
    }
    if args.openseg:
        kernels = openseg_sobel_kernel(args.openseg)
        rules["original (openseg's own kernel)"] = lambda g: openseg_kernel_targets(
            g, kernels, width=WIDTH, ignore_ids=ign
        )
    for sigma in filter(None, args.sigmas.split(",")):
        rules[f"ours, sigma {float(sigma):g}"] = lambda g, sg=float(sigma): boundary_targets(
            g, width=WIDTH, ignore_ids=ign, smoothing=sg
        )[:2]
    evs = {(r, s): SemanticEvaluator(space) for r in rules for s in SCALES}
    base = SemanticEvaluator(space)
    leaves = {r: {"all": [0, 0], "thin": [0, 0], "junction": [0, 0]} for r in rules}
    seconds = {r: 0.0 for r in rules}
    t0 = time.time()
    for i, f in enumerate(files):
        gt = read_labels(f, space)
        coarse = degrade(gt, space, stride=8)
        base.add(gt, coarse)
        thin, junction = pixel_kinds(gt, ign)
        h, w = gt.shape
        rows, cols = np.indices(gt.shape)
        for name, rule in rules.items():
            t = time.perf_counter()
            band, bins = rule(gt)
            seconds[name] += time.perf_counter() - t
            for s in SCALES:
                off = offsets_of(band, bins, s)
                evs[(name, s)].add(gt, refine_labels(coarse, off, device="cpu"))
                if s == 2:
                    lr = np.clip(rows + off[0], 0, h - 1)
                    lc = np.clip(cols + off[1], 0, w - 1)
                    out = gt[lr, lc] != gt
                    for kind, m in (("all", band), ("thin", band & thin), ("junction", band & junction)):
                        leaves[name][kind][0] += int(out[m].sum())
                        leaves[name][kind][1] += int(m.sum())
        if sys.stderr.isatty():
            print(f"\r{i + 1}/{len(files)}", end="", file=sys.stderr, flush=True)
    b = base.result()
    rep = {
        "data": args.data,
        "split": args.split,
        "maps": len(files),
        "band_width": WIDTH,
        "machine": f"{platform.node()} {platform.machine()}",
        "coarse": {"miou": round(100 * b["miou"], 2), "boundary_f": round(100 * b["boundary_f"], 2)},
        "rules": {},
    }
    for name in rules:
        r = {
            f"scale{s}": {
                "miou": round(100 * evs[(name, s)].result()["miou"], 2),
                "boundary_f": round(100 * evs[(name, s)].result()["boundary_f"], 2),
            }
            for s in SCALES
        }
        r["leaves_at_scale2"] = {k: round(v[0] / max(v[1], 1), 4) for k, v in leaves[name].items()}
        r["band_pixels"] = {k: v[1] for k, v in leaves[name].items()}
        r["target_seconds_per_map"] = round(seconds[name] / max(len(files), 1), 4)
        rep["rules"][name] = r
    rep["seconds"] = round(time.time() - t0, 1)
    print(
        f"{args.split}: {len(files)} maps, coarse mIoU {rep['coarse']['miou']:.2f} "
        f"boundary F {rep['coarse']['boundary_f']:.2f}"
    )
    print(f"{'directions':34s} " + "  ".join(f"scale {s}: mIoU / bF" for s in SCALES) + "   leaves@2 all/thin/junction")
    for name, r in rep["rules"].items():
        lv = r["leaves_at_scale2"]
        print(
            f"{name:34s} "
            + "  ".join(f"{r[f'scale{s}']['miou']:8.2f} / {r[f'scale{s}']['boundary_f']:5.2f}" for s in SCALES)
            + f"   {100 * lv['all']:.1f}% / {100 * lv['thin']:.1f}% / {100 * lv['junction']:.1f}%"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
