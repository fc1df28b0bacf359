"""``segfix evaluate``: mIoU, pixel accuracy, boundary F-score, and what refinement changed."""

from __future__ import annotations

import functools
import json
import sys

from ..core.numbers import json_safe, percent, percent_change
from ..errors import InputError
from ._common import add_boundary_tol, add_label_space, add_workers, report, report_errors, run_batch


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="metrics of predictions (and refined predictions)",
        description="Compare predictions (and optionally refined predictions) with ground truth, paired by name.",
    )
    p.add_argument("--gt", required=True, metavar="DIR", help="ground-truth label PNGs")
    p.add_argument("--pred", required=True, metavar="DIR", help="predictions")
    p.add_argument("--refined", metavar="DIR", help="refined predictions to compare as well")
    add_boundary_tol(p)
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    add_label_space(p)
    add_workers(p)
    p.set_defaults(func=run)


def _one(job, *, space_name, tol):
    """Counts for one image: (conf, bcounts, present) before and (after, change) if refined."""
    from ..core.metrics import SemanticEvaluator, change_codes, change_counts
    from ..io.images import read_labels
    from ..io.samples import check_size
    from ..labels import get_label_space

    gt_path, pred_path, ref_path = job
    space = get_label_space(space_name)
    gt = read_labels(gt_path, space)
    out = []
    maps = []
    for path in (pred_path, ref_path):
        if path is None:
            continue
        pred = read_labels(path, space)
        check_size(path, "prediction", pred.shape, gt_path, gt.shape, ref_what="ground truth")
        ev = SemanticEvaluator(space, tol)
        ev.add(gt, pred)
        out.append((ev.conf, ev.bcounts, ev.present))
        maps.append(pred)
    change = change_counts(change_codes(maps[0], maps[1], gt, space)) if len(maps) == 2 else None
    return out, change


def print_table(result: dict, file=None) -> None:
    file = file or sys.stdout
    names = list(result["per_class_iou"])
    refined = result.get("refined")
    width = max(12, max(map(len, names)))
    head = f"{'class':<{width}}  {'IoU':>5}"
    if refined:
        head += f"  {'refined':>7}  {'Δ':>5}"
    print(head, file=file)
    rows = [(n, result["per_class_iou"][n], refined["per_class_iou"][n] if refined else None) for n in names]
    rows.append(("mIoU", result["miou"], refined["miou"] if refined else None))
    rows.append(("pixel acc.", result["pixel_accuracy"], refined["pixel_accuracy"] if refined else None))
    rows.append(("boundary F", result["boundary_f"], refined["boundary_f"] if refined else None))
    for i, (n, a, b) in enumerate(rows):
        if i == len(names):
            print("-" * len(head), file=file)
        line = f"{n:<{width}}  {percent(a, digits=1, width=5)}"
        if refined:
            line += f"  {percent(b, digits=1, width=5):>7}  {percent_change(a, b, digits=1, width=5)}"
        print(line, file=file)
    if refined:
        c = result["change"]
        print(f"changed pixels: {c['fixed']} fixed, {c['broken']} broken, {c['swapped']} swapped", file=file)


def run(args) -> int:
    from ..core.metrics import SemanticEvaluator
    from ..io.atomic import write_text
    from ..io.pairing import pair_folders
    from ..labels import get_label_space

    space = get_label_space(args.label_space)
    # one prediction per image: two of one name (x.png, x_leftImg8bit.png) would count it twice
    rows = pair_folders("pred", {"pred": args.pred, "gt": args.gt, "refined": args.refined}, one_per_key=True)
    if not rows:
        raise InputError(args.pred, "no prediction PNGs found")
    errors, jobs = [], []
    for r in rows:
        p = r["pred"]
        if r["error"]:
            errors.append(r["error"])
        elif r["gt"] is None:
            errors.append(str(InputError(p, "no ground truth with this name")))
        elif args.refined and r["refined"] is None:
            errors.append(str(InputError(p, f"no refined prediction with this name in {args.refined}")))
        else:
            jobs.append((str(r["gt"]), str(p), str(r["refined"]) if args.refined else None))
    evs = [SemanticEvaluator(space, args.boundary_tol) for _ in range(2)]
    change = {"fixed": 0, "broken": 0, "swapped": 0}
    fn = functools.partial(_one, space_name=args.label_space, tol=args.boundary_tol)
    n = 0
    for _, res, error in run_batch(fn, jobs, workers=args.workers, desc="evaluate"):
        if error:
            errors.append(error)
            continue
        n += 1
        counts, ch = res
        for ev, c in zip(evs, counts, strict=False):  # no refined folder: one set of counts
            ev.add_counts(*c)
        if ch:
            for k in change:
                change[k] += ch[k]
    if n == 0:
        report_errors(errors)
        raise InputError(args.pred, "no prediction could be evaluated")
    result = evs[0].result()
    if args.refined:
        result["refined"] = evs[1].result()
        result["change"] = change
    result["images"] = n
    result = json_safe(result)
    print(f"{n} images, label space {space.name}")
    print_table(result)
    if args.json:
        write_text(args.json, json.dumps(result, indent=2) + "\n")
    return report(errors, n, "images", verb="evaluated")
