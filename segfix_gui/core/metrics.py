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

Boundary measures (:class:`BorderOptions`; per image the ground-truth part is computed once by
:func:`gt_borders` and reused for any number of predictions by :func:`border_counts`; the
counts of a set add up, :class:`SemanticEvaluator` accumulates them with ``borders=``):

- **error profile**: every pixel whose ground truth is not void gets its Euclidean distance
  ``d`` to the nearest pixel of another ground-truth label (void is another label; the image
  edge is not a border), binned by ``floor(d)`` = 1, 2, … ``max_px`` and beyond; per bin the
  pixel count and the error rate (prediction ≠ ground truth), overall and per class;
- **boundary IoU** (Cheng et al., CVPR 2021): per class ``c``, ``Gb = mask_to_boundary(gt == c)``
  and ``Pb = mask_to_boundary(pred == c)`` as the official code defines it (dilation
  ``max(1, round(ratio · diagonal))``, 3×3 erosion of the zero-padded mask, boundary = mask
  minus its erosion); pixels whose ground truth is void count nowhere; intersections and
  unions summed over the set, then divided (NaN where the union is empty); the mean over
  the other classes;
- **boundary F at several tolerances** — the boundary F-score above at each;
- **trimap IoU** at band width ``w``: the mIoU of the pixels with ``d <= w``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..labels import IGNORE, LabelSpace
from .distance import (
    INF,
    boundary_iou_pixel_counts,
    match_sq_distance_counts,
    other_label_distance_keys,
    other_label_sq_distance,
    own_label_band,
    region_counts,
)
from .numbers import finite_or_none

BOUNDARY_TOL = 3.0
"""Default boundary F-score tolerance in pixels (openseg's 3 px at 2048×1024): every default
of the engine, the command line and the window is this one."""
MAX_BOUNDARY_TOL = 32.0
"""Largest boundary F-score tolerance the command line takes: the disk of matching offsets,
and so the time, grows with its square (about 7 s an image at 32 px and 1024×2048, minutes at
1,000 px), and a border 32 px away is no longer the same border."""

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


# --------------------------------------------------------------------------- boundary measures


@dataclass(frozen=True)
class BorderOptions:
    """What the boundary measures are taken at (validated where made).

    Attributes
    ----------
    max_px : int, the error profile has bins 1 … ``max_px`` px and one beyond (1 to 100)
    dilation_ratio : float, boundary IoU band as a fraction of the image diagonal (> 0; 0.005,
        the official value for Cityscapes, gives 11 px at 1024×2048 and 3 px at 360×480)
    f_tols : tolerances in px of the boundary F-score (each > 0)
    trimap_widths : band widths in px of the trimap IoU (integers 1 … ``max_px``)
    """

    max_px: int = 20
    dilation_ratio: float = 0.005
    f_tols: tuple[float, ...] = (1.0, 3.0, 5.0)
    trimap_widths: tuple[int, ...] = tuple(range(1, 11))

    def __post_init__(self):
        if isinstance(self.max_px, bool) or int(self.max_px) != self.max_px or not 1 <= self.max_px <= 100:
            raise ValueError(f"max_px must be an integer from 1 to 100, not {self.max_px!r}")
        object.__setattr__(self, "max_px", int(self.max_px))
        r = float(self.dilation_ratio)
        if not (math.isfinite(r) and r > 0):
            raise ValueError(f"dilation_ratio must be a number > 0, not {self.dilation_ratio!r}")
        object.__setattr__(self, "dilation_ratio", r)
        tols = tuple(float(t) for t in np.atleast_1d(self.f_tols))
        if not tols or not all(math.isfinite(t) and t > 0 for t in tols):
            raise ValueError(f"f_tols must be one or more numbers > 0, not {self.f_tols!r}")
        object.__setattr__(self, "f_tols", tols)
        widths = tuple(np.atleast_1d(self.trimap_widths).tolist())
        if not widths or not all(float(w) == int(w) and 1 <= w <= self.max_px for w in widths):
            raise ValueError(
                f"trimap_widths must be integers from 1 to max_px ({self.max_px}), not {self.trimap_widths!r}"
            )
        object.__setattr__(self, "trimap_widths", tuple(int(w) for w in widths))

    @property
    def n_keys(self) -> int:
        """Length of the distance-key axis of :attr:`BorderCounts.region` (keys 0 … 2·max_px + 2)."""
        return 2 * self.max_px + 3


def boundary_dilation(shape: tuple[int, int], ratio: float = 0.005) -> int:
    """The official Boundary IoU band width in px of an ``(H, W)`` image:
    ``max(1, round(ratio · sqrt(H² + W²)))`` (Python's round, half to even)."""
    h, w = shape[:2]
    return max(1, int(round(ratio * math.sqrt(h**2 + w**2))))


def mask_to_boundary(mask: np.ndarray, dilation_ratio: float = 0.005) -> np.ndarray:
    """``(H, W)`` bool boundary of a binary mask, as the Boundary IoU paper's official
    ``mask_to_boundary`` gives it (the mask minus ``dilation`` iterations of a 3×3 erosion of
    the mask padded with zeros; :func:`boundary_dilation`). ``dilation_ratio`` defaults to the
    Cityscapes value, not the official function's 0.02."""
    m = np.asarray(mask) != 0
    if m.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {m.shape}")
    return m & own_label_band(m, boundary_dilation(m.shape, dilation_ratio))


def border_distance(gt: np.ndarray, space: LabelSpace | None = None) -> np.ndarray:
    """``(H, W)`` float64 Euclidean distance from each pixel to the nearest pixel of another
    ground-truth label (exact; void is a label of its own, the image edge is not a border;
    ``inf`` where the image holds one label only). With ``space``, ids are first mapped to
    its evaluation classes (ids of one class, and all void ids, are one label)."""
    lab = space.to_eval(gt) if space is not None else np.asarray(gt)
    sq = other_label_sq_distance(lab)
    out = np.sqrt(sq.astype(np.float64))
    out[sq >= INF] = np.inf
    return out


@dataclass(frozen=True, eq=False)
class GtBorders:
    """The ground-truth part of one image's boundary measures, made once by :func:`gt_borders`
    and reused for every prediction of that image (:func:`border_counts`).

    Attributes
    ----------
    g : ndarray of shape (H, W), uint8 evaluation classes (``IGNORE`` = void)
    n : number of classes
    options : BorderOptions
    dilation : int, the boundary IoU band width in px for this image size
    key : ndarray of shape (H, W), uint8 — distance key of each pixel: with ``d`` its distance
        to another label, ``2·floor(d) + (d is not an integer)`` while ``floor(d) <= max_px``,
        ``2·(max_px + 1)`` beyond; 0 where the ground truth is void
    band : ndarray of shape (H, W), bool — pixels whose ``(2·dilation+1)``-square window holds
        another label or leaves the image: ``band & (g == c)`` is ``mask_to_boundary(gt == c)``
    gb : ndarray of shape (H, W), int16 — class of each 1-px ground-truth boundary pixel, -1
        elsewhere (:func:`boundary_classes`)
    """

    g: np.ndarray
    n: int
    options: BorderOptions
    dilation: int
    key: np.ndarray
    band: np.ndarray
    gb: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.g.shape

    @property
    def bins(self) -> np.ndarray:
        """``(H, W)`` uint8 profile bin of each pixel: ``floor(d)`` for 1 … ``max_px``,
        ``max_px + 1`` beyond, 0 where the ground truth is void."""
        return self.key >> 1

    def bin_mask(self, b: int) -> np.ndarray:
        """``(H, W)`` bool: the pixels of profile bin ``b`` (``max_px + 1``: beyond)."""
        return self.bins == b


def _gt_borders_eval(g: np.ndarray, n: int, options: BorderOptions) -> GtBorders:
    g = np.ascontiguousarray(g)
    key = other_label_distance_keys(g, g != IGNORE, options.max_px)
    dilation = boundary_dilation(g.shape, options.dilation_ratio)
    return GtBorders(g, n, options, dilation, key, own_label_band(g, dilation), boundary_classes(g, n))


def gt_borders(gt: np.ndarray, space: LabelSpace, *, options: BorderOptions | None = None) -> GtBorders:
    """The ground-truth part of the boundary measures of one image.

    Parameters
    ----------
    gt : ndarray of shape (H, W), integer stored ids of ``space``
    space : LabelSpace
    options : BorderOptions (default: ``BorderOptions()``)
    """
    gt = np.asarray(gt)
    if gt.ndim != 2:
        raise ValueError(f"ground truth must be (H, W), got shape {gt.shape}")
    return _gt_borders_eval(space.to_eval(gt), space.n_classes, options or BorderOptions())


@dataclass(frozen=True, eq=False)
class BorderCounts:
    """Integer counts of the boundary measures of one image, or of a set (``a + b``).

    Attributes
    ----------
    options : BorderOptions
    region : ndarray of shape (K, C, 3), int64 — per distance key (:attr:`GtBorders.key`, K =
        ``options.n_keys``) and class: pixels predicted right, ground-truth pixels, predicted
        pixels (pixels with a void ground truth count nowhere; a void prediction in no class)
    biou : ndarray of shape (C, 2), int64 — boundary IoU intersection and union pixels
    bf : ndarray of shape (T, C, 4), int64 — boundary F counts at each of ``options.f_tols``
        (matched pred, pred, matched gt, gt boundary pixels, as :func:`boundary_counts`)
    """

    options: BorderOptions
    region: np.ndarray
    biou: np.ndarray
    bf: np.ndarray

    @classmethod
    def zeros(cls, n: int, options: BorderOptions) -> BorderCounts:
        return cls(
            options,
            np.zeros((options.n_keys, n, 3), np.int64),
            np.zeros((n, 2), np.int64),
            np.zeros((len(options.f_tols), n, 4), np.int64),
        )

    def __add__(self, other: BorderCounts) -> BorderCounts:
        if not isinstance(other, BorderCounts):
            return NotImplemented
        if other.options != self.options or other.region.shape != self.region.shape:
            raise ValueError("boundary counts taken with different options or classes cannot be added")
        return BorderCounts(self.options, self.region + other.region, self.biou + other.biou, self.bf + other.bf)

    def profile(self, cls: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(pixels, errors)``, each ``(max_px + 1,)`` int64: bins 1 … ``max_px`` and beyond,
        over every class or for class index ``cls`` (its ground-truth pixels)."""
        r = self.region.sum(axis=1) if cls is None else self.region[:, cls]
        m = self.options.max_px
        pixels = r[2 : 2 * m + 2, 1].reshape(m, 2).sum(axis=1)
        right = r[2 : 2 * m + 2, 0].reshape(m, 2).sum(axis=1)
        pixels = np.append(pixels, r[2 * m + 2, 1])
        right = np.append(right, r[2 * m + 2, 0])
        return pixels, pixels - right

    def trimap_iou(self, width: int) -> np.ndarray:
        """``(C,)`` float64 IoU per class of the pixels within ``width`` px of a ground-truth
        border (``d <= width``); NaN for a class absent from both there."""
        w = int(width)
        if not 1 <= w <= self.options.max_px or w != width:
            raise ValueError(f"width must be an integer from 1 to {self.options.max_px}, not {width!r}")
        tp, gt, pr = self.region[: 2 * w + 1].sum(axis=0).T.astype(np.float64)
        denom = gt + pr - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denom > 0, tp / np.where(denom > 0, denom, 1), np.nan)

    def boundary_iou(self) -> np.ndarray:
        """``(C,)`` float64 boundary IoU per class; NaN where the union is empty."""
        inter, union = self.biou.T.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, inter / np.where(union > 0, union, 1), np.nan)


def _border_counts_eval(b: GtBorders, p: np.ndarray) -> BorderCounts:
    p = np.ascontiguousarray(p)
    if p.shape != b.shape:
        raise ValueError(f"prediction is {p.shape[0]}×{p.shape[1]} but the ground truth is {b.shape[0]}×{b.shape[1]}")
    n, opts = b.n, b.options
    region, biou = region_counts(b.g, p, b.key, b.band, own_label_band(p, b.dilation), n, IGNORE, opts.n_keys)
    pb = boundary_classes(p, n)
    pb[b.g == IGNORE] = -1
    mp, np_ = match_sq_distance_counts(pb, b.gb, opts.f_tols, n)
    mg, ng = match_sq_distance_counts(b.gb, pb, opts.f_tols, n)
    T = len(opts.f_tols)
    bf = np.stack([mp, np.broadcast_to(np_, (T, n)), mg, np.broadcast_to(ng, (T, n))], axis=2)
    return BorderCounts(opts, region, biou, np.ascontiguousarray(bf))


def border_counts(borders: GtBorders, pred: np.ndarray, space: LabelSpace) -> BorderCounts:
    """Boundary-measure counts of one prediction against the ground truth prepared in ``borders``.

    Parameters
    ----------
    borders : GtBorders of the image (:func:`gt_borders`)
    pred : ndarray of shape (H, W), integer stored ids of ``space``
    space : LabelSpace (the one ``borders`` was made with)
    """
    if space.n_classes != borders.n:
        raise ValueError(f"the ground truth was prepared for {borders.n} classes, {space.name} has {space.n_classes}")
    return _border_counts_eval(borders, space.to_eval(pred))


def boundary_iou_counts(
    gt: np.ndarray,
    pred: np.ndarray,
    space: LabelSpace,
    *,
    dilation_ratio: float = 0.005,
    gt_band: np.ndarray | None = None,
) -> np.ndarray:
    """``(C, 2)`` int64 boundary IoU intersection and union pixels per class of one image — the
    ``biou`` of :func:`border_counts` alone, for callers that score many predictions of one
    image by boundary IoU only (a sweep).

    ``gt_band``: ``own_label_band(space.to_eval(gt), boundary_dilation(gt.shape, ratio))`` when
    it is kept from an earlier call (``(H, W)`` bool; :attr:`GtBorders.band` is the same).
    """
    g, p = _eval_pair(gt, pred, space)
    return _boundary_iou_eval(g, p, space.n_classes, dilation_ratio, gt_band)


def _boundary_iou_eval(g, p, n: int, dilation_ratio: float, gt_band=None) -> np.ndarray:
    d = boundary_dilation(g.shape, dilation_ratio)
    if gt_band is None:
        gt_band = own_label_band(g, d)
    return boundary_iou_pixel_counts(g, p, gt_band, own_label_band(p, d), n, IGNORE)


def _rate(errors, pixels) -> list:
    return [None if n == 0 else float(e / n) for e, n in zip(errors, pixels, strict=True)]


def border_result(counts: BorderCounts, names, present: np.ndarray) -> dict:
    """The boundary measures as ``segfix evaluate --json`` writes them.

    Parameters
    ----------
    counts : BorderCounts of an image or a set
    names : class names, in evaluation order
    present : ``(C,)`` bool classes present in ground truth or prediction (for boundary F)

    Returns
    -------
    dict with ``boundary_iou``, ``boundary_iou_per_class``, ``boundary_iou_dilation_ratio``,
    ``error_profile``, ``boundary_f_at`` and ``trimap_iou`` (fractions; None where undefined)
    """
    opts = counts.options
    m = opts.max_px
    biou = counts.boundary_iou()

    def profile(cls=None):
        pixels, errors = counts.profile(cls)
        rate = _rate(errors, pixels)
        return {
            "pixels": [int(v) for v in pixels[:m]],
            "error_rate": rate[:m],
            "pixels_beyond": int(pixels[m]),
            "error_rate_beyond": rate[m],
        }

    return {
        "boundary_iou": finite_or_none(mean_iou(biou)),
        "boundary_iou_per_class": {nm: finite_or_none(v) for nm, v in zip(names, biou, strict=True)},
        "boundary_iou_dilation_ratio": opts.dilation_ratio,
        "error_profile": {
            "bins_px": list(range(1, m + 1)),
            "beyond_px": m + 1,
            **profile(),
            "per_class": {nm: profile(c) for c, nm in enumerate(names)},
        },
        "boundary_f_at": {
            f"{t:g}": finite_or_none(mean_iou(boundary_f_from_counts(counts.bf[i], present)))
            for i, t in enumerate(opts.f_tols)
        },
        "trimap_iou": {str(w): finite_or_none(mean_iou(counts.trimap_iou(w))) for w in opts.trimap_widths},
    }


@dataclass
class SemanticEvaluator:
    """Accumulates a folder's confusion matrix and boundary counts (reset / add / result).

    With ``borders`` (a :class:`BorderOptions`) it accumulates the boundary measures too
    (:class:`BorderCounts` in :attr:`border`) and its results carry their keys
    (:func:`border_result`); without, it does what it always did, at the same cost.
    """

    space: LabelSpace
    boundary_tol: float = BOUNDARY_TOL
    borders: BorderOptions | None = None
    conf: np.ndarray = field(init=False)
    bcounts: np.ndarray = field(init=False)
    present: np.ndarray = field(init=False)
    border: BorderCounts | None = field(init=False)

    def __post_init__(self):
        self.reset()

    def reset(self):
        n = self.space.n_classes
        self.conf = np.zeros((n, n + 1), np.int64)
        self.bcounts = np.zeros((n, 4), np.int64)
        self.present = np.zeros(n, bool)
        self.border = None if self.borders is None else BorderCounts.zeros(n, self.borders)

    def add(self, gt: np.ndarray, pred: np.ndarray, *, gt_borders: GtBorders | None = None) -> dict:
        """Add one image; returns that image's own result dict.

        ``gt_borders``: the image's :func:`gt_borders` (same options), when it is prepared
        already — e.g. to score several predictions of one image; else made here.
        """
        g, p = _eval_pair(gt, pred, self.space)
        n = self.space.n_classes
        conf = _confusion_eval(g, p, n)
        bc = boundary_counts(g, p, n, tol=self.boundary_tol)
        present = present_classes(conf)
        border = None
        if self.borders is not None:
            if gt_borders is None:
                gt_borders = _gt_borders_eval(g, n, self.borders)
            elif gt_borders.options != self.borders or gt_borders.n != n or gt_borders.shape != g.shape:
                raise ValueError("gt_borders was prepared for another image size, label space or options")
            border = _border_counts_eval(gt_borders, p)
        self.add_counts(conf, bc, present, border=border)
        return self._result(conf, bc, present, border)

    def add_counts(
        self,
        conf: np.ndarray,
        bcounts: np.ndarray,
        present: np.ndarray | None = None,
        *,
        border: BorderCounts | None = None,
    ) -> None:
        """Add an image's counts (``present``: its classes, by default those of ``conf``;
        ``border``: its :class:`BorderCounts`, required when the evaluator has ``borders``)."""
        if self.borders is not None:
            if border is None or self.border is None:
                raise ValueError("this evaluator takes the boundary measures: pass their counts (border=)")
            self.border = self.border + border
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
        border: BorderCounts | None = None,
    ) -> SemanticEvaluator:
        """An evaluator holding these counts (e.g. from :class:`~.evaluator.ImageEvaluator`);
        with ``border``, the boundary measures too (at its options)."""
        ev = cls(space, boundary_tol, None if border is None else border.options)
        ev.add_counts(conf, bcounts, present, border=border)
        return ev

    def result(self) -> dict:
        return self._result(self.conf, self.bcounts, self.present, self.border)

    def _result(self, conf, bcounts, present, border=None) -> dict:
        iou = iou_from_confusion(conf)
        bf = boundary_f_from_counts(bcounts, present)
        extra = {} if border is None else border_result(border, self.space.names, present)
        return {
            "miou": mean_iou(iou),
            "pixel_accuracy": pixel_accuracy(conf),
            "boundary_f": mean_iou(bf),
            "per_class_iou": {nm: finite_or_none(v) for nm, v in zip(self.space.names, iou, strict=True)},
            "per_class_boundary_f": {nm: finite_or_none(v) for nm, v in zip(self.space.names, bf, strict=True)},
            **extra,
        }


def evaluate_pair(
    gt: np.ndarray,
    pred: np.ndarray,
    space: LabelSpace,
    *,
    boundary_tol: float = BOUNDARY_TOL,
    borders: BorderOptions | None = None,
) -> dict:
    """Metrics of one prediction against its ground truth (see :class:`SemanticEvaluator`;
    with ``borders``, the boundary measures too)."""
    return SemanticEvaluator(space, boundary_tol, borders).add(gt, pred)
