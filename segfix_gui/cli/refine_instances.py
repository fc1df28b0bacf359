"""``segfix refine-instances``: move Cityscapes instance masks with their image's offsets."""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
from pathlib import Path

from ..core.setting import INSTANCE_SCALE, range_text
from ..errors import InputError
from ._common import add_device, add_refine_options, add_workers, report, run_batch, setting_from_args
from ._openseg_defaults import add_split_option


def add_parser(sub) -> None:
    p = sub.add_parser(
        "refine-instances",
        help="refine instance masks (Cityscapes _pred.txt) with offsets",
        description="For every <name>_pred.txt under --input, move each mask it lists with the "
        "offsets of that image (<name>.npz or <name>.mat under --offset; _pred and "
        "_leftImg8bit are ignored when pairing) and write the masks and the "
        "_pred.txt under --out with the same relative paths. A _pred.txt without "
        "instances is copied as is. With --split val|test, --offset and --out default "
        "to openseg's folders, and val evaluates the result as segfix "
        "evaluate-instances does.",
    )
    p.add_argument("--input", required=True, metavar="DIR", help="instance predictions")
    p.add_argument("--offset", metavar="DIR", help="offset fields (.npz or .mat); required without --split")
    p.add_argument("--out", metavar="DIR", help="where refined predictions go; required without --split")
    add_split_option(p, kind="instance")
    p.add_argument(
        "--dataset-dir",
        "--dataset_dir",
        dest="dataset_dir",
        metavar="DIR",
        help="Cityscapes folder whose gtFine/val is the ground truth of --split val (default: $CITYSCAPES_DATASET)",
    )
    p.add_argument(
        "--eval-only",
        "--eval_only",
        dest="eval_only",
        action="store_true",
        help="with --split val: evaluate the predictions in --out without refining",
    )
    add_refine_options(
        p,
        scale_help=(
            f"offset scale in pixels per unit step, in {range_text('scale')} (default: "
            f"{INSTANCE_SCALE:g}, as the original does for instance masks; an offset file's "
            "recommended scale is for semantic maps and is not used)"
        ),
    )
    add_device(p)
    add_workers(p)
    p.set_defaults(func=run)


def _refine_one(job, *, options, device: str, in_root: str, out_root: str):
    from ..core.instances import refine_instances
    from ..io.atomic import atomic_path
    from ..io.instances import parse_pred_txt, read_instances, write_refined_instances
    from ..io.offsets import read_offsets

    src, off, key = job
    txt = Path(src)
    dst_txt = Path(out_root) / txt.relative_to(in_root)
    lines = parse_pred_txt(txt)
    if not lines:  # nothing to move: the file as it is
        with atomic_path(dst_txt) as tmp:
            shutil.copyfile(txt, tmp)
        return str(dst_txt), 0
    if off is None:
        raise InputError(txt, f"no offsets file for this image (expected {key}.npz or .mat in the offset folder)")
    field = read_offsets(off)
    before = read_instances(txt, lines=lines, shape=field.shape, shape_of=f"the offsets {Path(off).name}", root=in_root)
    setting = setting_from_args(options, field, scale=INSTANCE_SCALE)
    after = refine_instances(before, field.to_offsets(setting), device=device)
    # the output keeps every relative path: masks land inside out_root as they were in in_root
    write_refined_instances(dst_txt, before, after, source=txt, root=out_root)
    return str(dst_txt), len(after)


def _writes(job, *, in_root: Path, out: Path) -> list[str]:
    """Every file ``job`` writes: its ``_pred.txt`` and each mask it lists (as far as the file
    can be read: one that cannot fails on its own), so that two ``_pred.txt`` listing one mask
    are both refused rather than one silently pointing at the other's refinement."""
    from ..io.instances import mask_path, parse_pred_txt

    txt = Path(job[0])
    files = [str(out / txt.relative_to(in_root))]
    try:
        lines = parse_pred_txt(txt)
    except InputError:
        return files
    for e in lines:
        rel = os.path.relpath(mask_path(txt, e), in_root)
        if not rel.startswith(os.pardir):  # (a mask outside the input folder fails on its own)
            files.append(str(out / rel))
    return files


def run(args) -> int:
    from ..core.refine import resolve_device
    from ..io.atomic import OutputGuard
    from ..io.instances import pair_instance_set
    from ._openseg_defaults import resolve

    try:
        device = resolve_device(args.device)
    except ValueError as err:
        raise InputError(None, str(err)) from None
    plan = resolve(args, kind="instance", eval_only=args.eval_only)
    if args.eval_only:
        print("\n".join(plan.notes))
        return _evaluate(args, plan)
    guard = OutputGuard.for_inputs(args.input, plan.offset, out=plan.out)  # plan.out: checked as a whole
    out = guard.out
    rows = pair_instance_set(instances=args.input, offsets=plan.offset, skip=plan.skip)
    if args.split:
        print("\n".join(plan.notes))
    errors, jobs = [], []
    for r in rows:
        if r["error"]:  # two predictions of one image, or offsets that cannot be told apart
            errors.append(r["error"])
        else:
            jobs.append((str(r["instances"]), None if r["offsets"] is None else str(r["offsets"]), r["key"]))
    options = argparse.Namespace(threshold=args.threshold, scale=args.scale, min_direction_prob=args.min_direction_prob)
    fn = functools.partial(
        _refine_one, options=options, device=device, in_root=str(Path(args.input)), out_root=str(out)
    )
    done, n_inst = 0, 0
    in_root = Path(args.input)
    batch = run_batch(
        fn,
        jobs,
        workers=args.workers,
        desc="refine-instances",
        # an input that fails now loses the _pred.txt an earlier run wrote for it (the masks
        # it listed stay, listed by nothing): evaluate-instances never scores a stale result
        output=lambda job: str(out / Path(job[0]).relative_to(in_root)),
        writes=functools.partial(_writes, in_root=in_root, out=out),
        guard=guard,
    )
    for _, result, error in batch:
        if error:
            errors.append(error)
        else:
            done += 1
            n_inst += result[1]
    status = report(errors, done, "instance prediction files")
    if not errors:
        print(f"{n_inst} masks refined")
    if plan.gt is None:
        return status
    if errors:
        print(f"segfix: not evaluated against {plan.gt}: not every prediction was refined", file=sys.stderr)
        return status
    print()
    return _evaluate(args, plan)


def _evaluate(args, plan) -> int:
    """The input and its refinement against the val ground truth, as ``segfix evaluate-instances``."""
    from ._instance_eval import evaluate_instance_folders

    return evaluate_instance_folders(
        gt=plan.gt, pred=args.input, refined=plan.out, workers=args.workers, skip=plan.skip
    )
