"""``segfix refine-instances``: move Cityscapes instance masks with their image's offsets."""

from __future__ import annotations

import argparse
import functools
import shutil
from pathlib import Path

from ..core.setting import INSTANCE_SCALE, range_text
from ..errors import InputError
from ._common import add_device, add_refine_options, add_workers, report, run_batch, setting_from_args


def add_parser(sub) -> None:
    p = sub.add_parser(
        "refine-instances",
        help="refine instance masks (Cityscapes _pred.txt) with offsets",
        description="For every <name>_pred.txt under --input, move each mask it lists with the "
        "offsets of that image (<name>.npz or <name>.mat under --offset; _pred and "
        "_leftImg8bit are ignored when pairing) and write the masks and the "
        "_pred.txt under --out with the same relative paths. A _pred.txt without "
        "instances is copied as is.",
    )
    p.add_argument("--input", required=True, metavar="DIR", help="instance predictions")
    p.add_argument("--offset", required=True, metavar="DIR", help="offset fields (.npz or .mat)")
    p.add_argument("--out", required=True, metavar="DIR", help="where refined predictions go")
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


def run(args) -> int:
    from ..core.refine import resolve_device
    from ..io.instances import pair_instance_set
    from ..io.pairing import check_out_dir

    try:
        device = resolve_device(args.device)
    except ValueError as err:
        raise InputError(None, str(err)) from None
    out = check_out_dir(args.out, args.input, args.offset)
    rows = pair_instance_set(instances=args.input, offsets=args.offset)
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
    for _, result, error in run_batch(fn, jobs, workers=args.workers, desc="refine-instances"):
        if error:
            errors.append(error)
        else:
            done += 1
            n_inst += result[1]
    status = report(errors, done, "instance prediction files")
    if not errors:
        print(f"{n_inst} masks refined")
    return status
