"""Errors a user can act on."""

from __future__ import annotations

import os


class InputError(ValueError):
    """Bad input: one line naming the file and the problem.

    ``str(err)`` is the message shown to users (``"<path>: <problem>"``).
    """

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")
