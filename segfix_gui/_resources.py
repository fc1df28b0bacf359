"""Where the bundled resources are: label spaces, offset-network weights, the demo sample.

They live in the checkout's top-level ``resources/`` folder; a wheel ships the same folder
inside the package as ``segfix_gui/resources`` (pyproject.toml maps one onto the other). Every
module that needs a bundled file asks here, so an installed wheel, an editable install and a
plain checkout all find the same files.
"""

from __future__ import annotations

import functools
from importlib import resources as _ilr
from pathlib import Path


@functools.cache
def resources_dir() -> Path:
    """The folder holding ``label_spaces/``, ``weights/`` and ``demo/``.

    Inside the installed package (a wheel) first, else the checkout's ``resources/`` beside the
    package (a source checkout or an editable install). The path may not exist in a broken
    install; callers report the missing file they wanted.
    """
    inside = _ilr.files("segfix_gui").joinpath("resources")
    if inside.is_dir():
        return Path(str(inside))
    return Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Path:
    """The path of a bundled file or folder, e.g. ``resource("weights", "offsetnet-camvid.pt")``."""
    return resources_dir().joinpath(*parts)
