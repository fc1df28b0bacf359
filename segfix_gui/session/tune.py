"""What the Tune panel shows, as plain functions of a :class:`~segfix_gui.core.sweep.SweepResult`
(no Qt, no drawing): the curves, the point under the current setting, and the tally of
samples that gain or lose at a chosen setting (what to sweep: :mod:`segfix_gui.session.sets`).

Every figure is read from the sweep result — the engine's ``segfix_gui.core.sweep.sweep``,
the one ``segfix sweep`` prints — never recomputed here. Gains are in *points* (100 × the
fraction the engine reports).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.sweep import SweepResult
from .format import sign_of
from .sets import Plan

DEFAULTS = {"thresholds": "0.1:0.9:0.1", "scales": "1,2,3", "directions": "0"}
METRIC_TITLES = {"miou": "mIoU gain", "boundary_f": "boundary-F gain"}  # over no refinement (the y axis says so)


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
        k = direction_index
        return [
            Series(f"scale {s:g}", x, g[:, j, k].copy(), tuple((i, j, k) for i in range(len(x))))
            for j, s in enumerate(grid.scales)
        ]
    x = np.asarray(grid.scales, np.float64)
    return [Series("hard offsets", x, g[0, :, 0].copy(), tuple((0, j, 0) for j in range(len(x))))]


def index_of(
    res: SweepResult, *, threshold: float, scale: float, min_direction_prob: float = 0.0
) -> tuple[int, int, int] | None:
    """Grid index of a setting, or None when it is not on the grid (hard offsets: the scale
    alone decides). Values are compared at 6 decimals: a recommendation recorded in float32 in
    an offsets file (0.800000011920929) is the grid's 0.8."""
    threshold, scale, min_direction_prob = (round(float(v), 6) for v in (threshold, scale, min_direction_prob))
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
    return s.as_dict() if against_threshold(res) else {"scale": s.scale}


def describe(res: SweepResult, idx: tuple[int, int, int]) -> str:
    s = res.grid.setting(*idx)
    if not against_threshold(res):
        return f"scale {s.scale:g}"
    text = f"threshold {s.threshold:g}, scale {s.scale:g}"
    if len(res.grid.min_direction_probs) > 1 or s.min_direction_prob != 0:
        text += f", direction ≥ {s.min_direction_prob:g}"
    return text


def best_index(res: SweepResult, metric: str = "miou") -> tuple[int, int, int] | None:
    """Grid index of ``res.best(metric)`` (None without a figure)."""
    b = res.best(metric)
    if b is None:
        return None
    return res.grid.index(b["threshold"], b["scale"], b["min_direction_prob"])


# --- samples at a setting ---------------------------------------------------------------------


def tally(res: SweepResult, idx: tuple[int, int, int], metric: str = "miou", *, plan: Plan | None = None) -> dict:
    """Images that gain, lose or do not change ``metric`` at ``idx``, and the worst one:
    ``{"gain": int, "loss": int, "same": int, "worst": (name, points) or None}``."""
    g = 100.0 * (getattr(res, f"image_{metric}")[(slice(None),) + tuple(idx)] - getattr(res, f"image_base_{metric}"))
    ok = np.isfinite(g)
    signs = np.array([sign_of(v / 100) if f else 0 for v, f in zip(g.tolist(), ok.tolist(), strict=True)], int)
    out: dict[str, Any] = {  # as shown: a gain that rounds to 0.00 points is no gain (nor loss)
        "gain": int(np.count_nonzero(ok & (signs > 0))),
        "loss": int(np.count_nonzero(ok & (signs < 0))),
        "same": int(np.count_nonzero(ok & (signs == 0))),
        "worst": None,
    }
    if ok.any():
        n = int(np.nanargmin(np.where(ok, g, np.nan)))
        key = res.keys[n]
        name = key
        if plan is not None and key in plan.index_of_key:
            name = plan.names[plan.index_of_key[key]]
        out["worst"] = (name, float(g[n]))
    return out
