"""Sets of samples: every sample's figures at the current setting, the set's summary, and what to
sweep (no Qt here).

**Scoring a set** (:class:`SetScorer`). A set's figures at a setting are the sums of its
samples' integer counts (confusion matrix, boundary counts, fixed / broken / swapped), so the
set's mIoU, pixel accuracy, boundary F and per-class IoU are exactly those of ``segfix refine``
+ ``segfix evaluate`` on the same files. A sample is scored in one of two ways, with equal
counts as the command line's ``refine_labels`` + ``SemanticEvaluator`` (the tests prove it):
each sample's :class:`~segfix_gui.core.evaluator.ImageEvaluator` over its summarized offsets
answers a setting incrementally. The first time, its files are read (two samples at a time) and
the evaluator made; it is kept within a memory budget, so a new setting is answered without
reading a file: a threshold move over 101 CamVid frames costs tens of milliseconds. Samples
beyond the budget are read again at each new setting.

Rows fill in as samples are scored (:class:`SetScores` snapshots are posted as they grow).

**Sweeping** (the Tune panel): a set's sweep is the engine's (``segfix_gui.core.sweep.sweep``,
the one ``segfix sweep`` prints); :func:`plan_set` / :func:`run_sweep` read each sample once.
"""

from __future__ import annotations

import copy
import functools
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..core.evaluator import CHANGE_KINDS, ImageEvaluator
from ..core.grid import SweepGrid
from ..core.metrics import SemanticEvaluator, scores_from_counts
from ..core.numbers import json_safe
from ..core.offsets import OffsetField
from ..core.setting import Setting
from ..core.sweep import SweepResult, SweepSample, sweep
from ..errors import InputError
from ..io.samples import Sample, SamplePaths, SweepJob, check_size, iter_sweep_samples
from ..labels import LabelSpace, get_label_space
from .compute import BOUNDARY_TOL, UPPER_BOUND_DIRECTIONS, UPPER_BOUND_WIDTH


def _nothing(*_args) -> None:
    return None


# --- one sample at one setting -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Scored:
    """One sample of a set scored at one setting.

    Attributes
    ----------
    index : the sample's place in the set
    setting : the setting it was scored at
    before, after : ``(conf, bcounts)`` — (C, C+1) and (C, 4) int64 counts without and with
        refinement (equal when the sample has no offsets)
    change : (3,) int64 fixed, broken, swapped pixels
    changed : pixels whose label changed (fixed + broken + swapped + those on void ground truth)
    has_field : the sample had offsets (without them nothing is refined)
    """

    index: int
    setting: Setting
    before: tuple[np.ndarray, np.ndarray]
    after: tuple[np.ndarray, np.ndarray]
    change: np.ndarray
    changed: int
    has_field: bool = True

    @property
    def miou_before(self) -> float:
        return scores_from_counts(*self.before)[0]

    @property
    def miou_after(self) -> float:
        return scores_from_counts(*self.after)[0]


@dataclass(eq=False)
class Held:
    """What a sample keeps for incremental scoring: its evaluator and summarized offsets."""

    evaluator: ImageEvaluator
    field: OffsetField | None
    nbytes: int

    def score(self, index: int, setting: Setting) -> Scored:
        ev = self.evaluator
        base = ev.base
        if self.field is None:
            c = base
            changed = 0
        else:
            c = ev.at(self.field, setting.refinement())
            changed = int(ev.changes(self.field, setting.refinement())[0].size)
        return Scored(
            index,
            setting,
            (base.conf, base.bcounts),
            (c.conf, c.bcounts),
            c.change,
            changed,
            self.field is not None,
        )


def held_bytes(ev: ImageEvaluator, field_: OffsetField | None) -> int:
    """Memory a :class:`Held` keeps, estimated from its arrays (evaluator structures, the
    live state of its last query, the summarized field and its candidates)."""
    h, w = ev.shape
    n = h * w
    per_pixel = 17  # prediction and eval maps, boundary classes, tolerance words, counts, live copy
    if field_ is not None:
        per_pixel += 5 if not field_.is_hard else 4  # boundary, best bin and its probability (float16)
        per_pixel += 4  # candidates (indices of the pixels that can move), a share of the pixels
    return n * per_pixel


# --- the set at one setting ------------------------------------------------------------------------


@dataclass(frozen=True)
class SetRow:
    """One sample of a set as the samples list shows it: mIoU before and after at ``setting``
    (None without ground truth or before it is scored), or the error that kept it out."""

    index: int
    name: str
    miou_before: float | None = None
    miou_after: float | None = None
    error: str | None = None
    scored: bool = False  # scored at the set's current setting

    @property
    def gain(self) -> float | None:
        if self.miou_before is None or self.miou_after is None:
            return None
        if math.isnan(self.miou_before) or math.isnan(self.miou_after):
            return None
        return self.miou_after - self.miou_before


@dataclass(frozen=True, eq=False)
class SetScores:
    """A snapshot of a set's scoring at ``setting``: what is known so far.

    ``scored[i]`` is sample i's :class:`Scored` at ``setting`` (None until it is scored, or
    for a sample that has none: see ``errors`` and ``no_gt``). ``done`` once every sample has
    been tried.
    """

    names: tuple[str, ...]
    setting: Setting
    space: LabelSpace
    scored: tuple[Scored | None, ...]
    errors: tuple[tuple[int, str], ...] = ()
    no_gt: frozenset[int] = frozenset()
    done: bool = False
    boundary_tol: float = BOUNDARY_TOL
    upper_bound: bool = False  # scored with offsets from the ground truth

    @property
    def n_scored(self) -> int:
        return sum(s is not None for s in self.scored)

    @property
    def n_tried(self) -> int:
        return self.n_scored + len(self.errors) + len(self.no_gt)

    def error_of(self, index: int) -> str | None:
        return next((e for i, e in self.errors if i == index), None)

    def rows(self) -> list[SetRow]:
        """One :class:`SetRow` per sample, in the set's order."""
        return list(self._rows)

    @functools.cached_property
    def _rows(self) -> tuple[SetRow, ...]:
        out = []
        errors = dict(self.errors)
        for i, name in enumerate(self.names):
            s = self.scored[i]
            if s is not None:
                out.append(SetRow(i, name, s.miou_before, s.miou_after, scored=True))
            elif i in errors:
                out.append(SetRow(i, name, error=errors[i], scored=True))
            else:
                out.append(SetRow(i, name, scored=i in self.no_gt))
        return tuple(out)

    def counts(self) -> tuple[SemanticEvaluator, SemanticEvaluator, dict[str, int]] | None:
        return self._counts

    @functools.cached_property
    def _counts(self) -> tuple[SemanticEvaluator, SemanticEvaluator, dict[str, int]] | None:
        """The set's totals: evaluators before and after, and the change counts (with
        ``changed`` and ``on_void`` — changed pixels whose ground truth is void); None before
        any sample is scored."""
        got = [s for s in self.scored if s is not None]
        if not got:
            return None
        b = SemanticEvaluator(self.space, self.boundary_tol)
        a = SemanticEvaluator(self.space, self.boundary_tol)
        change = np.zeros(3, np.int64)
        changed = 0
        for s in got:
            b.add_counts(*s.before)
            a.add_counts(*s.after)
            change += s.change
            changed += s.changed
        ch = {k: int(v) for k, v in zip(CHANGE_KINDS, change, strict=True)}
        ch["changed"] = int(changed)
        ch["on_void"] = int(changed - change.sum())
        return b, a, ch

    def summary(self) -> dict | None:
        """The set's figures in the shape of ``segfix evaluate --json`` with ``--refined``
        (NaN as None): ``miou``, ``pixel_accuracy``, ``boundary_f``, ``per_class_iou``, …,
        ``refined: {…}``, ``change: {fixed, broken, swapped}``, ``images``; plus ``setting``
        and ``complete`` (False while samples are still being scored)."""
        got = self._summary
        return None if got is None else copy.deepcopy(got)

    @functools.cached_property
    def _summary(self) -> dict | None:
        got = self.counts()
        if got is None:
            return None
        b, a, ch = got
        out = json_safe(b.result())
        out["refined"] = json_safe(a.result())
        out["change"] = {k: ch[k] for k in CHANGE_KINDS}
        out["images"] = self.n_scored
        out["setting"] = self.setting.refinement().as_dict()
        out["complete"] = self.done
        return out


# --- the scorer --------------------------------------------------------------------------------


DEFAULT_BUDGET = 448 * 2**20  # bytes of held evaluators: CamVid's 101 val frames fit (433 MiB)


class SetScorer:
    """Scores a set at any setting (see the module); used from one job lane at a time.

    Parameters
    ----------
    samples : the set's samples
    space : LabelSpace
    budget : bytes of held evaluators at most
    upper_bound : score with offsets from each sample's ground truth (``segfix gt-offsets``'
        band and directions) instead of its offset file
    workers : threads that read and score samples the first time
    """

    def __init__(
        self,
        samples: list[SamplePaths],
        space,
        *,
        budget: int = DEFAULT_BUDGET,
        upper_bound: bool = False,
        workers: int = 2,
        boundary_tol: float = BOUNDARY_TOL,
    ):
        self.samples = list(samples)
        self.space = get_label_space(space)
        self.names = tuple(p.title for p in self.samples)
        self.budget = budget
        self.upper_bound = upper_bound
        self.workers = max(1, int(workers))
        self.boundary_tol = boundary_tol
        self.held: dict[int, Held] = {}
        self.held_bytes = 0
        self.in_memory: dict[int, Sample] = {}  # samples whose arrays differ from their files
        self._lock = threading.Lock()
        self.no_gt = frozenset(i for i, p in enumerate(self.samples) if p.gt is None or p.is_instances)
        self.failed: dict[int, str] = {}  # read errors, kept until the sample changes

    def replace_sample(self, index: int, sample: Sample | None) -> None:
        """Sample ``index`` is now ``sample`` as shown (e.g. offsets predicted in the window),
        or its files again (None): it is scored afresh."""
        with self._lock:
            old = self.held.pop(index, None)
            if old is not None:
                self.held_bytes -= old.nbytes
            self.failed.pop(index, None)
            if sample is None:
                self.in_memory.pop(index, None)
            else:
                self.in_memory[index] = sample

    def score(
        self,
        setting: Setting,
        *,
        only: list[int] | None = None,
        previous: SetScores | None = None,
        check: Callable = _nothing,
        post: Callable[[SetScores], None] = _nothing,
        report: Callable = _nothing,
        hold: bool = True,
    ) -> SetScores:
        """Every sample (or those in ``only``, the rest kept from ``previous``) at ``setting``.

        ``post`` receives growing snapshots (about every 0.2 s); ``check`` may raise to cancel.
        A sample read from its files is scored through its own :class:`Held` evaluator (the
        summarized offsets and incremental counts: several times quicker than refining it and
        evaluating both maps, and equal to that), kept for the next setting while the budget
        allows (with ``hold``) and dropped otherwise.
        """
        import time

        n = len(self.samples)
        scored: list[Scored | None] = [None] * n
        errors: dict[int, str] = {}
        todo = [i for i in range(n) if i not in self.no_gt]
        if only is not None and previous is not None and previous.setting == setting:
            keep = set(range(n)) - set(only)
            for i in keep:
                scored[i] = previous.scored[i]
            errors.update({i: e for i, e in previous.errors if i in keep})
            todo = [i for i in only if i not in self.no_gt]
        for i in todo:
            if i in self.failed:
                errors[i] = self.failed[i]
        todo = [i for i in todo if i not in errors]

        def snapshot(done: bool) -> SetScores:
            return SetScores(
                self.names,
                setting,
                self.space,
                tuple(scored),
                tuple(sorted(errors.items())),
                self.no_gt,
                done,
                self.boundary_tol,
                self.upper_bound,
            )

        held = [i for i in todo if i in self.held]
        read = [i for i in todo if i not in self.held]
        total = len(todo)
        done_count = 0
        for i in held:  # quick: no file is read
            check()
            scored[i] = self.held[i].score(i, setting)
            done_count += 1
        report(done_count, total, f"{done_count}/{total} samples")
        last = time.monotonic()
        if read:
            post(snapshot(False))
            score = functools.partial(self._read_hold_and_score, keep=hold)
            for i, got in self._pool(score, read, setting, check=check):
                if isinstance(got, str):
                    errors[i] = got
                else:
                    scored[i] = got
                done_count += 1
                report(done_count, total, f"{done_count}/{total} samples")
                if time.monotonic() - last > 0.2:
                    last = time.monotonic()
                    post(snapshot(False))
        return snapshot(True)

    def _pool(self, fn, indices: list[int], setting: Setting, *, check: Callable):
        """``(i, fn(i, setting))`` for each index, ``workers`` at a time, in order; ``check``
        before each (a cancel stops the rest)."""

        def one(i: int):
            check()
            return i, fn(i, setting)

        with ThreadPoolExecutor(max_workers=min(self.workers, len(indices))) as pool:
            futures = [pool.submit(one, i) for i in indices]
            try:
                for fut in futures:
                    yield fut.result()
            finally:
                for fut in futures:
                    fut.cancel()

    def arrays(self, i: int) -> tuple[np.ndarray, np.ndarray, OffsetField | None]:
        """(gt, pred, field) of sample ``i``: as shown when it is held in memory, else read."""
        from ..io.images import read_labels
        from ..io.offsets import read_offsets

        s = self.in_memory.get(i)
        if s is not None and s.gt is not None:
            field_ = s.field
            gt, pred = s.gt, s.pred
        else:
            p = self.samples[i]
            if p.pairing_error:
                raise InputError(None, p.pairing_error)
            gt = read_labels(p.gt, self.space)
            pred = read_labels(p.pred, self.space)
            check_size(p.pred, "prediction", pred.shape, p.gt, gt.shape, ref_what="ground truth")
            field_ = None
            if p.offsets is not None and not self.upper_bound:
                field_ = read_offsets(p.offsets)
                check_size(p.offsets, "offsets", field_.shape, p.pred, pred.shape)
        if self.upper_bound:
            from ..core.targets import gt_offset_field

            field_ = gt_offset_field(
                gt, width=UPPER_BOUND_WIDTH, directions=UPPER_BOUND_DIRECTIONS, ignore_ids=self.space.ignore_ids
            )
        return gt, pred, field_

    def _read_hold_and_score(self, i: int, setting: Setting, *, keep: bool = True) -> Scored | str:
        """Sample ``i`` read, scored through its own evaluator, and kept (``keep``) while the budget
        allows (its candidates at ``setting``'s scale are made: the next threshold move is
        quick); the one-line error when it cannot be read."""
        try:
            gt, pred, field_ = self.arrays(i)
        except InputError as err:
            self.failed[i] = str(err)
            return str(err)
        summarized = None if field_ is None else field_.summarized()
        ev = ImageEvaluator(gt, pred, self.space, boundary_tol=self.boundary_tol)
        held = Held(ev, summarized, held_bytes(ev, summarized))
        scored = held.score(i, setting)
        with self._lock:
            if keep and i not in self.held and self.held_bytes + held.nbytes <= self.budget:
                self.held[i] = held
                self.held_bytes += held.nbytes
        return scored

    @property
    def all_held(self) -> bool:
        return all(i in self.held or i in self.no_gt or i in self.failed for i in range(len(self.samples)))


# --- sweeping ------------------------------------------------------------------------------------


@dataclass
class Plan:
    """The items of one sweep and how they map back to the samples of a set.

    Attributes
    ----------
    items : list of SweepJob (files of a set, each read once by the sweep) or one SweepSample
        (the open sample's arrays)
    index_of_key : {item key: index of the sample in the set} (key ``"0"`` for a single sample)
    skipped : {index: one-line reason, or None for "no ground truth"} — samples not swept
    names : the samples' titles, by index
    single : True when the open sample (no folder set) is swept
    """

    items: list
    index_of_key: dict[str, int]
    skipped: dict[int, str | None]
    names: list[str]
    single: bool = False


def plan_set(samples: list[SamplePaths], *, in_memory: dict[int, Sample] | None = None) -> Plan:
    """One :class:`SweepJob` per sample of a set that has ground truth and offsets.

    ``in_memory``: samples already loaded whose arrays differ from their files (offsets
    predicted in the window), swept as they are shown rather than from the files.
    """
    items: list[SweepJob | SweepSample] = []
    index_of_key: dict[str, int] = {}
    skipped: dict[int, str | None] = {}
    in_memory = in_memory or {}
    for i, p in enumerate(samples):
        s = in_memory.get(i)
        if s is not None and s.gt is not None and s.field is not None:
            key = str(i)
            items.append(SweepSample(key, s.gt, s.pred, s.field))
            index_of_key[key] = i
        elif p.gt is None:
            skipped[i] = None
        elif p.pred is None:  # an instance sample: the sweep scores label maps
            skipped[i] = str(InputError(p.instances, "an instance sample is not swept (no label map)"))
        elif p.offsets is None:
            skipped[i] = str(
                InputError(p.pred, "no offsets given for this prediction (open it and use Predict offsets)")
            )
        else:
            key = str(i)
            items.append(SweepJob(key, p.gt, p.pred, p.offsets))
            index_of_key[key] = i
    return Plan(items, index_of_key, skipped, [p.title for p in samples])


def plan_sample(sample: Sample) -> Plan:
    """The open sample alone (its arrays, as loaded); no item without ground truth."""
    if sample.gt is None:
        return Plan([], {}, {0: None}, [sample.name], single=True)
    if sample.field is None:
        reason = str(InputError(sample.paths.pred, "no offsets yet: nothing to sweep (Refine ▸ Predict offsets first)"))
        return Plan([], {}, {0: reason}, [sample.name], single=True)
    return Plan([SweepSample("0", sample.gt, sample.pred, sample.field)], {"0": 0}, {}, [sample.name], single=True)


def run_sweep(
    plan: Plan,
    space,
    grid: SweepGrid,
    *,
    boundary_tol: float = BOUNDARY_TOL,
    check: Callable = _nothing,
    report: Callable = _nothing,
    should_stop: Callable[[], bool] | None = None,
) -> SweepResult:
    """Sweep a plan's items over ``grid`` in this thread: files are read one by one, a bad one
    becomes a line of ``result.errors``; ``check`` may raise to cancel between images."""
    space = get_label_space(space)
    errors: list[str] = []

    def progress(done, total):
        report(done, total, f"{done}/{total} samples")
        check()

    res = sweep(
        iter_sweep_samples(plan.items, space, errors),
        space,
        grid,
        boundary_tol=boundary_tol,
        total=len(plan.items),
        progress=progress,
        should_stop=should_stop,
    )
    res.errors[:0] = errors
    return res


@dataclass(frozen=True, eq=False)
class SweepState:
    """A complete sweep of what was open: the result, its plan, and what it was swept from."""

    result: SweepResult
    plan: Plan
    signature: tuple = field(default=())


# --- names -----------------------------------------------------------------------------------------

SEPARATORS = "_-/. "


def short_names(names: list[str]) -> list[str]:
    """The part of each name that tells it from the others: the prefix and suffix every name
    shares, each cut back to a separator, are left out (``0016E5_07959`` → ``07959`` in a set
    of ``0016E5_*`` frames). The names as they are when that would leave one empty or two equal.

    >>> short_names(["0016E5_07959", "0016E5_08101"])
    ['07959', '08101']
    >>> short_names(["aachen/x_leftImg8bit", "bonn/x_leftImg8bit"])
    ['aachen', 'bonn']
    """
    import os.path

    names = list(names)
    if len(names) < 2:
        return names
    pre = os.path.commonprefix(names)
    start = max(pre.rfind(c) for c in SEPARATORS) + 1 if pre else 0
    suf = os.path.commonprefix([n[::-1] for n in names])[::-1]
    end = 0
    if suf:
        hits = [suf.find(c) for c in SEPARATORS if c in suf]
        end = len(suf) - min(hits) if hits else 0
    out = [n[start : len(n) - end if end else len(n)] for n in names]
    if any(not o for o in out) or len(set(out)) != len(set(names)):
        return names
    return out
