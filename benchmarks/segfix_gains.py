"""SegFix's gain on a folder of predictions: ground-truth offsets (the upper bound) and an offset network.

    python benchmarks/segfix_gains.py --pred PREDS --gt GT --images IMAGES [--offsets OFFSETS]
        [--weights W] [--label-space camvid] [--scales 1,2,3] [--every N] [--json OUT] [--markdown]
    python benchmarks/segfix_gains.py --simulate 8 --gt GT --images IMAGES   # simulated stride-8 predictions

Give it your model's predictions (label PNGs), their ground truth and images, paired by name as
``segfix evaluate`` pairs them, and it reports mIoU and boundary F (3 px) before → after SegFix:

- with **ground-truth offsets** (``segfix gt-offsets`` defaults: 5-px band, K = 8) at each scale —
  what a perfect offset network would give, the upper bound;
- with the **offset network** (the bundled one, or ``--weights``) run on the images, at its
  recommended setting and over a grid of threshold × direction confidence × scale;
- with **your own offsets** (``--offsets``, ``.npz`` or openseg ``.mat``), at their recommended
  setting (else threshold 0.5) and each scale, when given.

It also counts the frames whose mIoU / boundary F the network's recommended setting raises and
lowers, and the share of the upper bound's gain it recovers (against the ground-truth offsets at
scale 2, the ``segfix gt-offsets`` / openseg default, and at the best of the scales). ``--simulate
S`` replaces the predictions by ``segfix_gui.core.degrade.degrade(gt, stride=S)``, the simulated
coarse maps of docs/RESULTS.md's second table. Every count is exact (``ImageEvaluator``: the
same engine as ``segfix sweep`` and the window).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from segfix_gui.core.evaluator import ImageEvaluator  # noqa: E402
from segfix_gui.core.metrics import (  # noqa: E402
    BorderOptions,
    border_counts,
    border_result,
    gt_borders,
    present_classes,
    scores_from_counts,
)
from segfix_gui.core.refine import refine_labels  # noqa: E402
from segfix_gui.core.setting import Setting  # noqa: E402

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)
CONFIDENCES = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7)
ORACLE_WIDTH = 5


class Tally:
    """Counts summed per key (a setting) and per half of the images (even / odd index)."""

    def __init__(self, n_classes: int):
        self.n = n_classes
        self.conf: dict = {}
        self.bc: dict = {}
        self.change: dict = {}
        self.frames: dict = {}  # key -> list of per-image (miou, boundary F)
        self.border: dict = {}  # key -> BorderCounts over all images (headline rows only)

    def add(self, key, half: int, conf, bc, change=None, *, frame: bool = False) -> None:
        k = (key, half)
        if k not in self.conf:
            self.conf[k] = np.zeros((self.n, self.n + 1), np.int64)
            self.bc[k] = np.zeros((self.n, 4), np.int64)
            self.change[k] = np.zeros(3, np.int64)
        self.conf[k] += conf
        self.bc[k] += bc
        if change is not None:
            self.change[k] += change
        if frame:
            self.frames.setdefault(key, []).append(scores_from_counts(conf, bc)[:2])

    def add_border(self, key, counts) -> None:
        self.border[key] = counts if key not in self.border else self.border[key] + counts

    def keys(self) -> list:
        return sorted({k for k, _ in self.conf}, key=str)

    def scores(self, key, halves=(0, 1)) -> dict:
        conf = sum(self.conf[(key, h)] for h in halves if (key, h) in self.conf)
        bc = sum(self.bc[(key, h)] for h in halves if (key, h) in self.bc)
        change = sum(self.change[(key, h)] for h in halves if (key, h) in self.change)
        miou, bf, _ = scores_from_counts(conf, bc)
        return {
            "miou": 100 * miou,
            "boundary_f": 100 * bf,
            "fixed": int(change[0]),
            "broken": int(change[1]),
            "swapped": int(change[2]),
        }


def add_sweep(tally: Tally, key, ev: ImageEvaluator, field, half: int, *, thresholds, scales, confidences) -> None:
    """Add ``field``'s counts at every (threshold, scale, confidence) under ``(key, t, s, c)``."""
    conf, bc, change = ev.sweep(field, list(thresholds), list(scales), list(confidences))
    for i, t in enumerate(thresholds):
        for j, s in enumerate(scales):
            for d, c in enumerate(confidences):
                tally.add((key, t, float(s), c), half, conf[i, j, d], bc[i, j, d], change[i, j, d])


def add_at(tally: Tally, key, ev: ImageEvaluator, field, setting: Setting, half: int, borders=None) -> None:
    """Counts of ``field`` at ``setting``; with ``borders`` (the image's ``gt_borders``), the
    boundary measures of the refined map too."""
    c = ev.at(field, setting)
    tally.add(key, half, c.conf, c.bcounts, c.change, frame=True)
    if borders is not None:
        refined = refine_labels(ev.pred, field.to_offsets(setting), device="cpu")
        tally.add_border(key, border_counts(borders, refined, ev.space))


def setting_of(d: dict) -> Setting:
    return Setting.resolve(d or {})


def rows_of(tally: Tally, base_key="before", halves=(0, 1)) -> dict:
    """``{key: scores with d_miou / d_boundary_f against the predictions}``."""
    base = tally.scores(base_key, halves)
    out = {}
    for k in tally.keys():
        r = tally.scores(k, halves)
        r["d_miou"] = r["miou"] - base["miou"]
        r["d_boundary_f"] = r["boundary_f"] - base["boundary_f"]
        out[k] = r
    return out


def frame_counts(tally: Tally, key, base_key="before") -> dict:
    a = np.array(tally.frames.get(key, []), float)
    b = np.array(tally.frames.get(base_key, []), float)
    if not len(a) or a.shape != b.shape:
        return {}
    d = 100 * (a - b)
    return {
        "frames": len(d),
        "miou_gain": int((d[:, 0] > 1e-9).sum()),
        "miou_loss": int((d[:, 0] < -1e-9).sum()),
        "boundary_f_gain": int((d[:, 1] > 1e-9).sum()),
        "boundary_f_loss": int((d[:, 1] < -1e-9).sum()),
        "median_d_miou": float(np.median(d[:, 0])),
        "median_d_boundary_f": float(np.median(d[:, 1])),
    }


def predictions_by_name(folder, names) -> dict:
    """``{name: prediction path}`` of a folder paired by name (``io.pairing.pair_key``);
    SystemExit naming the first of ``names`` that has none."""
    from segfix_gui.io.pairing import LABEL_SUFFIXES, list_files, pair_key

    found = {pair_key(p): p for p in list_files(folder, LABEL_SUFFIXES)}
    missing = [n for n in names if n not in found]
    if missing:
        raise SystemExit(f"{folder}: no prediction for {missing[0]} ({len(missing)} of {len(names)} lack one)")
    return {n: found[n] for n in names}


def pair(args) -> list[dict]:
    from segfix_gui.io.pairing import pair_folders

    lead = "gt" if args.simulate else "pred"
    folders = {"gt": args.gt, "pred": None if args.simulate else args.pred, "image": args.images}
    if args.offsets:
        folders["offsets"] = args.offsets
    rows = pair_folders(lead, folders)
    bad = [r["error"] for r in rows if r["error"]]
    if bad:
        raise SystemExit(f"segfix_gains: {bad[0]}")
    need = ["gt", "pred"] + (["image"] if args.images else []) + (["offsets"] if args.offsets else [])
    if args.simulate:
        need.remove("pred")
    missing = [(r["key"], k) for r in rows for k in need if r.get(k) is None]
    if missing:
        raise SystemExit(f"segfix_gains: {missing[0][0]}: no {missing[0][1]} file of that name")
    return rows[:: args.every]


def run(args) -> dict:
    from segfix_gui.core.degrade import degrade
    from segfix_gui.core.targets import gt_offset_field
    from segfix_gui.io.images import read_image, read_labels
    from segfix_gui.io.offsets import read_offsets
    from segfix_gui.labels import get_label_space

    t0 = time.time()
    space = get_label_space(args.label_space)
    scales = [float(s) for s in args.scales.split(",")]
    rows = pair(args)
    net = None
    if args.images and not args.no_network:
        from segfix_gui.model.predictor import OffsetPredictor

        net = OffsetPredictor(args.weights, device=args.device)
    tally = Tally(space.n_classes)
    n_pixels = 0
    for i, row in enumerate(rows):
        half = i % 2
        gt = read_labels(row["gt"], space)
        pred = degrade(gt, space, stride=args.simulate) if args.simulate else read_labels(row["pred"], space)
        if pred.shape != gt.shape:
            raise SystemExit(f"segfix_gains: {row['pred']}: {pred.shape} but its ground truth is {gt.shape}")
        n_pixels += gt.size
        ev = ImageEvaluator(gt, pred, space)
        b = ev.base
        tally.add("before", half, b.conf, b.bcounts, b.change, frame=True)
        borders = gt_borders(gt, space, options=BorderOptions())
        tally.add_border("before", border_counts(borders, pred, space))
        oracle = gt_offset_field(gt, width=ORACLE_WIDTH, ignore_ids=space.ignore_ids)
        for s in scales:
            add_at(tally, ("oracle", s), ev, oracle, Setting(threshold=0.5, scale=s), half, borders)
        if net is not None:
            field = net.predict(read_image(row["image"]))
            rec = setting_of(field.recommended)
            add_at(tally, ("network", "recommended"), ev, field, rec, half, borders)
            add_sweep(tally, "network", ev, field, half, thresholds=THRESHOLDS, scales=scales, confidences=CONFIDENCES)
        if args.offsets:
            field = read_offsets(row["offsets"])
            rec = setting_of(field.recommended)
            add_at(tally, ("offsets", "recommended"), ev, field, rec, half, borders)
            for s in scales:
                add_at(tally, ("offsets", s), ev, field, Setting.resolve(field.recommended, scale=s), half)
        if sys.stderr.isatty():
            print(f"\r{i + 1}/{len(rows)}", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    return report(args, tally, net, scales, len(rows), n_pixels, time.time() - t0)


def boundary_measures(tally: Tally, key, space) -> dict:
    """Boundary IoU, boundary F at 1 / 3 / 5 px and the error profile of a headline row, in
    points (``{}`` where ``segfix_gui.core.metrics`` has no boundary measures)."""
    if key not in tally.border:
        return {}
    conf = sum(tally.conf[(key, h)] for h in (0, 1) if (key, h) in tally.conf)
    r = border_result(tally.border[key], space.names, present_classes(conf))

    def pt(v):
        return None if v is None else round(100 * v, 2)

    prof = r["error_profile"]
    return {
        "boundary_iou": pt(r["boundary_iou"]),
        "boundary_f_at": {t: pt(v) for t, v in r["boundary_f_at"].items()},
        "error_profile": {
            "bins_px": prof["bins_px"] + [f">{prof['beyond_px'] - 1}"],
            "pixels": prof["pixels"] + [prof["pixels_beyond"]],
            "error_rate": [pt(v) for v in prof["error_rate"] + [prof["error_rate_beyond"]]],
        },
    }


def report(args, tally: Tally, net, scales, n_images: int, n_pixels: int, seconds: float) -> dict:
    from segfix_gui.labels import get_label_space

    space = get_label_space(args.label_space)
    rows = rows_of(tally)
    for key in tally.border:
        rows[key].update(boundary_measures(tally, key, space))

    def r2(d):
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in d.items()}

    oracle = {s: rows[("oracle", s)] for s in scales}
    up2 = oracle.get(2.0, max(oracle.values(), key=lambda r: r["d_miou"]))
    best_scale = max(oracle, key=lambda s: oracle[s]["d_miou"])
    out = {
        "predictions": f"simulated: degrade(gt, stride={args.simulate})" if args.simulate else str(args.pred),
        "gt": str(args.gt),
        "images": n_images,
        "pixels": n_pixels,
        "label_space": args.label_space,
        "before": r2(rows["before"]),
        "oracle": {f"scale {s:g}": r2(oracle[s]) for s in scales},
        "oracle_note": f"ground-truth offsets (band {ORACLE_WIDTH} px, K = 8, threshold 0.5)",
    }

    def share(r):
        return {
            "of_oracle_scale2_miou": round(r["d_miou"] / up2["d_miou"], 3) if up2["d_miou"] else None,
            "of_oracle_scale2_boundary_f": round(r["d_boundary_f"] / up2["d_boundary_f"], 3)
            if up2["d_boundary_f"]
            else None,
            f"of_oracle_best_scale{best_scale:g}_miou": round(r["d_miou"] / oracle[best_scale]["d_miou"], 3)
            if oracle[best_scale]["d_miou"]
            else None,
        }

    if net is not None:
        from segfix_gui.model.predictor import bundled_path

        rec = rows[("network", "recommended")]
        grid = [
            {"threshold": k[1], "scale": k[2], "min_direction_prob": k[3], **r2(r)}
            for k, r in rows.items()
            if isinstance(k, tuple) and k[0] == "network" and len(k) == 4
        ]
        grid.sort(key=lambda g: (g["scale"], g["threshold"], g["min_direction_prob"]))
        safe = [g for g in grid if g["d_miou"] >= 0 and g["d_boundary_f"] >= 0]
        out["network"] = {
            "weights": str(args.weights or bundled_path()),
            "recommended_setting": dict(net.recommended),
            "at_recommended": r2(rec),
            "share_of_upper_bound": share(rec),
            "frames_at_recommended": r2(frame_counts(tally, ("network", "recommended"))),
            "best_miou_setting": max(grid, key=lambda g: g["d_miou"]),
            "best_boundary_f_setting": max(grid, key=lambda g: g["d_boundary_f"]),
            "best_miou_without_lowering_boundary_f": max(safe, key=lambda g: g["d_miou"]) if safe else None,
            "grid": grid,
        }
    if args.offsets:
        out["offsets"] = {
            "folder": str(args.offsets),
            "at_recommended": r2(rows[("offsets", "recommended")]),
            "share_of_upper_bound": share(rows[("offsets", "recommended")]),
            "by_scale": {f"scale {s:g}": r2(rows[("offsets", s)]) for s in scales},
        }
    out["machine"] = f"{platform.node()} {platform.machine()}, {platform.python_version()}"
    out["seconds"] = round(seconds, 1)
    return out


def _setting_text(g: dict) -> str:
    return f"{g.get('threshold', 0.5):g} / {g.get('min_direction_prob', 0):g} / {g.get('scale', 2):g}"


def headline(rep: dict) -> list[tuple[str, dict]]:
    """``(label, row)`` of the rows every report shows, the predictions first."""
    rows = [(f"nothing ({rep['predictions']})", rep["before"])]
    rows += [(f"ground-truth offsets, {k} (upper bound)", r) for k, r in rep["oracle"].items()]
    net = rep.get("network")
    if net:
        rows.append(
            (f"offset network at its defaults ({_setting_text(net['recommended_setting'])})", net["at_recommended"])
        )
    off = rep.get("offsets")
    if off:
        rows.append(("your offsets at their recommended setting", off["at_recommended"]))
        rows += [(f"your offsets, {k}", r) for k, r in off["by_scale"].items()]
    return rows


def _cells(r: dict, biou: bool, md: bool) -> list[str]:
    first = "d_miou" not in r or (r["d_miou"] == 0 and r.get("fixed", 0) == 0 and r.get("broken", 0) == 0)
    delta = (lambda k: "" if first else f"{r[k]:+.2f}") if md else (lambda k: "" if first else f"{r[k]:+6.2f}")
    out = [f"{r['miou']:.2f}", delta("d_miou"), f"{r['boundary_f']:.2f}", delta("d_boundary_f")]
    if biou:
        out.append("" if r.get("boundary_iou") is None else f"{r['boundary_iou']:.2f}")
    return out


def summary(rep: dict) -> str:
    rows = headline(rep)
    biou = any(r.get("boundary_iou") is not None for _, r in rows)
    head = ["mIoU", "Δ", "bound. F", "Δ"] + (["bound. IoU"] if biou else [])
    lines = [
        f"{rep['images']} images, predictions: {rep['predictions']}",
        f"{'':60s}" + " ".join(f"{h:>10s}" for h in head),
    ]
    for label, r in rows:
        lines.append(f"{label[:60]:60s}" + " ".join(f"{c:>10s}" for c in _cells(r, biou, False)))
    net = rep.get("network")
    if net:
        lines.append(f"share of the upper bound: {net['share_of_upper_bound']}")
        lines.append(f"frames at the defaults: {net['frames_at_recommended']}")
        for name in ("best_miou_setting", "best_boundary_f_setting", "best_miou_without_lowering_boundary_f"):
            g = net[name]
            if g:
                lines.append(
                    f"{name.replace('_', ' ')} ({_setting_text(g)}): mIoU {g['d_miou']:+.2f}, "
                    f"boundary F {g['d_boundary_f']:+.2f}"
                )
    prof = profile_table(rep, md=False)
    if prof:
        lines += ["error rate (%) by distance to the border:", prof]
    lines.append(f"{rep['seconds']} s on {rep['machine']}")
    return "\n".join(lines)


PROFILE_GROUPS = ((1, 1), (2, 2), (3, 3), (4, 4), (5, 6), (7, 10), (11, 20), (21, None))


def profile_table(rep: dict, *, md: bool = True) -> str:
    """Error rate by distance to the border for the headline rows (empty without profiles)."""
    rows = [(label, r["error_profile"]) for label, r in headline(rep) if r.get("error_profile")]
    if not rows:
        return ""
    names = [f"{a}" if a == b else (f"{a}–{b}" if b else f">{a - 1}") for a, b in PROFILE_GROUPS]

    def grouped(p):
        pix = np.array(p["pixels"], float)
        err = np.array([0 if e is None else e for e in p["error_rate"]], float) * pix / 100
        out = []
        for a, b in PROFILE_GROUPS:
            sel = slice(a - 1, b if b else None)
            n = pix[sel].sum()
            out.append(f"{100 * err[sel].sum() / n:.1f}" if n else "")
        return out, [int(pix[slice(a - 1, b if b else None)].sum()) for a, b in PROFILE_GROUPS]

    lines = []
    _, pixels = grouped(rows[0][1])
    if md:
        lines += ["| distance to the border (px) | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        lines.append("| share of the pixels (%) | " + " | ".join(f"{100 * n / sum(pixels):.1f}" for n in pixels) + " |")
        for label, p in rows:
            lines.append(f"| {label} | " + " | ".join(grouped(p)[0]) + " |")
    else:
        lines.append(f"{'px':60s}" + "".join(f"{n:>7s}" for n in names))
        for label, p in rows:
            lines.append(f"{label[:60]:60s}" + "".join(f"{c:>7s}" for c in grouped(p)[0]))
    return "\n".join(lines)


def markdown(rep: dict) -> str:
    """The before → after table (and the error profile, where measured) as Markdown."""
    rows = headline(rep)
    biou = any(r.get("boundary_iou") is not None for _, r in rows)
    out = [
        "| refined with | mIoU | Δ | boundary F | Δ |" + (" boundary IoU |" if biou else ""),
        "|---|---:|---:|---:|---:|" + ("---:|" if biou else ""),
    ]
    out += [f"| {label} | " + " | ".join(_cells(r, biou, True)) + " |" for label, r in rows]
    net = rep.get("network")
    if net:
        for s_ in sorted({g["scale"] for g in net["grid"]}):
            sel = [g for g in net["grid"] if g["scale"] == s_ and g["d_miou"] >= 0 and g["d_boundary_f"] >= 0]
            if sel:
                g = max(sel, key=lambda g: g["d_miou"])
                out.append(
                    f"| offset network, best at scale {s_:g} not lowering boundary F ({_setting_text(g)}) | "
                    + " | ".join(_cells(g, False, True))
                    + (" | |" if biou else " |")
                )
    prof = profile_table(rep)
    if prof:
        out += ["", prof]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--pred", type=Path, help="folder of predicted label PNGs")
    src.add_argument("--simulate", type=int, metavar="STRIDE", help="simulated predictions: degrade(gt, STRIDE)")
    ap.add_argument("--gt", type=Path, required=True, help="folder of ground-truth label PNGs")
    ap.add_argument("--images", type=Path, help="folder of images (for the offset network)")
    ap.add_argument("--offsets", type=Path, help="folder of your own offsets (.npz / .mat)")
    ap.add_argument("--weights", default=None, help="offset network weights (default: the bundled ones)")
    ap.add_argument("--no-network", action="store_true", help="do not run the offset network")
    ap.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--label-space", default="camvid")
    ap.add_argument("--scales", default="1,2,3")
    ap.add_argument("--every", type=int, default=1, help="use every n-th image")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rep = run(args)
    print(summary(rep))
    if args.markdown:
        print()
        print(markdown(rep))
    if args.json:
        args.json.write_text(json.dumps(rep, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
