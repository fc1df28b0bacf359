"""Guessing what dropped files are (the window's drag and drop; no Qt here)."""

from __future__ import annotations

from pathlib import Path


def classify_files(paths) -> dict[str, str]:
    """Sort dropped files by role: ``{"folder"|"image"|"pred"|"offsets"|"gt"|"instances"|
    "gt_instances": path}``.

    A folder opens as a set; ``.npz`` / ``.mat`` are offsets; a ``.txt`` (Cityscapes
    ``_pred.txt``) is instance predictions; a PNG named ``…instanceIds…`` is instance ground
    truth; JPEG and other photo formats are images; a PNG is an image when it is colour (RGB)
    and its name does not say it is a label map, else a label map — ground truth when its
    name says so (``gt``, ``label``, ``ground``), else the prediction.
    """
    from ..io.pairing import IMAGE_SUFFIXES, OFFSET_SUFFIXES

    out: dict[str, str] = {}
    for p in map(Path, paths):
        low = p.name.lower()
        labelish = any(k in low for k in ("gt", "label", "ground", "pred", "seg"))
        gtish = any(k in low for k in ("gt", "label", "ground"))
        if p.is_dir():
            out["folder"] = str(p)
        elif p.suffix.lower() == ".txt":
            out["instances"] = str(p)
        elif p.suffix.lower() == ".png" and "instanceids" in low:
            out["gt_instances"] = str(p)
        elif p.suffix.lower() in OFFSET_SUFFIXES:
            out["offsets"] = str(p)
        elif p.suffix.lower() == ".png":
            if not labelish and _is_colour_png(p):
                out["image"] = str(p)
            else:
                out["gt" if gtish else "pred"] = str(p)
        elif p.suffix.lower() in IMAGE_SUFFIXES:
            out["image"] = str(p)
    return out


def _is_colour_png(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.mode in ("RGB", "RGBA")
    except (OSError, Image.DecompressionBombError):  # loading reports it with the file's name
        return False
