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
from ._common import add_boundary_tol, add_label_space, add_workers, report, report_errors, run_batch


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
    p.add_argument("--csv", metavar="FILE", help="write the table as CSV")
    p.add_argument(
        "--plot", metavar="FILE.png", help="write a plot of the mIoU and boundary-F gains against the threshold"
    )
    add_label_space(p)
    add_workers(p)
    p.set_defaults(func=run)


def grid_from_args(args):
    from ..io.ranges import parse_grid

    return parse_grid(
        args.thresholds,
        args.scales,
        args.min_direction_probs,
        names=("--thresholds", "--scales", "--min-direction-probs"),
    )


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
    head += f"  {'mIoU':>6}  {'ΔmIoU':>6}  {'bound. F':>8}  {'ΔF':>6}  {'fixed':>9}  {'broken':>9}  {'swapped':>9}"
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
            f"{_pct(row['boundary_f']):>8}  {_pct(row['boundary_f_gain'], True):>6}  "
            f"{row['fixed']:>9}  {row['broken']:>9}  {row['swapped']:>9}"
        )
        print(line, file=file)
    print("-" * len(head), file=file)
    b = res.base
    print(
        f"without refinement: mIoU {_pct(b['miou'])}, boundary F {_pct(b['boundary_f'])}, "
        f"pixel accuracy {_pct(b['pixel_accuracy'])}",
        file=file,
    )
    for metric, name in (("miou", "mIoU"), ("boundary_f", "boundary F")):
        best = res.best(metric)
        if best is None:
            print(f"best {name}: n/a", file=file)
            continue
        print(
            f"best {name}: {_setting_text(best, threshold_matters=matters, show_mdp=show_mdp)}"
            f" -> mIoU {_pct(best['miou'])} ({_pct(best['miou_gain'], True)}), boundary F "
            f"{_pct(best['boundary_f'])} ({_pct(best['boundary_f_gain'], True)}); "
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

    base = {f"base_{k}": res.base[k] for k in ("miou", "boundary_f", "pixel_accuracy")}
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(_csv_line(CSV_COLUMNS))
            for row in res.rows():
                row = {**row, **base, "images": res.n_images}
                f.write(_csv_line(row[c] for c in CSV_COLUMNS))


# --------------------------------------------------------------------------- plot

COLOURS = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: bitmap font only
        return ImageFont.load_default()


def _nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = -1.0, 1.0
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    k = 0
    while not ticks or ticks[-1] < hi - 1e-12:
        ticks.append(round(first + k * step, 10))
        k += 1
    return ticks


def _panel(draw, img, box, series, *, xs, xlabel, ylabel, title, best, font, small):
    """One line chart in ``box`` (left, top, right, bottom): ``series`` = [(label, colour, ys)]."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = box
    ys_all = [y for _, _, ys in series for y in ys if y is not None and math.isfinite(y)] + [0.0]
    lo, hi = min(ys_all), max(ys_all)
    span = max(hi - lo, 1e-6)
    yt = _nice_ticks(lo - 0.06 * span if lo < 0 else lo, hi + 0.12 * span)
    y0, y1 = yt[0], yt[-1]
    xt = list(xs) if len(xs) <= 12 else _nice_ticks(min(xs), max(xs))
    x0, x1 = min(xs + xt), max(xs + xt)
    if x1 - x0 < 1e-12:
        x0, x1 = x0 - 0.5, x1 + 0.5
    pad = 0.04 * (x1 - x0)
    x0, x1 = x0 - pad, x1 + pad

    def px(x, y):
        return (left + (x - x0) / (x1 - x0) * (right - left), bottom - (y - y0) / (y1 - y0) * (bottom - top))

    for v in yt:
        _, y = px(x0, v)
        draw.line([(left, y), (right, y)], fill=(225, 225, 225))
        label = f"{v:g}"
        w = draw.textlength(label, font=small)
        draw.text((left - 6 - w, y - 7), label, fill=(60, 60, 60), font=small)
    for v in xt:
        x, _ = px(v, y0)
        draw.line([(x, bottom), (x, bottom + 4)], fill=(60, 60, 60))
        label = f"{v:g}"
        w = draw.textlength(label, font=small)
        draw.text((x - w / 2, bottom + 6), label, fill=(60, 60, 60), font=small)
    if y0 < 0 < y1:  # the "no change" line
        _, y = px(x0, 0)
        for xa in range(int(left), int(right), 10):
            draw.line([(xa, y), (min(xa + 5, right), y)], fill=(90, 90, 90), width=1)
    draw.rectangle([left, top, right, bottom], outline=(60, 60, 60))
    for _label, colour, ys in series:
        pts = [px(x, y) if y is not None and math.isfinite(y) else None for x, y in zip(xs, ys, strict=True)]
        for a, b in zip(pts, pts[1:], strict=False):
            if a and b:
                draw.line([a, b], fill=colour, width=3)
        for p in pts:
            if p:
                draw.ellipse([p[0] - 4, p[1] - 4, p[0] + 4, p[1] + 4], fill=colour)
    if best is not None:
        bx, by = px(*best[:2])
        draw.ellipse([bx - 9, by - 9, bx + 9, by + 9], outline=(0, 0, 0), width=2)
        bw = draw.textlength(best[2], font=small)
        tx = bx + 11 if bx + 11 + bw < right - 4 else bx - 11 - bw
        ty = by - 24 if by - 24 > top + 2 else by + 10
        draw.text((tx, ty), best[2], fill=(0, 0, 0), font=small)
    tw = draw.textlength(title, font=font)
    draw.text(((left + right) / 2 - tw / 2, top - 28), title, fill=(0, 0, 0), font=font)
    xw = draw.textlength(xlabel, font=small)
    draw.text(((left + right) / 2 - xw / 2, bottom + 26), xlabel, fill=(0, 0, 0), font=small)
    # y label, rotated
    lw = int(draw.textlength(ylabel, font=small)) + 4
    tmp = Image.new("RGB", (lw, 18), (255, 255, 255))
    ImageDraw.Draw(tmp).text((2, 1), ylabel, fill=(0, 0, 0), font=small)
    tmp = tmp.rotate(90, expand=True)
    img.paste(tmp, (int(left - 62), int((top + bottom) / 2 - lw / 2)))
    # legend: rows of entries under the x label
    x, y = left, bottom + 52
    for label, colour, _ in series:
        w = draw.textlength(label, font=small) + 40
        if x + w > right and x > left:
            x, y = left, y + 20
        draw.line([(x, y + 8), (x + 22, y + 8)], fill=colour, width=3)
        draw.ellipse([x + 7, y + 4, x + 15, y + 12], fill=colour)
        draw.text((x + 28, y), label, fill=(0, 0, 0), font=small)
        x += w


def render_plot(res):
    """A PIL image: mIoU gain (left) and boundary-F gain (right), in points, against the
    threshold, one curve per scale (and min direction prob); the best settings circled.
    When every offset file is hard, against the scale instead (the threshold has no effect)."""
    from PIL import Image, ImageDraw

    grid = res.grid
    font, small = _font(18), _font(14)
    rows = 1 + len(grid.scales) * len(grid.min_direction_probs) // 6
    img = Image.new("RGB", (1500, 640 + 20 * rows), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    b = res.base
    title = (
        f"segfix sweep: {res.n_images} images ({res.space.name}); without refinement "
        f"mIoU {_pct(b['miou'])}, boundary F {_pct(b['boundary_f'])}"
    )
    if not res.threshold_matters:
        title += "; hard offsets: threshold has no effect"
    tw = draw.textlength(title, font=font)
    draw.text((750 - tw / 2, 14), title, fill=(0, 0, 0), font=font)
    show_mdp = len(grid.min_direction_probs) > 1
    panels = []
    for metric, name in (("miou", "mIoU"), ("boundary_f", "boundary F")):
        gain = 100 * (getattr(res, metric) - b[metric])  # (T, S, M), points
        best = res.best(metric)
        if res.threshold_matters:
            xs = list(grid.thresholds)
            series = []
            for j, s in enumerate(grid.scales):
                for k, m in enumerate(grid.min_direction_probs):
                    label = f"scale {s:g}" + (f", direction >= {m:g}" if show_mdp else "")
                    series.append((label, COLOURS[len(series) % len(COLOURS)], [float(v) for v in gain[:, j, k]]))
            xlabel = "boundary threshold"
            mark = (
                None
                if best is None
                else (
                    best["threshold"],
                    100 * best[f"{metric}_gain"],
                    f"best: t {best['threshold']:g}, scale {best['scale']:g}"
                    + (f", direction >= {best['min_direction_prob']:g}" if show_mdp else ""),
                )
            )
        else:
            xs = list(grid.scales)
            series = [("hard offsets", COLOURS[0], [float(v) for v in gain[0, :, 0]])]
            xlabel = "scale"
            mark = (
                None
                if best is None
                else (best["scale"], 100 * best[f"{metric}_gain"], f"best: scale {best['scale']:g}")
            )
        panels.append((series, xs, xlabel, f"{name} gain (points)", f"{name} gain over the folder", mark))
    for k, (series, xs, xlabel, ylabel, title, mark) in enumerate(panels):
        left = 95 + k * 740
        _panel(
            draw,
            img,
            (left, 100, left + 600, 545),
            series,
            xs=xs,
            xlabel=xlabel,
            ylabel=ylabel,
            title=title,
            best=mark,
            font=font,
            small=small,
        )
    return img


def write_plot(path, res) -> None:
    """Render the plot and write it as PNG atomically."""
    from ..io.atomic import atomic_path

    image = render_plot(res)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


# --------------------------------------------------------------------------- command


def _check_output(path, option: str, suffix: str | None, inputs: set) -> None:
    p = Path(path)
    if suffix and p.suffix.lower() != suffix:
        raise InputError(path, f"{option} must name a {suffix} file")
    if p.exists() and p.is_dir():
        raise InputError(path, f"{option} names a folder, not a file")
    if p.exists() and p.resolve() in inputs:
        raise InputError(path, f"{option} would overwrite an input file (inputs are never overwritten)")


def _sweep_one(job, *, space_name: str, grid, tol: float):
    from ..core.sweep import sweep_image
    from ..io.samples import load_sweep_sample
    from ..labels import get_label_space

    space = get_label_space(space_name)
    s = load_sweep_sample(job, space)
    return sweep_image(s.gt, s.pred, s.field, space, grid, key=s.key, boundary_tol=tol)


def run(args) -> int:
    import functools

    from ..core.sweep import collect
    from ..io.samples import sweep_jobs
    from ..labels import get_label_space

    space = get_label_space(args.label_space)
    grid = grid_from_args(args)
    jobs, errors = sweep_jobs(args.gt, args.pred, args.offsets)
    inputs = {Path(x).resolve() for j in jobs for x in (j.gt, j.pred, j.offsets)}
    if args.csv:
        _check_output(args.csv, "--csv", None, inputs)
    if args.plot:
        _check_output(args.plot, "--plot", ".png", inputs)
    if not jobs:
        report_errors(errors)
        raise InputError(args.pred, "no prediction has both ground truth and offsets")
    fn = functools.partial(_sweep_one, space_name=args.label_space, grid=grid, tol=args.boundary_tol)
    swept = run_batch(fn, jobs, workers=args.workers, desc="sweep")
    res = collect((error or image for _, image, error in swept), space, grid, boundary_tol=args.boundary_tol)
    errors += res.errors
    if not res.n_images:
        report_errors(errors)
        raise InputError(args.pred, "no prediction could be swept")
    print_report(res)
    for path, write in ((args.csv, write_csv), (args.plot, write_plot)):
        if path:
            try:
                write(path, res)
            except OSError as err:
                raise InputError(path, f"cannot write: {err.strerror or err}") from None
            print(f"wrote {path}")
    return report(errors, res.n_images, "images", verb="swept")
