"""Offset-network quality on CamVid val, the settings sweep, and CPU prediction time.

    python benchmarks/offset_quality.py [--weights F] [--real runs/segmenter/val] [--data ../shared/data/camvid]
        [--every N] [--flip] [--json OUT.json] [--update-record] [--no-timing]

Two kinds of predictions are refined: **simulated** stride-8 outputs of the val ground truth
(``segfix_gui.core.degrade.degrade``) and, with ``--real``, a **real** network's val predictions
(``python benchmarks/segmenter.py train`` writes them to runs/segmenter/val). Reports:
pixel-level boundary precision/recall/F of the predicted boundary map against the true band,
direction accuracy on true band pixels (by distance to the border), and for each kind mIoU and
boundary F-score (3 px) before and after refinement with (a) predicted offsets at the chosen
defaults and (b) ground-truth offsets (width 5, scale 2: `segfix gt-offsets` defaults; also
width 2), and a table over threshold × direction confidence × scale (exact counts from
``ImageEvaluator.sweep``). Defaults: the setting of highest mIoU gain on the real predictions
(the simulated ones without ``--real``) among those that raise it by at least 0.05 and lower
neither mIoU nor boundary F on either kind; threshold 1.0 (nothing moves) when there is none.
A split-half check chooses on the even-numbered images and scores on the odd ones.
``--update-record`` (needs ``--real``) writes the chosen defaults and figures into the
weights' JSON record.
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

from segfix_gains import Tally, add_sweep, predictions_by_name, rows_of  # noqa: E402  (benchmarks/segfix_gains.py)

from segfix_gui.core.degrade import degrade  # noqa: E402
from segfix_gui.core.evaluator import ImageEvaluator  # noqa: E402
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


def _short(r):
    return {"miou": round(100 * r["miou"], 2), "boundary_f": round(100 * r["boundary_f"], 2)}


def _net(g: tuple) -> tuple:
    """The tally key of grid point ``(threshold, confidence, scale)`` (add_sweep's order)."""
    return ("net", g[0], float(g[2]), g[1])


def _table(tally, grid) -> list[dict]:
    rows = rows_of(tally)
    return [
        {
            "threshold": g[0],
            "min_direction_prob": g[1],
            "scale": g[2],
            **{k: rows[_net(g)][k] for k in ("miou", "boundary_f", "d_miou", "d_boundary_f", "fixed", "broken")},
        }
        for g in grid
    ]


def _deltas(tally, grid, halves=(0, 1)) -> dict:
    rows = rows_of(tally, halves=halves)
    return {g: (rows[_net(g)]["d_miou"], rows[_net(g)]["d_boundary_f"]) for g in grid}


def choose(deltas: dict, lead: str) -> dict:
    """The setting of highest mIoU gain on the ``lead`` predictions among those that raise it by
    at least MIN_GAIN and lower neither mIoU nor boundary F on any of ``deltas``' predictions
    (``{name: {setting: (d_miou, d_boundary_f)}}``); OFF when there is none."""
    grid = list(deltas[lead])
    ok = [
        g
        for g in grid
        if deltas[lead][g][0] >= MIN_GAIN and all(d[g][0] >= 0 and d[g][1] >= 0 for d in deltas.values())
    ]
    if not ok:
        return dict(OFF)
    best = max(ok, key=lambda g: deltas[lead][g])
    return {"threshold": best[0], "min_direction_prob": best[1], "scale": float(best[2])}


def _key(c: dict) -> tuple:
    return (c["threshold"], c["min_direction_prob"], float(c["scale"]))


def _quality(tally, grid, chosen, even_choice, *, base) -> dict:
    """Figures of one kind of predictions (simulated or real) at the chosen defaults."""
    rows = rows_of(tally)
    o5, o2 = rows[("oracle", 5, 2.0)], rows[("oracle", 2, 2.0)]
    at = rows.get(_net(_key(chosen))) if chosen["threshold"] < 1 else None
    at = at or {"miou": base["miou"], "boundary_f": base["boundary_f"], "d_miou": 0.0, "d_boundary_f": 0.0}
    odd = _deltas(tally, grid, (1,)).get(_key(even_choice), (0.0, 0.0)) if even_choice["threshold"] < 1 else (0.0, 0.0)
    gain5 = o5["d_miou"]
    return {
        "coarse": {"miou": round(base["miou"], 2), "boundary_f": round(base["boundary_f"], 2)},
        "oracle_width5_scale2": {"miou": round(o5["miou"], 2), "boundary_f": round(o5["boundary_f"], 2)},
        "oracle_width2_scale2": {"miou": round(o2["miou"], 2), "boundary_f": round(o2["boundary_f"], 2)},
        "at_defaults": {
            "miou": round(at["miou"], 2),
            "boundary_f": round(at["boundary_f"], 2),
            "d_miou": round(at["d_miou"], 2),
            "d_boundary_f": round(at["d_boundary_f"], 2),
            "recovered_of_oracle_gain": round(at["d_miou"] / gain5, 3) if gain5 else None,
            "recovered_of_oracle_boundary_f_gain": round(at["d_boundary_f"] / o5["d_boundary_f"], 3)
            if o5["d_boundary_f"]
            else None,
        },
        "split_half": {
            "chosen_on_even": even_choice,
            "odd_d_miou": round(odd[0], 2),
            "odd_d_boundary_f": round(odd[1], 2),
        },
        "best_d_miou_any_setting": round(max(r["d_miou"] for k, r in rows.items() if k[0] == "net"), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "camvid"))
    ap.add_argument("--weights", default=None, help="default: the bundled weights")
    ap.add_argument(
        "--real",
        default=None,
        metavar="DIR",
        help="a real network's val predictions (python benchmarks/segmenter.py train writes runs/segmenter/val)",
    )
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
    if args.update_record and not args.real:
        raise SystemExit("offset_quality: --update-record needs --real (the defaults are chosen on both kinds)")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    space = get_label_space("camvid")
    pairs = split_files(args.data, "val")[:: args.every]
    real = predictions_by_name(args.real, [i.stem for i, _ in pairs]) if args.real else None
    pred = OffsetPredictor(args.weights, device=args.device, flip=args.flip, smooth=args.smooth)
    bw = float((pred.record.get("options") or {}).get("boundary_width", 2.0))
    kinds = ["simulated"] + (["real"] if real else [])
    tallies = {k: Tally(space.n_classes) for k in kinds}
    stats = {"tp": 0, "fp": 0, "fn": 0}
    dir_ok = {k: [0, 0] for k in ("d<=1.5", "1.5<d<=3", "3<d<=5")}
    half_ok = {k: [0, 0] for k in dir_ok}  # pointing into the right / the wrong half-plane
    grid = [(t, c, float(s)) for t in THRESHOLDS for c in CONFIDENCES for s in SCALES]
    t_pred = 0.0
    for i, (img_path, lab_path) in enumerate(pairs):
        half = i % 2
        gt = read_labels(lab_path, space)
        t = time.perf_counter()
        field = pred.predict(read_image(img_path))
        t_pred += time.perf_counter() - t
        oracles = {w: gt_offset_field(gt, width=w, ignore_ids=space.ignore_ids) for w in (5, 2)}
        for kind in kinds:
            coarse = degrade(gt, space, stride=8) if kind == "simulated" else read_labels(real[img_path.stem], space)
            ev = ImageEvaluator(gt, coarse, space)
            tally = tallies[kind]
            b = ev.base
            tally.add("before", half, b.conf, b.bcounts, b.change)
            for w, f in oracles.items():
                c = ev.at(f, Setting(threshold=0.5, scale=2))
                tally.add(("oracle", w, 2.0), half, c.conf, c.bcounts, c.change)
            add_sweep(tally, "net", ev, field, half, thresholds=THRESHOLDS, scales=SCALES, confidences=CONFIDENCES)
        boundary = field.boundary
        bins = field.bins()
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
        if sys.stderr.isatty():
            print(f"\r{i + 1}/{len(pairs)} images", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)

    lead = "real" if real else "simulated"
    chosen = choose({k: _deltas(tallies[k], grid) for k in kinds}, lead)
    even_choice = choose({k: _deltas(tallies[k], grid, (0,)) for k in kinds}, lead)
    quality = {k: _quality(tallies[k], grid, chosen, even_choice, base=tallies[k].scores("before")) for k in kinds}
    p = stats["tp"] / max(stats["tp"] + stats["fp"], 1)
    r = stats["tp"] / max(stats["tp"] + stats["fn"], 1)
    sim = quality["simulated"]
    report = {
        "data": str(args.data),
        "val_images": len(pairs),
        "weights": str(args.weights or bundled_path()),
        "flip": args.flip,
        "smooth": args.smooth,
        "machine": f"{platform.node()} {platform.machine()}",
        "rule": "highest mIoU gain on the "
        + lead
        + f" predictions among the settings that raise it by at least {MIN_GAIN} and lower neither mIoU nor "
        + "boundary F on "
        + " nor ".join(f"the {k}" for k in kinds)
        + " predictions",
        # the simulated figures keep their keys (records and docs of earlier rounds)
        **{k: sim[k] for k in ("coarse", "oracle_width5_scale2", "oracle_width2_scale2")},
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
        **{k: sim[k] for k in ("at_defaults", "split_half", "best_d_miou_any_setting")},
        "predict_val_seconds_per_image": round(t_pred / max(len(pairs), 1), 3),
        "table": [
            {k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()}
            for row in _table(tallies["simulated"], grid)
        ],
    }
    if real:
        report["real"] = {
            "predictions": str(args.real),
            **quality["real"],
            "table": [
                {k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()}
                for row in _table(tallies["real"], grid)
            ],
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
    kinds = [("simulated (stride 8)", rep, rep["table"])]
    if "real" in rep:
        kinds.append((f"real ({rep['real']['predictions']})", rep["real"], rep["real"]["table"]))
    lines = [
        f"val images {rep['val_images']}  weights {rep['weights']}  flip {rep['flip']}  smooth {rep['smooth']}",
        f"rule: {rep['rule']}",
        f"defaults {rep['defaults']}",
        f"boundary map {rep['predicted_boundary']}",
        f"direction accuracy {rep['direction_accuracy']}",
        f"direction in the right half-plane {rep['direction_right_half']}, wrong {rep['direction_wrong_half']}",
    ]
    for name, q, _ in kinds:
        at = q["at_defaults"]
        lines += [
            f"--- {name} predictions",
            f"coarse                 mIoU {q['coarse']['miou']:.2f}  boundary F {q['coarse']['boundary_f']:.2f}",
            f"oracle w5 s2           mIoU {q['oracle_width5_scale2']['miou']:.2f}  "
            f"boundary F {q['oracle_width5_scale2']['boundary_f']:.2f}",
            f"oracle w2 s2           mIoU {q['oracle_width2_scale2']['miou']:.2f}  "
            f"boundary F {q['oracle_width2_scale2']['boundary_f']:.2f}",
            f"predicted at defaults: mIoU {at['miou']:.2f} ({at['d_miou']:+.2f}), boundary F {at['boundary_f']:.2f} "
            f"({at['d_boundary_f']:+.2f}), recovered {at['recovered_of_oracle_gain']} of the oracle's mIoU gain, "
            f"{at['recovered_of_oracle_boundary_f_gain']} of its boundary-F gain",
            f"split half {q['split_half']}",
            f"best d_miou any setting {q['best_d_miou_any_setting']}",
        ]
    head = "threshold  conf  scale" + "".join(
        f" | {'mIoU':>6} {'dmIoU':>6} {'bF':>6} {'dbF':>6} {'fixed':>7} {'broken':>7}" for _ in kinds
    )
    lines += ["--- sweep: " + " | ".join(k[0] for k in kinds), head]
    for i, r in enumerate(rep["table"]):
        line = f"{r['threshold']:8.2f} {r['min_direction_prob']:5.2f} {r['scale']:5.0f}"
        for _, _, table in kinds:
            t = table[i]
            line += (
                f" | {t['miou']:6.2f} {t['d_miou']:+6.2f} {t['boundary_f']:6.2f} {t['d_boundary_f']:+6.2f} "
                f"{t['fixed']:7d} {t['broken']:7d}"
            )
        lines.append(line)
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
    rec["val_quality"]["rule"] = rep["rule"]
    if "real" in rep:
        rec["val_quality"]["real"] = {k: v for k, v in rep["real"].items() if k != "table"}
    rec["val_quality"]["command"] = (
        "python benchmarks/offset_quality.py --update-record --real runs/segmenter/val"
        + (" --flip" if rep["flip"] else "")
        + (" --smooth" if rep["smooth"] else "")
    )
    write_text(path, json.dumps(rec, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
