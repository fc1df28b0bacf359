"""Offset-network quality on CamVid val, the settings sweep, and CPU prediction time.

    python benchmarks/offset_quality.py [--weights F] [--data ../shared/data/camvid]
        [--every N] [--flip] [--json OUT.json] [--update-record] [--no-timing]

Coarse predictions are simulated stride-8 outputs (``segfix_gui.core.degrade.degrade``)
of the val ground truth. Reports: pixel-level boundary precision/recall/F of the predicted
boundary map against the true band, direction accuracy on true band pixels (by distance
to the border), mIoU and boundary F-score (3 px) of the coarse predictions before and after
refinement with (a) predicted offsets at the chosen defaults and (b) ground-truth offsets
(width 5, scale 2: `segfix gt-offsets` defaults; also width 2), and a table over
threshold × direction confidence × scale. Defaults are the setting of highest mIoU among
those that lower neither mIoU nor boundary F on val; when no setting raises mIoU without
lowering boundary F, the defaults are threshold 1.0 (nothing moves). A split-half check
chooses on the even-numbered images and scores on the odd ones. ``--update-record``
writes the chosen defaults and figures into the weights' JSON record.
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

from segfix_gui.core.degrade import degrade  # noqa: E402
from segfix_gui.core.metrics import SemanticEvaluator  # noqa: E402
from segfix_gui.core.offsets import DIRECTIONS  # noqa: E402
from segfix_gui.core.refine import refine_labels  # noqa: E402
from segfix_gui.core.setting import Setting  # noqa: E402
from segfix_gui.core.targets import boundary_targets, gt_offset_field  # noqa: E402
from segfix_gui.io.images import read_image, read_labels  # noqa: E402
from segfix_gui.labels import get_label_space  # noqa: E402

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
CONFIDENCES = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SCALES = (1, 2, 3)
MIN_GAIN = 0.05  # mIoU points a setting must add to count as helping
OFF = {"threshold": 1.0, "min_direction_prob": 0.0, "scale": 2.0}


def offsets_from(boundary, bins, conf, *, threshold, min_direction_prob, scale):
    """Same rule as ``OffsetField.to_offsets`` on precomputed argmax / confidence."""
    mask = boundary > threshold
    if min_direction_prob > 0:
        mask &= conf >= min_direction_prob
    steps = np.rint(DIRECTIONS[8] * scale).astype(np.int16)
    out = np.zeros((2,) + boundary.shape, np.int16)
    b = bins[mask]
    out[0][mask] = steps[b, 0]
    out[1][mask] = steps[b, 1]
    return out


def _evs(space):
    return [SemanticEvaluator(space), SemanticEvaluator(space)]


def _merge(space, pair):
    ev = SemanticEvaluator(space)
    for e in pair:
        ev.add_counts(e.conf, e.bcounts, e.present)
    return ev.result()


def _short(r):
    return {"miou": round(100 * r["miou"], 2), "boundary_f": round(100 * r["boundary_f"], 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "camvid"))
    ap.add_argument("--weights", default=None, help="default: the bundled weights")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--every", type=int, default=1, help="use every n-th val image")
    ap.add_argument("--flip", action="store_true", help="flip averaging at test time")
    ap.add_argument("--smooth", action="store_true", help="spread direction probabilities over neighbouring bins")
    ap.add_argument("--json", default=None)
    ap.add_argument("--update-record", action="store_true")
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument(
        "--oracle-table",
        action="store_true",
        help="only the ground-truth table: band width × scale, all band pixels and "
        "only those more than 1.5 px from the border; and the oracle with a "
        "share of directions reversed",
    )
    args = ap.parse_args()

    from segfix_gui.model.data import split_files
    from segfix_gui.model.predictor import OffsetPredictor, bundled_path

    t_start = time.time()
    if args.oracle_table:
        rep = oracle_table(args.data, every=args.every)
        print(json.dumps(rep, indent=1))
        if args.json:
            Path(args.json).write_text(json.dumps(rep, indent=2) + "\n")
        return 0
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    space = get_label_space("camvid")
    pairs = split_files(args.data, "val")[:: args.every]
    pred = OffsetPredictor(args.weights, device=args.device, flip=args.flip, smooth=args.smooth)
    bw = float((pred.record.get("options") or {}).get("boundary_width", 2.0))
    before, oracle5, oracle2 = _evs(space), _evs(space), _evs(space)
    stats = {"tp": 0, "fp": 0, "fn": 0}
    dir_ok = {k: [0, 0] for k in ("d<=1.5", "1.5<d<=3", "3<d<=5")}
    half_ok = {k: [0, 0] for k in dir_ok}  # pointing into the right / the wrong half-plane
    grid = [(t, c, s) for t in THRESHOLDS for c in CONFIDENCES for s in SCALES]
    sweep = {g: _evs(space) for g in grid}
    changes = {g: [0, 0] for g in grid}  # fixed, broken pixels
    t_pred = 0.0
    for i, (img_path, lab_path) in enumerate(pairs):
        half = i % 2
        gt = read_labels(lab_path, space)
        coarse = degrade(gt, space, stride=8)
        before[half].add(gt, coarse)
        for w, acc in ((5, oracle5), (2, oracle2)):
            f = gt_offset_field(gt, width=w, ignore_ids=space.ignore_ids)
            acc[half].add(gt, refine_labels(coarse, f.to_offsets(Setting(threshold=0.5, scale=2)), device="cpu"))
        t = time.perf_counter()
        field = pred.predict(read_image(img_path))
        t_pred += time.perf_counter() - t
        boundary = field.boundary
        bins = field.bins()
        conf = field.direction_confidence()
        _, tbins, dist = boundary_targets(gt, width=5, ignore_ids=space.ignore_ids)
        valid = space.to_eval(gt) != 255
        band = (dist <= bw) & valid
        pb = (boundary > 0.5) & valid
        stats["tp"] += int((pb & band).sum())
        stats["fp"] += int((pb & ~band).sum())
        stats["fn"] += int((~pb & band).sum())
        ok = bins == tbins
        cos = (DIRECTIONS[8][bins] * DIRECTIONS[8][tbins]).sum(-1)  # > 0: same half-plane
        for key, sel in (
            ("d<=1.5", dist <= 1.5),
            ("1.5<d<=3", (dist > 1.5) & (dist <= 3)),
            ("3<d<=5", (dist > 3) & (dist <= 5)),
        ):
            sel = sel & valid
            dir_ok[key][0] += int(ok[sel].sum())
            dir_ok[key][1] += int(sel.sum())
            half_ok[key][0] += int((cos[sel] > 0).sum())
            half_ok[key][1] += int((cos[sel] < 0).sum())
        g_eval = space.to_eval(gt)
        right_before = space.to_eval(coarse) == g_eval
        for g in grid:
            off = offsets_from(boundary, bins, conf, threshold=g[0], min_direction_prob=g[1], scale=g[2])
            after = refine_labels(coarse, off, device="cpu")
            sweep[g][half].add(gt, after)
            right_after = space.to_eval(after) == g_eval
            changed = (after != coarse) & valid
            changes[g][0] += int((changed & ~right_before & right_after).sum())
            changes[g][1] += int((changed & right_before & ~right_after).sum())
        if sys.stderr.isatty():
            print(f"\r{i + 1}/{len(pairs)} images", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)

    base = _merge(space, before)
    o5, o2 = _merge(space, oracle5), _merge(space, oracle2)
    table = []
    for g in grid:
        r = _merge(space, sweep[g])
        table.append(
            {
                "threshold": g[0],
                "min_direction_prob": g[1],
                "scale": g[2],
                "miou": 100 * r["miou"],
                "boundary_f": 100 * r["boundary_f"],
                "d_miou": 100 * (r["miou"] - base["miou"]),
                "d_boundary_f": 100 * (r["boundary_f"] - base["boundary_f"]),
                "fixed": changes[g][0],
                "broken": changes[g][1],
            }
        )

    def choose(rows, base_r):
        ok = [r for r in rows if r["d_miou"] >= MIN_GAIN and r["d_boundary_f"] >= 0]
        if not ok:
            return dict(OFF)
        best = max(ok, key=lambda r: (r["d_miou"], r["d_boundary_f"]))
        return {
            "threshold": best["threshold"],
            "min_direction_prob": best["min_direction_prob"],
            "scale": float(best["scale"]),
        }

    chosen = choose(table, base)

    # split-half check: choose on even images, score on odd
    def half_rows(h):
        b = sweep  # noqa: F841
        bh = before[h].result()
        rows = []
        for g in grid:
            r = sweep[g][h].result()
            rows.append(
                {
                    "threshold": g[0],
                    "min_direction_prob": g[1],
                    "scale": g[2],
                    "d_miou": 100 * (r["miou"] - bh["miou"]),
                    "d_boundary_f": 100 * (r["boundary_f"] - bh["boundary_f"]),
                }
            )
        return rows

    even_choice = choose(half_rows(0), None)
    odd_rows = {(r["threshold"], r["min_direction_prob"], float(r["scale"])): r for r in half_rows(1)}
    key = (even_choice["threshold"], even_choice["min_direction_prob"], even_choice["scale"])
    heldout = odd_rows.get(key, {"d_miou": 0.0, "d_boundary_f": 0.0})

    def row_of(c):
        for r in table:
            if (r["threshold"], r["min_direction_prob"], float(r["scale"])) == (
                c["threshold"],
                c["min_direction_prob"],
                c["scale"],
            ):
                return r
        return {
            "miou": 100 * base["miou"],
            "boundary_f": 100 * base["boundary_f"],
            "d_miou": 0.0,
            "d_boundary_f": 0.0,
            "fixed": 0,
            "broken": 0,
        }

    at_default = row_of(chosen)
    p = stats["tp"] / max(stats["tp"] + stats["fp"], 1)
    r = stats["tp"] / max(stats["tp"] + stats["fn"], 1)
    gain5 = 100 * (o5["miou"] - base["miou"])
    report = {
        "data": str(args.data),
        "val_images": len(pairs),
        "weights": str(args.weights or bundled_path()),
        "flip": args.flip,
        "smooth": args.smooth,
        "machine": f"{platform.node()} {platform.machine()}",
        "coarse": _short(base),
        "oracle_width5_scale2": _short(o5),
        "oracle_width2_scale2": _short(o2),
        "predicted_boundary": {
            "band_width": bw,
            "threshold": 0.5,
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f": round(2 * p * r / max(p + r, 1e-9), 4),
        },
        "direction_accuracy": {k: round(v[0] / max(v[1], 1), 4) for k, v in dir_ok.items()},
        "direction_right_half": {k: round(v[0] / max(dir_ok[k][1], 1), 4) for k, v in half_ok.items()},
        "direction_wrong_half": {k: round(v[1] / max(dir_ok[k][1], 1), 4) for k, v in half_ok.items()},
        "defaults": chosen,
        "at_defaults": {
            "miou": round(at_default["miou"], 2),
            "boundary_f": round(at_default["boundary_f"], 2),
            "d_miou": round(at_default["d_miou"], 2),
            "d_boundary_f": round(at_default["d_boundary_f"], 2),
            "recovered_of_oracle_gain": round(at_default["d_miou"] / gain5, 3) if gain5 else None,
        },
        "split_half": {
            "chosen_on_even": even_choice,
            "odd_d_miou": round(heldout["d_miou"], 2),
            "odd_d_boundary_f": round(heldout["d_boundary_f"], 2),
        },
        "best_d_miou_any_setting": round(max(r_["d_miou"] for r_ in table), 2),
        "predict_val_seconds_per_image": round(t_pred / max(len(pairs), 1), 3),
        "table": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()} for row in table],
    }
    if not args.no_timing:
        report["cpu_predict_1024x2048_s"] = cpu_timing(args.weights)
    report["seconds"] = round(time.time() - t_start, 1)
    print(summary(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.update_record:
        update_record(args.weights or bundled_path(), report)
    return 0


def oracle_table(data, *, every: int = 1) -> dict:
    """mIoU / boundary F of coarse predictions refined with ground-truth offsets."""
    from segfix_gui.model.data import split_files

    space = get_label_space("camvid")
    pairs = split_files(data, "val")[::every]
    gts = [read_labels(lab, space) for _, lab in pairs]
    coarse = [degrade(g, space, stride=8) for g in gts]
    tg = [boundary_targets(g, width=8, ignore_ids=space.ignore_ids) for g in gts]
    ev = SemanticEvaluator(space)
    wrong = total = 0
    for g, c, (_, _, dist) in zip(gts, coarse, tg, strict=True):
        ev.add(g, c)
        near = (dist <= 1.5) & (space.to_eval(g) != 255)
        wrong += int((space.to_eval(c) != space.to_eval(g))[near].sum())
        total += int(near.sum())
    out = {
        "val_images": len(gts),
        "coarse": _short(ev.result()),
        "coarse_wrong_share_within_1.5px": round(wrong / max(total, 1), 4),
        "rows": [],
    }

    def run(select, scale, reverse=0.0, seed=0):
        rng = np.random.default_rng(seed)
        ev = SemanticEvaluator(space)
        for g, c, (band, bins, dist) in zip(gts, coarse, tg, strict=True):
            m = select(dist) & band
            b = bins.astype(np.int64)
            if reverse:
                flip = rng.random(b.shape) < reverse
                b = np.where(flip, (b + 4) % 8, b)
            off = np.zeros((2,) + g.shape, np.int16)
            off[0][m] = np.rint(DIRECTIONS[8][b[m], 0] * scale)
            off[1][m] = np.rint(DIRECTIONS[8][b[m], 1] * scale)
            ev.add(g, refine_labels(c, off, device="cpu"))
        return _short(ev.result())

    for width in (1, 1.5, 2, 3, 5):
        for scale in (1, 2, 3):
            out["rows"].append(
                {"width": width, "scale": scale, "pixels": "all", **run(lambda d, w=width: d <= w, scale)}
            )
            out["rows"].append(
                {
                    "width": width,
                    "scale": scale,
                    "pixels": "d>1.5",
                    **run(lambda d, w=width: (d <= w) & (d > 1.5), scale),
                }
            )
    for rev in (0.05, 0.1, 0.2, 0.3):
        out["rows"].append(
            {"width": 2, "scale": 2, "pixels": f"all, {rev:.0%} reversed", **run(lambda d: d <= 2, 2, reverse=rev)}
        )
    return out


def cpu_timing(weights, repeat: int = 3) -> float:
    """Best wall time (s) of numpy image -> OffsetField for a 1024×2048 image on the CPU."""
    import torch

    from segfix_gui.model.predictor import OffsetPredictor

    pred = OffsetPredictor(weights, device="cpu")
    image = np.random.default_rng(0).integers(0, 256, size=(1024, 2048, 3), dtype=np.uint8)
    pred.predict(image)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        pred.predict(image)
        best = min(best, time.perf_counter() - t)
    return round(best, 3) if torch.get_num_threads() else best


def summary(rep: dict) -> str:
    lines = [
        f"val images {rep['val_images']}  weights {rep['weights']}  flip {rep['flip']}  smooth {rep['smooth']}",
        f"coarse (stride 8)      mIoU {rep['coarse']['miou']:.2f}  boundary F {rep['coarse']['boundary_f']:.2f}",
        f"oracle w5 s2           mIoU {rep['oracle_width5_scale2']['miou']:.2f}  "
        f"boundary F {rep['oracle_width5_scale2']['boundary_f']:.2f}",
        f"oracle w2 s2           mIoU {rep['oracle_width2_scale2']['miou']:.2f}  "
        f"boundary F {rep['oracle_width2_scale2']['boundary_f']:.2f}",
        f"predicted at defaults {rep['defaults']}: mIoU {rep['at_defaults']['miou']:.2f} "
        f"({rep['at_defaults']['d_miou']:+.2f}), boundary F {rep['at_defaults']['boundary_f']:.2f} "
        f"({rep['at_defaults']['d_boundary_f']:+.2f}), recovered {rep['at_defaults']['recovered_of_oracle_gain']}",
        f"boundary map {rep['predicted_boundary']}",
        f"direction accuracy {rep['direction_accuracy']}",
        f"direction in the right half-plane {rep['direction_right_half']}, wrong {rep['direction_wrong_half']}",
        f"split half {rep['split_half']}",
        f"best d_miou any setting {rep['best_d_miou_any_setting']}",
        "threshold  conf  scale   mIoU   dmIoU   bF    dbF   fixed  broken",
    ]
    for r in rep["table"]:
        lines.append(
            f"{r['threshold']:8.2f} {r['min_direction_prob']:5.2f} {r['scale']:5d} "
            f"{r['miou']:6.2f} {r['d_miou']:+6.2f} {r['boundary_f']:6.2f} {r['d_boundary_f']:+6.2f} "
            f"{r['fixed']:7d} {r['broken']:7d}"
        )
    if "cpu_predict_1024x2048_s" in rep:
        lines.append(f"CPU predict 1024x2048: {rep['cpu_predict_1024x2048_s']} s")
    return "\n".join(lines)


def update_record(weights, rep: dict) -> None:
    from segfix_gui.io.atomic import write_text

    path = Path(weights).with_suffix(".json")
    rec = json.loads(path.read_text()) if path.exists() else {}
    rec["recommended"] = rep["defaults"]
    rec["inference"] = {"flip": rep["flip"], "smooth": rep["smooth"]}
    rec["val_quality"] = {
        k: rep[k]
        for k in (
            "val_images",
            "flip",
            "coarse",
            "oracle_width5_scale2",
            "predicted_boundary",
            "direction_accuracy",
            "direction_right_half",
            "at_defaults",
            "split_half",
            "best_d_miou_any_setting",
        )
    }
    rec["val_quality"]["command"] = (
        "python benchmarks/offset_quality.py --update-record"
        + (" --flip" if rep["flip"] else "")
        + (" --smooth" if rep["smooth"] else "")
    )
    write_text(path, json.dumps(rec, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
