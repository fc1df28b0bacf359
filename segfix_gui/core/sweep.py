"""Sweeps over refinement settings: metrics of a whole folder at every (threshold, scale).

For every setting of a :class:`SweepGrid` — boundary ``threshold`` × offset ``scale`` ×
``min_direction_prob`` — a sweep gives what ``segfix refine`` followed by ``segfix evaluate``
would report (mIoU, pixel accuracy, boundary F-score, fixed / broken / swapped pixels), the
values without refinement, each image's gain, and the best setting. No Qt: the command line
(``segfix sweep``) and the window's Tune panel both call :func:`sweep`.

How it stays fast without changing a single count
-------------------------------------------------
Each image is loaded once. Refinement only *gathers* labels of the unrefined prediction, so
at a given scale the label a pixel would take does not depend on the threshold; raising the
threshold only removes pixels from the moving set, which is the prefix of the candidates
sorted by boundary probability. Per image and scale the candidates are computed once (at the
lowest threshold) and reduced to the pixels whose label would actually change; per threshold:

- confusion matrix = base matrix − (gt, old label) + (gt, new label) over the changed pixels;
- fixed / broken / swapped come from the same few pixels;
- boundary counts change only where the 1-px prediction boundary changes (changed pixels and
  their 4-neighbours) and, for the matched ground-truth boundary, within the tolerance disk of
  those: only these pixels are re-examined, with the same rules as
  :func:`~segfix_gui.core.metrics.boundary_counts`.

Every count is an integer, so the result equals ``refine_labels`` + ``SemanticEvaluator`` at
each setting exactly (``tests/test_sweep.py`` checks this, and ``benchmarks/sweep_speed.py``
checks it on the CamVid validation set).

Example
-------
>>> grid = SweepGrid(thresholds=(0.3, 0.5, 0.7), scales=(1, 2))        # doctest: +SKIP
>>> jobs, errors = folder_jobs("gt/", "pred/", "offsets/")             # doctest: +SKIP
>>> res = sweep(jobs, get_label_space("camvid"), grid,
...             progress=lambda done, total: print(done, total))       # doctest: +SKIP
>>> res.best()["threshold"], res.at(threshold=0.5, scale=2)["miou"]    # doctest: +SKIP
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import InputError
from ..labels import IGNORE, LabelSpace
from .metrics import (_disk, boundary_classes, boundary_counts, boundary_f_from_counts,
                      confusion_matrix, iou_from_confusion, mean_iou, pixel_accuracy,
                      SemanticEvaluator)
from .offsets import OffsetField
from .refine import source_indices

CHANGE_KINDS = ("fixed", "broken", "swapped")
METRICS = ("miou", "boundary_f", "pixel_accuracy")


def _values(values, name: str, *, low: float, high: float, low_open: bool = False) -> tuple:
    try:
        vals = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers, got {values!r}") from None
    if not vals:
        raise ValueError(f"{name}: the list is empty")
    for v in vals:
        if not math.isfinite(v):
            raise ValueError(f"{name}: {v} is not a finite number")
        if v < low or v > high or (low_open and v == low):
            lo = "(" if low_open else "["
            raise ValueError(f"{name}: {v:g} is outside {lo}{low:g}, {high:g}]")
    return tuple(sorted(set(vals)))


@dataclass(frozen=True)
class SweepGrid:
    """The settings to try: every combination of the three lists (sorted, duplicates dropped).

    Parameters
    ----------
    thresholds : boundary probabilities in [0, 1] a pixel must exceed to move
    scales : offset scales in pixels per unit step, > 0
    min_direction_probs : direction confidences in [0, 1] a pixel must reach to move

    Raises ValueError for an empty list or a value out of range.
    """

    thresholds: tuple[float, ...]
    scales: tuple[float, ...]
    min_direction_probs: tuple[float, ...] = (0.0,)

    def __post_init__(self):
        object.__setattr__(self, "thresholds", _values(self.thresholds, "thresholds", low=0, high=1))
        object.__setattr__(self, "scales", _values(self.scales, "scales", low=0, high=64,
                                                   low_open=True))
        object.__setattr__(self, "min_direction_probs",
                           _values(self.min_direction_probs, "min_direction_probs", low=0, high=1))

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(T, S, M)``: numbers of thresholds, scales and min_direction_probs."""
        return len(self.thresholds), len(self.scales), len(self.min_direction_probs)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def index(self, threshold: float, scale: float, min_direction_prob: float = 0.0) -> tuple:
        """``(i, j, l)`` of a setting of the grid (values compared to 1e-9); ValueError if absent."""
        out = []
        for name, vals, v in (("threshold", self.thresholds, threshold),
                              ("scale", self.scales, scale),
                              ("min_direction_prob", self.min_direction_probs, min_direction_prob)):
            hit = [i for i, x in enumerate(vals) if abs(x - float(v)) <= 1e-9]
            if not hit:
                raise ValueError(f"{name} {v:g} is not in the sweep ({', '.join(f'{x:g}' for x in vals)})")
            out.append(hit[0])
        return tuple(out)

    def setting(self, i: int, j: int, l: int) -> dict:
        return {"threshold": self.thresholds[i], "scale": self.scales[j],
                "min_direction_prob": self.min_direction_probs[l]}


@dataclass
class SweepSample:
    """One image's arrays: ``gt`` and ``pred`` ``(H, W)`` integer ids, ``field`` its offsets."""

    key: str
    gt: np.ndarray
    pred: np.ndarray
    field: OffsetField


@dataclass(frozen=True)
class SweepJob:
    """One image's files, loaded by :meth:`load` (picklable: workers load it themselves)."""

    key: str
    gt: str
    pred: str
    offsets: str

    def load(self, space: LabelSpace) -> SweepSample:
        """Read the three files; InputError for a bad file or mismatched sizes."""
        from ..io.images import read_labels
        from ..io.offsets import read_offsets

        gt = read_labels(self.gt, space)
        pred = read_labels(self.pred, space)
        if pred.shape != gt.shape:
            raise InputError(self.pred, f"prediction is {pred.shape[0]}×{pred.shape[1]} but the "
                                        f"ground truth is {gt.shape[0]}×{gt.shape[1]}")
        fld = read_offsets(self.offsets)
        if fld.shape != pred.shape:
            raise InputError(self.offsets, f"offsets are {fld.shape[0]}×{fld.shape[1]} but the "
                                           f"prediction {Path(self.pred).name} is "
                                           f"{pred.shape[0]}×{pred.shape[1]}")
        return SweepSample(self.key, gt, pred, fld)


def folder_jobs(gt_dir, pred_dir, offsets_dir) -> tuple[list[SweepJob], list[str]]:
    """Pair the predictions in ``pred_dir`` with ground truth and offsets by name.

    Returns ``(jobs, errors)``: one job per complete triple, and a one-line message for each
    prediction that lacks a partner. InputError when a folder is missing or holds no PNGs.
    """
    from ..io.offsets import OFFSET_SUFFIXES
    from ..io.pairing import LABEL_SUFFIXES, index_by_key

    preds = index_by_key(pred_dir, LABEL_SUFFIXES)
    gts = index_by_key(gt_dir, LABEL_SUFFIXES)
    offs = index_by_key(offsets_dir, OFFSET_SUFFIXES, prefer=(".npz", ".mat"))
    if not preds:
        raise InputError(pred_dir, "no prediction PNGs found")
    jobs, errors = [], []
    for key, p in preds.items():
        if key not in gts:
            errors.append(str(InputError(p, "no ground truth with this name")))
        elif key not in offs:
            errors.append(str(InputError(p, f"no offsets file for this prediction (expected "
                                            f"{key}.npz or .mat in {offsets_dir})")))
        else:
            jobs.append(SweepJob(key, os.fspath(gts[key]), os.fspath(p), os.fspath(offs[key])))
    return jobs, errors


# --------------------------------------------------------------------------- one image

@dataclass
class ImageSweep:
    """Counts of one image at every setting (arrays indexed ``[i, j, l]`` = threshold, scale, mdp).

    Attributes
    ----------
    key : str
    hard : bool, the offsets were hard (threshold and min_direction_prob had no effect)
    base_conf : (C, C+1) int64 confusion matrix without refinement
    base_bcounts : (C, 4) int64 boundary counts without refinement
    conf : (T, S, M, C, C+1) int64
    bcounts : (T, S, M, C, 4) int64
    change : (T, S, M, 3) int64 fixed, broken, swapped pixels
    """

    key: str
    hard: bool
    base_conf: np.ndarray
    base_bcounts: np.ndarray
    conf: np.ndarray
    bcounts: np.ndarray
    change: np.ndarray


class _Image:
    """What every setting of one image shares: flat eval maps, 1-px boundaries and, for the
    boundary F-score, which ground-truth classes lie within the tolerance of each pixel."""

    def __init__(self, g: np.ndarray, p: np.ndarray, n: int, tol: float):
        self.h, self.w = g.shape
        self.n = n
        self.g = g.ravel()
        self.p = p.ravel()
        self.valid = self.g != IGNORE
        gb = boundary_classes(g, n)
        self.gb = gb.ravel()
        pb = boundary_classes(p, n)
        pb[~self.valid.reshape(g.shape)] = -1
        self.pb = pb.ravel()
        self.disk = _disk(tol)
        # near[word, pixel]: bit c set when a gt boundary pixel of class 64*word + c is in the disk
        words = (n + 63) // 64
        self.near = np.zeros((words, self.h, self.w), np.uint64)
        for k in range(words):
            sel = (gb >= 64 * k) & (gb < 64 * (k + 1))
            bits = np.where(sel, np.left_shift(np.uint64(1), (gb - 64 * k).clip(0).astype(np.uint64)),
                            np.uint64(0))
            for dr, dc in self.disk:
                if abs(dr) >= self.h or abs(dc) >= self.w:
                    continue  # the offset leaves the image from everywhere
                dst, src = _shifted(self.h, self.w, dr, dc)
                self.near[k][dst] |= bits[src]
        self.near = self.near.reshape(words, -1)
        # cnt[q]: prediction boundary pixels of gt boundary pixel q's class within its disk
        self.cnt = np.zeros(self.h * self.w, np.int32)
        q = np.flatnonzero(self.gb >= 0)
        for ok, d in self._pairs(q):
            qq = q[ok]
            self.cnt[qq] += self.pb[qq + d] == self.gb[qq]

    def _pairs(self, idx: np.ndarray):
        """For each disk offset: (bool mask of the pixels of ``idx`` whose offset pixel is in
        the image, the flat offset)."""
        r, c = np.divmod(idx, self.w)
        for dr, dc in self.disk:
            yield ((r + dr >= 0) & (r + dr < self.h) & (c + dc >= 0) & (c + dc < self.w),
                   int(dr * self.w + dc))

    def neighbours(self, idx: np.ndarray) -> np.ndarray:
        """``idx`` and its in-image 4-neighbours, unique, sorted."""
        r, c = np.divmod(idx, self.w)
        parts = [idx, idx[c > 0] - 1, idx[c < self.w - 1] + 1, idx[r > 0] - self.w,
                 idx[r < self.h - 1] + self.w]
        return np.unique(np.concatenate(parts))

    def boundary_at(self, labels: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Boundary class (or -1) at flat ``idx`` of the eval map ``labels``, as
        :func:`boundary_classes` with ignore-ground-truth pixels removed."""
        r, c = np.divmod(idx, self.w)
        lab = labels[idx]
        edge = np.zeros(idx.shape, bool)
        for ok, step in ((c > 0, -1), (c < self.w - 1, 1), (r > 0, -self.w), (r < self.h - 1, self.w)):
            edge[ok] |= labels[idx[ok] + step] != lab[ok]
        keep = edge & (lab != IGNORE) & (lab < self.n) & self.valid[idx]
        return np.where(keep, lab.astype(np.int16), np.int16(-1))

    def near_gt(self, idx: np.ndarray, cls: np.ndarray) -> np.ndarray:
        """Whether a gt boundary pixel of class ``cls`` (>= 0) is within the disk of ``idx``."""
        cls = cls.astype(np.int64)
        word = self.near[cls >> 6, idx]
        return ((word >> (cls & 63).astype(np.uint64)) & np.uint64(1)).astype(bool)

    def start(self, base_conf: np.ndarray, base_bc: np.ndarray) -> "_State":
        return _State(self, base_conf, base_bc)


def _shifted(h: int, w: int, dr: int, dc: int):
    """Slices ``(dst, src)`` so that ``a[dst] = b[src]`` reads ``b[r + dr, c + dc]`` into
    ``a[r, c]`` wherever both are in the image."""
    rows = slice(max(0, -dr), min(h, h - dr))
    cols = slice(max(0, -dc), min(w, w - dc))
    src = (slice(rows.start + dr, rows.stop + dr), slice(cols.start + dc, cols.stop + dc))
    return (rows, cols), src


class _State:
    """One image refined step by step: pixels are added to the moving set in batches (the
    threshold going down), and the counts follow each batch exactly."""

    def __init__(self, img: _Image, base_conf: np.ndarray, base_bc: np.ndarray):
        self.img = img
        self.p = img.p.copy()
        self.pb = img.pb.copy()
        self.cnt = img.cnt.copy()
        self.conf = base_conf.copy()
        self.bc = base_bc.copy()
        self.change = np.zeros(3, np.int64)

    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.conf.copy(), self.bc.copy(), self.change.copy()

    def add(self, dst: np.ndarray, new: np.ndarray) -> None:
        """Pixels ``dst`` (flat, not moved before, stored id changes) take eval labels ``new``."""
        img, n = self.img, self.img.n
        if dst.size == 0:
            return
        old = img.p[dst]
        gv = img.g[dst]
        ok = gv != IGNORE
        g_ok = gv[ok].astype(np.int64) * (n + 1)
        o_ok = np.where(old[ok] == IGNORE, n, old[ok]).astype(np.int64)
        n_ok = np.where(new[ok] == IGNORE, n, new[ok]).astype(np.int64)
        size = n * (n + 1)
        self.conf += (np.bincount(g_ok + n_ok, minlength=size)
                      - np.bincount(g_ok + o_ok, minlength=size)).reshape(n, n + 1)
        right_before = old[ok] == gv[ok]
        right_after = new[ok] == gv[ok]
        self.change += (np.count_nonzero(~right_before & right_after),
                        np.count_nonzero(right_before & ~right_after),
                        np.count_nonzero(~right_before & ~right_after))
        moved = new != old
        if not moved.any():
            return
        self.p[dst[moved]] = new[moved]
        region = img.neighbours(dst[moved])
        pb_old = self.pb[region]
        pb_new = img.boundary_at(self.p, region)
        diff = pb_old != pb_new
        if not diff.any():
            return
        c_idx, c_old, c_new = region[diff], pb_old[diff], pb_new[diff]
        self.pb[c_idx] = c_new
        # prediction side: boundary pixels that vanish or appear, and whether gt is near
        for sign, cls in ((-1, c_old), (1, c_new)):
            on = cls >= 0
            if on.any():
                cl = cls[on]
                m = img.near_gt(c_idx[on], cl)
                self.bc[:, 0] += sign * np.bincount(cl[m], minlength=n)[:n]
                self.bc[:, 1] += sign * np.bincount(cl, minlength=n)[:n]
        # ground-truth side: counts of same-class prediction boundary pixels in each gt pixel's disk
        qs, ws = [], []
        for ok, d in img._pairs(c_idx):
            q = c_idx[ok] + d
            gq = img.gb[q]
            w = (c_new[ok] == gq).astype(np.int32) - (c_old[ok] == gq)
            nz = (w != 0) & (gq >= 0)
            qs.append(q[nz])
            ws.append(w[nz])
        q = np.concatenate(qs)
        if q.size == 0:
            return
        q, inv = np.unique(q, return_inverse=True)
        dw = np.bincount(inv, weights=np.concatenate(ws), minlength=q.size).astype(np.int32)
        before = self.cnt[q] > 0
        self.cnt[q] += dw
        after = self.cnt[q] > 0
        gq = img.gb[q]
        self.bc[:, 2] += (np.bincount(gq[after], minlength=n)[:n]
                          - np.bincount(gq[before], minlength=n)[:n])


def sweep_image(gt: np.ndarray, pred: np.ndarray, field: OffsetField, space: LabelSpace,
                grid: SweepGrid, *, key: str = "", boundary_tol: float = 3) -> ImageSweep:
    """Counts of one image at every setting of ``grid``.

    Parameters
    ----------
    gt, pred : ndarray of shape (H, W), integer stored ids of ``space``
    field : OffsetField of shape (H, W)
    space : LabelSpace
    grid : SweepGrid
    boundary_tol : boundary F-score tolerance in pixels

    Returns
    -------
    ImageSweep — equal, setting by setting, to ``SemanticEvaluator.add(gt, refine_labels(pred,
    field.to_offsets(...)))`` and ``change_counts(change_codes(pred, refined, gt, space))``.
    """
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if gt.shape != pred.shape or gt.ndim != 2:
        raise ValueError(f"gt {gt.shape} and pred {pred.shape} must be (H, W) of one size")
    if field.shape != pred.shape:
        raise ValueError(f"offsets are {field.shape} but the prediction is {pred.shape}")
    n = space.n_classes
    g = space.to_eval(gt)
    p = space.to_eval(pred)
    img = _Image(g, p, n, boundary_tol)
    base_conf = confusion_matrix(gt, pred, space)
    base_bc = boundary_counts(g, p, n, tol=boundary_tol)
    T, S, M = grid.shape
    conf = np.empty((T, S, M, n, n + 1), np.int64)
    bcounts = np.empty((T, S, M, n, 4), np.int64)
    change = np.empty((T, S, M, 3), np.int64)
    ids = pred.ravel()
    tmin = grid.thresholds[0]
    for j, scale in enumerate(grid.scales):
        for l, mdp in enumerate(grid.min_direction_probs):
            if field.is_hard and l > 0:  # min_direction_prob does not apply to hard offsets
                conf[:, j, l], bcounts[:, j, l], change[:, j, l] = (
                    conf[:, j, 0], bcounts[:, j, 0], change[:, j, 0])
                continue
            # every pixel that moves at the lowest threshold, and where it takes its label from
            dst, src = source_indices(field.to_offsets(threshold=tmin, scale=scale,
                                                       min_direction_prob=mdp))
            keep = ids[src] != ids[dst]  # only pixels whose stored id would change matter
            dst, src = dst[keep], src[keep]
            if field.is_hard:  # hard offsets ignore the threshold
                prob = None
            else:
                prob = field.boundary.ravel()[dst]
                order = np.argsort(prob, kind="stable")[::-1]  # most probable first
                dst, src, prob = dst[order], src[order], prob[order]
            new = img.p[src]
            state = img.start(base_conf, base_bc)
            done = 0
            for i in range(T - 1, -1, -1):  # highest threshold first: the moving set grows
                # the comparison of OffsetField.moving_mask, on the candidates only
                k = dst.size if prob is None else int(np.count_nonzero(prob > grid.thresholds[i]))
                state.add(dst[done:k], new[done:k])
                done = k
                conf[i, j, l], bcounts[i, j, l], change[i, j, l] = state.counts()
    return ImageSweep(key, field.is_hard, base_conf, base_bc, conf, bcounts, change)


# --------------------------------------------------------------------------- a folder

def _metrics(conf: np.ndarray, bcounts: np.ndarray) -> tuple[float, float, float]:
    """(mIoU, boundary F, pixel accuracy) as :class:`SemanticEvaluator` computes them."""
    n = conf.shape[0]
    present = (conf[:, :n].sum(axis=0) + conf.sum(axis=1)) > 0
    return (mean_iou(iou_from_confusion(conf)), mean_iou(boundary_f_from_counts(bcounts, present)),
            pixel_accuracy(conf))


@dataclass
class SweepResult:
    """A folder's figures at every setting of ``grid``.

    Arrays indexed ``[i, j, l]`` follow ``grid.thresholds``, ``grid.scales`` and
    ``grid.min_direction_probs``; per-image arrays have the image first, in ``keys`` order.
    Metrics are fractions (0..1), as :class:`SemanticEvaluator` reports them.

    Attributes
    ----------
    grid, space, boundary_tol
    keys : names of the images swept
    hard : (N,) bool — images whose offsets were hard (threshold had no effect on them)
    base : dict — :meth:`SemanticEvaluator.result` without refinement
    miou, boundary_f, pixel_accuracy : (T, S, M) float64 over the folder
    change : (T, S, M, 3) int64 fixed, broken, swapped pixels over the folder
    conf : (T, S, M, C, C+1) int64; bcounts : (T, S, M, C, 4) int64 (folder totals)
    image_miou, image_boundary_f : (N, T, S, M) float64 per image
    image_base_miou, image_base_boundary_f : (N,) float64
    image_change : (N, T, S, M, 3) int64
    errors : one-line messages of images that could not be swept
    cancelled : True when ``should_stop`` ended the sweep early (figures cover ``keys`` only)
    """

    grid: SweepGrid
    space: LabelSpace
    boundary_tol: float
    keys: list[str] = field(default_factory=list)
    hard: np.ndarray = None
    base: dict = None
    base_conf: np.ndarray = None
    base_bcounts: np.ndarray = None
    conf: np.ndarray = None
    bcounts: np.ndarray = None
    change: np.ndarray = None
    miou: np.ndarray = None
    boundary_f: np.ndarray = None
    pixel_accuracy: np.ndarray = None
    image_miou: np.ndarray = None
    image_boundary_f: np.ndarray = None
    image_base_miou: np.ndarray = None
    image_base_boundary_f: np.ndarray = None
    image_change: np.ndarray = None
    errors: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.space.names)

    @property
    def n_images(self) -> int:
        return len(self.keys)

    @property
    def threshold_matters(self) -> bool:
        """False when every image had hard offsets (then only the scale was swept)."""
        return bool(self.n_images) and not bool(np.all(self.hard))

    def at(self, threshold: float, scale: float, min_direction_prob: float = 0.0) -> dict:
        """Figures at one setting: :meth:`SemanticEvaluator.result` keys plus ``fixed``,
        ``broken``, ``swapped``, ``miou_gain``, ``boundary_f_gain`` and the setting."""
        idx = self.grid.index(threshold, scale, min_direction_prob)
        return self._row(idx, per_class=True)

    def _row(self, idx, *, per_class: bool = False) -> dict:
        i, j, l = idx
        row = dict(self.grid.setting(i, j, l))
        if per_class:
            ev = SemanticEvaluator(self.space, self.boundary_tol)
            ev.add_counts(self.conf[idx], self.bcounts[idx], _present(self.conf[idx]))
            row.update(ev.result())
        row.update(miou=float(self.miou[idx]), boundary_f=float(self.boundary_f[idx]),
                   pixel_accuracy=float(self.pixel_accuracy[idx]),
                   miou_gain=float(self.miou[idx] - self.base["miou"]),
                   boundary_f_gain=float(self.boundary_f[idx] - self.base["boundary_f"]))
        row.update(zip(CHANGE_KINDS, (int(v) for v in self.change[idx])))
        return row

    def rows(self) -> list[dict]:
        """One dict per setting (grid order: threshold slowest): setting, metrics, gains, changes."""
        T, S, M = self.grid.shape
        return [self._row((i, j, l)) for i in range(T) for j in range(S) for l in range(M)]

    def best(self, metric: str = "miou") -> dict | None:
        """The setting with the highest ``metric`` (``"miou"``, ``"boundary_f"`` or
        ``"pixel_accuracy"``); ties go to the higher other metric, then the first in grid order.
        None when there is no figure (no image)."""
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
        if not self.n_images:
            return None
        main = getattr(self, metric).ravel()
        other = (self.boundary_f if metric != "boundary_f" else self.miou).ravel()
        if not np.isfinite(main).any():
            return None
        main = np.where(np.isfinite(main), main, -np.inf)
        other = np.where(np.isfinite(other), other, -np.inf)
        cand = np.flatnonzero(main == main.max())
        flat = cand[np.argmax(other[cand])]
        return self._row(np.unravel_index(flat, self.grid.shape))

    def image_gains(self, threshold: float, scale: float, min_direction_prob: float = 0.0, *,
                    metric: str = "miou") -> dict[str, float]:
        """``{image key: gain}`` at one setting, for sorting the image list.

        ``metric``: ``"miou"`` or ``"boundary_f"`` (gain of that image's own figure, a fraction),
        or ``"net"`` (fixed − broken pixels). NaN where the image's figure is undefined.
        """
        i, j, l = self.grid.index(threshold, scale, min_direction_prob)
        if metric == "miou":
            gains = self.image_miou[:, i, j, l] - self.image_base_miou
        elif metric == "boundary_f":
            gains = self.image_boundary_f[:, i, j, l] - self.image_base_boundary_f
        elif metric == "net":
            gains = (self.image_change[:, i, j, l, 0] - self.image_change[:, i, j, l, 1]).astype(float)
        else:
            raise ValueError(f"metric must be miou, boundary_f or net, not {metric!r}")
        return {k: float(v) for k, v in zip(self.keys, gains)}


def _present(conf: np.ndarray) -> np.ndarray:
    n = conf.shape[0]
    return (conf[:, :n].sum(axis=0) + conf.sum(axis=1)) > 0


class _Accumulator:
    def __init__(self, space: LabelSpace, grid: SweepGrid, tol: float):
        n = space.n_classes
        T, S, M = grid.shape
        self.res = SweepResult(grid, space, tol)
        self.base_conf = np.zeros((n, n + 1), np.int64)
        self.base_bc = np.zeros((n, 4), np.int64)
        self.conf = np.zeros((T, S, M, n, n + 1), np.int64)
        self.bc = np.zeros((T, S, M, n, 4), np.int64)
        self.change = np.zeros((T, S, M, 3), np.int64)
        self.img = {k: [] for k in ("miou", "bf", "base_miou", "base_bf", "change", "hard")}

    def add(self, s: ImageSweep):
        self.res.keys.append(s.key)
        self.base_conf += s.base_conf
        self.base_bc += s.base_bcounts
        self.conf += s.conf
        self.bc += s.bcounts
        self.change += s.change
        bm, bb, _ = _metrics(s.base_conf, s.base_bcounts)
        T, S, M = s.change.shape[:3]
        mi = np.empty((T, S, M))
        bf = np.empty((T, S, M))
        for idx in np.ndindex(T, S, M):
            mi[idx], bf[idx], _ = _metrics(s.conf[idx], s.bcounts[idx])
        for k, v in (("miou", mi), ("bf", bf), ("base_miou", bm), ("base_bf", bb),
                     ("change", s.change), ("hard", s.hard)):
            self.img[k].append(v)

    def result(self) -> SweepResult:
        r = self.res
        T, S, M = r.grid.shape
        ev = SemanticEvaluator(r.space, r.boundary_tol)
        ev.add_counts(self.base_conf, self.base_bc, _present(self.base_conf))
        r.base = ev.result()
        r.base_conf, r.base_bcounts = self.base_conf, self.base_bc
        r.conf, r.bcounts, r.change = self.conf, self.bc, self.change
        r.miou = np.full((T, S, M), np.nan)
        r.boundary_f = np.full((T, S, M), np.nan)
        r.pixel_accuracy = np.full((T, S, M), np.nan)
        if r.keys:
            for idx in np.ndindex(T, S, M):
                r.miou[idx], r.boundary_f[idx], r.pixel_accuracy[idx] = _metrics(self.conf[idx],
                                                                                self.bc[idx])
        n = len(r.keys)
        r.image_miou = np.array(self.img["miou"]).reshape(n, T, S, M)
        r.image_boundary_f = np.array(self.img["bf"]).reshape(n, T, S, M)
        r.image_base_miou = np.array(self.img["base_miou"], np.float64).reshape(n)
        r.image_base_boundary_f = np.array(self.img["base_bf"], np.float64).reshape(n)
        r.image_change = np.array(self.img["change"], np.int64).reshape(n, T, S, M, 3)
        r.hard = np.array(self.img["hard"], bool).reshape(n)
        return r


def _sweep_one(item, space, grid, tol) -> ImageSweep:
    sample = item.load(space) if isinstance(item, SweepJob) else item
    return sweep_image(sample.gt, sample.pred, sample.field, space, grid, key=sample.key,
                       boundary_tol=tol)


def _sweep_one_safe(item, space, grid, tol):
    try:
        return _sweep_one(item, space, grid, tol), None
    except InputError as err:
        return None, str(err)


def sweep(items: Sequence[SweepSample | SweepJob], space: LabelSpace, grid: SweepGrid, *,
          boundary_tol: float = 3, progress: Callable[[int, int], None] | None = None,
          should_stop: Callable[[], bool] | None = None, workers: int = 1) -> SweepResult:
    """Sweep a set of images over every setting of ``grid``.

    Parameters
    ----------
    items : sequence of SweepSample (arrays already loaded) or SweepJob (files, each read
        once, in the worker that sweeps it) — see :func:`folder_jobs`
    space : LabelSpace of the label maps
    grid : SweepGrid
    boundary_tol : boundary F-score tolerance in pixels (as ``segfix evaluate --boundary-tol``)
    progress : called as ``progress(done, total)`` after each image (from the calling thread)
    should_stop : polled before each image; when it returns True the sweep stops and the
        result covers the images done so far, with ``cancelled=True``
    workers : processes sweeping images in parallel (1: in this thread)

    Returns
    -------
    SweepResult. An image whose files are bad (InputError) is skipped and its message added
    to ``result.errors``; other exceptions propagate.
    """
    items = list(items)
    total = len(items)
    acc = _Accumulator(space, grid, boundary_tol)
    stop = should_stop or (lambda: False)
    done = 0
    if progress:
        progress(0, total)
    if workers <= 1 or total <= 1:
        for item in items:
            if stop():
                acc.res.cancelled = True
                break
            try:
                acc.add(_sweep_one(item, space, grid, boundary_tol))
            except InputError as err:
                acc.res.errors.append(str(err))
            done += 1
            if progress:
                progress(done, total)
        return acc.result()
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(workers, total)) as ex:
        futures = [ex.submit(_sweep_one_safe, it, space, grid, boundary_tol) for it in items]
        try:
            for fut in futures:
                if stop():
                    acc.res.cancelled = True
                    break
                res, err = fut.result()
                if err:
                    acc.res.errors.append(err)
                else:
                    acc.add(res)
                done += 1
                if progress:
                    progress(done, total)
        finally:
            for fut in futures:
                fut.cancel()
    return acc.result()


def sweep_folder(gt_dir, pred_dir, offsets_dir, space: LabelSpace, grid: SweepGrid, *,
                 boundary_tol: float = 3, progress=None, should_stop=None,
                 workers: int = 1) -> SweepResult:
    """:func:`sweep` over the predictions of ``pred_dir`` paired by name with ground truth and
    offsets (unpaired predictions are listed in ``result.errors``)."""
    jobs, errors = folder_jobs(gt_dir, pred_dir, offsets_dir)
    res = sweep(jobs, space, grid, boundary_tol=boundary_tol, progress=progress,
                should_stop=should_stop, workers=workers)
    res.errors[:0] = errors
    return res
