"""The session's background work: it listens to the session and posts results back.

Every job runs in a lane of the controller's :class:`~segfix_gui.session.jobs.Runner`
(``load``, ``refine``, ``set``, ``upper``, ``set-upper``, ``predict``, ``sweep``, ``probe``):
off the owner's thread, cancelled when a newer request of its kind comes, and its result
dropped when it is stale. Results are written into the session's fields on the owner's thread
(the window's event loop, or a script's :meth:`Session.wait`).

What it reacts to: a new setting (or ``auto`` turned on) refines the open sample and scores
the set at it, while ``auto`` is on.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.metrics import gt_borders
from ..core.refine import may_have_gpu, resolve_device
from ..core.setting import Setting
from ..io.samples import Sample, SamplePaths
from . import borders, sets
from .compute import (
    NETWORK_SOURCE,
    Baseline,
    Loaded,
    ViewSetting,
    as_upper_bound,
    initial_setting,
    load,
    predict_field,
    refine,
    upper_bound_field,
)
from .jobs import Runner

if TYPE_CHECKING:
    import numpy as np

    from ..core.metrics import GtBorders
    from .session import Session

# The boundary measures are for reading once the setting rests: measured once it has stayed
# this long since it last changed (a newer setting cancels the wait), so a slider drag is not
# slowed by them; a set scored for longer than that (just opened) is measured at once.
SAMPLE_BORDERS_DELAY = 0.15  # seconds
SET_BORDERS_DELAY = 0.3


def _settle(job, end: float) -> None:
    """Wait in a job until ``end`` (``time.monotonic()``), cancellable all along (``job.check``
    raises once cancelled)."""
    while (left := end - time.monotonic()) > 0:
        job.check()
        time.sleep(min(left, 0.03))
    job.check()


UPPER_SETTING = Setting()  # the upper bound's setting: its threshold and direction confidence have no effect


class Controller:
    """Runs the work a :class:`~segfix_gui.session.session.Session` asks for (see the module)."""

    def __init__(self, session: Session, *, runner: Runner | None = None):
        self.session = session
        self.runner = runner or Runner()
        self.base: Baseline | None = None  # the open sample's evaluator (also serves its upper bound)
        self.scorer: sets.SetScorer | None = None
        self.upper_scorer: sets.SetScorer | None = None
        self._own: tuple[Sample, ViewSetting] | None = None  # while the upper bound is shown
        self._upper: tuple[Sample, Sample] | None = None  # (own sample, as upper bound)
        self._upper_pending: Sample | None = None
        self._want_upper = False
        self._quiet = False
        self._setting_at = self._sample_at = time.monotonic()  # when the setting, the sample last changed
        self.set_borders: borders.SetBorders | None = None
        # (gt array, its GtBorders) of the open sample: made once, reused at every setting
        self._gt_parts: tuple[np.ndarray, GtBorders] | None = None
        session.events.setting.connect(self._on_setting)
        session.events.auto.connect(self._on_auto)
        session.events.sample.connect(self._on_sample)
        session.events.result.connect(self._on_result)

    @contextmanager
    def quiet(self):
        """Field changes made inside start no work (the caller starts what is needed)."""
        was, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = was

    def _fail(self, message: str, _is_input: bool = True) -> None:
        self.session.failed.emit(message)

    # --- reactions -----------------------------------------------------------------------------
    def _on_setting(self, *_args) -> None:
        self._setting_at = time.monotonic()
        self.runner.cancel("set-borders")  # measured again once the set is scored at the new setting
        if not self._quiet and self.session.auto:
            self.refine()
            self.score_set()

    def _on_auto(self, on: bool, *_args) -> None:
        s = self.session
        if on and not self._quiet:
            if not s.result_is_current():
                self.refine()
            if s.scores is None or s.scores.setting != s.setting:
                self.score_set()

    def _on_sample(self, *_args) -> None:
        s = self.session
        self._sample_at = time.monotonic()
        self.runner.cancel("borders")
        s.borders = None  # the new sample's come with its result
        s.border_bin = None

    def _on_result(self, *_args) -> None:
        self.measure_borders()

    # --- opening -------------------------------------------------------------------------------
    def load(
        self,
        paths: SamplePaths,
        space: str | None,
        *,
        keep_setting: bool,
        index: int | None,
        then=None,
        partial: bool = True,
    ) -> None:
        """Open ``paths`` (``index``: the set's sample it is). ``partial``: an unreadable
        optional partner is left out (else the whole sample fails and what was open stays)."""
        s = self.session
        space = space or s.space_name
        asked_at = s.setting  # a setting chosen while the sample loads is the user's: it stays

        def done(loaded: Loaded) -> None:
            if index is not None and index != s.index:
                return  # the user moved on
            self.runner.cancel("refine")
            self.runner.cancel("upper")
            self.base = loaded.base
            self._own, self._upper, self._upper_pending, self._want_upper = None, None, None, False
            alone = index is None
            with self.quiet():
                s._show_loaded(loaded, keep_setting=keep_setting or s.setting != asked_at, index=index)
                if alone:
                    self.new_set([])
                    self._forget_sweep()
            self.refine()
            if s.set_samples and (s.scores is None or s.scores.setting != s.setting or not s.scores.done):
                self.score_set()
            if alone:  # a file the user chose could not be read: say so (the header says it too)
                for note in loaded.notes:
                    self._fail(note)
            if then is not None:
                then()

        def failed(message: str, _is_input: bool = True) -> None:
            if index is None:
                self._fail(message)  # a dialog; what was open stays
            elif index == s.index:
                with self.quiet():
                    s._show_failed(message, index=index)

        title = paths.title
        self.runner.submit(
            "load",
            lambda job: load(paths, space, check=job.check, report=job.report, partial=partial),
            on_done=done,
            on_error=failed,
            label=f"opening {title}",
            needs_torch=False,
        )

    def new_set(self, samples: list[SamplePaths]) -> None:
        """A new set (or none): its scorers start empty; work for the old one is dropped."""
        for kind in ("set", "set-upper", "sweep", "set-borders"):
            self.runner.cancel(kind)
        s = self.session
        semantic = [p for p in samples if not p.is_instances]
        self.scorer = sets.SetScorer(samples, s.space_name, budget=s.budget) if semantic else None
        self.set_borders = borders.SetBorders(self.scorer) if self.scorer is not None else None
        self.runner.cancel("set-borders")
        s.set_borders = None
        self.upper_scorer = None
        self._forget_sweep()

    def _forget_sweep(self) -> None:
        self.runner.cancel("sweep")
        self.session.sweep = None

    # --- refinement ----------------------------------------------------------------------------
    def refine(self) -> None:
        s = self.session
        if s.sample is None:
            return
        sample, setting, base = s.sample, s.setting, self.base

        def done(result) -> None:
            if sample is s.sample:
                s.result = result

        self.runner.submit(
            "refine",
            lambda job: refine(sample, setting, base=base, check=job.check, report=job.report),
            on_done=done,
            on_error=self._fail,
            label="refining",
            needs_torch=setting.device != "cpu" and may_have_gpu(),
        )

    # --- the set -------------------------------------------------------------------------------
    def score_set(self, *, only: list[int] | None = None) -> None:
        """Score the set at the session's setting (``only`` some samples, the rest kept)."""
        s = self.session
        scorer = self.scorer
        if scorer is None or not s.set_samples:
            return
        setting, previous = s.setting, s.scores

        def show(snapshot: sets.SetScores) -> None:
            if scorer is self.scorer:
                s.scores = snapshot

        def done(snapshot: sets.SetScores) -> None:
            show(snapshot)
            if scorer is self.scorer and snapshot.done and snapshot.setting == s.setting:
                self.measure_set_borders()

        def work(job):
            return scorer.score(
                setting,
                only=only,
                previous=previous,
                check=job.check,
                post=lambda snap: job.post(lambda: show(snap)),
                report=job.report,
            )

        self.runner.submit("set", work, on_done=done, on_error=self._fail, label="scoring the set", needs_torch=False)

    # --- where the errors are ------------------------------------------------------------------
    def measure_borders(self) -> None:
        """The open sample's boundary measures at its result's setting (label maps with ground
        truth only); ``session.borders``."""
        s = self.session
        sample, result = s.sample, s.result
        if sample is None or result is None or sample.gt is None or sample.is_instances:
            return
        gt = sample.gt
        cached = self._gt_parts
        parts = cached[1] if cached is not None and cached[0] is gt else None
        refined = None if sample.field is None else result.refined
        rested = max(self._setting_at, self._sample_at) + SAMPLE_BORDERS_DELAY

        def work(job):
            _settle(job, rested)
            gt_parts = parts if parts is not None else gt_borders(gt, sample.space)
            return gt_parts, borders.sample_profile(gt_parts, sample.pred, refined, sample.space, result.setting)

        def done(got) -> None:
            gt_parts, profile = got
            self._gt_parts = (gt, gt_parts)
            if sample is s.sample and result is s.result:
                s.borders = profile

        self.runner.submit("borders", work, on_done=done, on_error=self._fail, needs_torch=False)

    def measure_set_borders(self) -> None:
        """The set's boundary measures at the session's setting (after the set is scored
        there); ``session.set_borders`` fills in."""
        s = self.session
        tool = self.set_borders
        if tool is None or not s.set_samples:
            return
        setting = s.setting
        rested = self._setting_at + SET_BORDERS_DELAY

        def show(profile) -> None:
            if tool is self.set_borders and profile is not None:
                s.set_borders = profile

        def work(job):
            _settle(job, rested)
            return tool.score(setting, check=job.check, post=lambda p: job.post(lambda: show(p)), report=job.report)

        self.runner.submit(
            "set-borders",
            work,
            on_done=show,
            on_error=self._fail,
            label="the set's boundary measures",
            needs_torch=False,
        )

    def score_set_upper(self) -> None:
        """Score the set with offsets from the ground truth (once per set)."""
        s = self.session
        if self.scorer is None or not s.set_samples:
            return
        if self.upper_scorer is None:
            self.upper_scorer = sets.SetScorer(
                list(s.set_samples), s.space_name, budget=0, upper_bound=True, workers=self.scorer.workers
            )
        scorer = self.upper_scorer

        def show(snapshot: sets.SetScores) -> None:
            if scorer is self.upper_scorer:
                s.upper_scores = snapshot

        def work(job):
            return scorer.score(
                UPPER_SETTING,
                check=job.check,
                post=lambda snap: job.post(lambda: show(snap)),
                report=job.report,
                hold=False,
            )

        self.runner.submit(
            "set-upper",
            work,
            on_done=show,
            on_error=self._fail,
            label="scoring the set's upper bound",
            needs_torch=False,
        )

    # --- offsets from the network --------------------------------------------------------------
    def predict(self, *, weights=None, checkpoint=None) -> None:
        s = self.session
        sample, device = self.own_sample(), s.setting.device
        # Session.predict_offsets asks can_predict_offsets first: a sample with its image
        assert sample is not None and sample.image is not None, "predict needs an open sample with its image"
        image = sample.image
        source = (
            NETWORK_SOURCE if checkpoint is None else f"predicted by the openseg checkpoint {Path(checkpoint).name}"
        )

        def done(field) -> None:
            if sample is self.own_sample():
                self.install_field(field, source=source)

        self.runner.submit(
            "predict",
            lambda job: predict_field(
                image, weights=weights, checkpoint=checkpoint, device=device, check=job.check, report=job.report
            ),
            on_done=done,
            on_error=self._fail,
            label="predicting offsets",
        )

    def install_field(self, field, *, source: str | None = None) -> None:
        """The open sample with offsets ``field`` (same size), shown at the user's setting (a
        sample that had none takes the field's recommended one). In a set only that sample is
        scored again."""
        s = self.session
        own = self.own_sample()
        if own is None:
            return
        self.runner.cancel("refine")
        self.runner.cancel("upper")
        had_field = own.field is not None
        paths = replace(own.paths, offsets=None)  # the header names where the field came from
        new = replace(own, field=field, field_source=source, paths=paths)
        self._own, self._upper, self._upper_pending, self._want_upper = None, None, None, False
        with self.quiet():
            s.upper_bound = False
            s.upper_ready = False
            s.result = None
            if not had_field and not s.set_samples:
                s.setting = initial_setting(new, device=s.setting.device)
            s.sample = new
            s.status = f"offsets {source}"
        self.refine()
        if s.set_samples and self.scorer is not None and 0 <= s.index < len(s.set_samples):
            self.scorer.replace_sample(s.index, new)
            if self.set_borders is not None:
                self.set_borders.forget(s.index)
            self._forget_sweep()
            self.score_set(only=[s.index])

    # --- the upper bound -----------------------------------------------------------------------
    def own_sample(self) -> Sample | None:
        s = self.session
        return self._own[0] if s.upper_bound and self._own is not None else s.sample

    def upper(self, *, show: bool) -> None:
        s = self.session
        own = s.sample
        if own is None:
            return
        if self._upper is not None and self._upper[0] is own:
            if show:
                self._enter_upper(own, self._upper[1])
            return
        self._want_upper = self._want_upper or show
        if self._upper_pending is own:  # already being computed: it shows when done
            return
        self._upper_pending = own

        def done(field) -> None:
            self._upper_pending = None
            if own is not s.sample or s.upper_bound:
                return
            self._upper = (own, as_upper_bound(own, field))
            s.upper_ready = True
            if self._want_upper:
                self._want_upper = False
                self._enter_upper(own, self._upper[1])

        def failed(message: str, is_input: bool = True) -> None:
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

    def _enter_upper(self, own: Sample, upper: Sample) -> None:
        s = self.session
        self._own = (own, s.setting)
        self.runner.cancel("refine")
        with self.quiet():
            s.result = None
            s.upper_bound = True
            s.setting = ViewSetting.resolve(UPPER_SETTING.as_dict(), device=s.setting.device)
            s.sample = upper
        self.refine()

    def leave_upper(self) -> None:
        s = self.session
        if self._own is None:
            return
        own, setting = self._own
        self._own = None
        self.runner.cancel("refine")
        with self.quiet():
            s.result = None
            s.upper_bound = False
            s.setting = setting
            s.sample = own
        self.refine()
        if s.set_samples and (s.scores is None or s.scores.setting != s.setting):
            self.score_set()

    # --- sweeping ------------------------------------------------------------------------------
    def plan(self) -> sets.Plan | None:
        """What a sweep would cover now: the set, or the open sample alone."""
        s = self.session
        if s.set_samples:
            in_memory = self.scorer.in_memory if self.scorer is not None else {}
            return sets.plan_set(list(s.set_samples), in_memory=in_memory)
        own = self.own_sample()
        return None if own is None else sets.plan_sample(own)

    def signature(self) -> tuple:
        """What a sweep is of (a new one when any of it changes)."""
        s = self.session
        if s.set_samples:
            mem = self.scorer.in_memory if self.scorer is not None else {}
            return ("set", s.set_samples, s.space_name, tuple((i, id(m.field)) for i, m in sorted(mem.items())))
        own = self.own_sample()
        return ("sample", id(own), s.space_name)

    def sweep(self, grid) -> bool:
        s = self.session
        plan = self.plan()
        if plan is None or not plan.items or (s.sample is not None and s.sample.is_instances):
            return False
        space, signature = s.space_name, self.signature()
        s.sweep = None  # a new sweep replaces the last one (a cancelled one leaves nothing)

        def done(res) -> None:
            if signature == self.signature():
                s.sweep = sets.SweepState(res, plan, signature)

        self.runner.submit(
            "sweep",
            lambda job: sets.run_sweep(plan, space, grid, check=job.check, report=job.report),
            on_done=done,
            on_error=self._fail,
            label="sweeping thresholds × scales",
            needs_torch=False,
        )
        return True

    # --- the machine ---------------------------------------------------------------------------
    def probe(self) -> None:
        """What torch sees (``session.machine``), then the CPU kernel loaded in the background."""
        s = self.session

        def probe(_job):
            if resolve_device("auto") == "cuda":  # torch is imported only where a GPU may be
                import torch

                return f"this machine: CUDA, {torch.cuda.get_device_name(0)}", True
            return f"this machine: CPU only ({os.cpu_count()} cores, no CUDA GPU)", False

        def warm(_job):
            """The CPU kernel (numba) loads, or compiles, at its first call: here, in the
            background after the probe, rather than on a refinement."""
            import numpy as np

            from ..core.refine import refine_labels

            refine_labels(np.zeros((2, 2), np.uint8), np.zeros((2, 2, 2), np.int16), device="cpu")

        def probed(info) -> None:
            s.machine = info
            self.runner.submit("probe", warm, needs_torch=False)

        self.runner.submit("probe", probe, on_done=probed, needs_torch=may_have_gpu())
