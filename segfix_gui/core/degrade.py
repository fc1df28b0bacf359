"""Simulated coarse predictions: how a stride-S network errs at borders.

Class scores (one-hot of the ground truth) are averaged over stride×stride blocks and
enlarged bilinearly back to full size; the argmax is the prediction. This is a
*simulation* for demos and tests when no real model is at hand, not a model's output.
"""

from __future__ import annotations

import numpy as np

from ..labels import IGNORE, LabelSpace


def degrade(labels: np.ndarray, space: LabelSpace, *, stride: int = 8) -> np.ndarray:
    """``(H, W)`` ids -> ``(H, W)`` ids (same dtype) with stride-``stride`` borders.

    Void pixels contribute no score; where no class has any score the input id is kept.
    """
    import torch
    import torch.nn.functional as F

    labels = np.asarray(labels)
    if stride < 1:
        raise ValueError(f"stride must be at least 1, not {stride}")
    if stride == 1:
        return labels.copy()
    h, w = labels.shape
    e = space.to_eval(labels)
    # One class at a time, so memory stays a few full-size planes whatever the number of
    # classes (all classes at once took n_classes float32 planes, twice). Pooling and
    # interpolation treat channels independently, so the scores are the same numbers; a
    # strict ">" keeps the first of equal scores, as argmax does.
    best = np.zeros((h, w), np.uint8 if space.n_classes <= 256 else np.int64)
    top: np.ndarray | None = None
    for c in range(space.n_classes):
        mask = torch.from_numpy(e == c)
        if not bool(mask.any()):
            continue  # an absent class scores 0 everywhere: never above a present one
        pooled = F.avg_pool2d(mask.float()[None, None], stride, stride, ceil_mode=True)
        del mask
        score = F.interpolate(pooled, size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()
        if top is None:
            top = score
            best[:] = c
        else:
            better = score > top
            best[better] = c
            np.maximum(top, score, out=top)
            del better
        del score
    if top is None:  # only void pixels
        return labels.copy()
    has = top > 0
    del top
    eval_to_id = np.zeros(space.n_classes, np.int64)
    for cls in reversed(space.classes):
        if cls.train_id != IGNORE:
            eval_to_id[cls.train_id] = cls.id
    out = labels.copy()
    np.copyto(out, eval_to_id[best].astype(labels.dtype), where=has)
    return out
