"""Segmentation metrics: confusion matrix, IoU, boundary F-score, change attribution.

All functions take label maps of *stored ids* plus a :class:`~segfix_gui.labels.LabelSpace`
and work in its evaluation classes. Conventions (as cityscapesscripts counts):

- a pixel whose ground truth is ignore counts nowhere;
- a prediction of an ignore/void id on a valid pixel is a miss for the true class and
  a false positive for no class (the extra last column of the confusion matrix);
- IoU is NaN for a class absent from both ground truth and prediction; mIoU is the
  mean over the other classes.

Boundary F-score (DAVIS / GSCNN / openseg): per class, 1-px boundaries (pixels of the
class with a 4-neighbour of another label; image edges are not boundaries) of prediction
and ground truth, matched within ``tol`` pixels (Euclidean disk); pixels with an ignore
ground truth are excluded from both. Precision and recall are accumulated over images
as counts; per class F = 2PR/(P+R), 1 when both boundaries are empty, NaN for a class
absent from both maps everywhere. The reported figure is the mean over classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..labels import IGNORE, LabelSpace
from .numbers import finite_or_none

BOUNDARY_TOL = 3.0
"""Default boundary F-score tolerance in pixels (openseg's 3 px at 2048×1024): every default
of the engine, the command line and the window is this one."""

# change codes for the diff layer
UNCHANGED, FIXED, BROKEN, SWAPPED, CHANGED = 0, 1, 2, 3, 4
CHANGE_NAMES = {FIXED: "fixed", BROKEN: "broken", SWAPPED: "swapped", CHANGED: "changed"}


def _eval_pair(gt: np.ndarray, pred: np.ndarray, space: LabelSpace):
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(
            f"prediction is {pred.shape[0]}×{pred.shape[1]} but the ground truth is {gt.shape[0]}×{gt.shape[1]}"
        )
    return space.to_eval(gt), space.to_eval(pred)


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, space: LabelSpace) -> np.ndarray:
    """``(C, C+1)`` int64 counts: rows true class, columns predicted class, last column void."""
    g, p = _eval_pair(gt, pred, space)
    return _confusion_eval(g, p, space.n_classes)


def _confusion_eval(g: np.ndarray, p: np.ndarray, n: int, *, block: int = 1 << 21) -> np.ndarray:
    """``(C, C+1)`` int64 confusion of eval maps (last column: void predicted), in blocks of
    ``block`` pixels so that the int64 temporaries stay small on big maps."""
    g, p = np.ravel(g), np.ravel(p)
    conf = np.zeros(n * (n + 1), np.int64)
    for s in range(0, g.size, block):
        gb, pb = g[s : s + block], p[s : s + block]
        valid = gb != IGNORE
        gv = gb[valid].astype(np.int64)
        pv = pb[valid].astype(np.int64)
        pv[pv == IGNORE] = n
        conf += np.bincount(gv * (n + 1) + pv, minlength=n * (n + 1))
    return conf.reshape(n, n + 1)


def iou_from_confusion(conf: np.ndarray) -> np.ndarray:
    """Per-class IoU ``(C,)`` float64; NaN where a class is absent from both."""
    conf = np.asarray(conf, np.float64)
    n = conf.shape[0]
    tp = np.diag(conf[:, :n])
    fp = conf[:, :n].sum(axis=0) - tp
    fn = conf.sum(axis=1) - tp
    denom = tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, tp / np.where(denom > 0, denom, 1), np.nan)


def present_classes(conf: np.ndarray) -> np.ndarray:
    """``(C,)`` bool: classes in the ground truth or the prediction of a confusion matrix."""
    conf = np.asarray(conf)
    n = conf.shape[0]
    return (conf[:, :n].sum(axis=0) + conf.sum(axis=1)) > 0


def mean_iou(iou: np.ndarray) -> float:
    iou = np.asarray(iou, np.float64)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")


def pixel_accuracy(conf: np.ndarray) -> float:
    conf = np.asarray(conf)
    total = conf.sum()
    n = conf.shape[0]
    return float(np.trace(conf[:, :n]) / total) if total else float("nan")


def _disk(tol: float) -> np.ndarray:
    """``(P, 2)`` (d_row, d_col) offsets within Euclidean distance ``tol`` of a pixel:
    ``skimage.morphology.disk``'s pixels for an integer ``tol``; for a fractional one, centred
    on the pixel (``disk(2.5)`` is a 6×6 footprint centred between pixels)."""
    r = int(np.floor(tol))
    dr, dc = np.mgrid[-r : r + 1, -r : r + 1]
    keep = dr * dr + dc * dc <= tol * tol
    return np.stack([dr[keep], dc[keep]], axis=1)


def boundary_classes(e: np.ndarray, n: int) -> np.ndarray:
    """``(H, W)`` int16: evaluation class of each 1-px boundary pixel, -1 elsewhere.

    ``e`` holds evaluation indices (``IGNORE`` for void). A pixel is on the boundary of its
    class when a 4-neighbour has another label; void pixels are never boundary pixels. These are
    ``skimage.segmentation.find_boundaries(e, connectivity=1, mode="thick")``'s pixels, found
    3-4× faster (``benchmarks/skimage_equivalents.py``; the tests hold the two equal).
    """
    edge = np.zeros(e.shape, bool)
    d = e[:, 1:] != e[:, :-1]
    edge[:, 1:] |= d
    edge[:, :-1] |= d
    d = e[1:, :] != e[:-1, :]
    edge[1:, :] |= d
    edge[:-1, :] |= d
    out = np.where(edge & (e != IGNORE) & (e < n), e.astype(np.int16), np.int16(-1))
    return out


def _matched(src: np.ndarray, dst: np.ndarray, disk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each boundary pixel of ``src`` (class >= 0), whether ``dst`` has a boundary
    pixel of the same class within the disk. Returns (classes, matched) of those pixels."""
    h, w = src.shape
    rr, cc = np.nonzero(src >= 0)
    cls = src[rr, cc]
    matched = np.zeros(rr.shape, bool)
    for dr, dc in disk:
        todo = ~matched
        if not todo.any():
            break
        r2 = rr[todo] + dr
        c2 = cc[todo] + dc
        ok = (r2 >= 0) & (r2 < h) & (c2 >= 0) & (c2 < w)
        hit = np.zeros(r2.shape, bool)
        hit[ok] = dst[r2[ok], c2[ok]] == cls[todo][ok]
        idx = np.flatnonzero(todo)
        matched[idx[hit]] = True
    return cls, matched


def boundary_counts(g: np.ndarray, p: np.ndarray, n: int, *, tol: float = BOUNDARY_TOL) -> np.ndarray:
    """``(C, 4)`` int64 per class: matched pred, pred, matched gt, gt boundary pixels.

    ``g`` and ``p`` hold evaluation indices; pixels with ignore ground truth are excluded.
    """
    valid = g != IGNORE
    gb = boundary_classes(g, n)
    pb = boundary_classes(p, n)
    pb[~valid] = -1
    disk = _disk(tol)
    counts = np.zeros((n, 4), np.int64)
    pc, pm = _matched(pb, gb, disk)
    gc, gm = _matched(gb, pb, disk)
    counts[:, 0] = np.bincount(pc[pm], minlength=n)[:n]
    counts[:, 1] = np.bincount(pc, minlength=n)[:n]
    counts[:, 2] = np.bincount(gc[gm], minlength=n)[:n]
    counts[:, 3] = np.bincount(gc, minlength=n)[:n]
    return counts


def boundary_f_from_counts(counts: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Per-class boundary F ``(C,)``: NaN where ``present`` is False, 1 where both empty."""
    counts = np.asarray(counts, np.float64)
    mp, np_, mg, ng = counts.T
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(np_ > 0, mp / np.maximum(np_, 1), np.where(ng > 0, 0.0, 1.0))
        rec = np.where(ng > 0, mg / np.maximum(ng, 1), np.where(np_ > 0, 0.0, 1.0))
        f = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-300), 0.0)
    return np.where(present, f, np.nan)


def change_codes(
    before: np.ndarray, after: np.ndarray, gt: np.ndarray | None = None, space: LabelSpace | None = None
) -> np.ndarray:
    """``(H, W)`` uint8 codes: UNCHANGED, FIXED, BROKEN, SWAPPED (with ground truth) or CHANGED.

    With ground truth, changed pixels whose ground truth is ignore are UNCHANGED
    (they count nowhere).
    """
    before = np.asarray(before)
    after = np.asarray(after)
    changed = before != after
    codes = np.zeros(before.shape, np.uint8)
    if gt is None:
        codes[changed] = CHANGED
        return codes
    if space is None:
        raise ValueError("change codes against ground truth need its label space")
    g = space.to_eval(gt)
    b = space.to_eval(before)
    a = space.to_eval(after)
    valid = changed & (g != IGNORE)
    right_before = b == g
    right_after = a == g
    codes[valid & ~right_before & right_after] = FIXED
    codes[valid & right_before & ~right_after] = BROKEN
    codes[valid & ~right_before & ~right_after] = SWAPPED
    return codes


def change_counts(codes: np.ndarray) -> dict[str, int]:
    counts = np.bincount(np.asarray(codes).ravel(), minlength=5)
    return {"fixed": int(counts[FIXED]), "broken": int(counts[BROKEN]), "swapped": int(counts[SWAPPED])}


def scores_from_counts(conf: np.ndarray, bcounts: np.ndarray) -> tuple[float, float, float]:
    """``(mIoU, boundary F, pixel accuracy)`` of counts, as :class:`SemanticEvaluator` reports
    them (without the per-class dicts: cheap enough for every image at every setting)."""
    return (
        mean_iou(iou_from_confusion(conf)),
        mean_iou(boundary_f_from_counts(bcounts, present_classes(conf))),
        pixel_accuracy(conf),
    )


@dataclass
class SemanticEvaluator:
    """Accumulates a folder's confusion matrix and boundary counts (reset / add / result)."""

    space: LabelSpace
    boundary_tol: float = BOUNDARY_TOL
    conf: np.ndarray = field(init=False)
    bcounts: np.ndarray = field(init=False)
    present: np.ndarray = field(init=False)

    def __post_init__(self):
        self.reset()

    def reset(self):
        n = self.space.n_classes
        self.conf = np.zeros((n, n + 1), np.int64)
        self.bcounts = np.zeros((n, 4), np.int64)
        self.present = np.zeros(n, bool)

    def add(self, gt: np.ndarray, pred: np.ndarray) -> dict:
        """Add one image; returns that image's own result dict."""
        g, p = _eval_pair(gt, pred, self.space)
        n = self.space.n_classes
        conf = _confusion_eval(g, p, n)
        bc = boundary_counts(g, p, n, tol=self.boundary_tol)
        present = present_classes(conf)
        self.conf += conf
        self.bcounts += bc
        self.present |= present
        return self._result(conf, bc, present)

    def add_counts(self, conf: np.ndarray, bcounts: np.ndarray, present: np.ndarray | None = None) -> None:
        """Add an image's counts (``present``: its classes, by default those of ``conf``)."""
        self.conf += conf
        self.bcounts += bcounts
        self.present |= present_classes(conf) if present is None else present

    @classmethod
    def from_counts(
        cls,
        space: LabelSpace,
        conf: np.ndarray,
        bcounts: np.ndarray,
        present: np.ndarray | None = None,
        *,
        boundary_tol: float = BOUNDARY_TOL,
    ) -> SemanticEvaluator:
        """An evaluator holding these counts (e.g. from :class:`~.evaluator.ImageEvaluator`)."""
        ev = cls(space, boundary_tol)
        ev.add_counts(conf, bcounts, present)
        return ev

    def result(self) -> dict:
        return self._result(self.conf, self.bcounts, self.present)

    def _result(self, conf, bcounts, present) -> dict:
        iou = iou_from_confusion(conf)
        bf = boundary_f_from_counts(bcounts, present)
        return {
            "miou": mean_iou(iou),
            "pixel_accuracy": pixel_accuracy(conf),
            "boundary_f": mean_iou(bf),
            "per_class_iou": {nm: finite_or_none(v) for nm, v in zip(self.space.names, iou, strict=True)},
            "per_class_boundary_f": {nm: finite_or_none(v) for nm, v in zip(self.space.names, bf, strict=True)},
        }


def evaluate_pair(gt: np.ndarray, pred: np.ndarray, space: LabelSpace, *, boundary_tol: float = BOUNDARY_TOL) -> dict:
    """Metrics of one prediction against its ground truth (see :class:`SemanticEvaluator`)."""
    return SemanticEvaluator(space, boundary_tol).add(gt, pred)
