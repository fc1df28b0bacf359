"""A set's figures as files: one CSV table (the set per class, then each sample) and one figure
(per-class IoU change, and every sample's mIoU gain), both stating the setting to three decimals.

Every number is read from :class:`~segfix_gui.session.sets.SetScores` (the engine's counts);
files are written atomically and never onto a file of the set.
"""

from __future__ import annotations

import csv
import io

from ..errors import InputError
from ..io.atomic import atomic_path, write_text
from .format import pct, signed
from .sets import SetScores

COLUMNS = ("scope", "name", "before", "after", "delta", "upper_bound_after", "upper_bound_delta")
CONTEXT = ("images", "threshold", "direction_confidence", "scale")
SUMMARY = (("miou", "mIoU"), ("pixel_accuracy", "pixel accuracy"), ("boundary_f", "boundary F"))


def setting_text(setting, *, hard: bool = False) -> str:
    """The setting, to three decimals (hard offsets: the scale alone applies)."""
    if hard:
        return f"scale {setting.scale:.3f} (hard offsets)"
    return (
        f"threshold {setting.threshold:.3f}, scale {setting.scale:.3f}, "
        f"direction confidence ≥ {setting.min_direction_prob:.3f}"
    )


def _cell(v) -> str:
    return "" if v is None else repr(float(v))


def set_csv(scores: SetScores, *, upper: SetScores | None = None, hard: bool = False) -> str:
    """The CSV text: ``scope`` "set" rows (per-class IoU, then mIoU, pixel accuracy, boundary F;
    fractions, empty = n/a) and ``scope`` "sample" rows (each sample's mIoU), every row with
    the number of images and the setting."""
    got = scores.summary()
    if got is None:
        raise InputError(None, "the set has no scored sample yet")
    up = upper.summary() if upper is not None else None
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS + CONTEXT)
    s = scores.setting
    if hard:
        context = (str(got["images"]), "", "", f"{s.scale:.3f}")
    else:
        context = (str(got["images"]), f"{s.threshold:.3f}", f"{s.min_direction_prob:.3f}", f"{s.scale:.3f}")

    def delta(a, b):
        return None if a is None or b is None else a - b

    for name, b in got["per_class_iou"].items():
        a = got["refined"]["per_class_iou"][name]
        ua = up["refined"]["per_class_iou"][name] if up else None
        w.writerow(("set", name, _cell(b), _cell(a), _cell(delta(a, b)), _cell(ua), _cell(delta(ua, b))) + context)
    for key, label in SUMMARY:
        b, a = got[key], got["refined"][key]
        ua = up["refined"][key] if up else None
        w.writerow(("set", label, _cell(b), _cell(a), _cell(delta(a, b)), _cell(ua), _cell(delta(ua, b))) + context)
    upper_rows = {r.index: r for r in upper.rows()} if upper is not None else {}
    for r in scores.rows():
        if r.miou_before is None:
            continue
        u = upper_rows.get(r.index)
        ua = u.miou_after if u is not None else None
        w.writerow(
            ("sample", r.name, _cell(r.miou_before), _cell(r.miou_after), _cell(r.gain), _cell(ua))
            + (_cell(delta(ua, r.miou_before)),)
            + context
        )
    return buf.getvalue()


def write_set_csv(path, scores: SetScores, *, upper: SetScores | None = None, hard: bool = False) -> None:
    write_text(path, set_csv(scores, upper=upper, hard=hard))


def write_set_figure(path, scores: SetScores, *, upper: SetScores | None = None, hard: bool = False) -> None:
    """A PNG: the per-class IoU change over the set (and the upper bound's, when scored), and
    each sample's mIoU gain sorted, with the setting (three decimals) and the set's figures."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    got = scores.summary()
    if got is None:
        raise InputError(None, "the set has no scored sample yet")
    up = upper.summary() if upper is not None else None
    names = [n for n, v in got["per_class_iou"].items() if v is not None]
    d = [100 * (got["refined"]["per_class_iou"][n] - got["per_class_iou"][n]) for n in names]
    gains = sorted(100 * r.gain for r in scores.rows() if r.gain is not None)
    fig = Figure(figsize=(11, 5.5), dpi=110, layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=(1, 1.3))
    y = range(len(names))
    ax1.barh(
        list(y), d, height=0.4 if up else 0.7, color=["#2a9d4b" if v >= 0 else "#d64541" for v in d], label="network"
    )
    if up:
        du = [100 * (up["refined"]["per_class_iou"][n] - got["per_class_iou"][n]) for n in names]
        ax1.barh([i + 0.4 for i in y], du, height=0.4, color="#e0a000", label="upper bound (ground-truth offsets)")
        ax1.legend(loc="lower right", fontsize=8)
    ax1.set_yticks(list(y), names, fontsize=8)
    ax1.invert_yaxis()
    ax1.axvline(0, color="#777", lw=0.8)
    ax1.set_xlabel("IoU change over the set (points)")
    ax1.set_title("per class", fontsize=10)
    ax2.bar(
        range(len(gains)), gains, color=["#2a9d4b" if g > 0.005 else "#d64541" if g < -0.005 else "#999" for g in gains]
    )
    ax2.axhline(0, color="#777", lw=0.8)
    ax2.set_xlabel("samples, sorted by gain")
    ax2.set_ylabel("mIoU gain (points)")
    ax2.set_title(f"per sample ({len(gains)})", fontsize=10)
    line = (
        f"mIoU {pct(got['miou'])} → {pct(got['refined']['miou'])} ({signed(got['refined']['miou'] - got['miou'])}), "
        f"boundary F {pct(got['boundary_f'])} → {pct(got['refined']['boundary_f'])}"
    )
    if up:
        line += f"; upper bound mIoU {pct(up['refined']['miou'])}"
    fig.suptitle(f"{got['images']} samples at {setting_text(scores.setting, hard=hard)}\n{line}", fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
