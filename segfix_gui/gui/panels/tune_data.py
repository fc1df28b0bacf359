"""What the Tune panel shows, as plain functions of a :class:`~segfix_gui.core.sweep.SweepResult`
(no Qt, no drawing): the grid from the user's text, the curves, the point under the current
setting, and each sample's numbers at a chosen setting.

Every figure is read from the sweep result — the engine's ``segfix_gui.core.sweep.sweep``,
the one ``segfix sweep`` prints — never recomputed here. Gains are in *points* (100 × the
fraction the engine reports).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...core.sweep import SweepGrid, SweepJob, SweepResult, SweepSample
from ...errors import InputError
from ..compute import SetRow
from ..sample import Sample, SamplePaths

DEFAULTS = {"thresholds": "0.1:0.9:0.1", "scales": "1,2,3", "directions": "0"}
METRIC_TITLES = {"miou": "mIoU gain over no refinement", "boundary_f": "boundary-F gain over no refinement"}


def parse_grid(thresholds: str, scales: str, directions: str) -> SweepGrid:
    """The grid from the panel's three fields, in ``segfix sweep``'s syntax
    (``START:STOP:STEP`` with STOP included, or ``a,b,c``).

    Raises InputError (one line naming the field) for an empty list, a bad number, a range
    that goes down or a value out of range (thresholds and directions in [0, 1], scales in
    (0, 64]).
    """
    from ...cli.sweep import parse_values

    return SweepGrid(
        thresholds=parse_values(thresholds, "thresholds", low=0, high=1),
        scales=parse_values(scales, "scales", low=0, high=64, low_open=True),
        min_direction_probs=parse_values(directions, "direction confidence", low=0, high=1))


# --- what to sweep ----------------------------------------------------------------------------

@dataclass
class Plan:
    """The items of one sweep and how they map back to the window's samples.

    Attributes
    ----------
    items : list of SweepJob (files of a set, each read once by the sweep) or one SweepSample
        (the open sample's arrays)
    index_of_key : {item key: index of the sample in the set} (key ``"0"`` for a single sample)
    skipped : {index: one-line reason, or None for "no ground truth"} — samples not swept
    names : the samples' titles, by index
    single : True when the open sample (no folder set) is swept
    """

    items: list
    index_of_key: dict[str, int]
    skipped: dict[int, str | None]
    names: list[str]
    single: bool = False


def plan_set(samples: list[SamplePaths]) -> Plan:
    """One :class:`SweepJob` per sample of a set that has ground truth and offsets."""
    items, index_of_key, skipped = [], {}, {}
    for i, p in enumerate(samples):
        if p.gt is None:
            skipped[i] = None
        elif p.offsets is None:
            skipped[i] = str(InputError(p.pred, "no offsets given for this prediction"))
        else:
            key = str(i)
            items.append(SweepJob(key, p.gt, p.pred, p.offsets))
            index_of_key[key] = i
    return Plan(items, index_of_key, skipped, [p.title for p in samples])


def plan_sample(sample: Sample) -> Plan:
    """The open sample alone (its arrays, as loaded); no item without ground truth."""
    if sample.gt is None:
        return Plan([], {}, {0: None}, [sample.name], single=True)
    if sample.field is None:
        return Plan([], {}, {0: str(InputError(sample.paths.pred, "no offsets yet (use Predict "
                                                                  "offsets)"))},
                    [sample.name], single=True)
    return Plan([SweepSample("0", sample.gt, sample.pred, sample.field)], {"0": 0}, {},
                [sample.name], single=True)


# --- curves -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Series:
    """One curve: ``x`` (P,) float64 thresholds (or scales, for hard offsets), ``y`` (P,)
    float64 gains in points (NaN where undefined), ``index`` the grid index ``(i, j, l)`` of
    each point."""

    label: str
    x: np.ndarray
    y: np.ndarray
    index: tuple[tuple[int, int, int], ...]


def against_threshold(res: SweepResult) -> bool:
    """True when the curves run over the threshold; False when every offset file was hard
    (the threshold had no effect: the curve runs over the scale)."""
    return res.threshold_matters


def gains(res: SweepResult, metric: str) -> np.ndarray:
    """``(T, S, M)`` float64 gains in points of ``metric`` (``"miou"`` or ``"boundary_f"``)."""
    if metric not in METRIC_TITLES:
        raise ValueError(f"metric must be one of {', '.join(METRIC_TITLES)}, not {metric!r}")
    return 100.0 * (getattr(res, metric) - res.base[metric])


def series(res: SweepResult, metric: str = "miou", *, direction_index: int = 0) -> list[Series]:
    """The curves of ``metric``: one per scale against the threshold (at the
    ``direction_index``-th direction confidence), or one against the scale for hard offsets."""
    g = gains(res, metric)
    grid = res.grid
    if against_threshold(res):
        x = np.asarray(grid.thresholds, np.float64)
        l = direction_index
        return [Series(f"scale {s:g}", x, g[:, j, l].copy(),
                       tuple((i, j, l) for i in range(len(x))))
                for j, s in enumerate(grid.scales)]
    x = np.asarray(grid.scales, np.float64)
    return [Series("hard offsets", x, g[0, :, 0].copy(), tuple((0, j, 0) for j in range(len(x))))]


def index_of(res: SweepResult, *, threshold: float, scale: float,
             min_direction_prob: float = 0.0) -> tuple[int, int, int] | None:
    """Grid index of a setting, or None when it is not on the grid (hard offsets: the scale
    alone decides)."""
    try:
        if against_threshold(res):
            return res.grid.index(threshold, scale, min_direction_prob)
        _, j, _ = res.grid.index(res.grid.thresholds[0], scale, res.grid.min_direction_probs[0])
        return 0, j, 0
    except ValueError:
        return None


def setting_at(res: SweepResult, idx: tuple[int, int, int]) -> dict:
    """What applying a point sets: ``threshold``, ``scale`` and ``min_direction_prob``, or
    the ``scale`` alone for hard offsets (the others have no effect on them)."""
    s = res.grid.setting(*idx)
    return s if against_threshold(res) else {"scale": s["scale"]}


def describe(res: SweepResult, idx: tuple[int, int, int]) -> str:
    s = res.grid.setting(*idx)
    if not against_threshold(res):
        return f"scale {s['scale']:g}"
    text = f"threshold {s['threshold']:g}, scale {s['scale']:g}"
    if len(res.grid.min_direction_probs) > 1 or s["min_direction_prob"] != 0:
        text += f", direction ≥ {s['min_direction_prob']:g}"
    return text


def best_index(res: SweepResult, metric: str = "miou") -> tuple[int, int, int] | None:
    """Grid index of ``res.best(metric)`` (None without a figure)."""
    b = res.best(metric)
    if b is None:
        return None
    return res.grid.index(b["threshold"], b["scale"], b["min_direction_prob"])


# --- samples at a setting ---------------------------------------------------------------------

def _num(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def sample_rows(res: SweepResult, plan: Plan, idx: tuple[int, int, int]) -> list[SetRow]:
    """Every sample of the set at grid index ``idx``, as the samples list shows them: mIoU
    before and after (the sweep's per-image figures), an error row for a sample that could not
    be swept, an empty row for one without ground truth."""
    pos = {k: n for n, k in enumerate(res.keys)}
    key_of = {i: k for k, i in plan.index_of_key.items()}
    jobs = {it.key: it for it in plan.items}
    rows = []
    for i, name in enumerate(plan.names):
        key = key_of.get(i)
        if key is not None and key in pos:
            n = pos[key]
            rows.append(SetRow(i, name, _num(res.image_base_miou[n]),
                               _num(res.image_miou[(n,) + tuple(idx)])))
        elif key is not None:  # a bad file: the sweep's one-line message names it
            rows.append(SetRow(i, name, error=_error_for(res.errors, jobs[key])))
        elif plan.skipped.get(i):
            rows.append(SetRow(i, name, error=plan.skipped[i]))
        else:
            rows.append(SetRow(i, name))
    return rows


def _error_for(errors: list[str], item) -> str:
    paths = [str(getattr(item, a, "")) for a in ("gt", "pred", "offsets")]
    return next((e for e in errors if any(p and p in e for p in paths)), "could not be swept")


def tally(res: SweepResult, idx: tuple[int, int, int], metric: str = "miou", *,
          plan: Plan | None = None) -> dict:
    """Images that gain, lose or do not change ``metric`` at ``idx``, and the worst one:
    ``{"gain": int, "loss": int, "same": int, "worst": (name, points) or None}``."""
    g = 100.0 * (getattr(res, f"image_{metric}")[(slice(None),) + tuple(idx)]
                 - getattr(res, f"image_base_{metric}"))
    ok = np.isfinite(g)
    out = {"gain": int(np.count_nonzero(ok & (g > 5e-5))),
           "loss": int(np.count_nonzero(ok & (g < -5e-5))),
           "same": int(np.count_nonzero(ok & (np.abs(g) <= 5e-5))), "worst": None}
    if ok.any():
        n = int(np.nanargmin(np.where(ok, g, np.nan)))
        key = res.keys[n]
        name = key
        if plan is not None and key in plan.index_of_key:
            name = plan.names[plan.index_of_key[key]]
        out["worst"] = (name, float(g[n]))
    return out
