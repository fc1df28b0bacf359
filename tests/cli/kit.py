"""Small files and checks shared by the hardening tests (``test_hardening*.py``)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def errors(capsys) -> list[str]:
    """The ``segfix: error:`` lines printed so far (and no traceback among what was printed)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [ln for ln in err.splitlines() if ln.startswith("segfix: error:")]


def labels(h=12, w=16, ids=(0, 1, 2)) -> np.ndarray:
    """A label map of vertical bands, one per id."""
    a = np.zeros((h, w), np.uint8)
    for i, v in enumerate(ids):
        a[:, i * w // len(ids) :] = v
    return a


def png(path: Path, arr) -> Path:
    """``arr`` written as a PNG (uint8 unless it is already an image type), folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(arr)
    Image.fromarray(arr if arr.dtype in (np.uint8, np.uint16, bool) else arr.astype(np.uint8)).save(path)
    return path


def npz(path: Path, members: dict[str, bytes], stored=False) -> Path:
    """A zip of the given member bytes (deflated unless ``stored``), as an ``.npz`` is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path
