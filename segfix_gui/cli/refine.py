"""``segfix refine``: refine a folder of label predictions with their offset fields."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from ..errors import InputError
from ._common import add_device, add_label_space, add_refine_options, add_workers, report, run_batch, setting_from_args
from ._openseg_defaults import add_split_option


def add_parser(sub) -> None:
    p = sub.add_parser(
        "refine",
        help="refine label predictions with offsets",
        description="Move the labels of every prediction PNG in --input along its "
        "offsets (x.png with x.npz or x.mat) and write them to --out "
        "under the same names. With --split val|test, --offset and --out "
        "default to openseg's folders, and val evaluates the result as "
        "segfix evaluate does.",
    )
    p.add_argument("--input", required=True, metavar="DIR", help="label predictions (PNG)")
    p.add_argument("--offset", metavar="DIR", help="offset fields (.npz or .mat); required without --split")
    p.add_argument("--out", metavar="DIR", help="where refined PNGs go; required without --split")
    add_split_option(p, kind="semantic")
    add_refine_options(p)
    add_label_space(p, default=None)
    add_device(p)
    add_workers(p)
    p.set_defaults(func=run)


def _refine_one(job, *, options, space_name, device: str):
    from ..core.refine import refine_labels
    from ..io.offsets import read_offsets
    from ..io.samples import check_size, read_prediction, write_prediction
    from ..labels import get_label_space

    src, off, dst = job
    if off is None:
        raise InputError(src, f"no offsets file for this prediction (expected {Path(src).stem}.npz or .mat)")
    space = get_label_space(space_name) if space_name else None
    labels, colour = read_prediction(src, space)
    field = read_offsets(off)
    check_size(off, "offsets", field.shape, src, labels.shape)
    refined = refine_labels(labels, field.to_offsets(setting_from_args(options, field)), device=device)
    write_prediction(dst, refined, space, colour=colour)
    return dst


def run(args) -> int:
    from ..core.refine import resolve_device
    from ..io.atomic import OutputGuard
    from ..io.pairing import pair_folders
    from ..labels import get_label_space
    from ._openseg_defaults import resolve

    if args.label_space:
        get_label_space(args.label_space)  # fail early on a bad name
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        raise InputError(None, str(err)) from None
    plan = resolve(args, kind="semantic")
    rows = pair_folders("pred", {"pred": args.input, "offsets": plan.offset}, skip=plan.skip)
    if not rows:
        raise InputError(args.input, "no prediction PNGs found")
    if args.split:
        print("\n".join(plan.notes))
    guard = OutputGuard.for_inputs(args.input, plan.offset, out=plan.out)  # plan.out: checked as a whole
    out = guard.out
    errors, done, jobs = [], 0, []
    for r in rows:
        if r["error"]:
            errors.append(r["error"])
        else:
            jobs.append(
                (
                    str(r["pred"]),
                    None if r["offsets"] is None else str(r["offsets"]),
                    str(out / r["pred"].relative_to(args.input)),
                )
            )
    options = argparse.Namespace(threshold=args.threshold, scale=args.scale, min_direction_prob=args.min_direction_prob)
    fn = functools.partial(_refine_one, options=options, space_name=args.label_space, device=device)
    for _, _result, error in run_batch(
        fn, jobs, workers=args.workers, desc="refine", output=lambda job: job[-1], guard=guard
    ):
        if error:
            errors.append(error)
        else:
            done += 1
    status = report(errors, done, "refined label maps")
    if plan.gt is None:
        return status
    if errors:
        print(f"segfix: not evaluated against {plan.gt}: not every prediction was refined", file=sys.stderr)
        return status
    from ._semantic_eval import evaluate_folders

    print()
    return evaluate_folders(
        gt=plan.gt,
        pred=args.input,
        refined=out,
        label_space=args.label_space or "cityscapes",
        workers=args.workers,
        skip=plan.skip,
    )
