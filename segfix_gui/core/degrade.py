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
    n = space.n_classes
    onehot = torch.zeros((1, n, h, w), dtype=torch.float32)
    valid = torch.from_numpy(e != IGNORE)
    idx = torch.from_numpy(np.where(e == IGNORE, 0, e).astype(np.int64))
    onehot[0].scatter_(0, idx[None], valid[None].float())
    pooled = F.avg_pool2d(onehot, stride, stride, ceil_mode=True)
    scores = F.interpolate(pooled, size=(h, w), mode="bilinear", align_corners=False)[0]
    best = scores.argmax(0).numpy()
    has = (scores.max(0).values > 0).numpy()
    eval_to_id = np.zeros(n, np.int64)
    for c in reversed(space.classes):
        if c.train_id != IGNORE:
            eval_to_id[c.train_id] = c.id
    out = np.where(has, eval_to_id[best], labels)
    return out.astype(labels.dtype)
