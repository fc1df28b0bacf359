"""``segfix predict-offsets``: offset fields for a folder of images, from the offset network."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ._common import positive_int, report, setting_value


def add_parser(sub) -> None:
    p = sub.add_parser("predict-offsets", help="predict offsets for images with the network",
                       description="Run the offset network on every image in --images and write "
                                   "one offset file per image (same name) into --out. The .npz "
                                   "files hold boundary and direction probabilities and the "
                                   "settings recommended for the network, and feed `segfix "
                                   "refine` directly; .mat files are openseg's thresholded "
                                   "unit steps.")
    p.add_argument("--images", required=True, metavar="DIR", help="RGB images")
    p.add_argument("--out", required=True, metavar="DIR", help="where offset files go")
    p.add_argument("--weights", default=None, metavar="FILE",
                   help="network weights (default: the bundled CamVid network)")
    p.add_argument("--format", choices=("npz", "mat"), default="npz",
                   help="npz (probabilities, re-thresholdable) or openseg's mat (default: npz)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the network runs (default: auto = cuda when available)")
    p.add_argument("--batch", type=positive_int, default=1, metavar="N",
                   help="images of one size per network call (default: 1)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="average with the mirrored image, twice the time (default: as the "
                        "weights' record recommends)")
    p.add_argument("--threshold", type=setting_value("threshold"), default=None,
                   help="for --format mat: boundary threshold (default: the network's recommendation)")
    p.add_argument("--min-direction-prob", type=setting_value("min_direction_prob"), default=None, metavar="P",
                   help="for --format mat: direction confidence (default: the network's recommendation)")
    p.set_defaults(func=run)


def _read(path):
    from ..io.images import read_image

    return read_image(path)


def run(args) -> int:
    from tqdm import tqdm
    import sys

    from ..io.offsets import write_offsets
    from ..io.pairing import IMAGE_SUFFIXES, check_out_dir, list_files
    from ..model.predictor import OffsetPredictor

    try:
        predictor = OffsetPredictor(args.weights, device=args.device, flip=args.flip)
    except ValueError as err:
        if isinstance(err, InputError):
            raise
        raise InputError(None, str(err)) from None
    out = check_out_dir(args.out, args.images)
    files = list_files(args.images, IMAGE_SUFFIXES)
    if not files:
        raise InputError(args.images, "no images found")
    seen: dict[Path, Path] = {}
    errors, done = [], 0
    bar = tqdm(total=len(files), desc="predict-offsets", unit="file", disable=None, file=sys.stderr)
    pending: list[tuple[Path, Path, object]] = []

    def flush():
        nonlocal done
        if not pending:
            return
        fields = predictor.predict_batch([im for _, _, im in pending], batch=args.batch)
        for (src, dst, _), field in zip(pending, fields):
            try:
                setting = field.setting(threshold=args.threshold,
                                        min_direction_prob=args.min_direction_prob)
                write_offsets(dst, field, fmt=args.format, setting=setting)
                done += 1
            except InputError as err:  # io.atomic names the output that cannot be written
                errors.append(str(err))
        bar.update(len(pending))
        pending.clear()

    try:
        for src in files:
            dst = (out / src.relative_to(args.images)).with_suffix("." + args.format)
            if dst in seen:
                errors.append(str(InputError(src, f"same output name as {seen[dst].name}; skipped")))
                bar.update()
                continue
            seen[dst] = src
            try:
                image = _read(src)
            except InputError as err:
                errors.append(str(err))
                bar.update()
                continue
            if pending and pending[0][2].shape != image.shape:
                flush()
            pending.append((src, dst, image))
            if len(pending) >= args.batch:
                flush()
        flush()
    finally:
        bar.close()
    return report(errors, done, "offset files")
