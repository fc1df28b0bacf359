"""How figures are written for people: percent with two decimals, signed gains, and the sign a
gain shows (one rule, so a "−0.00" is never counted as a loss).

>>> pct(0.85112)
'85.11'
>>> signed(-0.00004)
'0.00'
>>> sign_of(-0.00004), sign_of(0.0004)
(0, 1)
>>> pct(None)
'n/a'
"""

from __future__ import annotations

from ..core.numbers import finite_or_none, percent


def _missing(v) -> bool:
    return finite_or_none(v) is None


def pct(v) -> str:
    """A fraction as percent with two decimals (``"n/a"`` for None / NaN): the command line's
    :func:`~segfix_gui.core.numbers.percent`."""
    return percent(v)


def sign_of(v) -> int:
    """-1, 0 or 1: the sign of a gain (a fraction) as :func:`signed` shows it; 0 for None / NaN
    and for a gain that rounds to 0.00 points."""
    if _missing(v):
        return 0
    points = round(100 * float(v), 2)
    return 0 if points == 0 else (1 if points > 0 else -1)


def signed(v) -> str:
    """A gain (a fraction) in points with its sign and two decimals; ``"0.00"`` when it rounds
    to zero (never ``"−0.00"`` or ``"+0.00"``)."""
    if _missing(v):
        return "n/a"
    return "0.00" if sign_of(v) == 0 else f"{100 * v:+.2f}"
