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


def add_border_options(p: argparse.ArgumentParser, *, only_boundary_iou: bool = False) -> None:
    """Options of the boundary measures (:class:`segfix_gui.core.metrics.BorderOptions`);
    ``only_boundary_iou``: the boundary IoU's dilation ratio only."""
    p.add_argument(
        "--dilation-ratio",
        type=positive_float,
        default=0.005,
        metavar="R",
        help="boundary IoU: band width as a fraction of the image diagonal, as the Boundary IoU "
        "paper's mask_to_boundary (default: 0.005, its Cityscapes value: 11 px at 1024×2048)",
    )
    if only_boundary_iou:
        return
    p.add_argument(
        "--boundary-f-at",
        default="1,3,5",
        metavar="PX",
        help="tolerances of the boundary F-score reported as boundary_f_at (default: 1,3,5)",
    )
    p.add_argument(
        "--trimap-widths",
        default="1:10:1",
        metavar="PX",
        help="band widths of the trimap IoU, integers (default: 1:10:1)",
    )
    p.add_argument(
        "--profile-max-px",
        type=positive_int,
        default=20,
        metavar="PX",
        help="the error profile's bins: 1 px to this, then one beyond (default: 20, at most 100)",
    )


def border_options_from_args(args):
    """The :class:`~segfix_gui.core.metrics.BorderOptions` of :func:`add_border_options`'
    options; a bad value is an :class:`InputError` naming the option."""
    from ..core.metrics import BorderOptions
    from ..io.ranges import parse_values

    if not hasattr(args, "boundary_f_at"):
        try:
            return BorderOptions(dilation_ratio=args.dilation_ratio)
        except ValueError as err:
            raise InputError(None, f"--dilation-ratio: {err}") from None
    if not 1 <= args.profile_max_px <= 100:
        raise InputError(None, f"--profile-max-px: must be from 1 to 100, not {args.profile_max_px}")
    tols = parse_values(args.boundary_f_at, "--boundary-f-at", low=0, high=1000, low_open=True)
    widths = parse_values(args.trimap_widths, "--trimap-widths", low=1, high=args.profile_max_px)
    if any(w != int(w) for w in widths):
        raise InputError(None, f"--trimap-widths {args.trimap_widths!r}: widths are whole pixels")
    return BorderOptions(
        max_px=args.profile_max_px,
        dilation_ratio=args.dilation_ratio,
        f_tols=tols,
        trimap_widths=tuple(int(w) for w in widths),
    )


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


def max_workers() -> int:
    """Most ``--workers``: the CPUs this process may use, at least 2. More processes would not
    run faster, and each holds an image and its results in memory."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(cpus, 2)


def workers_count(text: str) -> int:
    """An argparse type: a process count from 1 to :func:`max_workers`."""
    v = positive_int(text)
    most = max_workers()
    if v > most:
        raise argparse.ArgumentTypeError(
            f"at most {most} (the CPUs this machine lets the run use), not {text}: more processes "
            "would not run faster, and each holds an image in memory"
        )
    return v


def add_workers(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=workers_count,
        default=1,
        metavar="N",
        help="processes working in parallel, at most the CPU count (default: 1)",
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


def _call(fn, item, guard=None):
    try:
        if guard is None:
            return item, fn(item), None
        with guard.active():  # in a worker process too: every file it writes is checked
            return item, fn(item), None
    except InputError as err:
        return item, None, str(err)
    except Exception as err:  # noqa: BLE001 - one file's failure never stops the batch
        return item, None, _unexpected(item, err)


def _drop_stale(item, error: str, output: Callable | None, guard=None) -> str:
    """Remove the output an earlier run left for an item that failed now, and say so.

    Nothing the guard refuses is removed (an input reached through a link, a file outside
    the output folder): that is not an earlier run's output."""
    from ..io.atomic import remove_output

    if output is None:
        return error
    path = output(item)
    if path is None or not os.path.isfile(path) or (guard is not None and guard.reason(path) is not None):
        return error
    try:
        if guard is None:
            remove_output(path)
        else:
            with guard.active():
                remove_output(path)
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
    guard=None,
    remove_stale: bool = True,
):
    """Run ``fn(item)`` for every item, in ``workers`` processes, with a progress bar.

    Yields ``(item, result, error)``; an :class:`InputError` becomes ``error`` (its message),
    any other exception ``"<file>: unexpected error (...)"``, and the batch goes on.
    ``output(item)``, when given, is the path an item writes: when the item fails, a file left
    there by an earlier run is removed (and the error line says so; not with
    ``remove_stale=False``), so an output folder never mixes this run's results with stale
    ones. ``guard`` (an :class:`~segfix_gui.io.atomic.OutputGuard`) checks every file the
    items write or remove; with ``output``, items whose output it refuses, or two items of one
    output (both named), fail before any runs. Results come in the order of ``items``.
    """
    from tqdm import tqdm

    items = list(items)
    refused: dict[int, str] = {}
    if guard is not None and output is not None:
        refused = guard.refuse([(_item_name(it), output(it)) for it in items])
    stale = output if remove_stale else None

    def failed(it, err):
        return err and _drop_stale(it, err, stale, guard)

    bar = tqdm(total=total or len(items), desc=desc, unit="file", disable=None, file=sys.stderr)
    try:
        if workers <= 1 or len(items) - len(refused) <= 1:
            for i, item in enumerate(items):
                it, res, err = (item, None, refused[i]) if i in refused else _call(fn, item, guard)
                yield it, res, failed(it, err)
                bar.update()
        else:
            run = [it for i, it in enumerate(items) if i not in refused]
            with ProcessPoolExecutor(max_workers=min(workers, len(run)), mp_context=_pool_context()) as ex:
                futures = iter([ex.submit(_call, fn, it, guard) for it in run])
                for i, it in enumerate(items):
                    if i in refused:
                        done = (it, None, refused[i])
                    else:
                        try:
                            done = next(futures).result()
                        except Exception as exc:  # noqa: BLE001 - e.g. a worker killed for memory
                            done = (it, None, _unexpected(it, exc))
                    it, res, err = done
                    yield it, res, failed(it, err)
                    bar.update()
    finally:
        bar.close()


def _pool_context():
    """Worker processes start from a fresh server process (``forkserver``), never forked from
    this one: a fork copies the locks its other threads hold (Qt's, torch's) and can hang."""
    import multiprocessing

    return multiprocessing.get_context("forkserver")


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
