"""Opening input files and listing input folders: only regular files are read, small text
files only up to a size limit, and a folder that cannot be listed is an error, never a silent
gap.

A named pipe (FIFO) blocks a reader until a writer comes, ``/dev/zero`` never ends, a socket
cannot be read at all: every file this program reads goes through :func:`open_input` (or
:func:`check_input`, where a library opens the path itself), which refuses them at once.
It sits at the top of the package, beside ``_resources``, because ``labels`` (which ``core``
may import) opens label-space specs through it too; ``io`` and ``model`` use it for the rest.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO, NoReturn

from .errors import InputError

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_input(path: str | os.PathLike) -> BinaryIO:
    """``path`` opened for reading (binary) when it is a regular file (links followed).

    Opened without blocking (a FIFO without a writer would block the open itself) and checked
    on the open file, so what is checked is what is read. Raises :class:`InputError`
    (``<path>: is a named pipe (FIFO), not a regular file ...``) for a FIFO, a device or a
    socket; ``IsADirectoryError`` for a folder and the ``OSError`` of ``open`` otherwise
    (not found, permission denied), for the caller to word.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(mode):
            raise InputError(path, f"is {_kind(mode)}, not a regular file: only regular files are read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


JSON_LIMIT = 1 << 20
"""Largest label-space spec or weights record read (1 MiB: 255 classes take about 20 kB)."""
LIST_LIMIT = 16 << 20
"""Largest ``_pred.txt`` read (16 MiB: about 250,000 instances)."""


def read_small(path: str | os.PathLike, *, limit: int, what: str) -> bytes:
    """The bytes of the small text file ``path`` (a label-space spec, a ``_pred.txt``, a weights
    record), at most ``limit`` of them, opened by :func:`open_input`; :class:`InputError` naming
    the file when it holds more (its size is checked first, and at most ``limit + 1`` bytes are
    read). ``OSError`` s (not found, a folder) pass through for the caller to word."""
    with open_input(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise InputError(path, f"is {size:,} bytes, more than the {limit:,} a {what} may be")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(path, f"holds more than the {limit:,} bytes a {what} may be")
    return data


def check_input(path: str | os.PathLike, what: str | None = None) -> None:
    """Raise as :func:`open_input` does unless ``path`` is a regular file one can open; for
    readers that a library opens by path (PIL, numpy, scipy, torch).

    With ``what`` (``"weights file"``), an ``OSError`` becomes an :class:`InputError` too:
    ``<what> not found``, ``is a folder, not a <what>``, ``cannot read <what>: <reason>``.
    """
    try:
        with open_input(path):
            pass
    except OSError as err:
        if what is None:
            raise
        if isinstance(err, FileNotFoundError):
            raise InputError(path, f"{what} not found") from None
        if isinstance(err, IsADirectoryError):
            raise InputError(path, f"is a folder, not a {what}") from None
        raise InputError(path, f"cannot read {what}: {err.strerror or err}") from None


def unlistable(err: OSError) -> NoReturn:
    """``os.walk``'s ``onerror``: a folder that cannot be listed is an :class:`InputError`
    naming it (its files would otherwise be left out without a word)."""
    reason = err.strerror or err.__class__.__name__
    raise InputError(err.filename, f"cannot list this folder ({reason}): its files would be left out")
