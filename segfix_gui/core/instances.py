"""Instance masks: refinement with one image's offsets, matching to ground truth, and
per-instance mask IoU and boundary F-score. Pure numpy, no files, no Qt.

Ground truth is a Cityscapes instance map ``(H, W)`` of ``labelId * 1000 + index`` for
things; values below 1000 (stuff, and groups of things such as ``car group``) are never
matched. A prediction is matched greedily, in order of descending score, to the unmatched
ground-truth instance *of its label id* with the highest mask IoU, if that IoU exceeds
``min_iou`` (default 0: any overlap). The match made on the masks before refinement is
kept for the refined masks, so "before → after" always compares the same pair.

Boundary F-score of one instance: the 1-px inner boundaries of predicted and ground-truth
mask (pixels of the mask with a 4-neighbour outside it; image edges are not boundaries),
matched within ``tol`` pixels — :func:`segfix_gui.core.metrics.boundary_counts` on the
two-class maps. Typical use::

    before = read_instances(txt)                                # io.instances
    after = refine_instances(before, field.to_offsets(Setting(threshold=0.5, scale=1)))
    cmp = compare_instances(before, after, read_instance_gt(gt_path))
    cmp.iou_before[i], cmp.iou_after[i], cmp.bf_before[i], cmp.bf_after[i]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .metrics import BOUNDARY_TOL, boundary_counts, boundary_f_from_counts
from .numbers import finite_or_none
from .refine import refine_masks

THING_BASE = 1000


def label_of(ids):
    """The Cityscapes label id of instance-map ids: ``id // 1000`` for thing instances
    (``labelId * 1000 + index``), the id itself below 1000 (stuff, groups of things). An
    integer or an ndarray, as given.

    >>> label_of(26003), label_of(7)
    (26, 7)
    >>> label_of(np.array([0, 24000, 26012]))
    array([ 0, 24, 26])
    """
    if isinstance(ids, np.ndarray):
        return np.where(ids >= THING_BASE, ids // THING_BASE, ids)
    ids = int(ids)
    return ids // THING_BASE if ids >= THING_BASE else ids


@dataclass(frozen=True, eq=False)
class InstanceSet:
    """The predicted instances of one image.

    Attributes
    ----------
    masks : ndarray of shape (N, H, W), bool — True inside
    label_ids : ndarray of shape (N,), int32 — Cityscapes label ids (not train ids)
    scores : ndarray of shape (N,), float64 — confidences
    names : tuple of N str, or None — mask paths relative to the ``_pred.txt`` folder
    """

    masks: np.ndarray
    label_ids: np.ndarray
    scores: np.ndarray
    names: tuple | None = None

    def __post_init__(self):
        masks = np.asarray(self.masks)
        if masks.ndim != 3:
            raise ValueError(f"masks must be (N, H, W), got shape {masks.shape}")
        n = masks.shape[0]
        object.__setattr__(self, "masks", masks.astype(bool, copy=False))
        object.__setattr__(self, "label_ids", np.asarray(self.label_ids, np.int32).reshape(-1))
        object.__setattr__(self, "scores", np.asarray(self.scores, np.float64).reshape(-1))
        if self.label_ids.shape != (n,) or self.scores.shape != (n,):
            raise ValueError(f"{n} masks but {self.label_ids.size} label ids and {self.scores.size} scores")
        if self.names is not None:
            object.__setattr__(self, "names", tuple(self.names))
            if len(self.names) != n:
                raise ValueError(f"{n} masks but {len(self.names)} names")

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the image."""
        return tuple(self.masks.shape[1:])

    def with_masks(self, masks: np.ndarray) -> InstanceSet:
        """The same instances (labels, scores, names) with other masks of the same shape."""
        masks = np.asarray(masks)
        if masks.shape != self.masks.shape:
            raise ValueError(f"masks must be {self.masks.shape}, got {masks.shape}")
        return replace(self, masks=masks)

    def subset(self, keep: np.ndarray) -> InstanceSet:
        """The instances where ``keep`` (bool (N,) or indices) selects."""
        idx = np.arange(len(self))[np.asarray(keep)]
        names = None if self.names is None else tuple(self.names[i] for i in idx)
        return InstanceSet(self.masks[idx], self.label_ids[idx], self.scores[idx], names)


def refine_instances(instances: InstanceSet, offsets: np.ndarray, *, device: str = "auto") -> InstanceSet:
    """Every mask moved with the image's integer offsets ``(2, H, W)`` (d_row, d_col).

    Scale is part of the offsets: SegFix uses scale 1 for instance masks,
    ``field.to_offsets(Setting(threshold=..., scale=1))``.
    """
    if len(instances) == 0:
        return instances
    return instances.with_masks(refine_masks(instances.masks, offsets, device=device))


@dataclass(frozen=True)
class GtInstances:
    """The thing instances of a ground-truth instance map.

    Attributes
    ----------
    ids : ndarray (M,), int64 — instance ids (``labelId * 1000 + index``), ascending
    label_ids : ndarray (M,), int64 — ``ids // 1000``
    sizes : ndarray (M,), int64 — pixel counts
    """

    ids: np.ndarray
    label_ids: np.ndarray
    sizes: np.ndarray


def gt_instances(gt_ids: np.ndarray) -> GtInstances:
    """The thing instances (ids >= 1000) of an ``(H, W)`` instance map."""
    ids, sizes = np.unique(np.asarray(gt_ids), return_counts=True)
    keep = ids >= THING_BASE
    ids = ids[keep].astype(np.int64)
    return GtInstances(ids, label_of(ids), sizes[keep].astype(np.int64))


def _overlaps(mask: np.ndarray, gt_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth ids under ``mask`` and the count of each (ids >= 1000 only)."""
    under = gt_ids[mask]
    ids, counts = np.unique(under[under >= THING_BASE], return_counts=True)
    return ids.astype(np.int64), counts.astype(np.int64)


def match_to_gt(instances: InstanceSet, gt_ids: np.ndarray, *, min_iou: float = 0.0) -> np.ndarray:
    """The ground-truth instance matched to each prediction.

    Parameters
    ----------
    instances : InstanceSet of N predictions on an (H, W) image
    gt_ids : ndarray of shape (H, W), integer instance map
    min_iou : a match needs a mask IoU strictly above this

    Returns
    -------
    ndarray of shape (N,), int64 — the matched ground-truth id, 0 where none
    """
    gt_ids = np.asarray(gt_ids)
    if gt_ids.shape != instances.shape:
        raise ValueError(
            f"ground truth is {gt_ids.shape[0]}×{gt_ids.shape[1]} but the masks are "
            f"{instances.shape[0]}×{instances.shape[1]}"
        )
    table = gt_instances(gt_ids)
    size_of = dict(zip(table.ids.tolist(), table.sizes.tolist(), strict=True))
    matched = np.zeros(len(instances), np.int64)
    taken: set[int] = set()
    order = np.argsort(-instances.scores, kind="stable")
    for i in order:
        mask = instances.masks[i]
        area = int(mask.sum())
        if area == 0:
            continue
        ids, inter = _overlaps(mask, gt_ids)
        best, best_iou = 0, min_iou
        for g, n in zip(ids.tolist(), inter.tolist(), strict=True):
            if label_of(g) != instances.label_ids[i] or g in taken:
                continue
            iou = n / (area + size_of[g] - n)
            if iou > best_iou:
                best, best_iou = g, iou
        if best:
            matched[i] = best
            taken.add(best)
    return matched


def mask_iou(mask: np.ndarray, gt_mask: np.ndarray) -> float:
    """IoU of two ``(H, W)`` bool masks (NaN when both are empty)."""
    inter = np.count_nonzero(mask & gt_mask)
    union = np.count_nonzero(mask | gt_mask)
    return inter / union if union else math.nan


def _crop(mask: np.ndarray, gt_mask: np.ndarray, pad: int):
    rows = np.flatnonzero(mask.any(axis=1) | gt_mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0) | gt_mask.any(axis=0))
    if rows.size == 0:
        return None
    h, w = mask.shape
    r0, r1 = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, h)
    c0, c1 = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, w)
    return slice(r0, r1), slice(c0, c1)


def mask_boundary_f(mask: np.ndarray, gt_mask: np.ndarray, *, tol: float = BOUNDARY_TOL) -> float:
    """Boundary F-score of a predicted ``(H, W)`` bool mask against a ground-truth mask.

    Both boundaries empty (both masks empty) → NaN; one empty → 0.
    """
    mask = np.asarray(mask, bool)
    gt_mask = np.asarray(gt_mask, bool)
    # cropping to the masks' box (plus a margin) changes nothing: boundary pixels lie in it
    # and pixels beyond it are outside both masks
    win = _crop(mask, gt_mask, int(math.ceil(tol)) + 2)
    if win is None:
        return math.nan
    p = mask[win].astype(np.uint8)
    g = gt_mask[win].astype(np.uint8)
    counts = boundary_counts(g, p, 2, tol=tol)
    return float(boundary_f_from_counts(counts[1:2], np.array([True]))[0])


def instance_scores(
    instances: InstanceSet, gt_ids: np.ndarray, matched: np.ndarray, *, tol: float = BOUNDARY_TOL
) -> tuple[np.ndarray, np.ndarray]:
    """Mask IoU and boundary F-score of each instance to its matched ground truth.

    Returns
    -------
    iou, boundary_f : ndarrays of shape (N,), float64 — NaN where ``matched`` is 0
    """
    gt_ids = np.asarray(gt_ids)
    n = len(instances)
    iou = np.full(n, np.nan)
    bf = np.full(n, np.nan)
    for i in range(n):
        if matched[i] == 0:
            continue
        g = gt_ids == matched[i]
        iou[i] = mask_iou(instances.masks[i], g)
        bf[i] = mask_boundary_f(instances.masks[i], g, tol=tol)
    return iou, bf


@dataclass(frozen=True)
class InstanceComparison:
    """Per-instance figures of one image, before and (optionally) after refinement.

    Attributes (all ndarrays of shape (N,), in the order of the instances)
    ----------
    matched_gt : int64, matched ground-truth id (0 = none); matched on the masks before
    iou_before, iou_after : float64 mask IoU to it (NaN unmatched / no refined masks)
    bf_before, bf_after : float64 boundary F-score to it
    tol : float, boundary tolerance in pixels
    """

    matched_gt: np.ndarray
    iou_before: np.ndarray
    iou_after: np.ndarray
    bf_before: np.ndarray
    bf_after: np.ndarray
    tol: float

    def __len__(self) -> int:
        return int(self.matched_gt.shape[0])

    def rows(self, instances: InstanceSet) -> list[dict]:
        """One dict per instance: name, label_id, score, gt_id, iou/bf before and after
        (None where undefined) — for tables, lists and JSON."""

        f = finite_or_none
        out = []
        for i in range(len(self)):
            out.append(
                {
                    "mask": instances.names[i] if instances.names else None,
                    "label_id": int(instances.label_ids[i]),
                    "score": float(instances.scores[i]),
                    "gt_id": int(self.matched_gt[i]) or None,
                    "iou": f(self.iou_before[i]),
                    "boundary_f": f(self.bf_before[i]),
                    "refined_iou": f(self.iou_after[i]),
                    "refined_boundary_f": f(self.bf_after[i]),
                }
            )
        return out


def compare_instances(
    before: InstanceSet,
    after: InstanceSet | None,
    gt_ids: np.ndarray,
    *,
    tol: float = BOUNDARY_TOL,
    min_iou: float = 0.0,
) -> InstanceComparison:
    """Match ``before`` to ground truth and score both sets against the same matches.

    ``after`` must hold the same instances (same count and label ids, e.g. from
    :func:`refine_instances`), or be None.
    """
    matched = match_to_gt(before, gt_ids, min_iou=min_iou)
    iou_b, bf_b = instance_scores(before, gt_ids, matched, tol=tol)
    if after is None:
        iou_a = np.full(len(before), np.nan)
        bf_a = iou_a.copy()
    else:
        if len(after) != len(before) or not np.array_equal(after.label_ids, before.label_ids):
            raise ValueError("the refined instances must be the same instances as before (same count and label ids)")
        iou_a, bf_a = instance_scores(after, gt_ids, matched, tol=tol)
    return InstanceComparison(matched, iou_b, iou_a, bf_b, bf_a, float(tol))


def mask_outline(mask: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: pixels of ``mask`` with a 4-neighbour outside it (image edges count
    as outside, so an instance cut by the frame is drawn closed). ``skimage.segmentation.
    find_boundaries(mode="inner", connectivity=1)`` of the mask padded by one pixel, without
    its grey-scale morphology (tens of times faster: ``benchmarks/skimage_equivalents.py``)."""
    m = np.asarray(mask, bool)
    p = np.pad(m, 1, constant_values=False)
    inner = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return m & ~inner


def mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(row0, col0, row1, col1)`` (end exclusive) of the mask's pixels, None when empty."""
    m = np.asarray(mask, bool)
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(m.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1
