"""``segfix sweep``: metrics of a folder at every (threshold, scale), to choose the settings.

Prints one row per setting, the values without refinement and the best setting; optionally
writes the table as CSV and a plot (mIoU gain and boundary-F gain against the threshold, one
curve per scale) as PNG. The numbers are those of ``segfix refine`` + ``segfix evaluate`` at
each setting (see :mod:`segfix_gui.core.sweep`).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from ..core.numbers import percent
from ..errors import InputError
from ..io.ranges import RANGE_HELP
from ._common import (
    add_border_options,
    add_boundary_tol,
    add_label_space,
    add_workers,
    report,
    report_errors,
    run_batch,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="metrics at every threshold and scale, to choose them",
        description="Refine every prediction in --pred with its offsets at every combination of "
        "--thresholds, --scales (and --min-direction-probs) and evaluate against "
        "--gt: mIoU, boundary F-score and fixed / broken / swapped pixels over the "
        "folder, the values without refinement, and the best setting. Hard offsets "
        "(openseg .mat) are already thresholded: only the scale applies to them.",
    )
    p.add_argument("--gt", required=True, metavar="DIR", help="ground-truth label PNGs")
    p.add_argument("--pred", required=True, metavar="DIR", help="predictions (label PNGs)")
    p.add_argument(
        "--offsets",
        required=True,
        metavar="DIR",
        help="offset fields (.npz with probabilities, or hard .mat), paired by name",
    )
    p.add_argument(
        "--thresholds",
        default="0.1:0.9:0.1",
        metavar="RANGE",
        help=f"boundary thresholds in [0, 1]: {RANGE_HELP} (default: 0.1:0.9:0.1)",
    )
    p.add_argument(
        "--scales", default="1,2,3", metavar="RANGE", help=f"offset scales > 0: {RANGE_HELP} (default: 1,2,3)"
    )
    p.add_argument(
        "--min-direction-probs",
        default="0",
        metavar="RANGE",
        help=f"minimum direction probabilities in [0, 1]: {RANGE_HELP} (default: 0)",
    )
    add_boundary_tol(p)
    p.add_argument(
        "--boundary-iou",
        action="store_true",
        help="score every setting by boundary IoU too (a column, the best setting by it, CSV columns); "
        "costs one boundary pass per setting",
    )
    add_border_options(p, only_boundary_iou=True)
    p.add_argument("--csv", metavar="FILE", help="write the table as CSV")
    p.add_argument(
        "--plot", metavar="FILE.png", help="write a plot of the mIoU and boundary-F gains against the threshold"
    )
    add_label_space(p)
    add_workers(p)
    p.set_defaults(func=run)


OPTIONS = ("--thresholds", "--scales", "--min-direction-probs")


def grid_from_args(args):
    from ..io.ranges import parse_grid

    return parse_grid(args.thresholds, args.scales, args.min_direction_probs, names=OPTIONS)


# --------------------------------------------------------------------------- table


def _pct(v, sign: bool = False) -> str:
    return percent(v, sign=sign)


def _setting_text(row: dict, *, threshold_matters: bool, show_mdp: bool) -> str:
    t = f"threshold {row['threshold']:g}" if threshold_matters else "threshold (no effect)"
    s = f"{t}, scale {row['scale']:g}"
    if show_mdp:
        s += f", min direction prob {row['min_direction_prob']:g}"
    return s


def print_report(res, *, file=None) -> None:
    """The table of settings, the base values and the best settings."""
    file = file or sys.stdout
    grid = res.grid
    hard = int(res.hard.sum())
    matters = res.threshold_matters
    show_mdp = matters and (len(grid.min_direction_probs) > 1 or grid.min_direction_probs[0] != 0)
    T, S, M = grid.shape
    print(
        f"{res.n_images} images, label space {res.space.name}, {grid.size} settings "
        f"({T} thresholds × {S} scales"
        + (f" × {M} min direction probs" if M > 1 else "")
        + f"), boundary tolerance {res.boundary_tol:g} px",
        file=file,
    )
    if hard and matters:
        print(
            f"note: {hard} of {res.n_images} offset files hold hard offsets (.mat or 'offsets' "
            "in .npz): the threshold and min direction prob have no effect on those",
            file=file,
        )
    elif hard:
        print(
            f"note: all {hard} offset files hold hard offsets (.mat or 'offsets' in .npz), "
            "already thresholded: the threshold and min direction prob have no effect, only the "
            "scale is swept",
            file=file,
        )
    head = f"{'threshold':>9}  {'scale':>5}"
    if show_mdp:
        head += f"  {'min dir':>7}"
    biou = res.boundary_iou is not None
    head += f"  {'mIoU':>6}  {'ΔmIoU':>6}  {'bound. F':>8}  {'ΔF':>6}"
    if biou:
        head += f"  {'b. IoU':>6}  {'ΔbIoU':>6}"
    head += f"  {'fixed':>9}  {'broken':>9}  {'swapped':>9}"
    print(head, file=file)
    print("-" * len(head), file=file)
    for row in res.rows():
        if not matters and (
            row["threshold"] != grid.thresholds[0] or row["min_direction_prob"] != grid.min_direction_probs[0]
        ):
            continue
        t = f"{row['threshold']:g}" if matters else "any"
        line = f"{t:>9}  {row['scale']:>5g}"
        if show_mdp:
            line += f"  {row['min_direction_prob']:>7g}"
        line += (
            f"  {_pct(row['miou']):>6}  {_pct(row['miou_gain'], True):>6}  "
            f"{_pct(row['boundary_f']):>8}  {_pct(row['boundary_f_gain'], True):>6}"
        )
        if biou:
            line += f"  {_pct(row['boundary_iou']):>6}  {_pct(row['boundary_iou_gain'], True):>6}"
        line += f"  {row['fixed']:>9}  {row['broken']:>9}  {row['swapped']:>9}"
        print(line, file=file)
    print("-" * len(head), file=file)
    b = res.base
    print(
        f"without refinement: mIoU {_pct(b['miou'])}, boundary F {_pct(b['boundary_f'])}, "
        f"pixel accuracy {_pct(b['pixel_accuracy'])}"
        + (f", boundary IoU {_pct(b['boundary_iou'])} (dilation ratio {res.dilation_ratio:g})" if biou else ""),
        file=file,
    )
    ranked = [("miou", "mIoU"), ("boundary_f", "boundary F")] + ([("boundary_iou", "boundary IoU")] if biou else [])
    for metric, name in ranked:
        best = res.best(metric)
        if best is None:
            print(f"best {name}: n/a", file=file)
            continue
        extra = f", boundary IoU {_pct(best['boundary_iou'])} ({_pct(best['boundary_iou_gain'], True)})" if biou else ""
        print(
            f"best {name}: {_setting_text(best, threshold_matters=matters, show_mdp=show_mdp)}"
            f" -> mIoU {_pct(best['miou'])} ({_pct(best['miou_gain'], True)}), boundary F "
            f"{_pct(best['boundary_f'])} ({_pct(best['boundary_f_gain'], True)}){extra}; "
            f"{best['fixed']} fixed, {best['broken']} broken, {best['swapped']} swapped",
            file=file,
        )


# --------------------------------------------------------------------------- CSV

CSV_COLUMNS = (
    "threshold",
    "scale",
    "min_direction_prob",
    "miou",
    "miou_gain",
    "boundary_f",
    "boundary_f_gain",
    "pixel_accuracy",
    "fixed",
    "broken",
    "swapped",
    "base_miou",
    "base_boundary_f",
    "base_pixel_accuracy",
    "images",
)
BOUNDARY_IOU_COLUMNS = ("boundary_iou", "boundary_iou_gain", "base_boundary_iou")  # with --boundary-iou


def _csv_line(values) -> str:
    out = []
    for v in values:
        if isinstance(v, float):
            out.append("nan" if math.isnan(v) else repr(v))
        else:
            out.append(str(v))
    return ",".join(out) + "\n"


def write_csv(path, res) -> None:
    """The table, one row per setting, written atomically (full float precision, fractions)."""
    from ..io.atomic import atomic_path

    columns = CSV_COLUMNS + (BOUNDARY_IOU_COLUMNS if res.boundary_iou is not None else ())
    base = {f"base_{k}": res.base[k] for k in ("miou", "boundary_f", "pixel_accuracy", "boundary_iou") if k in res.base}
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(_csv_line(columns))
            for row in res.rows():
                row = {**row, **base, "images": res.n_images}
                f.write(_csv_line(row[c] for c in columns))


# --------------------------------------------------------------------------- plot

LEGEND_COLUMNS = 6


def render_plot(res):
    """The sweep as a matplotlib ``Figure`` (Agg canvas, no pyplot state), 1500 px wide: mIoU
    gain (left) and boundary-F gain (right), in points, against the threshold, one curve per
    scale (and min direction prob), the best setting circled and labelled, a dashed line at
    "no change", the folder and its figures without refinement in the title. When every offset
    file is hard, against the scale instead (the threshold has no effect)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    grid = res.grid
    b = res.base
    show_mdp = len(grid.min_direction_probs) > 1
    n_series = len(grid.scales) * len(grid.min_direction_probs) if res.threshold_matters else 1
    legend_rows = 1 + (n_series - 1) // LEGEND_COLUMNS
    fig = Figure(figsize=(15, 6.4 + 0.25 * legend_rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    n = res.n_images
    title = (
        f"segfix sweep: {n} image{'' if n == 1 else 's'} ({res.space.name}); without refinement "
        f"mIoU {_pct(b['miou'])}, boundary F {_pct(b['boundary_f'])}"
    )
    if not res.threshold_matters:
        title += "; hard offsets: threshold has no effect"
    fig.suptitle(title, fontsize=15)
    axes = fig.subplots(1, 2)
    for ax, (metric, name) in zip(axes, (("miou", "mIoU"), ("boundary_f", "boundary F")), strict=True):
        gain = 100 * (getattr(res, metric) - b[metric])  # (T, S, M), points
        best = res.best(metric)
        mark = None
        if res.threshold_matters:
            for j, s in enumerate(grid.scales):
                for k, m in enumerate(grid.min_direction_probs):
                    label = f"scale {s:g}" + (f", direction ≥ {m:g}" if show_mdp else "")
                    ax.plot(grid.thresholds, gain[:, j, k], marker="o", linewidth=2.5, label=label)
            ax.set_xlabel("boundary threshold")
            if best is not None:
                text = f"best: t {best['threshold']:g}, scale {best['scale']:g}"
                text += f", direction ≥ {best['min_direction_prob']:g}" if show_mdp else ""
                mark = (best["threshold"], 100 * best[f"{metric}_gain"], text)
        else:
            ax.plot(grid.scales, gain[0, :, 0], marker="o", linewidth=2.5, label="hard offsets")
            ax.set_xlabel("scale")
            if best is not None:
                mark = (best["scale"], 100 * best[f"{metric}_gain"], f"best: scale {best['scale']:g}")
        xs = grid.thresholds if res.threshold_matters else grid.scales
        if len(xs) <= 12:  # ticks at the values swept
            ax.set_xticks(xs)
        ax.axhline(0, color="0.35", linestyle="--", linewidth=1)  # no change
        ax.margins(x=0.04, y=0.12)
        if mark is not None:
            x, y, text = mark
            ax.plot(x, y, marker="o", markersize=18, fillstyle="none", color="black", markeredgewidth=2)
            lo, hi = ax.get_xlim()
            right = x > (lo + hi) / 2  # the label goes toward the middle, inside the axes
            offset = (-14 if right else 14, -22)
            ax.annotate(text, (x, y), xytext=offset, textcoords="offset points", ha="right" if right else "left")
        ax.set_title(f"{name} gain over the folder", fontsize=14)
        ax.set_ylabel(f"{name} gain (points)")
        ax.grid(True, color="0.88")
    handles, labels = axes[0].get_legend_handles_labels()  # the same series in both panels
    fig.legend(handles, labels, loc="outside lower center", ncol=min(n_series, LEGEND_COLUMNS), frameon=False)
    return fig


def write_plot(path, res) -> None:
    """Render the plot and write it as PNG atomically."""
    from ..io.atomic import atomic_path

    fig = render_plot(res)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


# --------------------------------------------------------------------------- command


def _check_output(path, option: str, suffix: str | None, guard) -> None:
    p = Path(path)
    if suffix and p.suffix.lower() != suffix:
        raise InputError(path, f"{option} must name a {suffix} file")
    if p.exists() and p.is_dir():
        raise InputError(path, f"{option} names a folder, not a file")
    guard.check(path)  # never on (or among) the inputs, paired or not


def _sweep_one(job, *, space_name: str, grid, tol: float, dilation_ratio: float | None = None):
    from ..core.sweep import sweep_image
    from ..io.samples import load_sweep_sample
    from ..labels import get_label_space

    space = get_label_space(space_name)
    s = load_sweep_sample(job, space)
    return sweep_image(s.gt, s.pred, s.field, space, grid, key=s.key, boundary_tol=tol, dilation_ratio=dilation_ratio)


def run(args) -> int:
    import functools

    from ..core.sweep import collect
    from ..io.atomic import OutputGuard
    from ..io.ranges import check_grid_counts
    from ..io.samples import sweep_jobs
    from ..labels import get_label_space

    space = get_label_space(args.label_space)
    grid = grid_from_args(args)
    check_grid_counts(grid, space.n_classes, OPTIONS)
    jobs, errors = sweep_jobs(args.gt, args.pred, args.offsets)
    guard = OutputGuard()
    if args.csv or args.plot:
        guard = OutputGuard.for_inputs(
            args.gt, args.pred, args.offsets, files=[x for j in jobs for x in (j.gt, j.pred, j.offsets)]
        )
    if args.csv:
        _check_output(args.csv, "--csv", None, guard)
    if args.plot:
        _check_output(args.plot, "--plot", ".png", guard)
    if not jobs:
        report_errors(errors)
        raise InputError(args.pred, "no prediction has both ground truth and offsets")
    ratio = args.dilation_ratio if args.boundary_iou else None
    fn = functools.partial(
        _sweep_one, space_name=args.label_space, grid=grid, tol=args.boundary_tol, dilation_ratio=ratio
    )
    swept = run_batch(fn, jobs, workers=args.workers, desc="sweep")
    res = collect(
        (error or image for _, image, error in swept),
        space,
        grid,
        boundary_tol=args.boundary_tol,
        dilation_ratio=ratio,
    )
    errors += res.errors
    if not res.n_images:
        report_errors(errors)
        raise InputError(args.pred, "no prediction could be swept")
    print_report(res)
    for path, write in ((args.csv, write_csv), (args.plot, write_plot)):
        if path:
            try:
                with guard.active():
                    write(path, res)
            except OSError as err:
                raise InputError(path, f"cannot write: {err.strerror or err}") from None
            print(f"wrote {path}")
    return report(errors, res.n_images, "images", verb="swept")
