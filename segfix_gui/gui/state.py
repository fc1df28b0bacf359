"""The window's state: one QObject holding what is shown, emitting signals; no drawing.

Widgets write to the state through its methods and are updated back from its signals
(with their own signals blocked), so there are no feedback loops. Work (loading,
refining, evaluating a set) goes through a :class:`~segfix_gui.gui.workers.Runner`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from ..io.samples import Sample, SamplePaths
from .compute import (
    NETWORK_SOURCE,
    Loaded,
    Result,
    ViewSetting,
    as_upper_bound,
    initial_setting,
    load,
    predict_field,
    refine,
    upper_bound_field,
)
from .sets import SetRow, evaluate_set
from .workers import Runner

LAYERS = ("image", "labels", "boundary", "arrows", "diff")
LAYER_TITLES = {
    "image": "Image",
    "labels": "Labels",
    "boundary": "Boundary probability",
    "arrows": "Direction arrows",
    "diff": "Diff (fixed / broken / swapped)",
}
DEFAULT_OPACITY = {"image": 1.0, "labels": 0.55, "boundary": 0.8, "arrows": 1.0, "diff": 0.9}
DEFAULT_VISIBLE = {"image": True, "labels": True, "boundary": False, "arrows": True, "diff": True}


@dataclass(frozen=True)
class LayerOptions:
    visible: bool
    opacity: float


class ViewerState(QObject):
    """What the window shows.

    Signals
    -------
    sampleChanged : a new sample is loaded (``sample``, ``before``)
    resultChanged : a refinement result for the current setting arrived (``result``)
    settingChanged : threshold / scale / direction confidence / device / auto changed
    classesChanged : hidden classes changed (``hidden``: set of evaluation indices)
    layersChanged(str) : visibility or opacity of a layer changed (its name)
    viewChanged : view mode, swipe position or what the "after" view shows changed
    cursorChanged : the inspected pixel changed (``cursor``: (row, col) or None)
    setChanged : the list of samples or its evaluation changed
    indexChanged(int) : the current sample of a set changed
    instancesChanged : instance mode: the score threshold or the selected instance changed
    failed(str) : a job failed; the text is one line for a dialog
    notice(str) : a one-line note for the status bar (e.g. why an action did nothing)

    Instance mode (``sample.is_instances``): ``inst_base`` holds the instances' outlines and
    figures before refinement, ``result.instances`` the refined ones; ``min_score`` hides
    instances scored below it; ``selected`` is the chosen instance's index (or None).
    """

    sampleChanged = Signal()
    resultChanged = Signal()
    settingChanged = Signal()
    classesChanged = Signal()
    layersChanged = Signal(str)
    viewChanged = Signal()
    cursorChanged = Signal()
    setChanged = Signal()
    indexChanged = Signal(int)
    instancesChanged = Signal()
    failed = Signal(str)
    notice = Signal(str)
    sampleInfoChanged = Signal()  # what the sample can switch to changed (its upper bound is ready)

    def __init__(self, parent=None, *, runner: Runner | None = None):
        super().__init__(parent)
        self.runner = runner or Runner(self)
        self.sample: Sample | None = None
        self.before: dict | None = None
        self.base = None  # compute.Baseline of the sample
        self.result: Result | None = None
        self.setting = ViewSetting()
        self.auto = True
        self.hidden: set[int] = set()
        self.layers = {n: LayerOptions(DEFAULT_VISIBLE[n], DEFAULT_OPACITY[n]) for n in LAYERS}
        self.view_mode = "side"  # "side" (before | after) or "single" (swipe / toggle)
        self.swipe = 0.5  # single view: fraction of the width showing "before"
        self.after_source = "refined"  # what the "after" labels show: "refined" or "gt"
        self.cursor: tuple[int, int] | None = None
        self.pending = SamplePaths()  # parts chosen while no complete sample is open
        self.space_name = "camvid"
        self.set_samples: list[SamplePaths] = []
        self.set_rows: list[SetRow] = []
        self.set_rows_setting: ViewSetting | None = None
        self.index = -1
        self.inst_base = None  # instances.InstanceBase of an instance sample
        self.min_score = 0.0  # instance mode: instances scored below are hidden
        self.selected: int | None = None  # instance mode: the selected instance
        # the upper bound (offsets from the ground truth) in place of the sample's own offsets:
        self.upper_bound = False  # it is what is shown
        self._own: tuple[Sample, ViewSetting] | None = None  # the sample as opened, its setting
        self._upper: tuple[Sample, Sample] | None = None  # (own sample, as upper bound)
        self._upper_pending: Sample | None = None  # the sample whose upper bound is computing
        self._want_upper = False  # show it once computed

    # --- loading ------------------------------------------------------------------------------
    def open(
        self,
        paths: SamplePaths,
        space: str | None = None,
        *,
        field=None,
        on_loaded=None,
        on_failed=None,
        keep_setting: bool = False,
    ) -> None:
        """Load a sample in the background; on failure ``failed`` is emitted and the current
        sample stays as it was.

        The setting becomes the offset field's recommendation (else the defaults), unless
        ``keep_setting`` and a sample is open (moving through a set keeps what the user tuned).
        """
        space = space or self.space_name

        def done(loaded: Loaded):
            if not paths.is_instances:  # instance samples are always Cityscapes ids
                self.space_name = space
            was_instances = self.sample is not None and self.sample.is_instances
            keep = keep_setting and self.sample is not None and was_instances == paths.is_instances
            self._set_loaded(loaded, keep_setting=keep)
            if on_loaded is not None:
                on_loaded(loaded)

        def failed(message: str, is_input: bool = True):
            self._fail(message, is_input)
            if on_failed is not None:
                on_failed()

        self.runner.submit(
            "load",
            lambda job: load(paths, space, field=field, check=job.check, report=job.report),
            on_done=done,
            on_error=failed,
            label=f"opening {paths.title}",
            needs_torch=False,
        )

    def _fail(self, message: str, _is_input: bool = True) -> None:
        self.failed.emit(message)

    def _set_loaded(self, loaded: Loaded, *, keep_setting: bool = False) -> None:
        old_space = self.sample.space.name if self.sample else None
        self.runner.cancel("refine")
        self.sample = loaded.sample
        self.before = loaded.before
        self.base = loaded.base
        self.inst_base = loaded.instances
        self.selected = None
        self.result = None
        self.cursor = None
        self.pending = SamplePaths()
        self.upper_bound, self._own, self._upper = False, None, None
        self._upper_pending, self._want_upper = None, False
        if old_space != loaded.sample.space.name:
            self.hidden = set()
        if not keep_setting:
            self.setting = initial_setting(loaded.sample, device=self.setting.device)
        self.sampleChanged.emit()
        self.settingChanged.emit()
        self.classesChanged.emit()
        self.request_refine()

    # --- offsets from the network -------------------------------------------------------------
    def can_predict_offsets(self) -> tuple[bool, str]:
        """Whether "Predict offsets" applies to the open sample, and why not."""
        s = self.sample
        if s is None:
            return False, "Open a sample first"
        if s.is_instances:
            return False, "Instance samples are opened with their offsets"
        if s.image is None:
            return False, "Needs the sample's image: the network predicts offsets from the RGB image"
        if s.field is not None:
            return True, "Replace the loaded offsets with the bundled network's prediction"
        return True, "Predict offsets from the image with the bundled network"

    def predict_offsets(self, *, weights=None, checkpoint=None, on_done=None) -> None:
        """Predict the open sample's offsets with the offset network in the background
        (progress and cancel through the runner's ``"predict"`` lane), then install the field
        and refine at its recommended setting. Failures (e.g. missing weights) emit ``failed``."""
        ok, _why = self.can_predict_offsets()
        if not ok:
            return
        sample, device = self.sample, self.setting.device

        def done(field):
            if sample is self.sample:
                self.install_field(
                    field,
                    source=NETWORK_SOURCE
                    if checkpoint is None
                    else f"predicted by the openseg checkpoint {Path(checkpoint).name}",
                )
            if on_done is not None:
                on_done(field)

        self.runner.submit(
            "predict",
            lambda job: predict_field(
                sample.image, weights=weights, checkpoint=checkpoint, device=device, check=job.check, report=job.report
            ),
            on_done=done,
            on_error=self._fail,
            label="predicting offsets",
        )

    def install_field(self, field, *, source: str | None = None) -> None:
        """Give the open sample ``field`` (same size) and refine at its recommended setting."""
        if self.sample is None:
            return
        self.runner.cancel("refine")
        if self.upper_bound:  # new offsets replace the sample's own ones
            self.sample = self._own[0]
        self.upper_bound, self._own, self._upper = False, None, None
        self.sample = replace(self.sample, field=field, field_source=source)
        self.result = None
        self.setting = initial_setting(self.sample, device=self.setting.device)
        self.sampleChanged.emit()
        self.settingChanged.emit()
        self.request_refine()
        if self.set_samples and self.set_rows:  # the set's figures now include this field
            self.evaluate_set()

    # --- the upper bound ----------------------------------------------------------------------
    def can_show_upper_bound(self) -> tuple[bool, str]:
        """Whether the open sample can switch to its upper bound (offsets from its ground
        truth), and why not."""
        s = self._own[0] if self.upper_bound else self.sample
        if s is None:
            return False, "Open a sample first"
        if s.is_instances:
            return False, "Instance samples: the upper bound is for label maps"
        if s.gt is None:
            return False, "Needs the sample's ground truth: the upper bound is made from it"
        if self.set_samples and 0 <= self.index < len(self.set_samples) and s.paths == self.set_samples[self.index]:
            return False, (
                "Within a set the set's figures use the offset files; open the "
                "sample alone to compare with the upper bound"
            )
        return True, (
            "Switch between the sample's offsets and the upper bound (offsets "
            "computed from the ground truth, as segfix gt-offsets)"
        )

    def prepare_upper_bound(self) -> None:
        """Compute the open sample's upper-bound field in the background (so the switch is
        immediate); nothing when it cannot be shown."""
        ok, _ = self.can_show_upper_bound()
        if ok and not self.upper_bound:
            self._compute_upper(show=False)

    def show_upper_bound(self, on: bool = True) -> None:
        """Show the upper bound (``on``) or the sample's own offsets again; the own offsets come
        back at the setting they had, the upper bound opens at the defaults (its threshold
        and direction confidence have no effect)."""
        on = bool(on)
        if on == self.upper_bound:
            return
        if not on:
            self._want_upper = False
            own, setting = self._own
            self.upper_bound, self._own = False, None
            self._swap(own, setting)
            return
        ok, why = self.can_show_upper_bound()
        if not ok:
            self.notice.emit(why)
            return
        self._compute_upper(show=True)

    def _compute_upper(self, *, show: bool) -> None:
        """The open sample's upper bound, computed once (in the background); ``show``: then
        show it."""
        own = self.sample
        if self._upper is not None and self._upper[0] is own:
            if show:
                self._enter_upper(own, self._upper[1])
            return
        self._want_upper = self._want_upper or show
        if self._upper_pending is own:  # already being computed: it shows when done
            return
        self._upper_pending = own

        def done(field):
            self._upper_pending = None
            if own is not self.sample or self.upper_bound:
                return
            self._upper = (own, as_upper_bound(own, field))
            self.sampleInfoChanged.emit()
            if self._want_upper:
                self._want_upper = False
                self._enter_upper(own, self._upper[1])

        def failed(message: str, is_input: bool = True):
            self._upper_pending = None
            self._want_upper = False
            self._fail(message, is_input)

        self.runner.submit(
            "upper",
            lambda job: upper_bound_field(own),
            on_done=done,
            on_error=failed,
            label="computing the upper bound",
            needs_torch=False,
        )

    def toggle_upper_bound(self) -> None:
        self.show_upper_bound(not self.upper_bound)

    def _enter_upper(self, own: Sample, upper: Sample) -> None:
        self._own = (own, self.setting)
        self.upper_bound = True
        self._swap(upper, initial_setting(upper, device=self.setting.device))

    def _swap(self, sample: Sample, setting: ViewSetting) -> None:
        """Show ``sample`` (the same images with other offsets) at ``setting``."""
        self.runner.cancel("refine")
        self.sample = sample
        self.result = None
        self.setting = setting
        self.sampleChanged.emit()
        self.settingChanged.emit()
        self.request_refine()

    # --- setting and refinement ---------------------------------------------------------------
    def set_setting(self, **changes) -> None:
        """Change threshold / scale / min_direction_prob / device; refines when ``auto``."""
        new = replace(self.setting, **changes)
        if new == self.setting:
            return
        self.setting = new
        self.settingChanged.emit()
        if self.auto:
            self.request_refine()

    def set_auto(self, on: bool) -> None:
        if on == self.auto:
            return
        self.auto = on
        self.settingChanged.emit()
        if on and not self.result_is_current():
            self.request_refine()

    def result_is_current(self) -> bool:
        return self.result is not None and self.result.setting == self.setting

    def request_refine(self) -> None:
        if self.sample is None:
            return
        sample, setting, base = self.sample, self.setting, self.base

        def done(result: Result):
            if sample is self.sample:
                self.result = result
                self.resultChanged.emit()

        self.runner.submit(
            "refine",
            lambda job: refine(sample, setting, base=base, check=job.check, report=job.report),
            on_done=done,
            on_error=self._fail,
            label="refining",
        )

    # --- instance mode ------------------------------------------------------------------------
    def set_min_score(self, value: float) -> None:
        """Hide instances scored below ``value`` (a hidden selected instance is deselected)."""
        value = float(value)
        if value == self.min_score:
            return
        self.min_score = value
        s = self.sample
        if self.selected is not None and s is not None and s.is_instances and s.instances.scores[self.selected] < value:
            self.selected = None
        self.instancesChanged.emit()

    def select_instance(self, index: int | None) -> None:
        if index is not None:
            index = int(index)
        if index != self.selected:
            self.selected = index
            self.instancesChanged.emit()

    def shown_instances(self):
        """``(N,)`` bool: instances at or above ``min_score`` whose class is not hidden."""
        s = self.sample
        if s is None or not s.is_instances:
            return np.zeros(0, bool)
        shown = s.instances.scores >= self.min_score
        if self.hidden:
            ev = s.space.to_eval(s.instances.label_ids.astype(np.int64))
            shown &= ~np.isin(ev, list(self.hidden))
        return shown

    # --- display options ----------------------------------------------------------------------
    def toggle_class(self, index: int) -> None:
        self.hidden ^= {index}
        self.classesChanged.emit()

    def isolate_class(self, index: int) -> None:
        n = self.sample.space.n_classes if self.sample else 0
        others = set(range(n)) - {index}
        self.hidden = set() if self.hidden == others else others
        self.classesChanged.emit()

    def show_all_classes(self) -> None:
        self.hidden = set()
        self.classesChanged.emit()

    def set_layer(self, name: str, *, visible: bool | None = None, opacity: float | None = None) -> None:
        old = self.layers[name]
        new = LayerOptions(
            old.visible if visible is None else bool(visible), old.opacity if opacity is None else float(opacity)
        )
        if new != old:
            self.layers[name] = new
            self.layersChanged.emit(name)

    def toggle_layer(self, name: str) -> None:
        self.set_layer(name, visible=not self.layers[name].visible)

    def set_view(self, *, mode: str | None = None, swipe: float | None = None, after_source: str | None = None) -> None:
        # validate all first: a rejected call changes nothing (no half-applied view)
        if mode is not None and mode not in ("side", "single"):
            raise ValueError(f"view mode must be side or single, not {mode!r}")
        if after_source is not None and after_source not in ("refined", "gt"):
            raise ValueError(f"after_source must be refined or gt, not {after_source!r}")
        changed = False
        if mode is not None and mode != self.view_mode:
            self.view_mode, changed = mode, True
        if swipe is not None and abs(swipe - self.swipe) > 1e-9:
            self.swipe, changed = min(max(float(swipe), 0.0), 1.0), True
        if after_source is not None and after_source != self.after_source:
            self.after_source, changed = after_source, True
        if changed:
            self.viewChanged.emit()

    def toggle_before_after(self) -> None:
        """Single view: show all "before" or all "after" (the swipe at an end)."""
        self.set_view(mode="single", swipe=0.0 if self.swipe > 0.5 else 1.0)

    def set_cursor(self, pos: tuple[int, int] | None) -> None:
        if pos != self.cursor:
            self.cursor = pos
            self.cursorChanged.emit()

    # --- sets of samples ----------------------------------------------------------------------
    def open_set(self, samples: list[SamplePaths], space: str | None = None) -> None:
        """Open a set: its first sample at that sample's own recommended setting (not the
        previous set's), then the set's evaluation at that setting."""
        self.set_samples = list(samples)
        self.set_rows = []
        self.set_rows_setting = None
        self.index = -1
        if space:
            self.space_name = space
        self.setChanged.emit()
        if samples:  # an instance set's figures are per instance (Instances panel): no mIoU
            self.go_to(0, keep_setting=False, then=None if self.set_is_instances else self.evaluate_set)

    @property
    def set_is_instances(self) -> bool:
        """The open set is of instance predictions (``_pred.txt``)."""
        return bool(self.set_samples) and self.set_samples[0].is_instances

    def go_to(self, index: int, *, keep_setting: bool = True, then=None) -> None:
        """Open sample ``index`` of the set (moving within a set keeps the tuned setting);
        ``then()`` runs once it has loaded or failed to."""
        if not self.set_samples:
            return
        index = max(0, min(index, len(self.set_samples) - 1))

        def loaded(_loaded):
            self.index = index
            self.indexChanged.emit(index)
            if then is not None:
                then()

        self.open(self.set_samples[index], on_loaded=loaded, on_failed=then, keep_setting=keep_setting)

    def step(self, delta: int, order: list[int] | None = None) -> None:
        """Next/previous sample, following ``order`` (the list's sort) when given."""
        if not self.set_samples:
            return
        order = order or list(range(len(self.set_samples)))
        pos = order.index(self.index) if self.index in order else -1
        self.go_to(order[max(0, min(pos + delta, len(order) - 1))])

    def show_set_rows(self, rows: list[SetRow], setting: ViewSetting) -> None:
        """Show ``rows`` (the samples' mIoU at ``setting``, e.g. from a sweep) in the samples
        list, in place of a running evaluation."""
        self.runner.cancel("set")  # an evaluation at another setting must not replace them
        self.set_rows = list(rows)
        self.set_rows_setting = setting
        self.setChanged.emit()

    def in_memory(self) -> dict[int, Sample]:
        """``{index: sample}`` for the open sample of the set when its arrays differ from its
        files (offsets predicted in the window): set figures then use what is shown."""
        s = self.sample
        if s is None or not self.set_samples or self.index < 0 or s.field_source is None:
            return {}
        return {self.index: s}

    def evaluate_set(self) -> None:
        """The set's mIoU before → after at the current setting, in the samples list."""
        if not self.set_samples:
            self.notice.emit(
                "Evaluate the set needs a folder set (File ▸ Open folder set); the "
                "open sample's figures are in the Metrics panel"
            )
            return
        if self.set_is_instances:
            self.notice.emit(
                "An instance set has no mIoU per sample: its figures per instance are in the Instances panel"
            )
            return
        samples, space, setting = list(self.set_samples), self.space_name, self.setting
        in_memory = self.in_memory()

        def done(rows):
            self.set_rows = rows
            self.set_rows_setting = setting
            self.setChanged.emit()

        self.runner.submit(
            "set",
            lambda job: evaluate_set(samples, space, setting, in_memory=in_memory, check=job.check, report=job.report),
            on_done=done,
            on_error=self._fail,
            label="evaluating the set",
        )
