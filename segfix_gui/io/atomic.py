"""Atomic writes: a temporary name beside the target, renamed when complete; and the guard
every file written or removed goes through (:class:`OutputGuard`): inputs are never written
or removed, outputs land only inside the output folder, two inputs never share one output.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import random
import re
import string
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

_TEMP = re.compile(r"^\.(?P<stem>.*)\.(?P<pid>[0-9]{1,10})-[0-9a-z]{6}\.part(?P<suffix>.*)$", re.DOTALL)
"""A temporary name of :func:`atomic_path`: ``.<stem>.<pid>-<random>.part<suffix>`` (the stem
shortened where the whole would pass the file system's name limit)."""


def _name_max(folder: Path) -> int:
    """The longest file name (in bytes) the file system of ``folder`` allows (255 if unknown)."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def _temp_name(path: Path, pid: int) -> str:
    """A fresh hidden temporary name for ``path`` in its folder, no longer than the file system
    allows: any name that may be written may be written through a temporary one."""
    suffix = path.suffix if len(os.fsencode(path.suffix)) <= 32 else ""
    stem = path.name[: len(path.name) - len(path.suffix)] if suffix else path.name
    tail = f".{pid}-{''.join(random.choices(string.digits + string.ascii_lowercase, k=6))}.part{suffix}"
    room = _name_max(path.parent) - len(os.fsencode(tail)) - 1
    while stem and len(os.fsencode(stem)) > room:
        stem = stem[:-1]
    return f".{stem}{tail}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):
        return True  # another user's process, or cannot tell: keep its file
    return True


def stale_temporary(name: str, *, of: str | None = None) -> bool:
    """``name`` is a temporary file of :func:`atomic_path` whose writer is gone (a run killed
    mid-write: SIGKILL, a crash, a SIGTERM of a worker); with ``of``, one of the output named
    ``of``."""
    m = _TEMP.match(name)
    if m is None or _alive(int(m["pid"])):
        return False
    if of is None:
        return True
    target = Path(of)
    stem = target.name[: len(target.name) - len(m["suffix"])] if m["suffix"] else target.name
    return target.name.endswith(m["suffix"]) and stem.startswith(m["stem"])


def remove_stale_temporaries(folder: str | os.PathLike, *, of: str | None = None, recursive: bool = False) -> int:
    """Remove the temporary files killed runs left in ``folder`` (:func:`stale_temporary`; with
    ``of``, only those of that output; ``recursive``: in its sub-folders too, links not
    followed). Returns how many were removed. Any error is ignored: this is tidying."""
    removed = 0
    try:
        top0 = os.fspath(folder)
        walk: Iterable[tuple[str, list[str], list[str]]] = (
            os.walk(top0) if recursive else [(top0, [], os.listdir(top0))]
        )
        for top, _dirs, names in walk:
            for name in names:
                if name.startswith(".") and stale_temporary(name, of=of):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(top, name))
                        removed += 1
    except OSError:
        pass
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    The temporary file is hidden, keeps the target's suffix so writers that look at it (PIL,
    numpy) work, and is never longer than the longest name the file system allows. It is
    removed on any error, on Ctrl-C and on SIGTERM (:func:`terminate_cleanly`); one left by a
    killed run is removed by a later one (:func:`remove_stale_temporaries`: a run writing into
    an output folder sweeps it once, any other write sweeps the temporaries of its own name).
    Refused (an :class:`InputError`, nothing written) when an active :class:`OutputGuard`
    refuses ``path``. On error ``path`` is left as it was; an ``OSError``
    (a parent that is a file, a read-only or full disk, ``path`` a folder) becomes an
    :class:`InputError` naming ``path``, so a batch reports it as that file's error line.
    """
    path = Path(path)
    check_output(path)  # before any folder is made: a refused path leaves no trace
    if path.is_dir():
        raise InputError(path, "cannot write: is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not any(g.root is not None for g in _ACTIVE.get()):  # an output folder is swept at its start
            remove_stale_temporaries(path.parent, of=path.name)
        for attempt in range(100):
            tmp = os.path.join(path.parent, _temp_name(path, os.getpid()))
            try:  # the mode 0o666 less the umask: what a finished file gets
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                if attempt == 99:
                    raise
    except OSError as err:
        raise _cannot_write(path, err) from None
    os.close(fd)
    try:
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


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived (raised by :func:`terminate_cleanly`'s handler): like Ctrl-C,
    it unwinds every :func:`atomic_path`, which removes its temporary file."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def terminate_cleanly():
    """While the block runs (in the main thread), SIGTERM and SIGHUP raise :class:`Terminated`
    instead of ending the process where it stands, so no temporary file is left behind; the
    handlers before are restored after it."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        raise Terminated(signum)

    old = {}
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            with contextlib.suppress(OSError, ValueError):
                old[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, h in old.items():
            with contextlib.suppress(OSError, ValueError, TypeError):
                signal.signal(sig, h)


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


# --- the output guard ---------------------------------------------------------------------------

_ACTIVE: contextvars.ContextVar[tuple[OutputGuard, ...]] = contextvars.ContextVar("segfix_output_guards", default=())


def _inside(real: str, folder: str) -> bool:
    """``real`` is ``folder`` or lies below it (both real paths)."""
    return real == folder or real.startswith(folder if folder.endswith(os.sep) else folder + os.sep)


def _real(path) -> str:
    return os.path.realpath(os.fspath(path))


def _linked(folders: Sequence[tuple[str, str]]) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """What symlinks inside the input ``folders`` (``(real path, as given)``) lead to outside
    them: ``([(real folder, description)], {real file: link})``. The commands follow such
    links when they list their inputs, so what lies there is input too."""
    found: list[tuple[str, str]] = []
    files: dict[str, str] = {}
    seen = {real for real, _ in folders}

    def outside(real: str) -> bool:
        return not any(_inside(real, r) for r, _ in (*folders, *found))

    for _real_root, given in folders:
        for top, dirs, names in os.walk(given, followlinks=True):
            keep = []
            for d in dirs:
                full = os.path.join(top, d)
                real = _real(full)
                if real in seen:  # a loop, or a folder reached twice
                    continue
                seen.add(real)
                keep.append(d)
                if os.path.islink(full) and outside(real):
                    found.append((real, f"{real} (linked from {full})"))
            dirs[:] = keep
            for n in names:
                full = os.path.join(top, n)
                if os.path.islink(full):
                    real = _real(full)
                    if outside(real):
                        files.setdefault(real, full)
    return found, files


@dataclass(frozen=True, eq=False)
class OutputGuard:
    """Where a run may write and remove files, checked by real path (links followed).

    A file is refused when its real path is one of the input ``files``, lies inside one of
    the input ``folders`` (or a folder a symlinked sub-folder of one leads to), or, when
    ``root`` is set, lies outside the output folder. :func:`atomic_path` and
    :func:`remove_output` ask every guard made :meth:`active`; :meth:`refuse` checks a whole
    batch of ``(input, output)`` pairs before any work, collisions included. Picklable: a
    batch's worker processes get it with their work.
    """

    root: str | None = None  # real path of the output folder (None: anywhere but the inputs)
    root_given: str | None = None  # the output folder as the user named it
    folders: tuple[tuple[str, str], ...] = ()  # (real path, as given) of input folders
    files: dict[str, str] = field(default_factory=dict)  # real path -> as given, of input files

    @classmethod
    def for_inputs(cls, *inputs, files: Iterable = (), out=None) -> OutputGuard:
        """A guard of ``inputs`` (folders or files; None skipped) and the input ``files``;
        with ``out``, outputs are allowed only inside that folder (:meth:`for_output`), and the
        temporary files killed runs left in it are removed (:func:`remove_stale_temporaries`)."""
        folders: list[tuple[str, str]] = []
        named: dict[str, str] = {}
        for inp in inputs:
            if inp is None:
                continue
            real = _real(inp)
            if os.path.isdir(real):
                folders.append((real, os.fspath(inp)))
            else:
                named[real] = os.fspath(inp)
        linked_folders, linked_files = _linked(folders)
        folders += linked_folders
        for real, link in linked_files.items():
            named.setdefault(real, f"{real} (linked from {link})")
        for f in files:
            if f is not None:
                named.setdefault(_real(f), os.fspath(f))
        root = None if out is None else _real(out)
        if root is not None and os.path.isdir(root):  # what killed runs left: this run redoes their writes
            remove_stale_temporaries(root, recursive=True)
        return cls(root=root, root_given=None if out is None else os.fspath(out), folders=tuple(folders), files=named)

    @classmethod
    def for_output(cls, out, *inputs, files: Iterable = ()) -> OutputGuard:
        """The guard of a command writing into the folder ``out`` from ``inputs``: ``out``
        is first checked as a whole (:func:`~segfix_gui.io.pairing.check_out_dir`)."""
        from .pairing import check_out_dir

        check_out_dir(out, *inputs)
        return cls.for_inputs(*inputs, files=files, out=out)

    @property
    def out(self) -> Path:
        """The output folder's real path (of a guard made with one: :meth:`for_output`)."""
        if self.root is None:
            raise ValueError("this guard has no output folder")
        return Path(self.root)

    def reason(self, path) -> str | None:
        """Why ``path`` may not be written or removed, or None when it may."""
        real = _real(path)
        shown = os.path.abspath(os.fspath(path))
        via = "" if real == shown else f" (real path {real})"
        if real in self.files:
            return f"it is the input file {self.files[real]}{via}; inputs are never overwritten or removed"
        root = self.root
        for folder, given in self.folders:  # an output folder inside an input folder is carved out of it
            if _inside(real, folder) and not (root is not None and _inside(real, root) and _inside(root, folder)):
                return f"it is inside the input folder {given}{via}; inputs are never overwritten or removed"
        if self.root is not None and not _inside(real, self.root):
            return f"it is outside the output folder {self.root_given}{via}; outputs are written only inside it"
        return None

    def check(self, path) -> None:
        """InputError ``<path>: refused: <why>`` when ``path`` may not be written."""
        why = self.reason(path)
        if why is not None:
            raise InputError(path, f"refused: {why}")

    def refuse(self, pairs: Sequence[tuple[object, object]]) -> dict[int, str]:
        """Error lines of the ``(input, output)`` pairs that may not run, by index: an output
        this guard refuses, or one output for two inputs (both named; the same real path,
        or names differing only in case on a folder that ignores case)."""
        errors: dict[int, str] = {}
        by_real: dict[str, int] = {}
        by_fold: dict[str, list[int]] = {}
        for i, (_src, dst) in enumerate(pairs):
            why = self.reason(dst)
            if why is not None:
                errors[i] = f"{dst}: refused: {why}"
                continue
            real = _real(dst)
            if real in by_real:
                _collide(pairs, errors, by_real[real], i)
            else:
                by_real[real] = i
                by_fold.setdefault(real.casefold(), []).append(i)
        for same in by_fold.values():
            if len(same) > 1 and _ignores_case(_real(pairs[same[0]][1]), root=self.root):
                for j in same[1:]:
                    _collide(pairs, errors, same[0], j)
        return errors

    @contextlib.contextmanager
    def active(self):
        """Every write (:func:`atomic_path`) and removal (:func:`remove_output`) in this
        thread is checked by this guard while the block runs."""
        active = _ACTIVE.get()
        if self in active:
            yield self
            return
        token = _ACTIVE.set((*active, self))
        try:
            yield self
        finally:
            _ACTIVE.reset(token)


def _collide(pairs, errors: dict[int, str], a: int, b: int) -> None:
    (src_a, dst_a), (src_b, dst_b) = pairs[a], pairs[b]
    errors[a] = f"{src_a}: refused: {src_b} would be written to the same output {dst_a}: rename one of them"
    errors[b] = f"{src_b}: refused: {src_a} would be written to the same output {dst_b}: rename one of them"


def _ignores_case(path: str, *, root: str | None = None) -> bool:
    """Whether the folder ``path`` would be written in treats ``a`` and ``A`` as one name:
    probed with a hidden file in its nearest existing folder, never above the output folder
    ``root`` (made first if need be); assumed so when it cannot be probed. Asked only when two
    outputs' names differ in case alone."""
    folder = os.path.dirname(path)
    while folder and not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    try:
        if root is not None and not _inside(_real(folder or "."), root):
            os.makedirs(root, exist_ok=True)
            folder = root
        fd, probe = tempfile.mkstemp(prefix=".segfix-case-probe-", dir=folder or None)
    except OSError:
        return True
    os.close(fd)
    try:
        head, name = os.path.split(probe)
        return os.path.exists(os.path.join(head, name.upper()))
    finally:
        with contextlib.suppress(OSError):
            os.unlink(probe)


def check_output(path) -> None:
    """Refuse ``path`` (InputError, ``<path>: refused: <why>``) if an active guard does."""
    for guard in _ACTIVE.get():
        guard.check(path)


def remove_output(path) -> None:
    """Remove the output ``path`` (a file an earlier run wrote); refused as a write would be."""
    check_output(path)
    os.unlink(path)
