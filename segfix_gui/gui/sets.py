"""Sets of samples: what to sweep, each sample's numbers at a setting (no Qt here).

A set's evaluation at one setting is a one-point sweep: :func:`evaluate_set` and the Tune
panel both call :func:`run_sweep`, which reads each sample's files once
(``segfix_gui.io.samples.iter_sweep_samples``) and gives them to the engine
(``segfix_gui.core.sweep.sweep``, the one ``segfix sweep`` prints).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..core.grid import SweepGrid
from ..core.setting import Setting
from ..core.sweep import SweepResult, SweepSample, sweep
from ..errors import InputError
from ..io.samples import Sample, SamplePaths, SweepJob, iter_sweep_samples
from ..labels import get_label_space
from .compute import BOUNDARY_TOL


def _nothing(*_args) -> None:
    return None


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


@dataclass
class Plan:
    """The items of one sweep and how they map back to the window's samples.

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
    items, index_of_key, skipped = [], {}, {}
    in_memory = in_memory or {}
    for i, p in enumerate(samples):
        s = in_memory.get(i)
        if s is not None and s.gt is not None and s.field is not None:
            key = str(i)
            items.append(SweepSample(key, s.gt, s.pred, s.field))
            index_of_key[key] = i
        elif p.gt is None:
            skipped[i] = None
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
        return Plan(
            [],
            {},
            {
                0: str(
                    InputError(sample.paths.pred, "no offsets yet: nothing to sweep (Refine ▸ Predict offsets first)")
                )
            },
            [sample.name],
            single=True,
        )
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


def _num(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def sample_rows(res: SweepResult | None, plan: Plan, idx: tuple[int, int, int]) -> list[SetRow]:
    """Every sample of the set at grid index ``idx``, as the samples list shows them: mIoU
    before and after (the sweep's per-image figures), an error row for a sample that could not
    be swept, an empty row for one without ground truth."""
    pos = {} if res is None else {k: n for n, k in enumerate(res.keys)}
    key_of = {i: k for k, i in plan.index_of_key.items()}
    jobs = {it.key: it for it in plan.items}
    rows = []
    for i, name in enumerate(plan.names):
        key = key_of.get(i)
        if key is not None and key in pos:
            n = pos[key]
            rows.append(SetRow(i, name, _num(res.image_base_miou[n]), _num(res.image_miou[(n,) + tuple(idx)])))
        elif key is not None:  # a bad file: the sweep's one-line message names it
            rows.append(SetRow(i, name, error=_error_for(res.errors, jobs[key])))
        elif plan.skipped.get(i):
            rows.append(SetRow(i, name, error=plan.skipped[i]))
        else:
            rows.append(SetRow(i, name))
    return rows


def _error_for(errors: list[str], item) -> str:
    paths = [str(getattr(item, a, "")) for a in ("gt", "pred", "offsets")]
    return next((e for e in errors if any(p and p in e for p in paths)), "could not be swept")


def evaluate_set(
    samples: list[SamplePaths],
    space,
    setting: Setting,
    *,
    in_memory: dict[int, Sample] | None = None,
    check: Callable = _nothing,
    report: Callable = _nothing,
) -> list[SetRow]:
    """mIoU before and after refinement at ``setting`` for every sample of a set — a one-point
    sweep (bad files become rows with an error, the rest go on; ``in_memory`` as in
    :func:`plan_set`)."""
    plan = plan_set(samples, in_memory=in_memory)
    if not plan.items:
        return sample_rows(None, plan, (0, 0, 0))
    res = run_sweep(plan, space, SweepGrid.single(setting), check=check, report=report)
    return sample_rows(res, plan, (0, 0, 0))
