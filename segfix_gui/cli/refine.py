"""``segfix refine``: refine a folder of label predictions with their offset fields."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ._common import (add_device, add_label_space, add_workers, positive_float, report, run_batch,
                      unit_float)


def add_parser(sub) -> None:
    p = sub.add_parser("refine", help="refine label predictions with offsets",
                       description="Move the labels of every prediction PNG in --input along its "
                                   "offsets (x.png with x.npz or x.mat) and write them to --out "
                                   "under the same names.")
    p.add_argument("--input", required=True, metavar="DIR", help="label predictions (PNG)")
    p.add_argument("--offset", required=True, metavar="DIR", help="offset fields (.npz or .mat)")
    p.add_argument("--out", required=True, metavar="DIR", help="where refined PNGs go")
    add_refine_options(p)
    add_device(p)
    add_workers(p)
    p.set_defaults(func=run)


def add_refine_options(p, *, scale: float = 2) -> None:
    p.add_argument("--scale", type=positive_float, default=None,
                   help="offset scale in pixels per unit step (default: the offset file's "
                        f"recommendation, else {scale:g})")
    p.add_argument("--threshold", type=unit_float, default=None,
                   help="boundary probability a pixel must exceed to move (default: the offset "
                        "file's recommendation, else 0.5; no effect on hard .mat offsets)")
    p.add_argument("--min-direction-prob", type=unit_float, default=None, metavar="P",
                   help="move a pixel only if its most likely direction has at least this "
                        "probability (default: the offset file's recommendation, else 0)")
    add_label_space(p, default=None)


@dataclass(frozen=True)
class Setting:
    """Refinement options as given; None means the offset file's recommendation or the default."""

    threshold: float | None = None
    scale: float | None = None
    min_direction_prob: float | None = None
    default_scale: float = 2

    @classmethod
    def from_args(cls, args, *, default_scale: float = 2) -> "Setting":
        return cls(args.threshold, args.scale, args.min_direction_prob, default_scale)

    def resolve(self, field) -> dict:
        """``{"threshold", "scale", "min_direction_prob"}`` for this field."""
        scale = self.scale
        if scale is None and "scale" not in field.recommended:
            scale = self.default_scale
        return field.setting(threshold=self.threshold, scale=scale,
                             min_direction_prob=self.min_direction_prob)

    def offsets(self, field):
        return field.to_offsets(**self.resolve(field))


def read_prediction(path, space):
    """``(ids, was_colour)``: a prediction PNG as ids, and whether it was colour-coded."""
    import numpy as np
    from PIL import Image

    from ..io.images import read_labels

    labels = read_labels(path, space)
    try:
        with Image.open(path) as im:
            colour = im.mode in ("RGB", "RGBA")
    except OSError:  # pragma: no cover - read_labels already opened it
        colour = False
    return np.asarray(labels), colour


def check_same_size(labels, field, label_path, offset_path) -> None:
    if field.shape != labels.shape:
        raise InputError(offset_path, f"offsets are {field.shape[0]}×{field.shape[1]} but the "
                                      f"prediction {Path(label_path).name} is "
                                      f"{labels.shape[0]}×{labels.shape[1]}")


def _refine_one(job, *, setting: Setting, space_name, device: str):
    from ..core.refine import refine_labels
    from ..io.images import write_labels, write_png
    from ..io.offsets import read_offsets
    from ..labels import get_label_space

    src, off, dst = job
    if off is None:
        raise InputError(src, "no offsets file for this prediction (expected "
                              f"{Path(src).stem}.npz or .mat)")
    space = get_label_space(space_name) if space_name else None
    labels, colour = read_prediction(src, space)
    field = read_offsets(off)
    check_same_size(labels, field, src, off)
    refined = refine_labels(labels, setting.offsets(field), device=device)
    if colour:
        write_png(dst, space.colorize(refined))
    else:
        write_labels(dst, refined.astype(labels.dtype))
    return dst


def run(args) -> int:
    from ..core.refine import resolve_device
    from ..io.offsets import OFFSET_SUFFIXES
    from ..io.pairing import LABEL_SUFFIXES, check_out_dir, list_files, pair_with
    from ..labels import get_label_space

    if args.label_space:
        get_label_space(args.label_space)  # fail early on a bad name
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        raise InputError(None, str(err)) from None
    preds = list_files(args.input, LABEL_SUFFIXES)
    if not preds:
        raise InputError(args.input, "no prediction PNGs found")
    out = check_out_dir(args.out, args.input, args.offset)
    errors, done, jobs = [], 0, []
    for p, off, error in pair_with(preds, args.input, args.offset, OFFSET_SUFFIXES,
                                   prefer=(".npz", ".mat")):
        if error:
            errors.append(error)
        else:
            jobs.append((str(p), str(off) if off else None, str(out / p.relative_to(args.input))))
    fn = functools.partial(_refine_one, setting=Setting.from_args(args),
                           space_name=args.label_space, device=device)
    for _, result, error in run_batch(fn, jobs, workers=args.workers, desc="refine",
                                    output=lambda job: job[-1]):
        if error:
            errors.append(error)
        else:
            done += 1
    return report(errors, done, "refined label maps")
