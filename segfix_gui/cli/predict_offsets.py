"""``segfix predict-offsets``: offset fields for a folder of images, from the offset network
(the bundled one, ``--weights``, or one of openseg's released SegFix checkpoints with
``--checkpoint``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from ._common import drop_stale, number, report, run_batch, setting_value


def add_parser(sub) -> None:
    p = sub.add_parser(
        "predict-offsets",
        help="predict offsets for images with the network",
        description="Run the offset network on every image in --images and write "
        "one offset file per image (same name) into --out. The .npz "
        "files hold boundary and direction probabilities and the "
        "settings recommended for the network, and feed `segfix "
        "refine` directly; .mat files are openseg's thresholded "
        "unit steps. --checkpoint runs one of openseg's released "
        "SegFix checkpoints (HRNet-W48 or HRNet2x-W20, MODEL_ZOO) "
        "with openseg's tester protocol (512x512 tiles at stride "
        "170) and keeps the probabilities its tester thresholds "
        "away.",
    )
    p.add_argument("--images", required=True, metavar="DIR", help="RGB images")
    p.add_argument("--out", required=True, metavar="DIR", help="where offset files go")
    p.add_argument(
        "--weights", default=None, metavar="FILE", help="network weights (default: the bundled CamVid network)"
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="FILE",
        help="an openseg SegFix checkpoint (.pth), instead of the offset network",
    )
    p.add_argument(
        "--arch",
        choices=("hrnet48", "hrnext20"),
        default=None,
        help="with --checkpoint: HRNet-W48 or HRNet2x-W20 (default: read from the checkpoint)",
    )
    p.add_argument(
        "--task",
        choices=("semantic", "instance"),
        default=None,
        help="with --checkpoint: the recommended scale, 2 for semantic and 1 for "
        "instance (default: instance when the file name has '_inst')",
    )
    p.add_argument(
        "--format",
        choices=("npz", "mat"),
        default="npz",
        help="npz (probabilities, re-thresholdable) or openseg's mat (default: npz)",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where the network runs (default: auto = cuda when available)",
    )
    p.add_argument(
        "--batch",
        type=number(1, 64, integer=True),
        default=1,
        metavar="N",
        help="images of one size per network call, 1 to 64 (default: 1)",
    )
    p.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="average with the mirrored image, twice the time (default: as the weights' record recommends)",
    )
    p.add_argument(
        "--threshold",
        type=setting_value("threshold"),
        default=None,
        help="for --format mat: boundary threshold (default: the network's recommendation)",
    )
    p.add_argument(
        "--min-direction-prob",
        type=setting_value("min_direction_prob"),
        default=None,
        metavar="P",
        help="for --format mat: direction confidence (default: the network's recommendation)",
    )
    p.set_defaults(func=run)


def _read(path):
    from ..io.images import read_image

    return read_image(path)


def _predictor(args):
    if args.checkpoint is None:
        from ..model.predictor import OffsetPredictor

        if args.arch or args.task:
            raise InputError(None, "--arch and --task apply to --checkpoint only")
        return OffsetPredictor(args.weights, device=args.device, flip=args.flip)
    from ..model.openseg.predictor import OpensegPredictor

    if args.weights is not None:
        raise InputError(None, "give --weights or --checkpoint, not both")
    if args.flip:
        raise InputError(None, "--flip applies to the offset network only (openseg's tester does not flip)")
    return OpensegPredictor(args.checkpoint, arch=args.arch, device=args.device, task=args.task)


def run(args) -> int:
    from ..io.atomic import OutputGuard
    from ..io.offsets import write_offsets
    from ..io.pairing import IMAGE_SUFFIXES, list_files

    try:
        predictor = _predictor(args)
    except ValueError as err:
        if isinstance(err, InputError):
            raise
        raise InputError(None, str(err)) from None
    guard = OutputGuard.for_output(args.out, args.images)
    out = guard.out
    files = list_files(args.images, IMAGE_SUFFIXES)
    if not files:
        raise InputError(args.images, "no images found")
    errors: list[str] = []
    # two images of one output name (x.png and x.jpg → x.npz) are both refused by the shared
    # batch loop, as outputs that would land on an input or outside --out are, before any work
    dst_of = {src: (out / src.relative_to(args.images)).with_suffix("." + args.format) for src in files}
    crops = None
    if args.checkpoint is not None:  # slow (many crops per image on a CPU): show the crops too
        from tqdm import tqdm

        crops = tqdm(desc="crops", unit="crop", disable=None, leave=False, position=1, file=sys.stderr)

    def on_crops(done_crops: int, total: int) -> None:
        assert crops is not None
        if done_crops == 0:
            crops.reset(total=total)
        crops.update(done_crops - crops.n)

    done = 0
    pending: list[tuple[Path, np.ndarray]] = []  # images read, waiting for the network

    def flush() -> None:
        nonlocal done
        if not pending:
            return
        extra = {} if crops is None else {"progress": on_crops}
        fields = predictor.predict_batch([im for _, im in pending], batch=args.batch, **extra)
        for (src, _), field in zip(pending, fields, strict=True):
            try:
                bad = field.nonfinite()
                if bad is not None:  # weights that overflow: a field of NaN is no result
                    weights = args.checkpoint or args.weights or "the bundled weights"
                    raise InputError(
                        src, f"the network's '{bad}' for this image holds NaN or infinite values (weights: {weights})"
                    )
                setting = field.setting(threshold=args.threshold, min_direction_prob=args.min_direction_prob)
                with guard.active():
                    write_offsets(dst_of[src], field, fmt=args.format, setting=setting)
                done += 1
            except InputError as err:  # io.atomic names the output that cannot be written
                # an earlier run's output for this image goes: it no longer matches
                errors.append(drop_stale(src, str(err), dst_of.get, guard))
        pending.clear()

    # the shared batch loop reads the images (a bad one is reported, and an output an earlier
    # run left for it removed); same-size images go through the network --batch at a time
    try:
        for src, image, error in run_batch(_read, files, desc="predict-offsets", output=dst_of.get, guard=guard):
            if error:
                errors.append(error)
                continue
            if pending and pending[0][1].shape != image.shape:
                flush()
            pending.append((src, image))
            if len(pending) >= args.batch:
                flush()
        flush()
    finally:
        if crops is not None:
            crops.close()
    return report(errors, done, "offset files")
