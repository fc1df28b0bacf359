"""Sweeps over refinement settings: metrics of a whole folder at every (threshold, scale).

For every setting of a :class:`SweepGrid` — boundary ``threshold`` × offset ``scale`` ×
``min_direction_prob`` — a sweep gives what ``segfix refine`` followed by ``segfix evaluate``
would report (mIoU, pixel accuracy, boundary F-score, fixed / broken / swapped pixels), the
values without refinement, each image's gain, and the best setting. No Qt: the window's Tune
panel calls :func:`sweep` (this thread), ``segfix sweep`` computes :func:`sweep_image` in
worker processes; both add the images up with :func:`collect`.

Each image's counts come from :class:`~segfix_gui.core.evaluator.ImageEvaluator` (the one
refine-and-evaluate engine: exact, incremental over the thresholds); this module adds them up
over a set (:class:`SweepAccumulator`) into a :class:`SweepResult`. Arrays only: the files
are read by ``segfix_gui.io.samples`` (``iter_sweep_samples``, ``load_sweep_sample``).
:func:`sweep` has a worked example.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass, field

import numpy as np

from ..labels import LabelSpace
from .distance import own_label_band
from .evaluator import CHANGE_KINDS, ImageEvaluator
from .grid import SweepGrid
from .metrics import (
    BOUNDARY_TOL,
    SemanticEvaluator,
    _boundary_iou_eval,
    boundary_dilation,
    mean_iou,
    scores_from_counts,
)
from .offsets import OffsetField
from .setting import Setting

__all__ = [
    "ImageSweep",
    "SweepAccumulator",
    "SweepGrid",
    "SweepResult",
    "SweepSample",
    "collect",
    "sweep",
    "sweep_image",
]

METRICS = ("miou", "boundary_f", "pixel_accuracy", "boundary_iou")


@dataclass
class SweepSample:
    """One image's arrays: ``gt`` and ``pred`` ``(H, W)`` integer ids, ``field`` its offsets."""

    key: str
    gt: np.ndarray
    pred: np.ndarray
    field: OffsetField


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
    base_biou : (C, 2) int64 boundary IoU intersection and union without refinement, or None
    biou : (T, S, M, C, 2) int64 the same at every setting, or None (swept without boundary IoU)
    """

    key: str
    hard: bool
    base_conf: np.ndarray
    base_bcounts: np.ndarray
    conf: np.ndarray
    bcounts: np.ndarray
    change: np.ndarray
    base_biou: np.ndarray | None = None
    biou: np.ndarray | None = None


def sweep_image(
    gt: np.ndarray,
    pred: np.ndarray,
    field: OffsetField,
    space: LabelSpace,
    grid: SweepGrid,
    *,
    key: str = "",
    boundary_tol: float = BOUNDARY_TOL,
    evaluator: ImageEvaluator | None = None,
    dilation_ratio: float | None = None,
) -> ImageSweep:
    """Counts of one image at every setting of ``grid``.

    Parameters
    ----------
    gt, pred : ndarray of shape (H, W), integer stored ids of ``space``
    field : OffsetField of shape (H, W)
    space : LabelSpace
    grid : SweepGrid
    boundary_tol : boundary F-score tolerance in pixels
    evaluator : the image's ImageEvaluator, if one is prepared already (gt and pred are then
        those it was made from)
    dilation_ratio : with a ratio, the boundary IoU counts at every setting too (``biou``),
        at that band width (:class:`~segfix_gui.core.metrics.BorderOptions`' ``dilation_ratio``)

    Returns
    -------
    ImageSweep — equal, setting by setting, to ``SemanticEvaluator.add(gt, refine_labels(pred,
    field.to_offsets(setting)))`` and ``change_counts(change_codes(pred, refined, gt, space))``.
    """
    ev = evaluator or ImageEvaluator(gt, pred, space, boundary_tol=boundary_tol)
    conf, bcounts, change = ev.sweep(field, grid.thresholds, grid.scales, grid.min_direction_probs)
    base_biou = biou = None
    if dilation_ratio is not None:
        base_biou, biou = _sweep_boundary_iou(ev, field, grid, dilation_ratio)
    return ImageSweep(key, field.is_hard, ev.base_conf, ev.base_bcounts, conf, bcounts, change, base_biou, biou)


def _sweep_boundary_iou(ev: ImageEvaluator, field: OffsetField, grid: SweepGrid, ratio: float):
    """Boundary IoU counts without refinement ``(C, 2)`` and at every setting ``(T, S, M, C, 2)``.

    The refined map of a setting is the unrefined one with the candidates that move there taking
    their sources' labels (what ``refine_labels`` gives, in evaluation classes); settings that
    move the same pixels (a hard field's thresholds, a flat threshold range) share one count.
    """
    g, p = ev.eval_maps
    n = ev.space.n_classes
    band = own_label_band(g, boundary_dilation(g.shape, ratio))
    base = _boundary_iou_eval(g, p, n, ratio, band)
    T, S, M = grid.shape
    out = np.empty((T, S, M, n, 2), np.int64)
    flat = p.reshape(-1)
    done: dict = {}
    for i, j, m in np.ndindex(T, S, M):
        c = ev.candidates(field, grid.scales[j], grid.min_direction_probs[m], tmin=grid.thresholds[0])
        k = c.count_at(grid.thresholds[i])
        key = (id(c), k)
        if key not in done:
            if k == 0:
                done[key] = base
            else:
                refined = flat.copy()
                refined[c.dst[:k]] = flat[c.src[:k]]
                done[key] = _boundary_iou_eval(g, refined.reshape(g.shape), n, ratio, band)
        out[i, j, m] = done[key]
    return base, out


def _biou_score(counts: np.ndarray) -> float:
    """Mean boundary IoU of ``(C, 2)`` intersection / union counts (NaN where none)."""
    inter, union = counts.T.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return mean_iou(np.where(union > 0, inter / np.where(union > 0, union, 1), np.nan))


# --------------------------------------------------------------------------- a folder


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
    dilation_ratio : the boundary IoU's band ratio, or None when swept without boundary IoU; then
    boundary_iou : (T, S, M) float64 mean boundary IoU over the folder (and ``base["boundary_iou"]``)
    biou : (T, S, M, C, 2) int64, base_biou : (C, 2) int64 boundary IoU intersections and unions
    image_boundary_iou : (N, T, S, M) float64, image_base_boundary_iou : (N,) float64
    errors : one-line messages of images that could not be swept
    cancelled : True when ``should_stop`` ended the sweep early (figures cover ``keys`` only)
    """

    grid: SweepGrid
    space: LabelSpace
    boundary_tol: float
    keys: list[str]
    hard: np.ndarray
    base: dict
    base_conf: np.ndarray
    base_bcounts: np.ndarray
    conf: np.ndarray
    bcounts: np.ndarray
    change: np.ndarray
    miou: np.ndarray
    boundary_f: np.ndarray
    pixel_accuracy: np.ndarray
    image_miou: np.ndarray
    image_boundary_f: np.ndarray
    image_base_miou: np.ndarray
    image_base_boundary_f: np.ndarray
    image_change: np.ndarray
    dilation_ratio: float | None = None  # boundary IoU swept too when set (the figures below)
    boundary_iou: np.ndarray | None = None
    biou: np.ndarray | None = None
    base_biou: np.ndarray | None = None
    image_boundary_iou: np.ndarray | None = None
    image_base_boundary_iou: np.ndarray | None = None
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

    def at(self, setting: Setting) -> dict:
        """Figures at one setting of the grid: :meth:`SemanticEvaluator.result` keys plus
        ``fixed``, ``broken``, ``swapped``, ``miou_gain``, ``boundary_f_gain`` and the setting.
        ValueError when the setting is not on the grid."""
        return self._row(self.grid.index_of(setting), per_class=True)

    def _row(self, idx, *, per_class: bool = False) -> dict:
        i, j, k = idx
        row = self.grid.setting(i, j, k).as_dict()
        if per_class:
            row.update(
                SemanticEvaluator.from_counts(
                    self.space, self.conf[idx], self.bcounts[idx], boundary_tol=self.boundary_tol
                ).result()
            )
        row.update(
            miou=float(self.miou[idx]),
            boundary_f=float(self.boundary_f[idx]),
            pixel_accuracy=float(self.pixel_accuracy[idx]),
            miou_gain=float(self.miou[idx] - self.base["miou"]),
            boundary_f_gain=float(self.boundary_f[idx] - self.base["boundary_f"]),
        )
        if self.boundary_iou is not None:
            row.update(
                boundary_iou=float(self.boundary_iou[idx]),
                boundary_iou_gain=float(self.boundary_iou[idx] - self.base["boundary_iou"]),
            )
        row.update(zip(CHANGE_KINDS, (int(v) for v in self.change[idx]), strict=True))
        return row

    def rows(self) -> list[dict]:
        """One dict per setting (grid order: threshold slowest): setting, metrics, gains, changes."""
        T, S, M = self.grid.shape
        return [self._row((i, j, k)) for i in range(T) for j in range(S) for k in range(M)]

    def best(self, metric: str = "miou") -> dict | None:
        """The setting with the highest ``metric`` (``"miou"``, ``"boundary_f"``,
        ``"pixel_accuracy"`` or, when swept with it, ``"boundary_iou"``); ties go to the higher
        other metric (boundary F, or mIoU for boundary F and boundary IoU), then the first in
        grid order. None when there is no figure (no image)."""
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
        if metric == "boundary_iou" and self.dilation_ratio is None:
            raise ValueError("this sweep was made without boundary IoU (sweep(..., dilation_ratio=...))")
        if not self.n_images:
            return None
        main = getattr(self, metric).ravel()
        other = (self.miou if metric in ("boundary_f", "boundary_iou") else self.boundary_f).ravel()
        if not np.isfinite(main).any():
            return None
        main = np.where(np.isfinite(main), main, -np.inf)
        other = np.where(np.isfinite(other), other, -np.inf)
        cand = np.flatnonzero(main == main.max())
        flat = cand[np.argmax(other[cand])]
        return self._row(np.unravel_index(flat, self.grid.shape))

    def image_gains(self, setting: Setting, *, metric: str = "miou") -> dict[str, float]:
        """``{image key: gain}`` at one setting, for sorting the image list.

        ``metric``: ``"miou"``, ``"boundary_f"`` or (swept with it) ``"boundary_iou"`` (gain of
        that image's own figure, a fraction), or ``"net"`` (fixed − broken pixels). NaN where the
        image's figure is undefined.
        """
        i, j, k = self.grid.index_of(setting)
        if metric == "miou":
            gains = self.image_miou[:, i, j, k] - self.image_base_miou
        elif metric == "boundary_f":
            gains = self.image_boundary_f[:, i, j, k] - self.image_base_boundary_f
        elif metric == "boundary_iou" and self.image_boundary_iou is not None:
            gains = self.image_boundary_iou[:, i, j, k] - self.image_base_boundary_iou
        elif metric == "net":
            gains = (self.image_change[:, i, j, k, 0] - self.image_change[:, i, j, k, 1]).astype(float)
        else:
            raise ValueError(f"metric must be miou, boundary_f, boundary_iou (when swept) or net, not {metric!r}")
        return {k: float(v) for k, v in zip(self.keys, gains, strict=True)}


class SweepAccumulator:
    """Adds up :class:`ImageSweep` s into a :class:`SweepResult` (``add``, ``error``, ``result``);
    :func:`collect` drives it."""

    def __init__(self, space: LabelSpace, grid: SweepGrid, tol: float, *, dilation_ratio: float | None = None):
        n = space.n_classes
        grid.check_counts(n)  # before the counts are allocated
        T, S, M = grid.shape
        self.space, self.grid, self.tol = space, grid, tol
        self.keys: list[str] = []
        self.errors: list[str] = []
        self.cancelled = False
        self.dilation_ratio = dilation_ratio
        if dilation_ratio is not None:
            self.base_biou = np.zeros((n, 2), np.int64)
            self.biou = np.zeros((T, S, M, n, 2), np.int64)
            self.img_biou: list = []
            self.img_base_biou: list = []
        self.base_conf = np.zeros((n, n + 1), np.int64)
        self.base_bc = np.zeros((n, 4), np.int64)
        self.conf = np.zeros((T, S, M, n, n + 1), np.int64)
        self.bc = np.zeros((T, S, M, n, 4), np.int64)
        self.change = np.zeros((T, S, M, 3), np.int64)
        self.img: dict[str, list] = {k: [] for k in ("miou", "bf", "base_miou", "base_bf", "change", "hard")}

    def add(self, s: ImageSweep) -> None:
        if (self.dilation_ratio is None) != (s.biou is None):
            raise ValueError(f"{s.key}: swept {'without' if s.biou is None else 'with'} boundary IoU, unlike the set")
        if s.biou is not None and s.base_biou is not None:
            self.base_biou += s.base_biou
            self.biou += s.biou
            self.img_base_biou.append(_biou_score(s.base_biou))
            self.img_biou.append([_biou_score(s.biou[idx]) for idx in np.ndindex(s.biou.shape[:3])])
        self.keys.append(s.key)
        self.base_conf += s.base_conf
        self.base_bc += s.base_bcounts
        self.conf += s.conf
        self.bc += s.bcounts
        self.change += s.change
        bm, bb, _ = scores_from_counts(s.base_conf, s.base_bcounts)
        T, S, M = s.change.shape[:3]
        mi = np.empty((T, S, M))
        bf = np.empty((T, S, M))
        for idx in np.ndindex(T, S, M):
            mi[idx], bf[idx], _ = scores_from_counts(s.conf[idx], s.bcounts[idx])
        for k, v in (
            ("miou", mi),
            ("bf", bf),
            ("base_miou", bm),
            ("base_bf", bb),
            ("change", s.change),
            ("hard", s.hard),
        ):
            self.img[k].append(v)

    def error(self, message: str) -> None:
        """Record a one-line message for an image that could not be swept."""
        self.errors.append(message)

    def result(self) -> SweepResult:
        T, S, M = self.grid.shape
        n = len(self.keys)
        miou = np.full((T, S, M), np.nan)
        boundary_f = np.full((T, S, M), np.nan)
        pixel_accuracy = np.full((T, S, M), np.nan)
        if n:
            for idx in np.ndindex(T, S, M):
                miou[idx], boundary_f[idx], pixel_accuracy[idx] = scores_from_counts(self.conf[idx], self.bc[idx])
        base = SemanticEvaluator.from_counts(self.space, self.base_conf, self.base_bc, boundary_tol=self.tol).result()
        r = SweepResult(
            grid=self.grid,
            space=self.space,
            boundary_tol=self.tol,
            keys=list(self.keys),
            hard=np.array(self.img["hard"], bool).reshape(n),
            base=base,
            base_conf=self.base_conf,
            base_bcounts=self.base_bc,
            conf=self.conf,
            bcounts=self.bc,
            change=self.change,
            miou=miou,
            boundary_f=boundary_f,
            pixel_accuracy=pixel_accuracy,
            image_miou=np.array(self.img["miou"]).reshape(n, T, S, M),
            image_boundary_f=np.array(self.img["bf"]).reshape(n, T, S, M),
            image_base_miou=np.array(self.img["base_miou"], np.float64).reshape(n),
            image_base_boundary_f=np.array(self.img["base_bf"], np.float64).reshape(n),
            image_change=np.array(self.img["change"], np.int64).reshape(n, T, S, M, 3),
            errors=list(self.errors),
            cancelled=self.cancelled,
        )
        if self.dilation_ratio is not None:
            r.dilation_ratio, r.base_biou, r.biou = self.dilation_ratio, self.base_biou, self.biou
            r.base["boundary_iou"] = _biou_score(self.base_biou) if n else float("nan")
            r.boundary_iou = np.full((T, S, M), np.nan)
            if n:
                for idx in np.ndindex(T, S, M):
                    r.boundary_iou[idx] = _biou_score(self.biou[idx])
            r.image_boundary_iou = np.array(self.img_biou, np.float64).reshape(n, T, S, M)
            r.image_base_boundary_iou = np.array(self.img_base_biou, np.float64).reshape(n)
        return r


def collect(
    images: Iterable[ImageSweep | str],
    space: LabelSpace,
    grid: SweepGrid,
    *,
    boundary_tol: float = BOUNDARY_TOL,
    total: int = 0,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    dilation_ratio: float | None = None,
) -> SweepResult:
    """Add up one sweep per image into the :class:`SweepResult` of the set: the one
    accumulation loop, driven by :func:`sweep` (this thread) and ``segfix sweep`` (worker
    processes).

    Parameters
    ----------
    images : iterable of ImageSweep (an image swept) or str (the one-line message of an image
        that could not be swept, recorded in ``errors``); consumed lazily
    total : number of images, for ``progress``
    progress : called as ``progress(done, total)`` after each image swept
    should_stop : polled before each image; when it returns True, collecting stops and the
        result covers the images done so far, with ``cancelled=True``
    dilation_ratio : set when the images were swept with boundary IoU (:func:`sweep_image`)
    """
    acc = SweepAccumulator(space, grid, boundary_tol, dilation_ratio=dilation_ratio)
    stop = should_stop or (lambda: False)
    if progress:
        progress(0, total)
    it = iter(images)
    while True:
        if stop():
            acc.cancelled = True
            break
        try:
            item = next(it)
        except StopIteration:
            break
        if isinstance(item, str):
            acc.error(item)
            continue
        acc.add(item)
        if progress:
            progress(len(acc.keys), max(total, len(acc.keys)))
    return acc.result()


def sweep(
    samples: Iterable[SweepSample],
    space: LabelSpace,
    grid: SweepGrid,
    *,
    boundary_tol: float = BOUNDARY_TOL,
    total: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    dilation_ratio: float | None = None,
) -> SweepResult:
    """Sweep a set of images over every setting of ``grid``, in this thread.

    Parameters
    ----------
    samples : iterable of SweepSample (arrays; e.g. ``segfix_gui.io.samples.iter_sweep_samples``
        reads them one by one from files, leaving out and reporting bad ones)
    space : LabelSpace of the label maps
    grid : SweepGrid
    boundary_tol : boundary F-score tolerance in pixels (as ``segfix evaluate --boundary-tol``)
    total : number of samples, for ``progress`` (default: ``len(samples)`` where it has one)
    progress : called as ``progress(done, total)`` after each image
    should_stop : polled before each image; when it returns True the sweep stops and the
        result covers the images done so far, with ``cancelled=True``
    dilation_ratio : with a ratio, boundary IoU at every setting too (costs one boundary pass
        per distinct refined map; ``segfix sweep --boundary-iou``)

    Returns
    -------
    SweepResult

    Example
    -------
    >>> from segfix_gui.core.offsets import OffsetField
    >>> from segfix_gui.labels import get_label_space
    >>> gt = np.zeros((4, 6), np.uint8); gt[:, 3:] = 1          # sky | building
    >>> pred = np.zeros((4, 6), np.uint8); pred[:, 4:] = 1      # the border one pixel late
    >>> boundary = np.zeros((4, 6), np.float32); boundary[:, 3] = 0.9
    >>> direction = np.zeros((8, 4, 6), np.float32); direction[4] = 1  # bin 4: one step right
    >>> field = OffsetField(boundary=boundary, direction=direction)
    >>> res = sweep([SweepSample("x", gt, pred, field)], get_label_space("camvid"),
    ...             SweepGrid(thresholds=(0.5, 0.95), scales=(1,)))
    >>> res.best()["threshold"], res.best()["fixed"]
    (0.5, 4)
    >>> round(res.base["miou"], 3), round(res.at(Setting(0.5, 1))["miou"], 3)
    (0.708, 1.0)
    """
    if total is None:
        total = len(samples) if isinstance(samples, Sized) else 0
    images = (
        sweep_image(
            s.gt, s.pred, s.field, space, grid, key=s.key, boundary_tol=boundary_tol, dilation_ratio=dilation_ratio
        )
        for s in samples
    )
    return collect(
        images,
        space,
        grid,
        boundary_tol=boundary_tol,
        total=total,
        progress=progress,
        should_stop=should_stop,
        dilation_ratio=dilation_ratio,
    )
