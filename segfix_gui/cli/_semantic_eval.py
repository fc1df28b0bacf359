"""Semantic evaluation of folders, shared by ``segfix evaluate`` and ``segfix refine --split val``:
ground truth, predictions and (optionally) refined predictions paired by name, the figures
printed as a table with the boundary measures (boundary IoU, the error profile by distance to the
border, boundary F at several tolerances, trimap IoU), written as JSON and the profile drawn when
asked."""

from __future__ import annotations

import functools
import json
import sys

from ..core.metrics import BOUNDARY_TOL
from ..core.numbers import json_safe, percent, percent_change
from ..errors import InputError
from ._common import report, report_errors, run_batch


def _one(job, *, space_name, tol, options):
    """Counts for one image: (conf, bcounts, present, border) before and (after, change) if
    refined. The ground truth's part of the boundary measures is made once for both."""
    from ..core.metrics import SemanticEvaluator, change_codes, change_counts, gt_borders
    from ..io.images import read_labels
    from ..io.samples import check_size
    from ..labels import get_label_space

    gt_path, pred_path, ref_path = job
    space = get_label_space(space_name)
    gt = read_labels(gt_path, space)
    borders = gt_borders(gt, space, options=options)
    out = []
    maps = []
    for path in (pred_path, ref_path):
        if path is None:
            continue
        pred = read_labels(path, space)
        check_size(path, "prediction", pred.shape, gt_path, gt.shape, ref_what="ground truth")
        ev = SemanticEvaluator(space, tol, options)
        ev.add(gt, pred, gt_borders=borders)
        out.append((ev.conf, ev.bcounts, ev.present, ev.border))
        maps.append(pred)
    change = change_counts(change_codes(maps[0], maps[1], gt, space)) if len(maps) == 2 else None
    return out, change


def print_table(result: dict, file=None) -> None:
    file = file or sys.stdout
    names = list(result["per_class_iou"])
    refined = result.get("refined")
    width = max(12, max(map(len, names)))
    head = f"{'class':<{width}}  {'IoU':>5}"
    if refined:
        head += f"  {'refined':>7}  {'Δ':>5}"
    print(head, file=file)
    rows = [(n, result["per_class_iou"][n], refined["per_class_iou"][n] if refined else None) for n in names]
    rows.append(("mIoU", result["miou"], refined["miou"] if refined else None))
    rows.append(("pixel acc.", result["pixel_accuracy"], refined["pixel_accuracy"] if refined else None))
    rows.append(("boundary F", result["boundary_f"], refined["boundary_f"] if refined else None))
    if "boundary_iou" in result:
        rows.append(("boundary IoU", result["boundary_iou"], refined["boundary_iou"] if refined else None))
    for i, (n, a, b) in enumerate(rows):
        if i == len(names):
            print("-" * len(head), file=file)
        line = f"{n:<{width}}  {percent(a, digits=1, width=5)}"
        if refined:
            line += f"  {percent(b, digits=1, width=5):>7}  {percent_change(a, b, digits=1, width=5)}"
        print(line, file=file)
    if refined:
        c = result["change"]
        print(f"changed pixels: {c['fixed']} fixed, {c['broken']} broken, {c['swapped']} swapped", file=file)
    if "error_profile" in result:
        print_boundary(result, file=file)


def _series(values) -> str:
    return " / ".join(percent(v, digits=1).strip() for v in values)


def print_boundary(result: dict, file=None) -> None:
    """Boundary F at each tolerance, trimap IoU at each width, and the error profile."""
    file = file or sys.stdout
    refined = result.get("refined")
    print(file=file)
    for title, key in (("boundary F at", "boundary_f_at"), ("trimap mIoU at", "trimap_iou")):
        print(f"{title} {', '.join(result[key])} px:", file=file)
        print(f"  {'prediction':<10}  {_series(result[key].values())}", file=file)
        if refined:
            print(f"  {'refined':<10}  {_series(refined[key].values())}", file=file)
    prof = result["error_profile"]
    print(f"\n{'distance':>8}  {'pixels':>10}  {'error %':>7}", end="", file=file)
    print(f"  {'refined':>7}  {'Δ':>7}" if refined else "", file=file)
    rows = [
        (f"{b} px", n, r, None) for b, n, r in zip(prof["bins_px"], prof["pixels"], prof["error_rate"], strict=True)
    ]
    rows.append((f">{prof['beyond_px'] - 1} px", prof["pixels_beyond"], prof["error_rate_beyond"], None))
    if refined:
        rp = refined["error_profile"]
        after = rp["error_rate"] + [rp["error_rate_beyond"]]
        rows = [(d, n, r, a) for (d, n, r, _), a in zip(rows, after, strict=True)]
    for d, n, r, a in rows:
        line = f"{d:>8}  {n:>10}  {percent(r, width=7)}"
        if refined:
            line += f"  {percent(a, width=7)}  {percent_change(r, a, width=7)}"
        print(line, file=file)
    print("(pixels not void in the ground truth, by distance to the nearest pixel of another label)", file=file)


def evaluate_folders(
    *,
    gt,
    pred,
    refined=None,
    label_space: str,
    boundary_tol: float = BOUNDARY_TOL,
    workers: int = 1,
    json_path=None,
    plot_path=None,
    options=None,
    skip=(),
) -> int:
    """Evaluate the predictions under ``pred`` (and ``refined``) against ``gt``; print the
    number of images and the table; write ``json_path`` (the figures) and ``plot_path`` (the
    error profile, :func:`write_profile_plot`) when given; ``options``: the boundary measures'
    :class:`~segfix_gui.core.metrics.BorderOptions` (None: the defaults). ``skip``: folders under
    ``pred`` that are not searched (refined outputs written inside it). Returns the exit status
    (2 when some prediction could not be evaluated); InputError when none could."""
    from ..core.metrics import BorderOptions, SemanticEvaluator
    from ..io.atomic import OutputGuard, write_text
    from ..io.pairing import pair_folders
    from ..labels import get_label_space

    guard = OutputGuard.for_inputs(gt, pred, refined)
    for report_path in (json_path, plot_path):  # a report never lands on (or among) the inputs; said before any work
        if report_path:
            guard.check(report_path)
    space = get_label_space(label_space)
    # one prediction per image: two of one name (x.png, x_leftImg8bit.png) would count it twice
    rows = pair_folders("pred", {"pred": pred, "gt": gt, "refined": refined}, one_per_key=True, skip=skip)
    if not rows:
        raise InputError(pred, "no prediction PNGs found")
    errors, jobs = [], []
    for r in rows:
        p = r["pred"]
        if r["error"]:
            errors.append(r["error"])
        elif r["gt"] is None:
            errors.append(str(InputError(p, "no ground truth with this name")))
        elif refined and r["refined"] is None:
            errors.append(str(InputError(p, f"no refined prediction with this name in {refined}")))
        else:
            jobs.append((str(r["gt"]), str(p), str(r["refined"]) if refined else None))
    if options is None:
        options = BorderOptions()
    evs = [SemanticEvaluator(space, boundary_tol, options) for _ in range(2)]
    change = {"fixed": 0, "broken": 0, "swapped": 0}
    fn = functools.partial(_one, space_name=label_space, tol=boundary_tol, options=options)
    n = 0
    for _, res, error in run_batch(fn, jobs, workers=workers, desc="evaluate"):
        if error:
            errors.append(error)
            continue
        n += 1
        counts, ch = res
        for ev, (conf, bcounts, present, border) in zip(evs, counts, strict=False):  # no refined: one set
            ev.add_counts(conf, bcounts, present, border=border)
        if ch:
            for k in change:
                change[k] += ch[k]
    if n == 0:
        report_errors(errors)
        raise InputError(pred, "no prediction could be evaluated")
    result = evs[0].result()
    if refined:
        result["refined"] = evs[1].result()
        result["change"] = change
    result["images"] = n
    result = json_safe(result)
    print(f"{n} images, label space {space.name}")
    print_table(result)
    if json_path:
        with guard.active():
            write_text(json_path, json.dumps(result, indent=2) + "\n")
    if plot_path:
        try:
            with guard.active():
                write_profile_plot(plot_path, result)
        except OSError as err:
            raise InputError(plot_path, f"cannot write: {err.strerror or err}") from None
        print(f"wrote {plot_path}")
    return report(errors, n, "images", verb="evaluated")


def write_profile_plot(path, result: dict) -> None:
    """PNG of the error rate by distance to the border (left; pixel counts as grey bars) and
    the trimap mIoU by band width (right), before and, with ``refined``, after. Drawn by
    matplotlib's Agg canvas (no display), written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..io.atomic import atomic_path

    refined = result.get("refined")
    prof = result["error_profile"]
    labels = [str(b) for b in prof["bins_px"]] + [f">{prof['beyond_px'] - 1}"]
    xs = list(range(1, len(labels) + 1))

    def pct(values):
        return [float("nan") if v is None else 100 * v for v in values]

    fig = Figure(figsize=(11, 4.2), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax, ax2 = fig.subplots(1, 2, width_ratios=(1.6, 1))
    bars = ax.twinx()
    bars.bar(xs[:-1], prof["pixels"], color="0.88", width=0.8, zorder=0)
    top = max(prof["pixels"] + [1]) * 1.15
    bars.set_ylim(0, top)  # the bin beyond is far larger: its count is written instead
    bars.text(xs[-1], 0.1 * top, f"{prof['pixels_beyond']:,}\npx", ha="center", va="bottom", fontsize=7, color="0.45")
    bars.set_ylabel("pixels (not void)", color="0.45")
    bars.tick_params(axis="y", colors="0.45")
    ax.set_zorder(bars.get_zorder() + 1)
    ax.patch.set_visible(False)
    series = [("prediction", result, "tab:red")] + ([("refined", refined, "tab:green")] if refined else [])
    for name, r, colour in series:
        p = r["error_profile"]
        ax.plot(xs, pct(p["error_rate"] + [p["error_rate_beyond"]]), "o-", color=colour, label=name, ms=4)
    ax.set_xticks(xs, labels, fontsize=8)
    ax.set_xlabel("distance to the nearest pixel of another label (px, floor)")
    ax.set_ylabel("error rate (%)")
    ax.set_title(f"Errors by distance to the border ({result.get('images', '?')} images)")
    ax.grid(alpha=0.3)
    ax.legend()
    for name, r, colour in series:
        ws = [int(w) for w in r["trimap_iou"]]
        ax2.plot(ws, pct(r["trimap_iou"].values()), "o-", color=colour, label=name, ms=4)
    ax2.set_xlabel("band width w (px)")
    ax2.set_ylabel("mIoU of the pixels within w px of a border (%)")
    ax2.set_title("Trimap IoU")
    ax2.grid(alpha=0.3)
    ax2.legend()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
