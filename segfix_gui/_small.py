"""Reading the small text files a run takes (label-space specs, ``_pred.txt`` lists, weights
records) with a size limit: a file that claims or holds more is refused, never read whole."""

from __future__ import annotations

import os

from .errors import InputError

JSON_LIMIT = 1 << 20
"""Largest label-space spec or weights record read (1 MiB: 255 classes take about 20 kB)."""
LIST_LIMIT = 16 << 20
"""Largest ``_pred.txt`` read (16 MiB: about 250,000 instances)."""


def read_small(path: str | os.PathLike, *, limit: int, what: str) -> bytes:
    """The bytes of ``path``, at most ``limit`` of them; :class:`InputError` naming the file
    when it holds more (its size is checked first, and at most ``limit + 1`` bytes are read,
    so a device that never ends does not either). ``OSError`` s (not found, a folder) pass
    through for the caller to word."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise InputError(path, f"is {size:,} bytes, more than the {limit:,} a {what} may be")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(path, f"holds more than the {limit:,} bytes a {what} may be")
    return data
