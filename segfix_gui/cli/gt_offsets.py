"""``segfix gt-offsets``: ground-truth offset fields from label maps (oracle / training targets)."""
from __future__ import annotations

import functools

from ..errors import InputError
from ._common import add_label_space, add_workers, positive_float, report, run_batch


def add_parser(sub) -> None:
    p = sub.add_parser("gt-offsets", help="ground-truth offsets from label maps",
                       description="For every label PNG in --labels, write the offsets a perfect "
                                   "offset network would predict: pixels within --width of another "
                                   "label point into the interior of their own segment.")
    p.add_argument("--labels", required=True, metavar="DIR", help="ground-truth label PNGs")
    p.add_argument("--out", required=True, metavar="DIR", help="where offset files go")
    p.add_argument("--width", type=positive_float, default=5,
                   help="boundary band: distance to another label at most this (default: 5)")
    p.add_argument("--directions", type=int, choices=(4, 8, 16), default=8,
                   help="number of direction bins K (default: 8)")
    p.add_argument("--format", choices=("npz", "mat"), default="npz",
                   help="npz (probabilities, re-thresholdable) or openseg's mat (default: npz)")
    add_label_space(p)
    add_workers(p)
    p.set_defaults(func=run)


def _one(job, *, width, directions, fmt, space_name):
    from ..core.targets import gt_offset_field
    from ..io.images import read_labels
    from ..io.offsets import write_offsets
    from ..labels import get_label_space

    src, dst = job
    space = get_label_space(space_name)
    labels = read_labels(src, space)
    field = gt_offset_field(labels, width=width, directions=directions,
                            ignore_ids=space.ignore_ids)
    write_offsets(dst, field, fmt=fmt)
    return dst


def run(args) -> int:
    from ..io.pairing import LABEL_SUFFIXES, check_out_dir, list_files
    from ..labels import get_label_space

    get_label_space(args.label_space)
    out = check_out_dir(args.out, args.labels)
    files = list_files(args.labels, LABEL_SUFFIXES)
    if not files:
        raise InputError(args.labels, "no label PNGs found")
    jobs = [(str(p), str((out / p.relative_to(args.labels)).with_suffix("." + args.format)))
            for p in files]
    fn = functools.partial(_one, width=args.width, directions=args.directions, fmt=args.format,
                           space_name=args.label_space)
    errors, done = [], 0
    for _, _, error in run_batch(fn, jobs, workers=args.workers, desc="gt-offsets",
                                    output=lambda job: job[-1]):
        if error:
            errors.append(error)
        else:
            done += 1
    return report(errors, done, "offset files")
