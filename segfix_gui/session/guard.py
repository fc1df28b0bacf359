"""What the window may write: never a file of the open sample, nor of any sample of its set.

Every export, the set's reports and the screen grabs go through one
:class:`~segfix_gui.io.atomic.OutputGuard` made here (real paths, links followed).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import InputError
from ..io.atomic import OutputGuard
from ..io.samples import Sample, SamplePaths


def input_files(sample: Sample) -> list[Path]:
    """Every file the sample was read from (an instance sample's mask PNGs included)."""
    sp = sample.paths
    files = [Path(p) for p in (sp.image, sp.pred, sp.offsets, sp.gt, sp.instances, sp.gt_instances) if p is not None]
    if sample.instances is not None and sp.instances is not None and sample.instances.names:
        from ..io.instances import mask_files

        files += mask_files(sp.instances, sample.instances)
    return files


def set_files(samples: Iterable[SamplePaths]) -> list[Path]:
    """Every file of the samples of a set: prediction, offsets, image, ground truth, and an
    instance sample's ``_pred.txt`` with the mask PNGs it lists (a file that cannot be read
    lists none)."""
    from ..io.instances import mask_path, parse_pred_txt

    files = []
    for sp in samples:
        files += [Path(p) for p in (sp.image, sp.pred, sp.offsets, sp.gt, sp.instances, sp.gt_instances) if p]
        if sp.instances:
            try:
                lines = parse_pred_txt(sp.instances)
            except (InputError, OSError):
                continue
            files += [mask_path(sp.instances, e) for e in lines]
    return files


def output_guard(sample: Sample | None, others: Sequence[SamplePaths] = ()) -> OutputGuard:
    """The guard of every export and screen grab: no file of the open ``sample``, nor of any
    other sample of its set (``others``: the set's samples), may be written."""
    files = (input_files(sample) if sample is not None else []) + set_files(others)
    return OutputGuard.for_inputs(files=files)


def check_not_input(path, sample: Sample | None, others: Sequence[SamplePaths] = ()) -> None:
    """Refuse to write onto one of the files of the open sample or of its set (``others``)."""
    output_guard(sample, others).check(path)


def check_screenshot(path, *inputs, folder: str | None = None) -> None:
    """Refuse a screenshot onto the window's inputs, before anything is opened: one of the
    ``inputs`` given (files, or anything inside a folder given), or for a set ``folder`` its
    role folders (``preds/``, ``offsets/``, ...) and every file of its samples; and a
    ``path`` that is a folder or names one (``shots/``): a screenshot is one file."""
    from .opening import SetSource

    if os.path.isdir(path) or os.fspath(path).endswith(("/", os.sep)):
        raise InputError(path, "cannot write: is a folder (give the screenshot's file name, e.g. shot.png)")

    folders, samples = [], []
    if folder is not None:
        try:
            src = SetSource(folder)
            r = src.resolved()
            folders = [r.image, r.pred, r.offsets, r.gt]
            samples = src.samples()
        except InputError:  # opening it says so
            pass
    guard = OutputGuard.for_inputs(*inputs, *folders, files=set_files(samples))
    guard.check(path)
