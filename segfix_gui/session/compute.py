"""The work behind a session, as plain functions of the engine (no Qt, no drawing).

Everything the window shows is computed here by ``segfix_gui.core`` functions — the same
ones the command line calls: offsets by ``OffsetField.to_offsets``, refined labels by
``refine_labels``, numbers by ``SemanticEvaluator``, diff codes by ``change_codes``.
Functions take a ``check`` callable that raises to cancel between steps, and a
``report(done, total, text)`` callable for progress.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core.evaluator import ImageEvaluator
from ..core.metrics import BOUNDARY_TOL, SemanticEvaluator, change_codes, change_counts
from ..core.refine import refine_labels, resolve_device, source_indices, take_sources
from ..core.setting import INSTANCE_SCALE, Setting
from ..errors import InputError
from ..io.samples import PART_NAMES, Sample, SamplePaths, load_instance_sample, load_sample

DEVICES = ("auto", "cpu", "cuda")


def _nothing(*_args) -> None:
    return None


@dataclass(frozen=True)
class ViewSetting(Setting):
    """The window's setting: the engine's validated :class:`~segfix_gui.core.setting.Setting`
    plus where refinement runs (``device``: auto, cpu or cuda)."""

    device: str = "auto"

    def __post_init__(self):
        super().__post_init__()
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")


def initial_setting(sample: Sample, *, device: str = "auto") -> ViewSetting:
    """The field's recommended setting (else the defaults); instance samples start at scale 1,
    as the original refines instance masks."""
    rec = {} if sample.field is None else dict(sample.field.recommended)
    if sample.is_instances:
        rec["scale"] = INSTANCE_SCALE
    return ViewSetting.resolve(rec, device=device)


@dataclass(eq=False)
class Baseline:
    """What does not change with the setting, computed once per sample.

    Attributes
    ----------
    evaluator : ImageEvaluator of (gt, pred), or None without ground truth — the engine that
        gives the exact counts at any setting
    """

    evaluator: ImageEvaluator | None = None


def baseline(sample: Sample) -> Baseline:
    """The sample's :class:`Baseline` (its evaluator, when it has ground truth)."""
    if sample.gt is None or sample.is_instances:
        return Baseline()
    return Baseline(ImageEvaluator(sample.gt, sample.pred, sample.space, boundary_tol=BOUNDARY_TOL))


@dataclass(eq=False)
class Loaded:
    """A loaded sample, its numbers before refinement (``before`` is None without gt), its
    :class:`Baseline`, and for an instance sample its
    :class:`~segfix_gui.session.instances.InstanceBase`."""

    sample: Sample
    before: dict | None
    base: Baseline | None = None
    instances: object | None = None
    notes: tuple[str, ...] = ()  # optional partners left out, one line each


@dataclass(eq=False)
class Result:
    """Refinement of one sample at one setting.

    Attributes
    ----------
    setting : ViewSetting
    device : str, where refinement ran ("cpu" or "cuda")
    offsets : ndarray of shape (2, H, W), int16 (d_row, d_col)
    refined : ndarray of shape (H, W), the prediction's dtype
    codes : ndarray of shape (H, W), uint8 change codes (core.metrics constants)
    counts : dict, fixed/broken/swapped (with gt) and "changed" pixel counts
    after : dict or None, ``SemanticEvaluator`` result of the refined labels (None without gt)
    moving : int, pixels with a non-zero offset
    instances : InstanceResult or None — the refined instances of an instance sample
    changed : ndarray of int, flat indices of the pixels whose label changed (any order), or
        None (unknown: then every pixel may have)
    """

    setting: ViewSetting
    device: str
    offsets: np.ndarray
    refined: np.ndarray
    codes: np.ndarray
    counts: dict
    after: dict | None
    moving: int
    instances: object | None = None
    changed: np.ndarray | None = None
    _sources: tuple | None = field(default=None, repr=False)

    def source_of(self, row: int, col: int) -> tuple[int, int] | None:
        """(row, col) the pixel took its label from (``core.refine.source_indices``), or None
        if it does not move."""
        if self._sources is None:  # sorted by destination (.mat offsets come column by column)
            dst, src = source_indices(self.offsets)
            order = np.argsort(dst, kind="stable")
            self._sources = dst[order], src[order]
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
    return sample.field.to_offsets(setting)


NETWORK_SOURCE = "predicted by the bundled offset network"

# The upper bound: the offsets a perfect offset network would predict, made from the ground
# truth as ``segfix gt-offsets`` makes them (its default band width and direction bins).
UPPER_BOUND_WIDTH = 5
UPPER_BOUND_DIRECTIONS = 8
UPPER_BOUND_SHORT = "UPPER BOUND — computed from the ground truth (as segfix gt-offsets), not predicted"
UPPER_BOUND_INFO = (
    f"the upper bound, not a prediction: segfix_gui.core.targets.gt_offset_field "
    f"of the ground truth ({UPPER_BOUND_WIDTH}-px band, K={UPPER_BOUND_DIRECTIONS}, "
    "as segfix gt-offsets), computed when the sample opened: boundary 1 on the "
    "band and one-hot directions, so the threshold and direction confidence "
    "have no effect; it shows what SegFix gives with perfect offsets"
)


def upper_bound_field(sample: Sample):
    """The oracle :class:`OffsetField` of ``sample``'s ground truth — what ``segfix gt-offsets``
    writes for it (same width, directions and ignored ids)."""
    from ..core.targets import gt_offset_field

    if sample.gt is None:
        raise ValueError("the upper bound needs the sample's ground truth")
    return gt_offset_field(
        sample.gt, width=UPPER_BOUND_WIDTH, directions=UPPER_BOUND_DIRECTIONS, ignore_ids=sample.space.ignore_ids
    )


def as_upper_bound(sample: Sample, field) -> Sample:
    """``sample`` showing ``field`` (its :func:`upper_bound_field`), its info saying so."""
    from dataclasses import replace

    def swap(lines, text):
        lines = tuple((k, v) for k, v in lines if k != "offsets")
        return lines + (("offsets", text),) if lines else ()

    paths = replace(
        sample.paths,
        offsets=None,
        info=swap(sample.paths.info, UPPER_BOUND_INFO),
        summary=swap(sample.paths.summary, UPPER_BOUND_SHORT),
    )
    return replace(sample, field=field, paths=paths, field_source=UPPER_BOUND_SHORT)


def predict_field(
    image: np.ndarray,
    *,
    weights=None,
    checkpoint=None,
    device: str = "auto",
    check: Callable = _nothing,
    report: Callable = _nothing,
):
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
        field = predictor.predict(
            image, check=check, progress=lambda d, n: report(d, n, f"predicting offsets (crop {d}/{n})")
        )
        return _finite(field, checkpoint)
    report(0, 2, "loading the offset network")
    predictor = OffsetPredictor(weights, device=device)
    check()
    report(1, 2, "predicting offsets")
    field = predictor.predict(image)
    check()
    report(2, 2, "offsets predicted")
    return _finite(field, weights)


def _finite(field, weights):
    """``field``, or an InputError naming ``weights`` when it holds NaN or infinite values
    (weights that overflow): no such field is shown or exported."""
    from ..model.predictor import bundled_path

    bad = field.nonfinite()
    if bad is not None:
        raise InputError(
            weights or bundled_path(), f"the network's '{bad}' for this image holds NaN or infinite values"
        )
    return field


# the parts a sample can open without (the view then says what was left out)
OPTIONAL_PARTS = {False: ("image", "gt", "offsets"), True: ("image", "gt_instances")}


def load(
    paths: SamplePaths,
    space,
    *,
    field=None,
    check: Callable = _nothing,
    report: Callable = _nothing,
    partial: bool = True,
) -> Loaded:
    """Read a sample and compute its numbers before refinement (an instance sample when
    ``paths.instances`` is set: ``space`` is then Cityscapes, whatever is asked).

    With ``partial``, a sample whose only fault is an optional partner (its image, ground
    truth or offsets file cannot be read) opens without that partner: ``Loaded.notes`` says
    which and why. Any other fault raises the engine's one-line InputError.
    """
    notes: list[str] = []
    while True:
        try:
            loaded = _load(paths, space, field=field, check=check, report=report)
        except InputError as err:
            part = _optional_part_named(paths, err) if partial else None
            if part is None:
                raise
            notes.append(f"{err} — opened without its {PART_NAMES[part]}")
            paths = paths.with_part(part, None)
            continue
        loaded.notes = tuple(notes)
        return loaded


def _optional_part_named(paths: SamplePaths, err: InputError) -> str | None:
    """The optional part whose file ``err`` names (None: a required part, or no file)."""
    if err.path is None:
        return None
    for part in OPTIONAL_PARTS[paths.is_instances]:
        path = getattr(paths, part)
        if path is not None and os.fspath(path) == err.path:
            return part
    return None


def _load(paths: SamplePaths, space, *, field, check: Callable, report: Callable) -> Loaded:
    report(0, 2, "reading files")
    if paths.is_instances:
        from .instances import instance_base

        sample = load_instance_sample(paths)
        assert sample.instances is not None  # load_instance_sample reads them or raises
        check()
        report(1, 2, "instances before refinement")
        inst = instance_base(sample.instances, sample.gt_instances, tol=BOUNDARY_TOL, check=check)
        report(2, 2, "loaded")
        return Loaded(sample, None, Baseline(), inst)
    sample = load_sample(paths, space, field=field)
    check()
    report(1, 2, "metrics before refinement")
    base = baseline(sample)
    before = None
    if base.evaluator is not None:
        b = base.evaluator.base
        before = SemanticEvaluator.from_counts(sample.space, b.conf, b.bcounts, boundary_tol=BOUNDARY_TOL).result()
    report(2, 2, "loaded")
    return Loaded(sample, before, base)


def refine(
    sample: Sample,
    setting: ViewSetting,
    *,
    base: Baseline | None = None,
    check: Callable = _nothing,
    report: Callable = _nothing,
) -> Result:
    """Refine ``sample`` at ``setting`` and compute its diff codes and metrics.

    Every number is the engine's: offsets by ``OffsetField.to_offsets``, labels by
    ``refine_labels`` on ``setting.device`` (on the CPU with ground truth, by the same gather
    of the pixels the evaluator knows change: ``take_sources``), diff codes by
    ``change_codes`` (on the changed pixels only: no other pixel can have a code), counts by the sample's
    :class:`~segfix_gui.core.evaluator.ImageEvaluator` — exact and incremental, so a threshold
    move on a 1024×2048 sample recomputes only what changed. The result equals
    ``SemanticEvaluator().add(gt, refined)`` exactly (tests check it). An instance sample's
    masks are refined with the same offsets (:func:`segfix_gui.session.instances.refine_instance_set`)
    into ``Result.instances``.
    """
    space = sample.space
    if base is None:
        base = baseline(sample)
    report(0, 3, "offsets")
    offsets = _offsets(sample, setting)
    check()
    report(1, 3, "refining")
    device = resolve_device(setting.device)
    ev = base.evaluator
    if ev is not None and sample.field is not None and device == "cpu":
        # the evaluator has the pixels whose label changes at this setting already (the
        # engine's source_indices, cached per scale): gather those alone
        dst, src = ev.changes(sample.field, setting.refinement())
        refined = take_sources(sample.pred, dst, src)
        changed = dst  # in candidate order: every use below is per pixel
    else:
        refined = refine_labels(sample.pred, offsets, device=device)
        changed = np.flatnonzero(refined.ravel() != sample.pred.ravel())
    check()
    report(2, 3, "metrics")
    before_c = sample.pred.ravel()[changed]
    after_c = refined.ravel()[changed]
    codes = np.zeros(sample.shape, np.uint8)
    after = None
    if base.evaluator is not None and sample.gt is not None:  # an evaluator has ground truth
        gt_c = sample.gt.ravel()[changed]
        codes.ravel()[changed] = change_codes(before_c, after_c, gt_c, space)
        counts = change_counts(codes.ravel()[changed])
        if sample.field is not None:
            c = base.evaluator.at(sample.field, setting.refinement())
            after = SemanticEvaluator.from_counts(space, c.conf, c.bcounts, boundary_tol=BOUNDARY_TOL).result()
        else:
            after = SemanticEvaluator.from_counts(
                space, base.evaluator.base_conf, base.evaluator.base_bcounts, boundary_tol=BOUNDARY_TOL
            ).result()
    else:
        codes.ravel()[changed] = change_codes(before_c, after_c)
        counts = {}
    counts["changed"] = int(changed.size)
    moving = int(np.count_nonzero(offsets[0] | offsets[1]))
    inst = None
    if sample.instances is not None:
        from .instances import refine_instance_set

        check()
        report(2, 3, "refining instances")
        inst = refine_instance_set(
            sample.instances, offsets, sample.gt_instances, device=device, tol=BOUNDARY_TOL, check=check
        )
    report(3, 3, "done")
    return Result(setting, device, offsets, refined, codes, counts, after, moving, inst, changed=changed)


VOID_WARNING = 0.5  # a map mostly void in its label space is likely in another one


def space_warning(sample: Sample) -> str | None:
    """A one-line warning when the sample's ids hardly fit its label space: more than half of
    the ground truth's pixels (the prediction's, without one) are void there — e.g. CamVid
    files read as Cityscapes ids, every one of which exists but most are void. None when
    they fit."""
    from ..labels import IGNORE

    ref, what = (sample.gt, "ground truth") if sample.gt is not None else (sample.pred, "prediction")
    if ref is None or ref.size == 0:
        return None
    void = float(np.count_nonzero(sample.space.to_eval(ref) == IGNORE)) / ref.size
    if void <= VOID_WARNING:
        return None
    return (
        f"{100 * void:.0f} % of the {what}'s pixels are void (not evaluated) in the {sample.space.name} "
        "label space: are these files in another label space? (View ▸ Label space)"
    )


def table_rows(before: dict, after: dict | None):
    """``[(name, iou_before, iou_after, delta)]`` from two ``SemanticEvaluator`` results
    (None where absent; delta None unless both are numbers)."""
    rows = []
    for name, b in before["per_class_iou"].items():
        a = after["per_class_iou"][name] if after is not None else None
        rows.append((name, b, a, None if a is None or b is None else a - b))
    return rows
