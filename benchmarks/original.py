"""The original SegFix scripts' approach, re-written from its description for side-by-side runs.

Not product code: a baseline for ``benchmarks/engine_speed.py``, written from the facts in
SEGFIX_FACTS.md (openseg's ``scripts/cityscapes/segfix.py`` and its target generation):

- refinement: label ids are encoded to train ids by a loop over classes, a dense coordinate grid
  is built, the train-id map is sampled with ``grid_sample`` (bilinear; the grid normalised for
  ``align_corners=True`` but the call uses the current default ``False`` — the known defect),
  rounded, and decoded back to label ids by a loop over classes;
- ground-truth targets: a Euclidean distance transform of every class mask over the whole image
  and a 5×5 Sobel of each distance map, whose angle is quantised to the direction bins.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi


def encode(labels: np.ndarray, id_to_train: dict[int, int]) -> np.ndarray:
    out = np.full(labels.shape, 255, np.uint8)
    for i, t in id_to_train.items():
        out[labels == i] = t
    return out


def decode(train: np.ndarray, train_to_id: dict[int, int]) -> np.ndarray:
    out = np.zeros(train.shape, np.uint8)
    for t, i in train_to_id.items():
        out[train == t] = i
    return out


def shift(train: np.ndarray, offsets: np.ndarray, *, align_corners: bool = False) -> np.ndarray:
    """Sample ``train`` (H, W) at p + offsets with grid_sample (bilinear), then round."""
    h, w = train.shape
    x = torch.from_numpy(train.astype(np.float32))[None, None]
    rows = torch.arange(h, dtype=torch.float32).view(h, 1).expand(h, w)
    cols = torch.arange(w, dtype=torch.float32).view(1, w).expand(h, w)
    off = torch.from_numpy(offsets.astype(np.float32))
    grid_r = (rows + off[0]).clamp(0, h - 1) / ((h - 1) / 2) - 1
    grid_c = (cols + off[1]).clamp(0, w - 1) / ((w - 1) / 2) - 1
    grid = torch.stack([grid_c, grid_r], dim=-1)[None]
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=align_corners)
    return torch.round(y[0, 0]).numpy().astype(np.uint8)


def refine_original(
    labels: np.ndarray, offsets: np.ndarray, id_to_train: dict[int, int], *, align_corners: bool = False
) -> np.ndarray:
    """The original's per-map refinement (``align_corners=True`` is what it intended)."""
    train_to_id = {}
    for i, t in sorted(id_to_train.items(), reverse=True):
        train_to_id[t] = i
    train = encode(labels, id_to_train)
    return decode(shift(train, offsets, align_corners=align_corners), train_to_id)


SMOOTH5 = np.array([1, 4, 6, 4, 1], np.float64)
DERIV5 = np.array([-1, -2, 0, 2, 1], np.float64)


def sobel5(a: np.ndarray, *, axis: int) -> np.ndarray:
    """5×5 Sobel derivative along ``axis`` (derivative ⊗ smoothing, as OpenCV's ksize=5)."""
    d = ndi.correlate1d(a, DERIV5, axis=axis, mode="nearest")
    return ndi.correlate1d(d, SMOOTH5, axis=1 - axis, mode="nearest")


def gt_targets_original(
    labels: np.ndarray, *, width: float = 5, k: int = 8, ignore_ids=()
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class distance transform of the whole image and a Sobel of each (the original's way)."""
    from segfix_gui.core.offsets import angles_to_bins

    band = np.zeros(labels.shape, bool)
    d_row = np.zeros(labels.shape, np.float64)
    d_col = np.zeros(labels.shape, np.float64)
    for c in np.unique(labels):
        if c in ignore_ids:
            continue
        mask = labels == c
        dist = ndi.distance_transform_edt(mask)
        gr = sobel5(dist, axis=0)
        gc = sobel5(dist, axis=1)
        sel = mask & (dist <= width)
        band |= sel
        d_row[sel] = gr[sel]
        d_col[sel] = gc[sel]
    return band, angles_to_bins(d_row, d_col, k)
