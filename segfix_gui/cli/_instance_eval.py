"""Instance evaluation of folders, shared by ``segfix evaluate-instances`` and
``segfix refine-instances --split val``: official Cityscapes AP / AP50 and per-instance
boundary figures of ``_pred.txt`` predictions (and refined ones), printed as a table."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import numpy as np

from ..core.metrics import BOUNDARY_TOL
from ..core.numbers import finite_or_none, json_safe, percent, percent_change
from ..errors import InputError
from ._common import report_errors, run_batch


def _read(txt: str, root: str, gt_shape, gt_name: str):
    from ..io.instances import mask_files, read_instances

    inst = read_instances(txt, shape=gt_shape, shape_of=f"the ground truth {gt_name}", root=root, cityscapes_ids=True)
    files = mask_files(txt, inst)
    official = [(str(f), int(i), float(s)) for f, i, s in zip(files, inst.label_ids, inst.scores, strict=True)]
    return inst, official


def _one(job, *, pred_root, refined_root, tol, min_iou):
    """Per-instance rows and the official inputs of one image."""
    from ..core.instances import compare_instances, instance_scores, match_to_gt
    from ..io.instances import read_instance_gt

    pred_txt, gt_path, ref_txt, key = job
    gt = read_instance_gt(gt_path, cityscapes_ids=True)  # the official evaluation knows no other ids
    name = Path(gt_path).name
    before, off_before = _read(pred_txt, pred_root, gt.shape, name)
    after, off_after = (None, None)
    if ref_txt is not None:
        after, off_after = _read(ref_txt, refined_root, gt.shape, name)
    aligned = after is not None and len(after) == len(before) and np.array_equal(after.label_ids, before.label_ids)
    cmp = compare_instances(before, after if aligned else None, gt, tol=tol, min_iou=min_iou)
    rows = cmp.rows(before)
    for r in rows:
        r["image"] = key
    refined_summary = None
    if after is not None:
        if aligned:
            refined_summary = (cmp.matched_gt, cmp.iou_after, cmp.bf_after)
        else:  # not the same instances: matched on their own
            m = match_to_gt(after, gt, min_iou=min_iou)
            iou, bf = instance_scores(after, gt, m, tol=tol)
            refined_summary = (m, iou, bf)
    return {
        "rows": rows,
        "official": off_before,
        "official_refined": off_after,
        "before": (cmp.matched_gt, cmp.iou_before, cmp.bf_before),
        "after": refined_summary,
        "aligned": aligned,
    }


def _summary(parts) -> dict:
    matched = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
    iou = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
    bf = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    ok = matched != 0

    def mean(a):
        return float(np.mean(a[ok])) if ok.any() else None

    return {
        "instances": int(matched.size),
        "matched": int(ok.sum()),
        "mean_iou": mean(iou),
        "mean_boundary_f": mean(bf),
    }


def _pct(v) -> str:
    return percent(v, digits=1, width=5)


def _num(v) -> str:
    f = finite_or_none(v)
    return "  n/a" if f is None else f"{f:.3f}"


def _num_delta(a, b) -> str:
    fa, fb = finite_or_none(a), finite_or_none(b)
    return "  n/a" if fa is None or fb is None else f"{fb - fa:+.3f}"


def print_table(result: dict, file=None) -> None:
    file = file or sys.stdout  # looked up at call time (tests capture stdout)
    ref = result.get("refined")
    names = list(result["per_class"])
    width = max(12, max(map(len, names)))
    head = f"{'class':<{width}}  {'AP':>5}"
    if ref:
        head += f"  {'refined':>7}  {'Δ':>5}"
    head += f"  {'AP50':>5}"
    if ref:
        head += f"  {'refined':>7}  {'Δ':>5}"
    print(head, file=file)
    rows = [(n, result["per_class"][n], ref["per_class"][n] if ref else {}) for n in names]
    rows.append(
        (
            "average",
            {"ap": result["ap"], "ap50": result["ap50"]},
            {"ap": ref["ap"], "ap50": ref["ap50"]} if ref else {},
        )
    )
    for i, (n, a, b) in enumerate(rows):
        if i == len(names):
            print("-" * len(head), file=file)
        line = f"{n:<{width}}"
        for k in ("ap", "ap50"):
            line += f"  {_pct(a[k])}"
            if ref:
                line += f"  {_pct(b[k]):>7}  {percent_change(a[k], b[k], digits=1, width=5)}"
        print(line, file=file)
    print(
        f"(official cityscapesscripts figures in %; ground-truth instances under "
        f"{result['min_region_size']} px are ignored)",
        file=file,
    )
    if "boundary_ap" in result:
        b = result["boundary_ap"]
        rb = ref["boundary_ap"] if ref else {}
        line = f"{'Boundary AP':<{width}}  {_pct(b['ap'])}"
        if ref:
            line += f"  {_pct(rb['ap']):>7}  {percent_change(b['ap'], rb['ap'], digits=1, width=5)}"
        line += f"  {_pct(b['ap50'])}"
        if ref:
            line += f"  {_pct(rb['ap50']):>7}  {percent_change(b['ap50'], rb['ap50'], digits=1, width=5)}"
        print(line, file=file)
        print(
            f"(Boundary AP: a pair overlaps by min(mask IoU, boundary IoU), boundaries "
            f"{b['dilation_ratio']:g} of the image diagonal wide; per class in the JSON)",
            file=file,
        )
    s = result["instances"]
    print(
        f"\nper instance, to its matched ground truth ({s['matched']} of {s['instances']} predictions matched):",
        file=file,
    )
    head = f"{'':<{width + 12}}  {'pred':>6}"
    if ref:
        head += f"  {'refined':>7}  {'Δ':>6}"
    print(head, file=file)
    r = ref["instances"] if ref else {}
    for label, k in (
        ("mask IoU (mean)", "mean_iou"),
        (f"boundary F, {result['boundary_tol']:g} px (mean)", "mean_boundary_f"),
    ):
        line = f"{label:<{width + 12}}  {_num(s[k]):>6}"
        if ref:
            line += f"  {_num(r[k]):>7}  {_num_delta(s[k], r[k]):>6}"
        print(line, file=file)
    if ref and not result.get("refined_aligned", True):
        print(
            "(some refined files list other instances than the predictions: their instances were matched on their own)",
            file=file,
        )


def evaluate_instance_folders(
    *,
    gt,
    pred,
    refined=None,
    boundary_tol: float = BOUNDARY_TOL,
    min_iou: float = 0.0,
    dilation_ratio: float = 0.005,
    workers: int = 1,
    json_path=None,
    skip=(),
) -> int:
    """Evaluate the ``_pred.txt`` predictions under ``pred`` (and ``refined``) against the
    ``*_gtFine_instanceIds.png`` under ``gt``; print the number of images and the table; write
    ``json_path`` when given. ``skip``: folders under ``pred`` that are not searched (refined
    outputs written inside it); ``dilation_ratio``: Boundary AP's band, a fraction of the image
    diagonal. Returns the exit status: 2, with nothing evaluated, when any
    prediction cannot be read (AP over part of the images is not the figure asked for)."""
    from ..cityscapes_eval import instance_level_ap
    from ..io.atomic import OutputGuard, write_text
    from ..io.instances import list_instance_gts, pair_instance_set
    from ..io.pairing import INSTANCE_GT_SUFFIX

    if json_path:  # a report never lands on (or among) the inputs; said before any work
        guard = OutputGuard.for_inputs(gt, pred, refined)
        guard.check(json_path)
    gts = list_instance_gts(gt)
    if not gts:
        raise InputError(gt, f"no *{INSTANCE_GT_SUFFIX} files found")
    refined = refined or None
    rows = pair_instance_set(instances=pred, gt=gt, refined=refined, skip=skip)
    errors, jobs = [], []
    for r in rows:
        p, key = r["instances"], r["key"]
        if r["error"]:
            errors.append(r["error"])
        elif r["gt_instances"] is None:
            errors.append(
                str(InputError(p, f"no ground truth with this name (expected {key}{INSTANCE_GT_SUFFIX} in {gt})"))
            )
        elif refined is not None and r["refined_instances"] is None:
            errors.append(str(InputError(p, f"no refined prediction with this name in {refined}")))
        else:
            jobs.append(
                (str(p), str(r["gt_instances"]), str(r["refined_instances"]) if refined is not None else None, key)
            )
    fn = functools.partial(_one, pred_root=str(pred), refined_root=str(refined), tol=boundary_tol, min_iou=min_iou)
    results = []
    for job, res, error in run_batch(fn, jobs, workers=workers, desc="evaluate-instances"):
        if error:
            errors.append(error)
        else:
            results.append((job, res))
    if errors:
        # AP over a subset of the images would not be the figure asked for
        status = report_errors(errors)
        print(f"segfix: {len(errors)} of {len(rows)} predictions could not be read; nothing evaluated", file=sys.stderr)
        return status
    gt_list = [job[1] for job, _ in results]

    def both_aps(key):
        preds = [r[key] for _, r in results]
        ap = instance_level_ap(gt_list, preds).as_dict()
        ap["boundary_ap"] = instance_level_ap(
            gt_list, preds, iou_type="boundary", dilation_ratio=dilation_ratio
        ).as_dict()
        return ap

    result = {
        "images": len(results),
        **both_aps("official"),
        "boundary_tol": boundary_tol,
        "min_iou": min_iou,
        "instances": _summary([r["before"] for _, r in results]),
    }
    if refined is not None:
        result["refined"] = {**both_aps("official_refined"), "instances": _summary([r["after"] for _, r in results])}
        result["refined_aligned"] = all(r["aligned"] for _, r in results)
    result["per_instance"] = [row for _, r in results for row in r["rows"]]
    result = json_safe(result)
    unpaired = len(set(gts) - {r["gt_instances"] for r in rows})
    head = f"{len(results)} image{'' if len(results) == 1 else 's'}"
    if unpaired:
        head += f" ({unpaired} ground-truth images without a prediction not evaluated)"
    print(head)
    print_table(result)
    if json_path:
        with guard.active():
            write_text(json_path, json.dumps(result, indent=2) + "\n")
    return 0
