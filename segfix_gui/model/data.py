"""Training data: a split of a dataset folder (``images/*.jpg|png`` + ``labels/*.png``) and
the ground-truth targets the offset network learns.

Targets per image (from :func:`segfix_gui.core.targets.boundary_targets`):
``distance`` (H, W) float32 — distance to the nearest other label (``inf`` off the band),
``bins`` (H, W) uint8 — direction bin into the pixel's own segment,
``valid`` (H, W) bool — the pixel's label is not ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

MAX_WIDTH = 8.0  # targets are computed for this band; narrower bands are cut from it


@dataclass
class Split:
    """Images ``(N, H, W, 3)`` uint8 and targets of one split (all images one size)."""

    names: list[str]
    images: np.ndarray
    distance: np.ndarray
    bins: np.ndarray
    valid: np.ndarray


def split_files(root: str | Path, split: str) -> list[tuple[Path, Path]]:
    """``(image, label)`` pairs of ``root/split`` (InputError when absent or empty)."""
    from ..io.pairing import pair_folders

    base = Path(root) / split
    img_dir, lab_dir = base / "images", base / "labels"
    for d in (img_dir, lab_dir):
        if not d.is_dir():
            raise InputError(d, f"missing folder (expected {split}/images and {split}/labels)")
    rows = pair_folders("image", {"image": img_dir, "labels": lab_dir})
    bad = next((r for r in rows if r["error"]), None)
    if bad is not None:
        raise InputError(None, bad["error"])  # the row's message names the file already
    pairs = [(r["image"], r["labels"]) for r in rows if r["labels"] is not None]
    if not pairs:
        raise InputError(base, "no image with a label of the same name")
    return pairs


def _targets(job):
    from ..core.targets import boundary_targets
    from ..io.images import read_image, read_labels
    from ..labels import get_label_space

    img_path, lab_path, space_name = job
    space = get_label_space(space_name)
    image = read_image(img_path)
    labels = read_labels(lab_path, space)
    if image.shape[:2] != labels.shape:
        raise InputError(
            lab_path,
            f"labels are {labels.shape[0]}×{labels.shape[1]} but the image is {image.shape[0]}×{image.shape[1]}",
        )
    band, bins, dist = boundary_targets(labels, width=MAX_WIDTH, directions=8, ignore_ids=space.ignore_ids)
    valid = space.to_eval(labels) != 255
    return image, dist, bins, valid


Runner = Callable[[Callable, list], Iterable[tuple[Any, Any, "str | None"]]]
"""How a batch of jobs runs: ``run(fn, items)`` yields ``(item, fn(item), None)`` or
``(item, None, error line)``, in order — ``segfix_gui.cli._common.run_batch`` (worker processes,
a progress bar) for ``segfix train``."""


def _in_this_process(fn: Callable, items: list):
    return ((item, fn(item), None) for item in items)


def load_split(
    root: str | Path,
    split: str,
    *,
    space: str = "camvid",
    limit: int | None = None,
    every: int = 1,
    run: Runner | None = None,
) -> Split:
    """Read a split and compute its targets (``limit``/``every`` pick a subset), one image per
    job of ``run`` (default: in this process, one after another). InputError naming the
    first bad file."""
    pairs = split_files(root, split)[::every]
    if limit:
        pairs = pairs[:limit]
    jobs = [(str(i), str(lab), space) for i, lab in pairs]
    out, errors = [], []
    for _job, result, error in (run or _in_this_process)(_targets, jobs):
        if error:
            errors.append(error)
        else:
            out.append(result)
    if errors:
        more = f" (and {len(errors) - 1} more bad files)" if len(errors) > 1 else ""
        raise InputError(None, errors[0] + more)
    sizes = {o[0].shape for o in out}
    if len(sizes) != 1:
        raise InputError(Path(root) / split, f"images of several sizes ({sorted(sizes)[:3]}); training needs one size")
    return Split(
        names=[i.stem for i, _ in pairs],
        images=np.stack([o[0] for o in out]),
        distance=np.stack([o[1] for o in out]),
        bins=np.stack([o[2] for o in out]),
        valid=np.stack([o[3] for o in out]),
    )
