"""The work behind the window, as plain functions of the engine (no Qt, no drawing).

Everything the window shows is computed here by ``segfix_gui.core`` functions — the same
ones the command line calls: offsets by ``OffsetField.to_offsets``, refined labels by
``refine_labels``, numbers by ``SemanticEvaluator``, diff codes by ``change_codes``.
Functions take a ``check`` callable that raises to cancel between steps, and a
``report(done, total, text)`` callable for progress.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..core.metrics import (SemanticEvaluator, boundary_counts, change_codes, change_counts,
                            confusion_matrix)
from ..core.refine import refine_labels, resolve_device, source_indices
from .sample import Sample, SamplePaths, load_instance_sample, load_sample


BOUNDARY_TOL = 3  # SemanticEvaluator's default tolerance, used for every figure shown
INSTANCE_SCALE = 1.0  # SegFix moves instance masks with scale 1 (the original's setting)


def _nothing(*_args) -> None:
    return None


@dataclass(frozen=True)
class Setting:
    """Refinement setting: threshold and min_direction_prob in [0, 1], scale >= 0, device."""

    threshold: float = 0.5
    scale: float = 2.0
    min_direction_prob: float = 0.0
    device: str = "auto"

    def offsets_kwargs(self) -> dict:
        return {"threshold": self.threshold, "scale": self.scale,
                "min_direction_prob": self.min_direction_prob}

    def describe(self, *, hard: bool = False) -> str:
        if hard:
            return f"scale {self.scale:g} (hard offsets)"
        return (f"threshold {self.threshold:.2f}, scale {self.scale:g}, "
                f"direction ≥ {self.min_direction_prob:.2f}")


def initial_setting(sample: Sample, *, device: str = "auto") -> Setting:
    """The field's recommended setting (else threshold 0.5, scale 2, direction 0); instance
    samples start at scale 1, as the original refines instance masks."""
    if sample.field is None:
        return Setting(device=device)
    s = sample.field.setting()
    scale = INSTANCE_SCALE if sample.is_instances else s["scale"]
    return Setting(s["threshold"], scale, s["min_direction_prob"], device)


@dataclass(eq=False)
class Baseline:
    """What does not change with the setting, computed once per sample.

    Attributes
    ----------
    pred_eval : ndarray of shape (H, W), uint8 evaluation indices of the prediction
    gt_eval : ndarray of shape (H, W), uint8, or None without ground truth
    conf : ndarray of shape (C, C+1), int64 confusion matrix of the prediction, or None
    """

    pred_eval: np.ndarray
    gt_eval: np.ndarray | None = None
    conf: np.ndarray | None = None


def baseline(sample: Sample, conf: np.ndarray | None = None) -> Baseline:
    """The sample's :class:`Baseline` (``conf``: its confusion matrix, if already known)."""
    pred_eval = sample.space.to_eval(sample.pred)
    if sample.gt is None:
        return Baseline(pred_eval)
    if conf is None:
        conf = confusion_matrix(sample.gt, sample.pred, sample.space)
    return Baseline(pred_eval, sample.space.to_eval(sample.gt), conf)


@dataclass(eq=False)
class Loaded:
    """A loaded sample, its numbers before refinement (``before`` is None without gt), its
    :class:`Baseline`, and for an instance sample its
    :class:`~segfix_gui.gui.instances.InstanceBase`."""

    sample: Sample
    before: dict | None
    base: Baseline | None = None
    instances: object | None = None


@dataclass(eq=False)
class Result:
    """Refinement of one sample at one setting.

    Attributes
    ----------
    setting : Setting
    device : str, where refinement ran ("cpu" or "cuda")
    offsets : ndarray of shape (2, H, W), int16 (d_row, d_col)
    refined : ndarray of shape (H, W), the prediction's dtype
    codes : ndarray of shape (H, W), uint8 change codes (core.metrics constants)
    counts : dict, fixed/broken/swapped (with gt) and "changed" pixel counts
    after : dict or None, ``SemanticEvaluator`` result of the refined labels (None without gt)
    moving : int, pixels with a non-zero offset
    instances : InstanceResult or None — the refined instances of an instance sample
    """

    setting: Setting
    device: str
    offsets: np.ndarray
    refined: np.ndarray
    codes: np.ndarray
    counts: dict
    after: dict | None
    moving: int
    instances: object | None = None
    _sources: tuple | None = field(default=None, repr=False)

    def source_of(self, row: int, col: int) -> tuple[int, int] | None:
        """(row, col) the pixel took its label from (``core.refine.source_indices``), or None
        if it does not move."""
        if self._sources is None:
            self._sources = source_indices(self.offsets)
        dst, src = self._sources
        w = self.offsets.shape[2]
        flat = row * w + col
        i = int(np.searchsorted(dst, flat))
        if i < len(dst) and dst[i] == flat:
            return divmod(int(src[i]), w)
        return None


def _offsets(sample: Sample, setting: Setting) -> np.ndarray:
    """(2, H, W) int16 offsets of ``sample`` at ``setting``; all zero without a field."""
    if sample.field is None:
        return np.zeros((2, *sample.shape), np.int16)
    return sample.field.to_offsets(**setting.offsets_kwargs())


NETWORK_SOURCE = "predicted by the bundled offset network"


def predict_field(image: np.ndarray, *, weights=None, checkpoint=None, device: str = "auto",
                  check: Callable = _nothing, report: Callable = _nothing):
    """Predict an :class:`OffsetField` for an (H, W, 3) uint8 RGB ``image`` with
    :class:`segfix_gui.model.OffsetPredictor` (the bundled weights unless ``weights``), or
    with one of openseg's SegFix checkpoints (``checkpoint``: progress and cancel per crop).

    The field carries the network's ``recommended`` setting. Raises InputError (one line)
    when the weights are missing or unreadable.
    """
    from ..model import OffsetPredictor

    if checkpoint is not None:
        from ..model.openseg import OpensegPredictor

        report(0, 1, "loading the checkpoint")
        predictor = OpensegPredictor(checkpoint, device=device)
        check()
        return predictor.predict(image, check=check, progress=lambda d, n: report(
            d, n, f"predicting offsets (crop {d}/{n})"))
    report(0, 2, "loading the offset network")
    predictor = OffsetPredictor(weights, device=device)
    check()
    report(1, 2, "predicting offsets")
    field = predictor.predict(image)
    check()
    report(2, 2, "offsets predicted")
    return field


def load(paths: SamplePaths, space, *, field=None, check: Callable = _nothing,
         report: Callable = _nothing) -> Loaded:
    """Read a sample and compute its numbers before refinement (an instance sample when
    ``paths.instances`` is set: ``space`` is then Cityscapes, whatever is asked)."""
    report(0, 2, "reading files")
    if paths.is_instances:
        from .instances import instance_base

        sample = load_instance_sample(paths)
        check()
        report(1, 2, "instances before refinement")
        inst = instance_base(sample.instances, sample.gt_instances, tol=BOUNDARY_TOL, check=check)
        report(2, 2, "loaded")
        return Loaded(sample, None, baseline(sample), inst)
    sample = load_sample(paths, space, field=field)
    check()
    before = conf = None
    if sample.gt is not None:
        report(1, 2, "metrics before refinement")
        ev = SemanticEvaluator(sample.space, BOUNDARY_TOL)
        before = ev.add(sample.gt, sample.pred)
        conf = ev.conf.copy()
    base = baseline(sample, conf)
    report(2, 2, "loaded")
    return Loaded(sample, before, base)


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="segfix-metrics")
    return _POOL


def refine(sample: Sample, setting: Setting, *, base: Baseline | None = None,
           check: Callable = _nothing, report: Callable = _nothing) -> Result:
    """Refine ``sample`` at ``setting`` and compute its diff codes and metrics.

    Every number is the engine's: offsets by ``OffsetField.to_offsets``, labels by
    ``refine_labels``, diff codes by ``change_codes``, metrics by ``SemanticEvaluator`` (fed
    with ``confusion_matrix`` and ``boundary_counts``). Two things keep a threshold move fast
    on a 1024×2048 sample without computing anything differently:

    - only pixels that changed can change a code or a confusion count, so ``change_codes``
      and ``confusion_matrix`` are applied to those pixels (1-D) and the confusion matrix is
      the prediction's, minus the changed pixels' old counts, plus their new ones;
    - the boundary counts (full maps) run in a second thread meanwhile.

    The result equals ``SemanticEvaluator().add(gt, refined)`` exactly (tests check it).
    An instance sample's masks are refined with the same offsets
    (:func:`segfix_gui.gui.instances.refine_instance_set`) into ``Result.instances``.
    """
    space = sample.space
    base = base or baseline(sample)
    report(0, 3, "offsets")
    offsets = _offsets(sample, setting)
    check()
    report(1, 3, "refining")
    device = resolve_device(setting.device)
    refined = refine_labels(sample.pred, offsets, device=device)
    check()
    report(2, 3, "metrics")
    changed = np.flatnonzero(refined.ravel() != sample.pred.ravel())
    before_c = sample.pred.ravel()[changed]
    after_c = refined.ravel()[changed]
    codes = np.zeros(sample.shape, np.uint8)
    after = None
    if sample.gt is not None:
        n = space.n_classes
        refined_eval = base.pred_eval.copy()
        refined_eval.ravel()[changed] = space.to_eval(after_c)
        bfut = _pool().submit(boundary_counts, base.gt_eval, refined_eval, n, tol=BOUNDARY_TOL)
        gt_c = sample.gt.ravel()[changed]
        codes.ravel()[changed] = change_codes(before_c, after_c, gt_c, space)
        conf = (base.conf - confusion_matrix(gt_c, before_c, space)
                + confusion_matrix(gt_c, after_c, space))
        present = (conf[:, :n].sum(axis=0) + conf.sum(axis=1)) > 0
        ev = SemanticEvaluator(space, BOUNDARY_TOL)
        ev.add_counts(conf, bfut.result(), present)
        after = ev.result()
        counts = change_counts(codes.ravel()[changed])
    else:
        codes.ravel()[changed] = change_codes(before_c, after_c)
        counts = {}
    counts["changed"] = int(changed.size)
    moving = int(np.count_nonzero(offsets[0] | offsets[1]))
    inst = None
    if sample.is_instances:
        from .instances import refine_instance_set

        check()
        report(2, 3, "refining instances")
        inst = refine_instance_set(sample.instances, offsets, sample.gt_instances, device=device,
                                   tol=BOUNDARY_TOL, check=check)
    report(3, 3, "done")
    return Result(setting, device, offsets, refined, codes, counts, after, moving, inst)


def table_rows(before: dict, after: dict | None):
    """``[(name, iou_before, iou_after, delta)]`` from two ``SemanticEvaluator`` results
    (None where absent; delta None unless both are numbers)."""
    rows = []
    for name, b in before["per_class_iou"].items():
        a = after["per_class_iou"][name] if after is not None else None
        rows.append((name, b, a, None if a is None or b is None else a - b))
    return rows


@dataclass(frozen=True)
class SetRow:
    """One sample of a set evaluated at a setting (mIoU None without gt; error text if unreadable)."""

    index: int
    name: str
    miou_before: float | None = None
    miou_after: float | None = None
    error: str | None = None

    @property
    def gain(self) -> float | None:
        if self.miou_before is None or self.miou_after is None:
            return None
        return self.miou_after - self.miou_before


def evaluate_set(samples: list[SamplePaths], space, setting: Setting, *, check: Callable = _nothing,
                 report: Callable = _nothing) -> list[SetRow]:
    """mIoU before and after refinement for every sample of a set (bad files become rows
    with an error, the rest go on)."""
    from ..errors import InputError

    device = resolve_device(setting.device)
    rows = []
    for i, paths in enumerate(samples):
        check()
        report(i, len(samples), paths.title)
        try:
            s = load_sample(paths, space)
        except InputError as err:
            rows.append(SetRow(i, paths.title, error=str(err)))
            continue
        if s.field is None:
            rows.append(SetRow(i, paths.title, error=str(InputError(
                paths.pred, "no offsets given for this prediction (open it and use Predict "
                            "offsets)"))))
            continue
        if s.gt is None:
            rows.append(SetRow(i, paths.title))
            continue
        refined = refine_labels(s.pred, s.field.to_offsets(**setting.offsets_kwargs()), device=device)
        b = SemanticEvaluator(s.space).add(s.gt, s.pred)["miou"]
        a = SemanticEvaluator(s.space).add(s.gt, refined)["miou"]
        rows.append(SetRow(i, paths.title, b, a))
    report(len(samples), len(samples), "done")
    return rows
