"""Where the errors are: the boundary measures of the open sample and of the set, before and
after refinement at one setting (Qt-free; the window's Boundary panel and Metrics draw them).

The error-by-distance profile counts, for every pixel whose ground truth is not void, whether
the label is wrong, binned by the pixel's distance to the nearest pixel of another ground-truth
label (:class:`~segfix_gui.core.metrics.BorderCounts`: 1 … ``max_px`` px, then beyond); per
class on demand. Boundary IoU is the official measure (``mask_to_boundary``, ratio 0.005).
Every count comes from :mod:`segfix_gui.core.metrics` — the numbers ``segfix evaluate --json``
writes as ``error_profile`` and ``boundary_iou`` for the same files.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..core.metrics import BorderCounts, BorderOptions, GtBorders, border_counts, gt_borders, mean_iou
from ..core.numbers import finite_or_none
from ..core.refine import refine_labels
from ..core.setting import Setting
from ..errors import InputError
from .sets import SetScorer

GT_BORDERS_BUDGET = 128 * 2**20  # bytes of ground-truth border maps a set keeps between settings


def _nothing(*_args) -> None:
    return None


@dataclass(frozen=True, eq=False)
class BorderProfile:
    """The boundary measures of a sample or a set at one setting.

    Attributes
    ----------
    scope : "sample" or "set"
    setting : the setting ``after`` was refined at
    names : class names, in evaluation order
    before, after : BorderCounts of the prediction and of the refined prediction (``after`` is
        ``before`` when nothing is refined: a sample without offsets)
    images : samples counted; total : samples with ground truth (a set may be partly done)
    done : every sample of the set is counted (always True for a sample)
    gt : the sample's ground-truth part (its pixels' distance bins), None for a set
    """

    scope: str
    setting: Setting
    names: tuple[str, ...]
    before: BorderCounts
    after: BorderCounts
    images: int = 1
    total: int = 1
    done: bool = True
    gt: GtBorders | None = None

    @property
    def max_px(self) -> int:
        return self.before.options.max_px

    def curve(self, cls: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(pixels, rate_before, rate_after)``: per bin (1 … ``max_px``, then beyond) the
        pixels and their error rates (fractions, NaN for an empty bin), over every class or
        for class index ``cls`` (its ground-truth pixels)."""
        pixels, err_b = self.before.profile(cls)
        _, err_a = self.after.profile(cls)
        with np.errstate(invalid="ignore", divide="ignore"):
            rb = np.where(pixels > 0, err_b / np.maximum(pixels, 1), np.nan)
            ra = np.where(pixels > 0, err_a / np.maximum(pixels, 1), np.nan)
        return pixels, rb, ra

    def boundary_iou(self) -> tuple[float | None, float | None]:
        """Mean boundary IoU over the classes present, before and after (None: undefined)."""
        return finite_or_none(mean_iou(self.before.boundary_iou())), finite_or_none(mean_iou(self.after.boundary_iou()))

    def bin_mask(self, b: int, cls: int | None = None) -> np.ndarray | None:
        """``(H, W)`` bool: the sample's pixels of profile bin ``b`` (of class index ``cls``
        in the ground truth), None for a set."""
        if self.gt is None:
            return None
        m = self.gt.bin_mask(b)
        return m if cls is None else m & (self.gt.g == cls)


def sample_profile(gt_parts: GtBorders, pred: np.ndarray, refined, space, setting) -> BorderProfile:
    """The open sample's profile: ``gt_parts`` made once by :func:`~segfix_gui.core.metrics.gt_borders` for its
    ground truth; ``refined`` None when nothing is refined."""
    before = border_counts(gt_parts, pred, space)
    after = before if refined is None else border_counts(gt_parts, refined, space)
    return BorderProfile("sample", setting, tuple(space.names), before, after, gt=gt_parts)


class SetBorders:
    """The set's boundary measures at any setting, from the samples a :class:`SetScorer` holds
    (their evaluators: no file read) or reads. The prediction's counts are kept per sample;
    ground-truth border maps within :data:`GT_BORDERS_BUDGET`."""

    def __init__(self, scorer: SetScorer, *, options: BorderOptions | None = None, budget: int = GT_BORDERS_BUDGET):
        self.scorer = scorer
        self.space = scorer.space
        self.options = options or BorderOptions()
        self.budget = budget
        self.before: dict[int, BorderCounts] = {}
        self.gt: dict[int, GtBorders] = {}
        self.gt_bytes = 0
        self._lock = threading.Lock()

    def forget(self, index: int) -> None:
        """Sample ``index`` changed (e.g. new offsets): its counts are made afresh."""
        with self._lock:
            self.before.pop(index, None)
            old = self.gt.pop(index, None)
            if old is not None:
                self.gt_bytes -= _gt_bytes(old)

    def score(
        self,
        setting: Setting,
        *,
        check: Callable = _nothing,
        post: Callable[[BorderProfile], None] = _nothing,
        report: Callable = _nothing,
    ) -> BorderProfile | None:
        """Every sample with ground truth at ``setting``; ``post`` receives growing snapshots
        (about every 0.3 s); ``check`` may raise to cancel. None when no sample could be read."""
        sc = self.scorer
        todo = [i for i in range(len(sc.samples)) if i not in sc.no_gt and i not in sc.failed]
        n = self.space.n_classes
        total_b = BorderCounts.zeros(n, self.options)
        total_a = BorderCounts.zeros(n, self.options)
        count = 0
        last = time.monotonic()

        def snapshot(done: bool) -> BorderProfile:
            names = tuple(self.space.names)
            return BorderProfile("set", setting, names, total_b, total_a, count, len(todo), done)

        def one(i: int):
            check()
            try:
                return self._one(i, setting)
            except InputError:
                return None

        with ThreadPoolExecutor(max_workers=max(1, min(sc.workers, len(todo)))) as pool:
            futures = [pool.submit(one, i) for i in todo]
            try:
                for k, fut in enumerate(futures):
                    got = fut.result()
                    if got is not None:
                        total_b, total_a = total_b + got[0], total_a + got[1]
                        count += 1
                    report(k + 1, len(todo), f"boundary measures: {k + 1}/{len(todo)} samples")
                    if time.monotonic() - last > 0.3:
                        last = time.monotonic()
                        post(snapshot(False))
            finally:
                for fut in futures:
                    fut.cancel()
        return snapshot(True) if count else None

    def _one(self, i: int, setting: Setting) -> tuple[BorderCounts, BorderCounts]:
        held = self.scorer.held.get(i)
        refinement = setting.refinement()
        if held is not None:  # the evaluator's maps: nothing read
            ev = held.evaluator
            parts = self.gt.get(i) or self._keep(i, ev.gt_borders(self.options))
            before = self.before.get(i) or ev.border_counts(parts)
            after = before if held.field is None else ev.border_counts(parts, held.field, refinement)
        else:
            gt, pred, field_ = self.scorer.arrays(i)
            parts = self.gt.get(i) or self._keep(i, gt_borders(gt, self.space, options=self.options))
            before = self.before.get(i) or border_counts(parts, pred, self.space)
            if field_ is None:
                after = before
            else:
                refined = refine_labels(pred, field_.to_offsets(refinement), device="cpu")
                after = border_counts(parts, refined, self.space)
        self.before.setdefault(i, before)
        return before, after

    def _keep(self, i: int, parts: GtBorders) -> GtBorders:
        size = _gt_bytes(parts)
        with self._lock:
            if self.gt_bytes + size <= self.budget and i not in self.gt:
                self.gt[i] = parts
                self.gt_bytes += size
        return parts


def _gt_bytes(parts: GtBorders) -> int:
    return int(parts.g.nbytes + parts.key.nbytes + parts.band.nbytes + parts.gb.nbytes)
