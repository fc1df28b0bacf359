"""The session: everything the window shows, as one Qt-free, evented, scriptable object.

A :class:`Session` holds the open sample or set, the refinement setting, the layers and their
style, the view (mode, swipe, camera, cursor), the instance selection, the set's figures at the
current setting, the sweep and the samples' sort order, and the upper bound. Each field is
evented with `psygnal <https://psygnal.readthedocs.io>`_ (as napari's ViewerModel): assigning
it emits ``session.events.<field>`` with the new value (and the old one), only when it changes.
Widgets write through the session's methods and are updated back from those events.

Background work (loading, refining, scoring the set, sweeping, predicting offsets) runs in the
:class:`~segfix_gui.session.controller.Controller`, which listens to the session and posts
results back on the owner's thread; a result for an older request is dropped. A script calls
:meth:`Session.wait` to let pending work finish; the window never blocks.

Example (a notebook)
--------------------
>>> from segfix_gui.session import Session, Setting                       # doctest: +SKIP
>>> s = Session()                                                          # doctest: +SKIP
>>> s.open_folder("SET"); s.wait()                                         # doctest: +SKIP
>>> s.set_setting(Setting(threshold=0.7, scale=2, min_direction_prob=0.3))  # doctest: +SKIP
>>> s.set_summary()["refined"]["miou"]                                     # doctest: +SKIP
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
from psygnal import Signal, SignalGroupDescriptor

from ..core.setting import RANGES, Setting
from ..errors import InputError
from ..io.samples import Sample, SamplePaths, demo_paths
from .borders import BorderProfile
from .compute import Loaded, Result, ViewSetting, initial_setting, space_warning
from .opening import SetSource, merge_parts, waiting_text
from .sets import DEFAULT_BUDGET, SetScores, SweepState

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
VIEW_MODES = ("side", "single")
AFTER_SOURCES = ("refined", "gt")
SORTS = ("file", "gain", "loss")  # the samples' order: as in the folder, best gain first, worst loss first


@dataclass(frozen=True)
class LayerOptions:
    visible: bool
    opacity: float

    def __post_init__(self):
        v = float(self.opacity)
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"opacity must be in [0, 1], not {self.opacity!r}")
        object.__setattr__(self, "opacity", v)
        object.__setattr__(self, "visible", bool(self.visible))


def _path_text(path: str | os.PathLike | None) -> str | None:
    return None if path is None else str(path)


def default_layers() -> dict[str, LayerOptions]:
    return {n: LayerOptions(DEFAULT_VISIBLE[n], DEFAULT_OPACITY[n]) for n in LAYERS}


# Fields holding arrays or large objects change by replacement: compared by identity.
_IDENTITY = (
    "sample",
    "before",
    "result",
    "inst_base",
    "scores",
    "upper_scores",
    "sweep",
    "set_source",
    "borders",
    "set_borders",
)


@dataclass(eq=False)
class Session:
    """The window's whole state (see the module). Fields are read freely; change them through
    the methods (which validate and start the work a change needs)."""

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor(
        equality_operators={**{name: operator.is_ for name in _IDENTITY}, "status": lambda _a, _b: False}
    )
    failed: ClassVar[Signal] = Signal(str)
    """A one-line error for a dialog (bad input, a failed job)."""

    # --- what is open --------------------------------------------------------------------------
    sample: Sample | None = None  # the open sample as shown (its own offsets, or the upper bound)
    before: dict | None = None  # its figures before refinement (None without ground truth)
    result: Result | None = None  # its refinement (at ``setting``, or older while auto is off)
    inst_base: Any = None  # instance mode: outlines and figures before refinement
    sample_error: str | None = None  # why the chosen sample is not shown (it failed to open)
    sample_note: str | None = None  # what it opened without (an unreadable optional partner)
    space_warning: str | None = None  # the files' ids do not fit the label space
    pending: SamplePaths = SamplePaths()  # parts chosen while no complete sample is open
    space_name: str = "camvid"
    # --- the setting ---------------------------------------------------------------------------
    setting: ViewSetting = ViewSetting()
    auto: bool = True  # refine (and score the set) on every change
    # --- display -------------------------------------------------------------------------------
    hidden: frozenset[int] = frozenset()  # classes hidden (evaluation indices)
    layers: dict = None  # type: ignore[assignment]  # name -> LayerOptions (a new dict per change)
    view_mode: str = "side"
    swipe: float = 0.5  # single view: fraction of the width showing "before"
    after_source: str = "refined"  # what the "after" labels show: refined, or gt
    camera: tuple[float, float, float, float] | None = None  # (r0, c0, r1, c1) in view; None: fit
    cursor: tuple[int, int] | None = None  # the inspected pixel (row, col)
    # --- instance mode -------------------------------------------------------------------------
    min_score: float = 0.0
    selected: int | None = None
    # --- a set ---------------------------------------------------------------------------------
    set_samples: tuple[SamplePaths, ...] = ()
    set_source: SetSource | None = None
    index: int = -1  # the chosen sample of the set
    scores: SetScores | None = None  # the set at the current setting (rows fill in)
    upper_scores: SetScores | None = None  # the set with offsets from the ground truth
    sort: str = "file"
    sweep: SweepState | None = None  # the last complete sweep of what is open
    # --- where the errors are (the Boundary panel, boundary IoU in Metrics) ----------------------
    borders: BorderProfile | None = None  # the open sample's, at its result's setting
    set_borders: BorderProfile | None = None  # the set's (fills in after the set is scored)
    border_class: int | None = None  # the profile of this class (evaluation index); None: all
    border_bin: int | None = None  # the profile bin whose pixels the views highlight (hovered)
    # --- the upper bound of the open sample ----------------------------------------------------
    upper_bound: bool = False  # it is what is shown
    upper_ready: bool = False  # it is computed (the switch is immediate)
    # --- messages ------------------------------------------------------------------------------
    status: str = ""  # a one-line note (why an action did nothing, what was written): emitted on every assignment
    machine: tuple[str, bool] | None = None  # (what torch sees, has CUDA)

    # not evented: the machinery
    budget: int = DEFAULT_BUDGET  # bytes of evaluators a set keeps for live scoring

    def __post_init__(self):
        from .controller import Controller

        if self.layers is None:
            self.layers = default_layers()
        self.controller = Controller(self)
        self.jobs = self.controller.runner

    # --- scripting -----------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> bool:
        """Block until pending work is done and its results are in the session (False on
        timeout). For scripts and notebooks; the window never calls it."""
        return self.jobs.wait(timeout)

    def close(self) -> None:
        """Cancel all work; the session delivers nothing more."""
        self.jobs.shutdown()

    # --- opening -------------------------------------------------------------------------------
    def open_sample(
        self,
        paths: SamplePaths | None = None,
        space: str | None = None,
        *,
        image=None,
        pred=None,
        offsets=None,
        gt=None,
        instances=None,
        gt_instances=None,
        keep_setting: bool = False,
        then: Callable[[], None] | None = None,
        partial: bool = True,
    ) -> bool:
        """Open one sample (files given as ``paths`` or by part) in place of what is open.

        An incomplete sample waits for its other parts (``pending``). A sample whose only
        fault is an optional partner (image, ground truth, offsets) opens without it, its
        one-line error in ``failed`` and ``sample_note`` (unless ``partial`` is False: then it
        fails). On failure ``failed`` carries the one-line error and what was open stays.
        ``then()`` runs once it is open. Returns False when the sample is incomplete.
        """
        if paths is None:
            paths = SamplePaths(
                image=_path_text(image),
                pred=_path_text(pred),
                offsets=_path_text(offsets),
                gt=_path_text(gt),
                instances=_path_text(instances),
                gt_instances=_path_text(gt_instances),
            )
        waiting = waiting_text(paths)
        if waiting:
            self.pending = paths
            self.status = waiting
            return False
        self.controller.load(paths, space, keep_setting=keep_setting, index=None, then=then, partial=partial)
        return True

    def open_parts(self, parts: dict[str, str], space: str | None = None, *, then=None) -> bool:
        """Replace some parts of the open (or pending) sample and open it (instance files turn
        it into an instance sample, a label map back). A part that cannot be read fails with
        its one line, and what was open stays (it is the part the user just chose)."""
        own = self._own_sample()
        current = own.paths if own is not None else self.pending
        paths, keep = merge_parts(current, parts)
        return self.open_sample(paths, space, keep_setting=keep, partial=self.sample is None, then=then)

    def open_demo(self, *, upper_bound: bool = False) -> None:
        """The bundled demo sample (``upper_bound``: shown with offsets from its ground truth)."""
        try:
            paths, space = demo_paths()
        except InputError as err:
            self.failed.emit(str(err))
            return

        def then():
            if upper_bound:
                self.show_upper_bound(True)
            else:
                self.prepare_upper_bound()

        self.open_sample(paths, space, then=then)

    def open_folder(self, folder, space: str | None = None) -> bool:
        """Open a set folder (``preds/``, ``offsets/``, optional ``images/`` and ``gt/``)."""
        return self.open_set(SetSource(folder=str(folder)), space)

    def open_set(self, source: SetSource | list[SamplePaths], space: str | None = None) -> bool:
        """Open a set in place of what is open: its first sample at that sample's own
        recommended setting, then the whole set scored at that setting. False (and ``failed``)
        when the set cannot be opened."""
        set_source: SetSource | None = None  # a list of samples has no folder to read again
        if isinstance(source, SetSource):
            set_source = source
            try:
                samples = source.samples()
            except InputError as err:
                self.failed.emit(str(err))
                return False
        else:
            samples = list(source)
        if not samples:
            self.failed.emit("the set has no samples")
            return False
        if space:
            self.space_name = space
        self.controller.new_set(samples)
        self.sweep = None
        self.scores = None
        self.upper_scores = None
        self.sort = "file"
        self.set_source = set_source
        self.set_samples = tuple(samples)
        self.index = -1
        self.go_to(0, keep_setting=False)
        return True

    @property
    def set_is_instances(self) -> bool:
        return bool(self.set_samples) and self.set_samples[0].is_instances

    def go_to(self, index: int, *, keep_setting: bool = True) -> None:
        """Open sample ``index`` of the set (moving within a set keeps the tuned setting). A
        sample that fails to open shows its error in place of the views."""
        if not self.set_samples:
            return
        index = max(0, min(int(index), len(self.set_samples) - 1))
        if self.upper_bound:
            self.show_upper_bound(False)
        self.index = index
        self.controller.load(self.set_samples[index], None, keep_setting=keep_setting, index=index)

    def order(self) -> list[int]:
        """The set's sample indices in the samples list's order (``sort``): file order, best
        gain first, or worst loss first (samples without a figure last, in file order)."""
        n = len(self.set_samples)
        if self.sort == "file" or self.scores is None:
            return list(range(n))
        gains = {r.index: r.gain for r in self.scores.rows() if r.gain is not None}
        sign = -1 if self.sort == "gain" else 1
        have = sorted(gains, key=lambda i: (sign * gains[i], i))
        return have + [i for i in range(n) if i not in gains]

    def set_sort(self, sort: str) -> None:
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
        self.sort = sort

    # --- where the errors are -------------------------------------------------------------------
    def set_border_class(self, cls: int | None) -> None:
        """Show the error profile of class ``cls`` (evaluation index) alone; None: all classes."""
        if cls is not None:
            from ..labels import get_label_space

            n = get_label_space(self.space_name).n_classes
            if not 0 <= int(cls) < n:
                raise ValueError(f"class index must be from 0 to {n - 1}, not {cls!r}")
            cls = int(cls)
        self.border_class = cls

    def hover_border_bin(self, b: int | None) -> None:
        """Highlight in the views the open sample's pixels of profile bin ``b`` (1 … max px, and
        one beyond; of :attr:`border_class` when one is chosen); None: nothing."""
        profile = self.borders
        if b is not None and (profile is None or not 1 <= int(b) <= profile.max_px + 1):
            b = None
        self.border_bin = None if b is None else int(b)

    def border_mask(self) -> np.ndarray | None:
        """``(H, W)`` bool: the pixels :meth:`hover_border_bin` highlights, or None."""
        if self.border_bin is None or self.borders is None:
            return None
        return self.borders.bin_mask(self.border_bin, self.border_class)

    def step(self, delta: int) -> None:
        """Next (``delta`` 1) or previous (-1) sample, in the samples list's order."""
        if not self.set_samples:
            return
        order = self.order()
        pos = order.index(self.index) if self.index in order else -1
        self.go_to(order[max(0, min(pos + delta, len(order) - 1))])

    def set_label_space(self, name: str) -> None:
        """Read the open sample (and score the set) in another label space."""
        from ..labels import get_label_space

        try:
            get_label_space(name)
        except InputError as err:
            self.failed.emit(str(err))
            return
        if name == self.space_name:
            return
        self.space_name = name
        if self.set_samples and not self.set_is_instances:
            self.controller.new_set(list(self.set_samples))
            self.scores = None
            self.upper_scores = None
            self.sweep = None
        own = self._own_sample()
        if self.sample is not None and not self.sample.is_instances and own is not None:
            self.controller.load(own.paths, name, keep_setting=True, index=self.index if self.set_samples else None)

    # --- the setting ---------------------------------------------------------------------------
    def set_setting(self, setting: Setting | None = None, **changes) -> None:
        """Change the setting: a :class:`Setting` (or :class:`ViewSetting`), or some of
        ``threshold``, ``scale``, ``min_direction_prob``, ``device``. Validated (ValueError
        names the value and its range); refines and re-scores the set when ``auto``."""
        if setting is not None:
            values = setting.as_dict() if isinstance(setting, ViewSetting) else setting.refinement().as_dict()
            changes = {**values, **changes}
        new = replace(self.setting, **changes)
        if new != self.setting:
            self.setting = new

    def nudge(self, name: str, delta: float) -> None:
        """Move one setting by ``delta``, kept inside its range (a step that would leave it
        stops at the end; the scale's open low end stops one step above zero)."""
        low, high, low_open = RANGES[name]
        v = round(getattr(self.setting, name) + delta, 6)
        if low_open and v <= low:
            self.status = f"{name.replace('_', ' ')} cannot go below {getattr(self.setting, name):g}"
            return
        self.set_setting(**{name: min(max(v, low), high)})

    def set_auto(self, on: bool) -> None:
        self.auto = bool(on)

    def refine(self) -> None:
        """Refine the open sample (and score the set) at the current setting now."""
        self.controller.refine()
        self.controller.score_set()

    def result_is_current(self) -> bool:
        return self.result is not None and self.result.setting == self.setting

    # --- offsets from the network --------------------------------------------------------------
    def can_predict_offsets(self) -> tuple[bool, str]:
        """Whether "Predict offsets" applies to the open sample, and why not."""
        s = self._own_sample()
        if s is None:
            return False, "Open a sample first"
        if s.is_instances:
            return False, "Instance samples are opened with their offsets"
        if s.image is None:
            return False, "Needs the sample's image: the network predicts offsets from the RGB image"
        if s.field is not None:
            return True, "Replace the loaded offsets with the bundled network's prediction"
        return True, "Predict offsets from the image with the bundled network"

    def predict_offsets(self, *, weights=None, checkpoint=None) -> bool:
        """Predict the open sample's offsets (the bundled network, or an openseg checkpoint)
        in the background, then show them at the user's setting (a sample that had no offsets
        takes the network's recommended one). In a set, only that sample is scored again."""
        ok, why = self.can_predict_offsets()
        if not ok:
            self.status = why
            return False
        if self.upper_bound:
            self.show_upper_bound(False)
        self.controller.predict(weights=weights, checkpoint=checkpoint)
        return True

    # --- the upper bound -----------------------------------------------------------------------
    def _own_sample(self) -> Sample | None:
        """The open sample with its own offsets (also while the upper bound is shown)."""
        return self.controller.own_sample()

    def can_show_upper_bound(self) -> tuple[bool, str]:
        """Whether the open sample can switch to its upper bound (offsets from its ground
        truth), and why not."""
        s = self._own_sample()
        if s is None:
            return False, "Open a sample first"
        if s.is_instances:
            return False, "Instance samples: the upper bound is for label maps"
        if s.gt is None:
            return False, "Needs the sample's ground truth: the upper bound is made from it"
        return True, (
            "Switch between the sample's offsets and the upper bound (offsets "
            "computed from the ground truth, as segfix gt-offsets)"
        )

    def prepare_upper_bound(self) -> None:
        """Compute the open sample's upper bound in the background, so the switch is immediate."""
        if self.can_show_upper_bound()[0] and not self.upper_bound:
            self.controller.upper(show=False)

    def show_upper_bound(self, on: bool = True) -> None:
        """Show the upper bound (``on``) or the sample's own offsets again; the own offsets come
        back at the setting they had. In a set, the set's upper bound is scored too."""
        on = bool(on)
        if on == self.upper_bound:
            return
        if not on:
            self.controller.leave_upper()
            return
        ok, why = self.can_show_upper_bound()
        if not ok:
            self.status = why
            return
        self.controller.upper(show=True)
        if self.set_samples and not self.set_is_instances:
            self.score_set_upper_bound()

    def toggle_upper_bound(self) -> None:
        self.show_upper_bound(not self.upper_bound)

    def score_set_upper_bound(self) -> None:
        """Score the whole set with offsets from each sample's ground truth (in the background),
        beside the network's offsets: ``upper_scores``."""
        if self.set_samples and not self.set_is_instances and self.upper_scores is None:
            self.controller.score_set_upper()

    # --- sets ----------------------------------------------------------------------------------
    def score_set(self) -> None:
        """Score the set at the current setting (done on every change while ``auto``)."""
        self.controller.score_set()

    def set_summary(self, *, wait: bool = True) -> dict | None:
        """The whole set's figures at the current setting, in the shape of ``segfix evaluate
        --json`` with ``--refined`` (see :meth:`SetScores.summary`; the boundary measures too,
        once :attr:`set_borders` is done at this setting); None without a set.
        ``wait`` (scripts): finish scoring at the current setting first."""
        if not self.set_samples or self.set_is_instances:
            return None
        if wait:
            if self.scores is None or self.scores.setting != self.setting or not self.scores.done:
                self.controller.score_set()
            self.wait()
            sb, sc = self.set_borders, self.scores
            current = sb is not None and sb.done and sb.setting == self.setting
            if sc is not None and sc.done and sc.setting == self.setting and not current:
                self.controller.measure_set_borders()  # e.g. cancelled by a setting that came back
                self.wait()
        if self.scores is None or self.scores.setting != self.setting:
            return None
        summary = self.scores.summary()
        sb = self.set_borders
        if summary is None or sb is None or not sb.done or sb.setting != self.setting:
            return summary
        if sb.images != summary["images"]:
            return summary
        from ..core.metrics import border_result
        from ..core.numbers import json_safe

        counted = self.scores.counts()
        assert counted is not None
        before, after, _ = counted  # the boundary measures, as evaluate --json writes them
        summary.update(json_safe(border_result(sb.before, sb.names, before.present)))
        summary["refined"].update(json_safe(border_result(sb.after, sb.names, after.present)))
        return summary

    def sample_summary(self) -> dict | None:
        """The open sample's figures before and after at the result's setting, in the shape of
        ``segfix evaluate --json`` with ``--refined``; None without ground truth or a result."""
        if self.before is None or self.result is None or self.result.after is None:
            return None
        from ..core.numbers import json_safe

        out = json_safe(dict(self.before))
        out["refined"] = json_safe(dict(self.result.after))
        out["change"] = {k: self.result.counts[k] for k in ("fixed", "broken", "swapped")}
        out["images"] = 1
        return out

    # --- sweeping ------------------------------------------------------------------------------
    def run_sweep(self, grid) -> bool:
        """Sweep the set (or the open sample, alone) over ``grid`` (a SweepGrid) in the
        background; ``sweep`` holds the result. False when there is nothing to sweep."""
        return self.controller.sweep(grid)

    def cancel_sweep(self) -> None:
        self.jobs.cancel("sweep")

    # --- instance mode -------------------------------------------------------------------------
    def set_min_score(self, value: float) -> None:
        """Hide instances scored below ``value`` (a hidden selected instance is deselected)."""
        value = float(value)
        if value == self.min_score:
            return
        s = self.sample
        if (
            self.selected is not None
            and s is not None
            and s.instances is not None
            and s.instances.scores[self.selected] < value
        ):
            self.selected = None
        self.min_score = value

    def select_instance(self, index: int | None) -> None:
        self.selected = None if index is None else int(index)

    def shown_instances(self) -> np.ndarray:
        """``(N,)`` bool: instances at or above ``min_score`` whose class is not hidden."""
        s = self.sample
        if s is None or s.instances is None:
            return np.zeros(0, bool)
        shown = s.instances.scores >= self.min_score
        if self.hidden:
            ev = s.space.to_eval(s.instances.label_ids.astype(np.int64))
            shown &= ~np.isin(ev, list(self.hidden))
        return shown

    # --- display -------------------------------------------------------------------------------
    def toggle_class(self, index: int) -> None:
        self.hidden = self.hidden ^ {int(index)}

    def isolate_class(self, index: int) -> None:
        n = self.sample.space.n_classes if self.sample else 0
        others = frozenset(range(n)) - {int(index)}
        self.hidden = frozenset() if self.hidden == others else others

    def show_all_classes(self) -> None:
        self.hidden = frozenset()

    def set_layer(self, name: str, *, visible: bool | None = None, opacity: float | None = None) -> None:
        if name not in LAYERS:
            raise ValueError(f"layer must be one of {', '.join(LAYERS)}, not {name!r}")
        old = self.layers[name]
        new = LayerOptions(
            old.visible if visible is None else bool(visible),
            old.opacity if opacity is None else float(opacity),
        )
        if new != old:
            self.layers = {**self.layers, name: new}

    def toggle_layer(self, name: str) -> None:
        self.set_layer(name, visible=not self.layers[name].visible)

    def set_view(self, *, mode: str | None = None, swipe: float | None = None, after_source: str | None = None) -> None:
        # validate all first: a rejected call changes nothing (no half-applied view)
        if mode is not None and mode not in VIEW_MODES:
            raise ValueError(f"view mode must be side or single, not {mode!r}")
        if after_source is not None and after_source not in AFTER_SOURCES:
            raise ValueError(f"after_source must be refined or gt, not {after_source!r}")
        if after_source == "gt" and (self.sample is None or self.sample.gt is None):
            self.status = "the after view can show ground truth only for a sample that has it"
            after_source = None
        if mode is not None:
            self.view_mode = mode
        if swipe is not None:
            self.swipe = min(max(float(swipe), 0.0), 1.0)
        if after_source is not None:
            self.after_source = after_source

    def toggle_before_after(self) -> None:
        """Single view: show all "before" or all "after" (the swipe at an end)."""
        self.set_view(mode="single", swipe=0.0 if self.swipe > 0.5 else 1.0)

    def set_cursor(self, pos: tuple[int, int] | None) -> None:
        if pos is not None:
            pos = (int(pos[0]), int(pos[1]))
            if self.sample is None or not (0 <= pos[0] < self.sample.shape[0] and 0 <= pos[1] < self.sample.shape[1]):
                pos = None
        self.cursor = pos

    def set_camera(self, box: tuple[float, float, float, float] | None) -> None:
        """What the views show: rows ``r0..r1`` and columns ``c0..c1`` (None: the whole image)."""
        self.camera = None if box is None else tuple(float(v) for v in box)  # type: ignore[assignment]

    def after_shows_gt(self) -> bool:
        """The "after" labels show the ground truth (asked, and the sample has it)."""
        return self.after_source == "gt" and self.sample is not None and self.sample.gt is not None

    # --- called by the controller ----------------------------------------------------------------
    def _show_loaded(self, loaded: Loaded, *, keep_setting: bool, index: int | None) -> None:
        """A sample has loaded: it replaces what was open (a single sample closes the set)."""
        old_space = self.sample.space.name if self.sample is not None else None
        if index is None and self.set_samples:  # a sample opened alone replaces the set
            self.sweep = None
            self.scores = None
            self.upper_scores = None
            self.set_source = None
            self.set_samples = ()
            self.index = -1
        if not loaded.sample.paths.is_instances:
            self.space_name = loaded.sample.space.name
        was_instances = self.sample is not None and self.sample.is_instances
        keep = keep_setting and (self.sample is None or was_instances == loaded.sample.is_instances)
        if self.upper_bound:
            self.upper_bound = False
        self.upper_ready = False
        self.cursor = None
        self.selected = None
        self.result = None
        self.sample_error = None
        self.sample_note = "; ".join(loaded.notes) or None
        self.space_warning = None if loaded.sample.is_instances else space_warning(loaded.sample)
        self.pending = SamplePaths()
        if old_space != loaded.sample.space.name:
            self.hidden = frozenset()
        if loaded.sample.gt is None and self.after_source == "gt":
            self.after_source = "refined"
        self.inst_base = loaded.instances
        self.before = loaded.before
        if not keep:
            self.setting = initial_setting(loaded.sample, device=self.setting.device)
        self.camera = None
        self.sample = loaded.sample
        if self.sample_note:
            self.status = self.sample_note
        elif self.space_warning:
            self.status = self.space_warning

    def _show_failed(self, message: str, *, index: int | None) -> None:
        """A set's sample failed to open: its error is shown in place of the views."""
        self.result = None
        self.before = None
        self.inst_base = None
        self.upper_ready = False
        self.cursor = None
        self.selected = None
        self.sample_note = None
        self.space_warning = None
        self.sample_error = message
        self.sample = None
        self.status = message
