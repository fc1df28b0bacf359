"""Errors a user can act on."""

from __future__ import annotations

import os
import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with every control character escaped (a newline in a file name is ``\\n``,
    others ``\\xNN`` / ``\\uNNNN``; line and paragraph separators and undecodable bytes of a
    file name too), so a message stays the one line it is meant to be. Idempotent: escaped
    text holds no control characters."""
    if text.isprintable():  # the common case: nothing to escape (a space is printable)
        return text
    out = []
    for ch in text:
        if ch in _NAMED:
            out.append(_NAMED[ch])
        elif unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


class InputError(ValueError):
    """Bad input: one line naming the file and the problem.

    ``str(err)`` is the message shown to users (``"<path>: <problem>"``), on one line: control
    characters of the file name or the problem are escaped (:func:`one_line`). Picklable, so
    it crosses a process pool as itself.
    """

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(one_line(problem if self.path is None else f"{self.path}: {problem}"))

    def __reduce__(self):
        return (type(self), (self.path, self.problem))
