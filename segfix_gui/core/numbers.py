"""Figures as they are stored and shown: undefined values (NaN) as ``None`` for JSON and tables,
fractions as percent text. One rule for the command line's tables, the metrics dicts and the
window's panels.

>>> json_safe({"miou": float("nan"), "per_class": [0.5, float("nan")]})
{'miou': None, 'per_class': [0.5, None]}
>>> percent(0.8512), percent(0.8512, digits=1, width=6), percent(None)
('85.12', '  85.1', 'n/a')
>>> percent_change(0.85, 0.8533), percent_change(0.85, float("nan"))
('+0.33', 'n/a')
"""

from __future__ import annotations

import math
from typing import Any

NA = "n/a"


def finite_or_none(v: Any) -> float | None:
    """``float(v)``, or None where ``v`` is None or NaN (an undefined figure: an IoU of a class
    absent from both maps, a mean of nothing)."""
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def json_safe(obj: Any) -> Any:
    """``obj`` with every float NaN (nested in dicts, lists and tuples) replaced by None, so that
    ``json.dumps`` writes ``null`` (JSON has no NaN)."""
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def percent(v: Any, *, digits: int = 2, sign: bool = False, width: int = 0, na: str = NA) -> str:
    """A fraction as percent text (``0.8512`` → ``"85.12"``), ``na`` where it is undefined;
    ``sign`` writes ``+`` on gains, ``width`` right-aligns."""
    f = finite_or_none(v)
    text = na if f is None else f"{100 * f:{'+' if sign else ''}.{digits}f}"
    return text.rjust(width)


def percent_change(before: Any, after: Any, *, digits: int = 2, width: int = 0, na: str = NA) -> str:
    """``after - before`` of two fractions as signed percent points, ``na`` when either is
    undefined."""
    a, b = finite_or_none(before), finite_or_none(after)
    if a is None or b is None:
        return na.rjust(width)
    return percent(b - a, digits=digits, sign=True, width=width, na=na)


def exact(v: float) -> str:
    """A number as the shortest text that reads back as it (``64.0000001`` stays
    ``64.0000001``, where ``:g`` would print ``64``; ``2.0`` is ``2``): what a message says of
    a value that was refused, so it names the value given.

    >>> exact(64.0000001), exact(2.0), exact(1e21), exact(-0.5)
    ('64.0000001', '2', '1e+21', '-0.5')
    """
    v = float(v)
    if v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    text = repr(v)
    return text[:-2] if text.endswith(".0") else text
