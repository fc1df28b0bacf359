"""``segfix degrade``: simulated stride-S coarse predictions from ground truth."""

from __future__ import annotations

import functools

from ..errors import InputError
from ._common import add_label_space, add_workers, number, report, run_batch


def add_parser(sub) -> None:
    p = sub.add_parser(
        "degrade",
        help="simulate coarse predictions from ground truth",
        description="A simulation for demos and tests: class scores of the ground "
        "truth are pooled on stride×stride blocks and enlarged "
        "bilinearly, so borders err like those of a stride-S network.",
    )
    p.add_argument("--labels", required=True, metavar="DIR", help="ground-truth label PNGs")
    p.add_argument("--out", required=True, metavar="DIR", help="where coarse PNGs go")
    p.add_argument("--stride", type=number(1, 1024, integer=True), default=8, help="block size, 1 to 1024 (default: 8)")
    add_label_space(p)
    add_workers(p)
    p.set_defaults(func=run)


def _one(job, *, stride, space_name):
    from ..core.degrade import degrade
    from ..io.images import read_labels, write_labels
    from ..labels import get_label_space

    src, dst = job
    space = get_label_space(space_name)
    write_labels(dst, degrade(read_labels(src, space), space, stride=stride))
    return dst


def run(args) -> int:
    from ..io.atomic import OutputGuard
    from ..io.pairing import LABEL_SUFFIXES, list_files
    from ..labels import get_label_space

    get_label_space(args.label_space)
    guard = OutputGuard.for_output(args.out, args.labels)
    out = guard.out
    files = list_files(args.labels, LABEL_SUFFIXES)
    if not files:
        raise InputError(args.labels, "no label PNGs found")
    jobs = [(str(p), str(out / p.relative_to(args.labels))) for p in files]
    fn = functools.partial(_one, stride=args.stride, space_name=args.label_space)
    errors, done = [], 0
    for _, _, error in run_batch(
        fn, jobs, workers=args.workers, desc="degrade", output=lambda job: job[-1], guard=guard
    ):
        if error:
            errors.append(error)
        else:
            done += 1
    return report(errors, done, "coarse label maps")
