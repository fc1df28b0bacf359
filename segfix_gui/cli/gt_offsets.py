"""``segfix gt-offsets``: ground-truth offset fields from label maps (oracle / training targets)."""

from __future__ import annotations

import functools

from ..errors import InputError
from ._common import add_workers, number, report, run_batch

INSTANCE_SUFFIX = "instanceids.png"  # Cityscapes *_gtFine_instanceIds.png (matched in lower case)
INSTANCE_SPACE = "cityscapes"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "gt-offsets",
        help="ground-truth offsets from label maps",
        description="For every label PNG in --labels, write the offsets a perfect "
        "offset network would predict: pixels within --width of another "
        "label point into the interior of their own segment, along the "
        "border's normal (smoothed gradient of the distance map). "
        "Cityscapes *_instanceIds.png maps (16-bit, labelId*1000+k) "
        "give borders between instances as well as between classes.",
    )
    p.add_argument("--labels", required=True, metavar="DIR", help="ground-truth label PNGs")
    p.add_argument("--out", required=True, metavar="DIR", help="where offset files go")
    p.add_argument(
        "--width",
        type=number(0, 64, low_open=True, unit="px"),
        default=5,
        help="boundary band: distance to another label at most this, in (0, 64] px (default: 5)",
    )
    p.add_argument(
        "--directions", type=int, choices=(4, 8, 16), default=8, help="number of direction bins K (default: 8)"
    )
    p.add_argument(
        "--format",
        choices=("npz", "mat"),
        default="npz",
        help="npz (probabilities, re-thresholdable) or openseg's mat (default: npz)",
    )
    p.add_argument(
        "--label-space",
        default=None,
        metavar="NAME",
        help="cityscapes, cityscapes-trainid, camvid, ade20k, or a JSON spec path "
        f"(default: camvid; {INSTANCE_SPACE} for *_instanceIds.png)",
    )
    add_workers(p)
    p.set_defaults(func=run)


def is_instance_map(path) -> bool:
    return str(path).lower().endswith(INSTANCE_SUFFIX)


def read_target_labels(path, space_name: str | None):
    """``(ids, ignore_ids)`` of a label PNG: class ids, or for ``*_instanceIds.png`` instance
    ids (``labelId * 1000 + k``; plain label ids for stuff) whose label ids are checked
    against the space, and the instance ids whose class is ignored."""
    import numpy as np

    from ..core.instances import label_of
    from ..io.images import read_labels
    from ..io.instances import read_instance_gt
    from ..labels import get_label_space

    if not is_instance_map(path):
        space = get_label_space(space_name or "camvid")
        return read_labels(path, space), space.ignore_ids
    space = get_label_space(space_name or INSTANCE_SPACE)
    ids = read_instance_gt(path)
    present = np.unique(ids)
    labels = label_of(present)
    space.check_ids(labels, path=str(path))
    ignored = present[np.isin(labels, list(space.ignore_ids))]
    return ids, tuple(int(i) for i in ignored)


def _one(job, *, width, directions, fmt, space_name):
    from ..core.targets import gt_offset_field
    from ..io.offsets import write_offsets

    src, dst = job
    labels, ignore = read_target_labels(src, space_name)
    field = gt_offset_field(labels, width=width, directions=directions, ignore_ids=ignore)
    write_offsets(dst, field, fmt=fmt)
    return dst


def run(args) -> int:
    from ..io.atomic import OutputGuard
    from ..io.pairing import LABEL_SUFFIXES, list_files
    from ..labels import get_label_space

    if args.label_space is not None:
        get_label_space(args.label_space)
    guard = OutputGuard.for_output(args.out, args.labels)
    out = guard.out
    files = list_files(args.labels, LABEL_SUFFIXES)
    if not files:
        raise InputError(args.labels, "no label PNGs found")
    jobs = [(str(p), str((out / p.relative_to(args.labels)).with_suffix("." + args.format))) for p in files]
    fn = functools.partial(
        _one, width=args.width, directions=args.directions, fmt=args.format, space_name=args.label_space
    )
    errors, done = [], 0
    for _, _, error in run_batch(
        fn, jobs, workers=args.workers, desc="gt-offsets", output=lambda job: job[-1], guard=guard
    ):
        if error:
            errors.append(error)
        else:
            done += 1
    return report(errors, done, "offset files")
