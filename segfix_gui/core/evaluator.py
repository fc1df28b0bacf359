"""One image's evaluation at any refinement setting, prepared once and answered incrementally.

:class:`ImageEvaluator` is the one refine-and-evaluate engine: the window's live refinement,
the sweep (``segfix sweep``, the Tune panel) and a set's evaluation at one setting all call it.
It is prepared once per image (ground truth, prediction): the counts without refinement
(confusion matrix, boundary counts) and, for the boundary F-score, which ground-truth
boundary classes lie within the tolerance of each pixel. Per offset field and (scale,
direction confidence) it keeps the *candidates*: the pixels that move at a low threshold
(:data:`CANDIDATE_FLOOR`, or 0 once a query goes below it) and whose stored id would change,
most probable first. Refinement only gathers labels of the unrefined prediction, so the label
a candidate takes does not depend on the threshold; the pixels moving at threshold ``t`` are
the prefix of candidates with probability ``> t``.
Counts at a setting then follow from the base counts, updated only where labels change:

- confusion matrix = base − (gt, old label) + (gt, new label) over the changed pixels;
- fixed / broken / swapped from the same pixels;
- boundary counts only where the 1-px prediction boundary changes (changed pixels and their
  4-neighbours) and, for the matched ground-truth boundary, within the tolerance disk of
  those, with the rules of :func:`~segfix_gui.core.metrics.boundary_counts`.

Every count is an integer, so the answers equal ``refine_labels`` + ``SemanticEvaluator`` +
``change_codes`` at every setting exactly (``tests/core/test_evaluator.py`` checks it with
hypothesis).

Example
-------
>>> from segfix_gui.core.metrics import SemanticEvaluator
>>> from segfix_gui.labels import get_label_space
>>> gt = np.zeros((4, 6), np.uint8); gt[:, 3:] = 1            # sky | building
>>> pred = np.zeros((4, 6), np.uint8); pred[:, 4:] = 1        # the border one pixel late
>>> field = OffsetField(boundary=np.where(gt != pred, 0.9, 0.1).astype(np.float32),
...                     direction=np.eye(8, dtype=np.float32)[[4] * 24].T.reshape(8, 4, 6))  # bin 4: right
>>> ev = ImageEvaluator(gt, pred, get_label_space("camvid"))           # once per image
>>> counts = ev.at(field, Setting(threshold=0.8, scale=1))
>>> counts.change_dict()
{'fixed': 4, 'broken': 0, 'swapped': 0}
>>> SemanticEvaluator.from_counts(ev.space, counts.conf, counts.bcounts).result()["miou"]
1.0
>>> ev.at(field, Setting(threshold=0.95, scale=1)).change_dict()      # nothing moves
{'fixed': 0, 'broken': 0, 'swapped': 0}
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from ..labels import IGNORE, LabelSpace
from .metrics import (
    BOUNDARY_TOL,
    BorderCounts,
    BorderOptions,
    GtBorders,
    _border_counts_eval,
    _confusion_eval,
    _disk,
    _gt_borders_eval,
    boundary_classes,
)
from .offsets import OffsetField
from .refine import source_indices
from .setting import Setting

CHANGE_KINDS = ("fixed", "broken", "swapped")


@dataclass(frozen=True)
class Counts:
    """Integer counts of one image at one setting.

    Attributes
    ----------
    conf : ndarray of shape (C, C+1), int64 confusion matrix (last column: void predicted)
    bcounts : ndarray of shape (C, 4), int64 boundary counts (matched pred, pred, matched gt, gt)
    change : ndarray of shape (3,), int64 fixed, broken, swapped pixels
    """

    conf: np.ndarray
    bcounts: np.ndarray
    change: np.ndarray

    def change_dict(self) -> dict[str, int]:
        return {k: int(v) for k, v in zip(CHANGE_KINDS, self.change, strict=True)}


@dataclass(frozen=True)
class Candidates:
    """Pixels that move at thresholds ``>= tmin`` and whose stored id changes.

    ``dst`` / ``src`` flat indices (moving pixel, pixel it takes its label from), most probable
    first; ``prob`` their boundary probabilities (descending), None for hard offsets (every
    candidate moves at any threshold).
    """

    tmin: float
    dst: np.ndarray
    src: np.ndarray
    prob: np.ndarray | None

    def count_at(self, threshold: float) -> int:
        """How many candidates move at ``threshold`` (probability ``> threshold``, the
        comparison of ``OffsetField.moving_mask``)."""
        if self.prob is None:
            return int(self.dst.size)
        # prob is descending, so the moving ones are a prefix; the comparison is made in the
        # field's own dtype, exactly as moving_mask makes it
        return int(np.count_nonzero(self.prob > threshold))


CANDIDATE_FLOOR = 0.1
"""Queries at thresholds from this one up share candidates made at it; a query below it makes
them at 0 (once). Nearly every pixel has some boundary probability, so candidates at 0 take
every pixel's offset (a 360×480 CamVid frame: 6.2 ms) where those at 0.1 take a quarter of them
(1.2 ms), for the same answers."""


def _floor(threshold: float) -> float:
    """The ``tmin`` of the candidates that answer a query at ``threshold``."""
    return CANDIDATE_FLOOR if threshold >= CANDIDATE_FLOOR else 0.0


class ImageEvaluator:
    """One image's counts at any setting (see the module).

    Parameters
    ----------
    gt, pred : ndarray of shape (H, W), integer stored ids of ``space``
    space : LabelSpace
    boundary_tol : boundary F-score tolerance in pixels
    """

    def __init__(self, gt: np.ndarray, pred: np.ndarray, space: LabelSpace, *, boundary_tol: float = BOUNDARY_TOL):
        gt = np.asarray(gt)
        pred = np.asarray(pred)
        if gt.shape != pred.shape or gt.ndim != 2:
            raise ValueError(f"gt {gt.shape} and pred {pred.shape} must be (H, W) of one size")
        self.space = space
        self.boundary_tol = boundary_tol
        self.shape = pred.shape
        self.pred = pred
        n = space.n_classes
        g = space.to_eval(gt)
        p = space.to_eval(pred)
        self.base_conf = _confusion_eval(g, p, n)
        self._maps = (g, p)
        # the tolerance structures every query reads; the unrefined boundary counts are read
        # off them (equal to ``boundary_counts``, without a second search of the disk)
        self._img: _Image = _Image(g, p, n, boundary_tol)
        self.base_bcounts = self._img.base_counts()
        self._field: OffsetField | None = None
        self._cands: dict[tuple[float, float], Candidates] = {}
        self._live: tuple | None = None  # (candidates, _State, k) of the last query of at()
        self._live_lock = threading.Lock()

    @property
    def eval_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """``(gt, pred)``: ``(H, W)`` uint8 evaluation classes (``IGNORE`` = void) of the
        unrefined image (not to be modified)."""
        return self._maps

    @property
    def base(self) -> Counts:
        """Counts without refinement."""
        return Counts(self.base_conf.copy(), self.base_bcounts.copy(), np.zeros(3, np.int64))

    def _image(self) -> _Image:
        return self._img

    def candidates(
        self, field: OffsetField, scale: float, min_direction_prob: float = 0.0, *, tmin: float = 0.0
    ) -> Candidates:
        """The :class:`Candidates` of ``field`` at this scale and direction confidence, for
        thresholds ``>= tmin`` (cached per field; a cached set for a lower ``tmin`` serves)."""
        if field.shape != self.shape:
            raise ValueError(f"offsets are {field.shape} but the prediction is {self.shape}")
        if field is not self._field:
            self._field, self._cands = field, {}
        key = (float(scale), 0.0 if field.is_hard else float(min_direction_prob))
        have = self._cands.get(key)
        if have is not None and (field.is_hard or have.tmin <= tmin):
            return have
        setting = Setting(threshold=0.0 if field.is_hard else tmin, scale=scale, min_direction_prob=key[1])
        dst, src = source_indices(field.to_offsets(setting))
        ids = self.pred.ravel()
        keep = ids[src] != ids[dst]  # only pixels whose stored id would change matter
        dst, src = dst[keep], src[keep]
        prob = None
        if not field.is_hard:
            prob = field.boundary.ravel()[dst]
            order = np.argsort(prob, kind="stable")[::-1]  # most probable first
            dst, src, prob = dst[order], src[order], prob[order]
        cands = Candidates(tmin, dst, src, prob)
        self._cands[key] = cands
        return cands

    def changes(self, field: OffsetField, setting: Setting) -> tuple[np.ndarray, np.ndarray]:
        """``(dst, src)``: flat indices of the pixels whose stored id changes at ``setting``
        and of the pixels they take their label from."""
        c = self.candidates(field, setting.scale, setting.min_direction_prob, tmin=_floor(setting.threshold))
        k = c.count_at(setting.threshold)
        return c.dst[:k], c.src[:k]

    def at(self, field: OffsetField, setting: Setting) -> Counts:
        """Exact counts of the image refined with ``field`` at ``setting``.

        The state of the last query is kept: a query at the same scale and direction
        confidence moves it by the candidates between the two thresholds only (the window's
        threshold moves). A query made while another thread holds that state starts afresh.
        """
        c = self.candidates(field, setting.scale, setting.min_direction_prob, tmin=_floor(setting.threshold))
        k = c.count_at(setting.threshold)
        img = self._image()
        new = img.p[c.src[:k]]
        if not self._live_lock.acquire(blocking=False):
            state = _State(img, self.base_conf, self.base_bcounts)
            state.add(c.dst[:k], new)
            return Counts(*state.counts())
        try:
            live = self._live
            if live is None or live[0] is not c:
                state, k0 = _State(img, self.base_conf, self.base_bcounts), 0
            else:
                _, state, k0 = live
            self._live = None  # until the state is consistent again
            if k > k0:
                state.add(c.dst[k0:k], new[k0:k])
            elif k < k0:
                state.remove(c.dst[k:k0])
            self._live = (c, state, k)
            return Counts(*state.counts())
        finally:
            self._live_lock.release()

    def gt_borders(self, options: BorderOptions | None = None) -> GtBorders:
        """The ground-truth part of this image's boundary measures
        (:func:`~segfix_gui.core.metrics.gt_borders`), from the evaluation maps held."""
        g, _ = self._maps
        return _gt_borders_eval(g, self.space.n_classes, options or BorderOptions())

    def border_counts(
        self, borders: GtBorders, field: OffsetField | None = None, setting: Setting | None = None
    ) -> BorderCounts:
        """The boundary-measure counts (:func:`~segfix_gui.core.metrics.border_counts`) of the
        prediction, or with ``field`` and ``setting`` of the prediction refined there — the
        pixels :meth:`changes` names take their source's label, as :meth:`at` counts them."""
        _, p = self._maps
        if field is not None:
            if setting is None:
                raise ValueError("a setting is needed with a field")
            dst, src = self.changes(field, setting)
            refined = p.copy()
            refined.reshape(-1)[dst] = p.reshape(-1)[src]
            p = refined
        return _border_counts_eval(borders, p)

    def sweep(self, field: OffsetField, thresholds, scales, min_direction_probs=(0.0,)):
        """Counts at every setting of the three sorted lists.

        Returns ``(conf, bcounts, change)`` of shapes ``(T, S, M, C, C+1)``, ``(T, S, M, C, 4)``
        and ``(T, S, M, 3)`` int64: thresholds are taken from the highest down, each adding its
        batch of candidates to one running state per (scale, direction confidence).
        """
        n = self.space.n_classes
        T, S, M = len(thresholds), len(scales), len(min_direction_probs)
        conf = np.empty((T, S, M, n, n + 1), np.int64)
        bcounts = np.empty((T, S, M, n, 4), np.int64)
        change = np.empty((T, S, M, 3), np.int64)
        img = self._image()
        for j, scale in enumerate(scales):
            for d, mdp in enumerate(min_direction_probs):
                if field.is_hard and d > 0:  # min_direction_prob does not apply to hard offsets
                    conf[:, j, d], bcounts[:, j, d], change[:, j, d] = (
                        conf[:, j, 0],
                        bcounts[:, j, 0],
                        change[:, j, 0],
                    )
                    continue
                c = self.candidates(field, scale, mdp, tmin=thresholds[0])
                new = img.p[c.src]
                state = _State(img, self.base_conf, self.base_bcounts)
                done = 0
                for i in range(T - 1, -1, -1):  # highest threshold first: the moving set grows
                    k = c.count_at(thresholds[i])
                    state.add(c.dst[done:k], new[done:k])
                    done = k
                    conf[i, j, d], bcounts[i, j, d], change[i, j, d] = state.counts()
        return conf, bcounts, change


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
        self.disk_i64 = np.ascontiguousarray(self.disk, np.int64)
        # near[word, pixel]: bit c set when a gt boundary pixel of class B*word + c is in the
        # disk, B the narrowest word that holds every class (8 for CamVid, 32 for Cityscapes)
        self.bits = next((b for b in (8, 16, 32) if n <= b), 64)
        word_t = np.dtype(f"uint{self.bits}")
        words = (n + self.bits - 1) // self.bits
        self.near = np.zeros((words, self.h, self.w), word_t)
        one = word_t.type(1)
        for k in range(words):
            sel = (gb >= self.bits * k) & (gb < self.bits * (k + 1))
            bits = np.where(
                sel, np.left_shift(one, (gb - self.bits * k).clip(0).astype(word_t)), word_t.type(0)
            ).astype(word_t, copy=False)
            del sel
            for dr, dc in self.disk:
                if abs(dr) >= self.h or abs(dc) >= self.w:
                    continue  # the offset leaves the image from everywhere
                dst, src = _shifted(self.h, self.w, dr, dc)
                self.near[k][dst] |= bits[src]
            del bits
        self.near = self.near.reshape(words, -1)
        # cnt[q]: prediction boundary pixels of gt boundary pixel q's class within its disk
        # (at most the disk's size: int16 up to a tolerance of ~100 px)
        self.cnt = np.zeros(self.h * self.w, np.int16 if len(self.disk) < 2**15 else np.int32)
        q = np.flatnonzero(self.gb >= 0)
        for ok, d in self._pairs(q):
            qq = q[ok]
            self.cnt[qq] += self.pb[qq + d] == self.gb[qq]

    def base_counts(self) -> np.ndarray:
        """``(C, 4)`` int64 boundary counts of the unrefined prediction (matched prediction,
        prediction, matched ground-truth, ground-truth boundary pixels per class): a prediction
        boundary pixel is matched when its class's bit is set in ``near``, a ground-truth one
        when its count ``cnt`` is above zero — ``metrics.boundary_counts``'s figures."""
        n = self.n
        out = np.zeros((n, 4), np.int64)
        q = np.flatnonzero(self.pb >= 0)
        cls = self.pb[q]
        hit = self.near_gt(q, cls)
        out[:, 0] = np.bincount(cls[hit], minlength=n)[:n]
        out[:, 1] = np.bincount(cls, minlength=n)[:n]
        q = np.flatnonzero(self.gb >= 0)
        cls = self.gb[q]
        out[:, 2] = np.bincount(cls[self.cnt[q] > 0], minlength=n)[:n]
        out[:, 3] = np.bincount(cls, minlength=n)[:n]
        return out

    def _pairs(self, idx: np.ndarray):
        """For each disk offset: (bool mask of the pixels of ``idx`` whose offset pixel is in
        the image, the flat offset)."""
        r, c = np.divmod(idx, self.w)
        for dr, dc in self.disk:
            yield ((r + dr >= 0) & (r + dr < self.h) & (c + dc >= 0) & (c + dc < self.w), int(dr * self.w + dc))

    def neighbours(self, idx: np.ndarray) -> np.ndarray:
        """``idx`` and its in-image 4-neighbours, unique, sorted."""
        r, c = np.divmod(idx, self.w)
        parts = [idx, idx[c > 0] - 1, idx[c < self.w - 1] + 1, idx[r > 0] - self.w, idx[r < self.h - 1] + self.w]
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
        word = self.near[cls // self.bits, idx]
        return ((word >> (cls % self.bits).astype(word.dtype)) & word.dtype.type(1)).astype(bool)


@functools.cache
def _compiled_relabel():
    """The compiled step of :mod:`.evaluator_kernel`, or None where numba is not installed."""
    try:
        from .evaluator_kernel import relabel
    except ImportError:
        return None
    return relabel


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
        self._mark: np.ndarray | None = None  # the compiled step's scratch (made on first use)

    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.conf.copy(), self.bc.copy(), self.change.copy()

    def add(self, dst: np.ndarray, new: np.ndarray) -> None:
        """Pixels ``dst`` (flat, not moved now, stored id changes) take eval labels ``new``."""
        if dst.size == 0:
            return
        self._tally(dst, new, 1)
        self._relabel(dst, new)

    def remove(self, dst: np.ndarray) -> None:
        """Pixels ``dst`` (flat, moved now) go back to the unrefined prediction's labels: the
        inverse of :meth:`add` (the threshold going up)."""
        if dst.size == 0:
            return
        self._tally(dst, self.p[dst], -1)
        self._relabel(dst, self.img.p[dst])

    def _tally(self, dst: np.ndarray, new: np.ndarray, sign: int) -> None:
        """Confusion and fixed / broken / swapped of moved pixels ``dst`` holding ``new``
        against the unrefined labels, added (``sign`` 1) or taken away (-1)."""
        img, n = self.img, self.img.n
        old = img.p[dst]
        gv = img.g[dst]
        ok = gv != IGNORE
        g_ok = gv[ok].astype(np.int64) * (n + 1)
        o_ok = np.where(old[ok] == IGNORE, n, old[ok]).astype(np.int64)
        n_ok = np.where(new[ok] == IGNORE, n, new[ok]).astype(np.int64)
        size = n * (n + 1)
        self.conf += sign * (
            np.bincount(g_ok + n_ok, minlength=size) - np.bincount(g_ok + o_ok, minlength=size)
        ).reshape(n, n + 1)
        right_before = old[ok] == gv[ok]
        right_after = new[ok] == gv[ok]
        self.change += sign * np.array(
            (
                np.count_nonzero(~right_before & right_after),
                np.count_nonzero(right_before & ~right_after),
                np.count_nonzero(~right_before & ~right_after),
            ),
            np.int64,
        )

    def _relabel(self, dst: np.ndarray, new: np.ndarray) -> None:
        """Eval labels ``new`` into pixels ``dst``, and the boundary counts after them (one
        compiled pass, :mod:`.evaluator_kernel`; NumPy's steps where numba is not installed)."""
        kernel = _compiled_relabel()
        if kernel is None:
            self._relabel_numpy(dst, new)
            return
        img = self.img
        if self._mark is None:
            self._mark = np.zeros(img.h * img.w, bool)
        kernel(
            self.p,
            self.pb,
            self.cnt,
            self.bc,
            np.ascontiguousarray(dst, np.int64),
            np.ascontiguousarray(new, self.p.dtype),
            img.valid,
            img.gb,
            img.near,
            img.bits,
            img.disk_i64,
            img.h,
            img.w,
            img.n,
            IGNORE,
            self._mark,
        )

    def _relabel_numpy(self, dst: np.ndarray, new: np.ndarray) -> None:
        """:meth:`_relabel` in NumPy steps (the fallback without numba, and its reference)."""
        img, n = self.img, self.img.n
        old = self.p[dst]
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
        dw = np.bincount(inv, weights=np.concatenate(ws), minlength=q.size).astype(self.cnt.dtype)
        before = self.cnt[q] > 0
        self.cnt[q] += dw
        after = self.cnt[q] > 0
        gq = img.gb[q]
        self.bc[:, 2] += np.bincount(gq[after], minlength=n)[:n] - np.bincount(gq[before], minlength=n)[:n]
