"""The refinement setting: one validated object, with its ranges and defaults in one place.

A :class:`Setting` says which pixels of an offset field move and how far:

- ``threshold`` — boundary probability a pixel must *exceed* to move, in [0, 1];
- ``scale`` — pixels per unit direction step, in (0, 64];
- ``min_direction_prob`` — probability its most likely direction must reach, in [0, 1].

Every caller (window, sweep, command line) passes a ``Setting``; a bad value raises
:class:`ValueError` here, whoever asks. The scale is capped at 64 px so that integer
offsets (at most 2 px per unit step for K = 16) always fit int16 and stay inside any
sensible image.

Example
-------
>>> s = Setting(threshold=0.8, scale=1)
>>> s.describe()
'threshold 0.80, scale 1, direction ≥ 0.00'
>>> Setting.resolve({"threshold": 0.8}, scale=3)
Setting(threshold=0.8, scale=3.0, min_direction_prob=0.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TypeVar

from .numbers import exact

# name -> (low, high, low_open): the ranges, in one place
RANGES: dict[str, tuple[float, float, bool]] = {
    "threshold": (0.0, 1.0, False),
    "scale": (0.0, 64.0, True),
    "min_direction_prob": (0.0, 1.0, False),
}
NAMES = tuple(RANGES)
DEFAULT_THRESHOLD = 0.5
DEFAULT_SCALE = 2.0  # semantic segmentation (openseg's segfix.py --scale 2)
INSTANCE_SCALE = 1.0  # instance masks (the original's setting)
DEFAULT_MIN_DIRECTION_PROB = 0.0


def check_value(name: str, value) -> float:
    """``value`` as a float if it is a finite number in the range of ``name``; else ValueError
    with one line naming it and the range."""
    if name not in RANGES:
        raise ValueError(f"unknown setting {name!r} (expected one of {', '.join(NAMES)})")
    low, high, low_open = RANGES[name]
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    if v < low or v > high or (low_open and v == low):
        raise ValueError(f"{name} {exact(v)} is outside {range_text(name)}")
    return v


def check_recommended(values: Mapping[str, object]) -> dict[str, float]:
    """Recommended settings (an offset file's, a network record's) validated by the rule every
    :class:`Setting` obeys: each key one of :data:`NAMES`, each value a number in its range
    (booleans are not numbers here). ValueError with one line naming the key otherwise.

    >>> check_recommended({"threshold": 0.9, "scale": 1})
    {'threshold': 0.9, 'scale': 1.0}
    >>> check_recommended({"scale": 0})
    Traceback (most recent call last):
    ...
    ValueError: scale 0 is outside (0, 64]
    """
    out = {}
    for key, value in values.items():
        if isinstance(value, bool):
            raise ValueError(f"{key} must be a number, not {value!r}")
        out[key] = check_value(key, value)
    return out


def range_text(name: str) -> str:
    """``"[0, 1]"`` or ``"(0, 64]"``: the range of ``name`` as text."""
    low, high, low_open = RANGES[name]
    return f"{'(' if low_open else '['}{low:g}, {high:g}]"


_S = TypeVar("_S", bound="Setting")  # resolve and with_ return the subclass they are called on


@dataclass(frozen=True)
class Setting:
    """Threshold, scale and minimum direction probability (validated; see the module)."""

    threshold: float = DEFAULT_THRESHOLD
    scale: float = DEFAULT_SCALE
    min_direction_prob: float = DEFAULT_MIN_DIRECTION_PROB

    def __post_init__(self):
        for name in NAMES:
            object.__setattr__(self, name, check_value(name, getattr(self, name)))

    @classmethod
    def resolve(
        cls: type[_S],
        recommended: dict | None = None,
        *,
        threshold: float | None = None,
        scale: float | None = None,
        min_direction_prob: float | None = None,
        default_scale: float = DEFAULT_SCALE,
        **extra,
    ) -> _S:
        """The setting to use: explicit values, else the ``recommended`` ones (e.g. an offset
        field's), else the defaults (``default_scale`` for the scale). ``extra`` fields go to
        a subclass (the window's device)."""
        rec = recommended or {}
        given = {"threshold": threshold, "scale": scale, "min_direction_prob": min_direction_prob}
        base = {
            "threshold": DEFAULT_THRESHOLD,
            "scale": default_scale,
            "min_direction_prob": DEFAULT_MIN_DIRECTION_PROB,
        }
        values = {k: v if v is not None else rec.get(k, base[k]) for k, v in given.items()}
        return cls(**values, **extra)

    def with_(self: _S, **changes) -> _S:
        """A copy with ``changes`` applied (validated)."""
        return replace(self, **changes)

    def refinement(self) -> Setting:
        """The plain :class:`Setting` (without fields a subclass adds)."""
        return Setting(self.threshold, self.scale, self.min_direction_prob)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def describe(self, *, hard: bool = False) -> str:
        if hard:
            return f"scale {self.scale:g} (hard offsets)"
        return f"threshold {self.threshold:.2f}, scale {self.scale:g}, direction ≥ {self.min_direction_prob:.2f}"
