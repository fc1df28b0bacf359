"""Value lists from text: ``START:STOP:STEP`` ranges and comma lists (``segfix sweep``, the Tune
panel), checked against the setting's ranges."""

from __future__ import annotations

import math

from ..core.grid import SweepGrid
from ..core.numbers import exact
from ..core.setting import RANGES
from ..errors import InputError

RANGE_HELP = "START:STOP:STEP (STOP included) or a comma list"
MAX_VALUES = 1000


def _number(text: str, option: str, whole: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise InputError(None, f"{option} {whole!r}: not a number: {text.strip()!r}") from None
    if not math.isfinite(v):
        raise InputError(None, f"{option} {whole!r}: {text.strip()} is not a finite number")
    return v


def parse_values(text: str, option: str, *, low: float, high: float, low_open: bool = False) -> tuple[float, ...]:
    """Values of ``START:STOP:STEP`` (STOP included when it falls on a step) or ``a,b,c``.

    Raises InputError with one line naming ``option`` for an empty list, a bad number, a
    range that goes down or a value outside ``[low, high]`` (``(low, high]`` if ``low_open``).
    """
    whole = text
    text = text.strip()
    if not text:
        raise InputError(None, f"{option}: the list is empty (give {RANGE_HELP})")
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise InputError(None, f"{option} {whole!r}: a range is START:STOP:STEP")
        start, stop, step = (_number(x, option, whole) for x in parts)
        if step <= 0:
            raise InputError(None, f"{option} {whole!r}: the step must be positive, not {step:g}")
        if start > stop:
            raise InputError(
                None, f"{option} {whole!r}: start {start:g} is above stop {stop:g} (ranges go up: START:STOP:STEP)"
            )
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_VALUES:
            raise InputError(None, f"{option} {whole!r}: {count} values, at most {MAX_VALUES}")
        values = [round(start + i * step, 10) for i in range(count)]
    else:
        items = text.split(",")
        if any(not x.strip() for x in items):
            raise InputError(None, f"{option} {whole!r}: empty item in the list")
        values = [_number(x, option, whole) for x in items]
        if len(values) > MAX_VALUES:
            raise InputError(None, f"{option}: {len(values)} values, at most {MAX_VALUES}")
    for v in values:
        if v < low or v > high or (low_open and v == low):
            span = f"{'(' if low_open else '['}{low:g}, {high:g}]"
            raise InputError(None, f"{option} {whole!r}: {exact(v)} is outside {span}")
    return tuple(sorted(set(values)))


def parse_setting_values(text: str, option: str, name: str) -> tuple[float, ...]:
    """:func:`parse_values` in the range of the setting ``name`` (``"threshold"``, ``"scale"``
    or ``"min_direction_prob"``, ranges from :mod:`segfix_gui.core.setting`)."""
    low, high, low_open = RANGES[name]
    return parse_values(text, option, low=low, high=high, low_open=low_open)


def parse_grid(
    thresholds: str, scales: str, directions: str, *, names=("thresholds", "scales", "direction confidence")
) -> SweepGrid:
    """The :class:`SweepGrid` of three value lists; InputError naming the option (``names``),
    or all three when their product is more settings than a sweep tries
    (:data:`~segfix_gui.core.grid.MAX_SETTINGS`)."""
    values = (
        parse_setting_values(thresholds, names[0], "threshold"),
        parse_setting_values(scales, names[1], "scale"),
        parse_setting_values(directions, names[2], "min_direction_prob"),
    )
    try:
        return SweepGrid(*values)
    except ValueError as err:
        raise InputError(None, f"{' × '.join(names)}: {err}") from None


def check_grid_counts(grid: SweepGrid, n_classes: int, names=("thresholds", "scales", "direction confidence")) -> None:
    """:meth:`SweepGrid.check_counts` as an InputError naming the three options."""
    try:
        grid.check_counts(n_classes)
    except ValueError as err:
        raise InputError(None, f"{' × '.join(names)}: {err}") from None
