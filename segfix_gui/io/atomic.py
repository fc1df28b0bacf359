"""Atomic writes: a temporary name beside the target, renamed when complete."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ..errors import InputError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    The temporary file keeps the target's suffix so writers that look at it (PIL, numpy) work.
    On error the temporary file is removed and ``path`` is left as it was; an ``OSError``
    (a parent that is a file, a read-only or full disk, ``path`` a folder) becomes an
    :class:`InputError` naming ``path``, so a batch reports it as that file's error line.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "cannot write: is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
    except OSError as err:
        raise _cannot_write(path, err) from None
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a finished file follows the umask
        yield tmp
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        # disk full, read-only, ...: the output's own error line (an error about another
        # file, e.g. a source being copied, is left as it is)
        if isinstance(err, OSError) and err.filename in (None, tmp, os.fspath(path)):
            raise _cannot_write(path, err) from None
        raise


def _cannot_write(path: Path, err: OSError) -> InputError:
    """``path: cannot write: <reason>`` (a parent that is a file, a read-only disk, a full disk)."""
    if isinstance(err, (FileExistsError, NotADirectoryError)):
        reason = "a parent folder is a file"
    else:
        reason = err.strerror or str(err) or err.__class__.__name__
    return InputError(path, f"cannot write: {reason}")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))
