"""Instance mode's work, as engine calls plus the outline geometry to draw (no Qt).

Every figure comes from ``segfix_gui.core.instances``: the refined masks from
``refine_instances`` (offsets by ``OffsetField.to_offsets``, scale 1 by default as the
original), the match to ground truth and each instance's mask IoU and boundary F-score from
``compare_instances``, boxes from ``mask_bbox``. What is added here is only what the window
draws: each mask's outline as line segments along the pixel edges between the mask and the
outside (the edges of ``mask_outline``'s pixels that face outside), so an outline stays one
screen pixel thin at any zoom and all outlines of a view can be one graphics item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..core.instances import InstanceComparison, InstanceSet, compare_instances, mask_bbox, refine_instances


def _nothing(*_args) -> None:
    return None


def outline_segments(mask: np.ndarray) -> np.ndarray:
    """The outline of an ``(H, W)`` bool mask as segments along pixel edges.

    Returns
    -------
    ndarray of shape (K, 4), float32 — ``(x0, y0, x1, y1)`` per unit segment in image
    coordinates (x = col, y = row; pixel ``(r, c)`` covers ``[c, c+1] × [r, r+1]``): every
    edge between a pixel of the mask and one outside it, image borders included (as
    ``core.instances.mask_outline`` counts them). Empty for an empty mask.
    """
    mask = np.asarray(mask, bool)
    box = mask_bbox(mask)
    if box is None:
        return np.zeros((0, 4), np.float32)
    r0, c0, r1, c1 = box
    p = np.pad(mask[r0:r1, c0:c1], 1, constant_values=False)
    # vertical edges: between padded columns j and j+1, at x = c0 + j, rows r0+i-1 .. r0+i
    i, j = np.nonzero(p[:, 1:] != p[:, :-1])
    x = (c0 + j).astype(np.float32)
    y = (r0 + i - 1).astype(np.float32)
    vert = np.stack([x, y, x, y + 1], axis=1)
    # horizontal edges: between padded rows i and i+1, at y = r0 + i, cols c0+j-1 .. c0+j
    i, j = np.nonzero(p[1:, :] != p[:-1, :])
    x = (c0 + j - 1).astype(np.float32)
    y = (r0 + i).astype(np.float32)
    horiz = np.stack([x, y, x + 1, y], axis=1)
    return np.concatenate([vert, horiz]).astype(np.float32, copy=False)


@dataclass(eq=False)
class InstanceOutlines:
    """What the window draws of N instances.

    Attributes
    ----------
    segments : list of N ndarrays (K_i, 4), float32 — :func:`outline_segments` of each mask
    boxes : list of N ``(row0, col0, row1, col1)`` or None — ``core.instances.mask_bbox``
    """

    segments: list
    boxes: list


def outlines_of(instances: InstanceSet, *, check: Callable = _nothing) -> InstanceOutlines:
    segs, boxes = [], []
    for m in instances.masks:
        check()
        segs.append(outline_segments(m))
        boxes.append(mask_bbox(m))
    return InstanceOutlines(segs, boxes)


@dataclass(eq=False)
class InstanceBase:
    """An instance sample's figures before refinement (computed once, when it opens).

    Attributes
    ----------
    outlines : InstanceOutlines of the predicted masks
    comparison : InstanceComparison of the masks alone (``after`` None), or None without
        ground truth
    """

    outlines: InstanceOutlines
    comparison: InstanceComparison | None


@dataclass(eq=False)
class InstanceResult:
    """Instances refined at one setting.

    Attributes
    ----------
    after : InstanceSet, the refined masks (same instances, order, labels and scores)
    comparison : InstanceComparison before → after (``compare_instances``), or None without
        ground truth
    outlines : InstanceOutlines of the refined masks
    changed : ndarray of shape (N,), bool — the refined mask differs from the prediction
    """

    after: InstanceSet
    comparison: InstanceComparison | None
    outlines: InstanceOutlines
    changed: np.ndarray


def instance_base(
    instances: InstanceSet, gt_ids: np.ndarray | None, *, tol: float, check: Callable = _nothing
) -> InstanceBase:
    outlines = outlines_of(instances, check=check)
    cmp = None if gt_ids is None else compare_instances(instances, None, gt_ids, tol=tol)
    return InstanceBase(outlines, cmp)


def refine_instance_set(
    instances: InstanceSet,
    offsets: np.ndarray,
    gt_ids: np.ndarray | None,
    *,
    device: str,
    tol: float,
    check: Callable = _nothing,
) -> InstanceResult:
    """Refine every mask with ``offsets`` ``(2, H, W)`` and score before → after."""
    after = refine_instances(instances, offsets, device=device)
    check()
    cmp = None if gt_ids is None else compare_instances(instances, after, gt_ids, tol=tol)
    check()
    changed = np.array([not np.array_equal(a, b) for a, b in zip(instances.masks, after.masks, strict=True)], bool)
    return InstanceResult(after, cmp, outlines_of(after, check=check), changed)


def instance_colours(instances: InstanceSet, space) -> np.ndarray:
    """``(N, 3)`` uint8: each instance's class colour (the label space's palette)."""
    ids = np.clip(instances.label_ids, 0, len(space.palette) - 1)
    return np.asarray(space.palette)[ids].astype(np.uint8)


def instance_class_names(instances: InstanceSet, space) -> list[str]:
    """Each instance's class name in ``space`` (``id N`` for an id the space does not know)."""
    by_id = {c.id: c.name for c in space.classes}
    return [by_id.get(int(i), f"id {int(i)}") for i in instances.label_ids]


def instances_at(instances: InstanceSet, row: int, col: int) -> list[int]:
    """Indices of the instances whose mask covers ``(row, col)``, highest score first."""
    hit = np.flatnonzero(instances.masks[:, row, col])
    return [int(i) for i in hit[np.argsort(-instances.scores[hit], kind="stable")]]
