"""Exports: refined labels (PNG), offsets (.npz / .mat), the IoU table (CSV). All atomic;
an input file is never overwritten. (The current view is saved by the window: it needs Qt.)"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ..core.offsets import OffsetField
from ..errors import InputError
from ..io.atomic import write_text
from ..io.images import write_labels, write_png
from ..io.offsets import write_offsets
from ..core.setting import Setting
from ..io.samples import Sample
from .compute import Result, table_rows

CSV_COLUMNS = ("class", "iou_before", "iou_after", "delta")


def input_files(sample: Sample) -> list[Path]:
    """Every file the sample was read from (an instance sample's mask PNGs included)."""
    sp = sample.paths
    files = [Path(p) for p in (sp.image, sp.pred, sp.offsets, sp.gt, sp.instances, sp.gt_instances)
             if p is not None]
    if sample.is_instances and sp.instances is not None and sample.instances.names:
        files += [Path(sp.instances).parent / n for n in sample.instances.names]
    return files


def check_not_input(path, sample: Sample) -> None:
    """Refuse to write onto one of the sample's input files."""
    target = Path(path).resolve()
    for p in input_files(sample):
        if p.resolve() == target:
            raise InputError(path, "is one of the open sample's input files; inputs are never "
                                   "overwritten — choose another name")


def export_refined(path, sample: Sample, result: Result) -> None:
    """The refined labels as a single-channel PNG of ids (colours if the prediction was colour)."""
    check_not_input(path, sample)
    if sample.pred_is_colour:
        write_png(path, sample.space.colorize(result.refined))
    else:
        write_labels(path, result.refined)


def export_offsets(path, sample: Sample, setting: Setting) -> None:
    """The offset field, by suffix: ``.npz`` keeps the probabilities (with the current setting
    recorded as its recommendation), ``.mat`` writes openseg's thresholded unit steps."""
    check_not_input(path, sample)
    suffix = Path(path).suffix.lower()
    if suffix not in (".npz", ".mat"):
        raise InputError(path, "offsets are written as .npz or .mat")
    f = sample.field
    if f is None:
        raise InputError(path, "this sample has no offsets yet (Refine ▸ Predict offsets first)")
    rec = dict(f.recommended)
    if not f.is_hard:
        rec.update(threshold=setting.threshold, min_direction_prob=setting.min_direction_prob,
                   scale=setting.scale)
    out = OffsetField(boundary=f.boundary, direction=f.direction, hard=f.hard, recommended=rec)
    write_offsets(path, out, setting=setting)


def iou_csv(before: dict, after: dict | None) -> str:
    """CSV text: one row per class (IoU as fractions; empty = n/a), then mIoU, pixel accuracy
    and boundary F rows."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)

    def cell(v):
        return "" if v is None else repr(float(v))

    for name, b, a, d in table_rows(before, after):
        w.writerow((name, cell(b), cell(a), cell(d)))
    for key, label in (("miou", "mIoU"), ("pixel_accuracy", "pixel accuracy"),
                       ("boundary_f", "boundary F")):
        b = before[key]
        a = after[key] if after else None
        w.writerow((label, cell(b), cell(a), cell(None if a is None else a - b)))
    return buf.getvalue()


def export_iou_csv(path, sample: Sample, before: dict | None, after: dict | None) -> None:
    check_not_input(path, sample)
    if before is None:
        raise InputError(os.fspath(path), "no IoU table: the sample has no ground truth")
    write_text(path, iou_csv(before, after))
