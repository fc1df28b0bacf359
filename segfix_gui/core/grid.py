"""The settings a sweep tries: every combination of thresholds × scales × direction confidences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .setting import Setting, check_value


def _values(values, name: str, setting_name: str) -> tuple[float, ...]:
    try:
        vals = list(values)
    except TypeError:
        raise ValueError(f"{name} must be numbers, got {values!r}") from None
    if not vals:
        raise ValueError(f"{name}: the list is empty")
    out = []
    for v in vals:
        try:
            out.append(check_value(setting_name, v))
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
    return tuple(sorted(set(out)))


MAX_SETTINGS = 10_000
"""Most settings a sweep tries (each list may hold 1,000 values, their product not more than
this: a sweep keeps every setting's counts, and refines once per scale and confidence)."""
COUNT_BYTES = 256 << 20
"""Most bytes of per-setting counts a sweep keeps for one set (:func:`check_counts`)."""


@dataclass(frozen=True)
class SweepGrid:
    """The settings to try: every combination of the three lists (sorted, duplicates dropped).

    Parameters
    ----------
    thresholds : boundary probabilities a pixel must exceed to move
    scales : offset scales in pixels per unit step
    min_direction_probs : direction confidences a pixel must reach to move

    Each value must be valid for :class:`~segfix_gui.core.setting.Setting` (ranges there);
    ValueError for an empty list or a value out of range.
    """

    thresholds: tuple[float, ...]
    scales: tuple[float, ...]
    min_direction_probs: tuple[float, ...] = (0.0,)

    def __post_init__(self):
        object.__setattr__(self, "thresholds", _values(self.thresholds, "thresholds", "threshold"))
        object.__setattr__(self, "scales", _values(self.scales, "scales", "scale"))
        object.__setattr__(
            self, "min_direction_probs", _values(self.min_direction_probs, "min_direction_probs", "min_direction_prob")
        )
        if self.size > MAX_SETTINGS:
            T, S, M = self.shape
            raise ValueError(
                f"{T:,} thresholds × {S:,} scales × {M:,} direction confidences make {self.size:,} settings, "
                f"at most {MAX_SETTINGS:,}"
            )

    def check_counts(self, n_classes: int) -> None:
        """ValueError when a sweep of ``n_classes`` classes would keep more than
        :data:`COUNT_BYTES` of counts (a confusion matrix and boundary counts per setting)."""
        need = self.size * n_classes * (n_classes + 7) * 8
        if need > COUNT_BYTES:
            most = COUNT_BYTES // (n_classes * (n_classes + 7) * 8)
            raise ValueError(
                f"{self.size:,} settings of {n_classes} classes keep {need / 2**20:,.0f} MiB of counts, "
                f"more than {COUNT_BYTES >> 20} MiB: at most {most:,} settings with this label space"
            )

    @classmethod
    def single(cls, setting: Setting) -> SweepGrid:
        """The grid of one setting (a set's evaluation at one setting is a one-point sweep)."""
        return cls((setting.threshold,), (setting.scale,), (setting.min_direction_prob,))

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(T, S, M)``: numbers of thresholds, scales and min_direction_probs."""
        return len(self.thresholds), len(self.scales), len(self.min_direction_probs)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def index(self, threshold: float, scale: float, min_direction_prob: float = 0.0) -> tuple:
        """``(i, j, l)`` of a setting of the grid (values compared to 1e-9); ValueError if absent."""
        out = []
        for name, vals, v in (
            ("threshold", self.thresholds, threshold),
            ("scale", self.scales, scale),
            ("min_direction_prob", self.min_direction_probs, min_direction_prob),
        ):
            hit = [i for i, x in enumerate(vals) if abs(x - float(v)) <= 1e-9]
            if not hit:
                raise ValueError(f"{name} {v:g} is not in the sweep ({', '.join(f'{x:g}' for x in vals)})")
            out.append(hit[0])
        return tuple(out)

    def index_of(self, setting: Setting) -> tuple:
        return self.index(setting.threshold, setting.scale, setting.min_direction_prob)

    def setting(self, i: int, j: int, k: int) -> Setting:
        return Setting(self.thresholds[i], self.scales[j], self.min_direction_probs[k])
