"""Helpers shared by the sub-commands: argument types, batch running, reporting."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor

from ..errors import InputError


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return v


def unit_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], not {text}")
    return v


def setting_value(name: str):
    """An argparse type for the setting ``name`` (its range from :mod:`segfix_gui.core.setting`)."""
    from ..core.setting import check_value

    def parse(text: str) -> float:
        try:
            return check_value(name, text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = name  # argparse names the type in its messages
    return parse


def add_refine_options(p: argparse.ArgumentParser, *, scale_help: str | None = None) -> None:
    """--threshold, --scale and --min-direction-prob; None (not given) means the offset file's
    recommendation, else the default (see :func:`setting_from_args`)."""
    from ..core.setting import DEFAULT_SCALE, range_text

    p.add_argument(
        "--scale",
        type=setting_value("scale"),
        default=None,
        help=scale_help
        or (
            "offset scale in pixels per unit step, in "
            f"{range_text('scale')} (default: the offset file's "
            f"recommendation, else {DEFAULT_SCALE:g})"
        ),
    )
    p.add_argument(
        "--threshold",
        type=setting_value("threshold"),
        default=None,
        help="boundary probability a pixel must exceed to move (default: the offset "
        "file's recommendation, else 0.5; no effect on hard .mat offsets)",
    )
    p.add_argument(
        "--min-direction-prob",
        type=setting_value("min_direction_prob"),
        default=None,
        metavar="P",
        help="move a pixel only if its most likely direction has at least this "
        "probability (default: the offset file's recommendation, else 0)",
    )


def setting_from_args(args, field, *, scale: float | None = None):
    """The :class:`~segfix_gui.core.setting.Setting` for ``field``: the options given, else the
    field's recommendation, else the defaults. ``scale`` forces a default scale that the
    field's recommendation does not override (instance masks move at scale 1)."""
    if scale is not None:
        return field.setting(
            threshold=args.threshold,
            min_direction_prob=args.min_direction_prob,
            scale=args.scale if args.scale is not None else scale,
        )
    return field.setting(threshold=args.threshold, scale=args.scale, min_direction_prob=args.min_direction_prob)


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return v


def add_label_space(p: argparse.ArgumentParser, default: str | None = "camvid") -> None:
    p.add_argument(
        "--label-space",
        default=default,
        metavar="NAME",
        help=f"cityscapes, cityscapes-trainid, camvid, ade20k, or a JSON spec path (default: {default})",
    )


def add_boundary_tol(p: argparse.ArgumentParser) -> None:
    """--boundary-tol: the boundary F-score tolerance (default: the engine's)."""
    from ..core.metrics import BOUNDARY_TOL

    p.add_argument(
        "--boundary-tol",
        type=positive_float,
        default=BOUNDARY_TOL,
        metavar="PX",
        help=f"boundary F-score tolerance in pixels (default: {BOUNDARY_TOL:g})",
    )


def add_workers(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers", type=positive_int, default=1, metavar="N", help="processes working in parallel (default: 1)"
    )


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where refinement runs (default: auto = cuda when available)",
    )


def _item_name(item) -> str:
    """The file a batch item is about (its first path, for a tuple of paths)."""
    while isinstance(item, (tuple, list)) and item:
        item = item[0]
    return str(item)


def _unexpected(item, err: BaseException) -> str:
    text = " ".join(str(err).split())[:300]
    return f"{_item_name(item)}: unexpected error ({err.__class__.__name__}{': ' + text if text else ''})"


def _call(fn, item):
    try:
        return item, fn(item), None
    except InputError as err:
        return item, None, str(err)
    except Exception as err:  # noqa: BLE001 - one file's failure never stops the batch
        return item, None, _unexpected(item, err)


def _drop_stale(item, error: str, output: Callable | None) -> str:
    """Remove the output an earlier run left for an item that failed now, and say so."""
    if output is None:
        return error
    path = output(item)
    if path is None or not os.path.isfile(path):
        return error
    try:
        os.unlink(path)
    except OSError as err:
        return f"{error} (the output of an earlier run, {path}, could not be removed: {err.strerror})"
    return f"{error} (the output of an earlier run, {path}, was removed)"


def run_batch(
    fn: Callable,
    items: Iterable,
    *,
    workers: int = 1,
    desc: str = "",
    total: int | None = None,
    output: Callable | None = None,
):
    """Run ``fn(item)`` for every item, in ``workers`` processes, with a progress bar.

    Yields ``(item, result, error)``; an :class:`InputError` becomes ``error`` (its message),
    any other exception ``"<file>: unexpected error (...)"``, and the batch goes on.
    ``output(item)``, when given, is the path an item writes: when the item fails, a file left
    there by an earlier run is removed (and the error line says so), so an output folder never
    mixes this run's results with stale ones. Results come in the order of ``items``.
    """
    from tqdm import tqdm

    items = list(items)
    bar = tqdm(total=total or len(items), desc=desc, unit="file", disable=None, file=sys.stderr)
    try:
        if workers <= 1 or len(items) <= 1:
            for item in items:
                it, res, err = _call(fn, item)
                yield it, res, err and _drop_stale(it, err, output)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(items))) as ex:
                futures = [ex.submit(_call, fn, it) for it in items]
                for it, fut in zip(items, futures, strict=True):
                    try:
                        done = fut.result()
                    except Exception as exc:  # noqa: BLE001 - e.g. a worker killed for memory
                        done = (it, None, _unexpected(it, exc))
                    it, res, err = done
                    yield it, res, err and _drop_stale(it, err, output)
                    bar.update()
    finally:
        bar.close()


def report_errors(errors: list[str]) -> int:
    """Print each bad file's one line (``segfix: error: <file>: <problem>``) on stderr; return
    the exit status (2 if there is any)."""
    for msg in errors:
        print(f"segfix: error: {msg}", file=sys.stderr)
    return 2 if errors else 0


def report(errors: list[str], done: int, what: str, *, verb: str = "written") -> int:
    """Print every bad file and a summary (``3 refined label maps written``); return the exit
    status (2 if any failed). Every batch command ends with it."""
    if report_errors(errors):
        print(f"segfix: {done} {what} {verb}, {len(errors)} failed", file=sys.stderr)
        return 2
    print(f"{done} {what} {verb}")
    return 0
