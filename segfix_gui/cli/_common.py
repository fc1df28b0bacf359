"""Helpers shared by the sub-commands: argument types, batch running, reporting."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor

from ..errors import InputError, one_line


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return v


def number(low: float, high: float, *, integer: bool = False, low_open: bool = False, unit: str = ""):
    """An argparse type: a finite number (a whole one with ``integer``) in ``[low, high]``
    (``(low, high]`` with ``low_open``). Every numeric option has one, so an absurd value
    (``--boundary-tol 1e9``, ``--stride 1e21``) is an argument error naming the option, its
    range and the value given, before any file is read."""
    from ..core.numbers import exact

    span = f"{'(' if low_open else '['}{exact(low)}, {exact(high)}]{' ' + unit if unit else ''}"
    kind = "a whole number" if integer else "a number"

    def parse(text: str):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (low < v if low_open else low <= v) or not v <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"must be {kind} in {span}, not {text}")
        if integer:
            if not v.is_integer():
                raise argparse.ArgumentTypeError(f"must be {kind} in {span}, not {text}")
            return int(v)
        return v

    parse.__name__ = "whole number" if integer else "number"  # argparse names the type in its messages
    return parse


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
        type=number(0, 1, low_open=True),
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
        help="tolerances of the boundary F-score reported as boundary_f_at, each in (0, 32] (default: 1,3,5)",
    )
    p.add_argument(
        "--trimap-widths",
        default="1:10:1",
        metavar="PX",
        help="band widths of the trimap IoU, integers (default: 1:10:1)",
    )
    p.add_argument(
        "--profile-max-px",
        type=positive_int,  # at most 100: checked with the other border options
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
    from ..core.metrics import MAX_BOUNDARY_TOL

    tols = parse_values(args.boundary_f_at, "--boundary-f-at", low=0, high=MAX_BOUNDARY_TOL, low_open=True)
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
    from ..core.metrics import BOUNDARY_TOL, MAX_BOUNDARY_TOL

    p.add_argument(
        "--boundary-tol",
        type=number(0, MAX_BOUNDARY_TOL, low_open=True, unit="px"),
        default=BOUNDARY_TOL,
        metavar="PX",
        help=f"boundary F-score tolerance in pixels, at most {MAX_BOUNDARY_TOL:g} (its time grows with "
        f"its square; default: {BOUNDARY_TOL:g})",
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
    """The file a batch item is about: its first path, for a tuple of paths; ``str(item)``
    else (a job's ``__str__`` names its leading file: :class:`~segfix_gui.io.samples.SweepJob`)."""
    while isinstance(item, (tuple, list)) and item:
        item = item[0]
    return str(item)


def os_error_line(err: OSError) -> str:
    """The one line of an ``OSError`` about a file (``<file>: Permission denied``): an
    unreadable file, a folder that cannot be listed or searched."""
    reason = err.strerror or str(err) or err.__class__.__name__
    return str(InputError(err.filename, reason) if err.filename is not None else InputError(None, reason))


def _unexpected(item, err: BaseException) -> str:
    text = " ".join(str(err).split())[:300]
    return one_line(f"{_item_name(item)}: unexpected error ({err.__class__.__name__}{': ' + text if text else ''})")


class _Stopped(BaseException):
    """Raised in a worker's item when the worker is told to stop (the run was interrupted, or
    its parent is gone): it unwinds the item, whose temporary files are removed on the way."""


_BUSY = False  # a worker is inside an item (see _stop_worker)
_STOP_GRACE_S = 5.0  # then a worker stuck in compiled code is ended without its clean-up


def _stop_worker(_signum=None, _frame=None) -> None:
    """A worker's SIGTERM handler: unwind the item it works on (:class:`_Stopped`), or, idle,
    exit at once."""
    if _BUSY:
        raise _Stopped
    os._exit(0)


def _worker_start(parent) -> None:
    """Initializer of every worker process of :func:`run_batch`.

    Ctrl-C is the parent's to handle (it then stops the workers, so an interrupt ends the run
    at once, not after the queued items); SIGTERM stops a worker cleanly (:func:`_stop_worker`);
    and a thread waits on ``parent``, the reading end of a pipe whose only writing end the
    parent holds: when the parent closes it, or dies (even by ``kill -9``), the worker stops
    instead of living on, re-parented, forever."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)

    def watch() -> None:
        try:
            parent.recv()  # nothing is ever sent: this returns when the writing end closes
        except BaseException:  # noqa: BLE001 - EOFError (closed) or OSError: stop either way
            pass
        os.kill(os.getpid(), signal.SIGTERM)  # handled in the main thread, between bytecodes
        time.sleep(_STOP_GRACE_S)
        os._exit(1)

    threading.Thread(target=watch, name="segfix-parent-watch", daemon=True).start()


def _call(fn, item, guard=None):
    global _BUSY
    _BUSY = True
    try:
        if guard is None:
            return item, fn(item), None
        with guard.active():  # in a worker process too: every file it writes is checked
            return item, fn(item), None
    except InputError as err:
        return item, None, str(err)
    except OSError as err:  # a file or folder that cannot be read: its own line
        return item, None, os_error_line(err) if err.filename is not None else _unexpected(item, err)
    except Exception as err:  # noqa: BLE001 - one file's failure never stops the batch
        return item, None, _unexpected(item, err)
    except _Stopped:
        os._exit(0)  # a worker told to stop, its item unwound (temporary files removed)
    finally:
        _BUSY = False


def drop_stale(item, error: str, output: Callable | None, guard=None) -> str:
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
    writes: Callable | None = None,
):
    """Run ``fn(item)`` for every item, in ``workers`` processes, with a progress bar.

    Yields ``(item, result, error)``; an :class:`InputError` becomes ``error`` (its message),
    any other exception ``"<file>: unexpected error (...)"``, and the batch goes on.
    ``output(item)``, when given, is the path an item writes: when the item fails, a file left
    there by an earlier run is removed (and the error line says so; not with
    ``remove_stale=False``), so an output folder never mixes this run's results with stale
    ones. ``guard`` (an :class:`~segfix_gui.io.atomic.OutputGuard`) checks every file the
    items write or remove; with ``output``, items whose output it refuses, or two items of one
    output (both named), fail before any runs. ``writes(item)``, for items that write several
    files (a ``_pred.txt`` and its masks), lists them all for that check: two items that would
    write one file (two ``_pred.txt`` listing one mask) both fail. Results come in the order of
    ``items``.
    """
    from tqdm import tqdm

    items = list(items)
    refused: dict[int, str] = {}
    if guard is not None and output is not None:
        pairs, owner = [], []
        for i, it in enumerate(items):
            for dst in writes(it) if writes is not None else [output(it)]:
                pairs.append((_item_name(it), dst))
                owner.append(i)
        for k, msg in sorted(guard.refuse(pairs).items()):
            refused.setdefault(owner[k], msg)
    stale = output if remove_stale else None

    def failed(it, err):
        return err and drop_stale(it, err, stale, guard)

    bar = tqdm(total=total or len(items), desc=desc, unit="file", disable=None, file=sys.stderr)
    try:
        if workers <= 1 or len(items) - len(refused) <= 1:
            for i, item in enumerate(items):
                it, res, err = (item, None, refused[i]) if i in refused else _call(fn, item, guard)
                yield it, res, failed(it, err)
                bar.update()
        else:
            run = [it for i, it in enumerate(items) if i not in refused]
            ctx = _pool_context()
            # the workers watch this pipe: closing it (or this process dying) stops them
            parent, alive = ctx.Pipe(duplex=False)
            try:
                with ProcessPoolExecutor(
                    max_workers=min(workers, len(run)),
                    mp_context=ctx,
                    initializer=_worker_start,
                    initargs=(parent,),
                ) as ex:
                    try:
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
                    except BaseException:
                        # Ctrl-C, or the caller stopped: the workers stop now (their items'
                        # temporary files removed), not after every queued item
                        alive.close()
                        ex.shutdown(wait=False, cancel_futures=True)
                        raise
            finally:
                alive.close()
                parent.close()
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
        print(f"segfix: error: {one_line(msg)}", file=sys.stderr)
    return 2 if errors else 0


def report(errors: list[str], done: int, what: str, *, verb: str = "written") -> int:
    """Print every bad file and a summary (``3 refined label maps written``); return the exit
    status (2 if any failed). Every batch command ends with it."""
    if report_errors(errors):
        print(f"segfix: {done} {what} {verb}, {len(errors)} failed", file=sys.stderr)
        return 2
    print(f"{done} {what} {verb}")
    return 0
