"""Samples from files: one sample's arrays, the size checks, and how sets of samples are found.

A :class:`Sample` is an image (optional), a prediction, an offset field and a ground
truth (optional), all ``(H, W)``, in one label space. :func:`load_sample` reads and checks
them; any problem is an :class:`~segfix_gui.errors.InputError` with one line naming the
file, so the window can show it and keep what it had, and a batch can go on.
:func:`load_sweep_sample` / :func:`iter_sweep_samples` read the (ground truth, prediction,
offsets) triples a sweep needs; :func:`check_size` is the one size check with its message.

An *instance sample* (instance mode) has Cityscapes instance predictions (a ``_pred.txt``
and its masks, :func:`segfix_gui.io.instances.read_instances`) instead of a label map, and
optionally an instance ground truth (``*_gtFine_instanceIds.png``); its ``pred`` is an
all-"unlabeled" map, so the semantic layers stay empty and the instances are drawn as
outlines.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._files import JSON_LIMIT, read_small
from .._resources import resource
from ..core.instances import InstanceSet
from ..core.offsets import OffsetField
from ..core.sweep import SweepSample
from ..errors import InputError
from ..labels import LabelSpace, get_label_space

PARTS = ("image", "pred", "offsets", "gt")
INSTANCE_PARTS = ("image", "instances", "offsets", "gt_instances")
PART_NAMES = {
    "image": "image",
    "pred": "prediction",
    "offsets": "offsets",
    "gt": "ground truth",
    "instances": "instance predictions (_pred.txt)",
    "gt_instances": "instance ground truth (instanceIds)",
}
JSON_KEYS = PARTS + ("name", "instances", "gt_instances")
INSTANCE_SPACE = "cityscapes"  # _pred.txt files name Cityscapes label ids


@dataclass(frozen=True)
class SamplePaths:
    """Files of one sample; ``pred`` and ``offsets`` are needed, ``image`` and ``gt`` optional.

    An instance sample has ``instances`` (a ``_pred.txt``) instead of ``pred``, and
    ``gt_instances`` (an instanceIds PNG) instead of ``gt``.
    """

    image: str | None = None
    pred: str | None = None
    offsets: str | None = None
    gt: str | None = None
    name: str | None = None
    instances: str | None = None
    gt_instances: str | None = None
    info: tuple[tuple[str, str], ...] = ()  # (label, text): the sample's info, in full
    summary: tuple[tuple[str, str], ...] = ()  # (label, text): the same, short (window header)
    # a set's sample whose partners could not be told apart (io.pairing.pair_folders' row
    # error, one line naming the file): loading it fails with this message
    pairing_error: str | None = None

    def with_part(self, part: str, path: str | None) -> SamplePaths:
        if part not in PARTS + INSTANCE_PARTS:
            raise ValueError(f"unknown part {part!r} (expected one of {', '.join(PARTS + INSTANCE_PARTS)})")
        change: dict[str, Any] = {part: path}
        return replace(self, **change)

    @property
    def is_instances(self) -> bool:
        return self.instances is not None

    def missing(self) -> list[str]:
        # a semantic sample may come without offsets (the window can predict them)
        need = ("instances", "offsets") if self.is_instances else ("pred",)
        return [p for p in need if getattr(self, p) is None]

    def as_instances(self) -> SamplePaths:
        """The same image and offsets as an instance sample (no label map, no label gt)."""
        return replace(self, pred=None, gt=None, name=None, info=(), summary=())

    def as_semantic(self) -> SamplePaths:
        """The same image and offsets as a semantic sample (no instance files)."""
        return replace(self, instances=None, gt_instances=None, name=None, info=(), summary=())

    @property
    def title(self) -> str:
        if self.name:
            return self.name
        if self.instances:
            return Path(self.instances).name
        for p in ("pred", "image", "offsets", "gt"):
            if getattr(self, p):
                return Path(getattr(self, p)).name
        return "(nothing)"

    def to_json(self) -> str:
        return json.dumps({p: getattr(self, p) for p in JSON_KEYS})

    @classmethod
    def from_json(cls, text: str) -> SamplePaths:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: dict) -> SamplePaths:
        parts: dict[str, Any] = {k: d.get(k) for k in JSON_KEYS}
        return cls(**parts)


@dataclass(eq=False)
class Sample:
    """One loaded sample.

    Attributes
    ----------
    space : LabelSpace
    pred : ndarray of shape (H, W), integer ids (uint8 or uint16)
    field : OffsetField of shape (H, W), or None: no offsets yet (refining changes nothing
        until the window's "Predict offsets" installs one)
    image : ndarray of shape (H, W, 3), uint8, or None
    gt : ndarray of shape (H, W), integer ids, or None
    paths : SamplePaths it came from
    pred_is_colour : bool, the prediction file was colour-coded (exports keep that form)
    instances : InstanceSet of N masks (N, H, W) or None — an instance sample
    gt_instances : ndarray of shape (H, W), int32 ``labelId * 1000 + index``, or None
    """

    space: LabelSpace
    pred: np.ndarray
    field: OffsetField | None
    image: np.ndarray | None = None
    gt: np.ndarray | None = None
    paths: SamplePaths = dataclasses.field(default_factory=SamplePaths)
    pred_is_colour: bool = False
    instances: InstanceSet | None = None
    gt_instances: np.ndarray | None = None
    field_source: str | None = None  # where an in-memory field came from (e.g. the network)

    @property
    def has_field(self) -> bool:
        return self.field is not None

    @property
    def is_instances(self) -> bool:
        return self.instances is not None

    @property
    def shape(self) -> tuple[int, int]:
        h, w = self.pred.shape
        return int(h), int(w)

    @property
    def name(self) -> str:
        return self.paths.title

    def info_lines(self, *, short: bool = False) -> list[tuple[str, str]]:
        """``(label, text)`` lines saying where each part comes from (``short`` for the header)."""
        lines = list(self.paths.summary if short and self.paths.summary else self.paths.info)
        have = {k for k, _ in lines}
        h, w = self.shape
        lines.insert(0, ("size", f"{h}×{w}, {self.space.name}"))
        if self.instances is not None:
            n = len(self.instances)
            if "instances" not in have:
                lines.append(
                    ("instances", f"{_file_text(self.paths.instances, short)} ({n} mask{'s' if n != 1 else ''})")
                )
            if "offsets" not in have:
                lines.append(("offsets", _file_text(self.paths.offsets, short)))
            if "ground truth" not in have:
                lines.append(
                    (
                        "ground truth",
                        _file_text(self.paths.gt_instances, short)
                        if self.gt_instances is not None
                        else "none (no IoU / boundary F per instance)",
                    )
                )
            return lines
        if "prediction" not in have:
            lines.append(("prediction", _file_text(self.paths.pred, short)))
        if "offsets" not in have:
            if self.field is None:
                lines.append(
                    (
                        "offsets",
                        "none yet — Refine ▸ Predict offsets (Ctrl+Shift+P)"
                        if self.image is not None
                        else "none (and no image to predict them from)",
                    )
                )
            else:
                kind = (
                    "hard offsets, already thresholded"
                    if self.field.is_hard
                    else f"boundary + K={self.field.k} direction probabilities"
                )
                where = (
                    self.field_source
                    if self.field_source and self.paths.offsets is None
                    else _file_text(self.paths.offsets, short)
                )
                lines.append(("offsets", f"{where} ({kind})"))
        if "ground truth" not in have:
            lines.append(
                (
                    "ground truth",
                    _file_text(self.paths.gt, short)
                    if self.gt is not None
                    else "none (no IoU; changes shown as 'changed')",
                )
            )
        return lines


def _file_text(path, short: bool = False) -> str:
    if path is None:
        return "in memory"
    return Path(path).name if short else os.fspath(path)


def load_sample(paths: SamplePaths, space: LabelSpace | str, *, field: OffsetField | None = None) -> Sample:
    """Read and check the files of one sample.

    ``field`` may be given instead of ``paths.offsets`` (an offset field made in memory).
    With neither, the sample has no offsets (``field`` None) and refining changes nothing.
    Raises InputError (one line, naming the file) for anything unreadable or mismatched.
    """
    from .images import read_image, read_labels
    from .offsets import read_offsets

    space = get_label_space(space)
    if paths.pairing_error:
        raise InputError(None, paths.pairing_error)
    if paths.pred is None:
        raise InputError(None, "no prediction given")
    pred, colour = read_prediction(paths.pred, space)
    if field is None and paths.offsets is not None:
        field = read_offsets(paths.offsets)
    if field is not None:
        check_size(paths.offsets, "offsets", field.shape, paths.pred, pred.shape)
    image = None
    if paths.image is not None:
        image = read_image(paths.image)
        check_size(paths.image, "image", image.shape[:2], paths.pred, pred.shape)
    gt = None
    if paths.gt is not None:
        gt = read_labels(paths.gt, space)
        check_size(paths.gt, "ground truth", gt.shape, paths.pred, pred.shape)
    return Sample(space=space, pred=pred, field=field, image=image, gt=gt, paths=paths, pred_is_colour=colour)


REFERENCE_NAMES = {"prediction": "the prediction", "offsets": "the offsets", "ground truth": "the ground truth"}


def check_size(path, what: str, shape, ref_path, ref_shape, *, ref_what: str = "prediction") -> None:
    """The one size check: InputError naming ``path`` ("offsets are 10×20 but the prediction
    x.png is 360×480") when ``shape`` is not ``ref_shape``."""
    if tuple(shape[:2]) != tuple(ref_shape[:2]):
        verb = "are" if what in ("offsets", "masks") else "is"
        ref = REFERENCE_NAMES.get(ref_what, f"the {ref_what}")
        name = f" {Path(ref_path).name}" if ref_path is not None else ""
        verb_ref = "are" if ref_what == "offsets" else "is"
        raise InputError(
            path, f"{what} {verb} {shape[0]}×{shape[1]} but {ref}{name} {verb_ref} {ref_shape[0]}×{ref_shape[1]}"
        )


def read_prediction(path, space: LabelSpace | None) -> tuple[np.ndarray, bool]:
    """``(ids, was_colour)``: a prediction PNG as ids, and whether it was colour-coded (an
    output then keeps that form)."""
    from PIL import Image

    from .images import read_labels

    labels = read_labels(path, space)
    try:
        with Image.open(path) as im:
            colour = im.mode in ("RGB", "RGBA")
    except OSError:  # pragma: no cover - read_labels already opened it
        colour = False
    return np.asarray(labels), colour


def write_prediction(path, labels: np.ndarray, space: LabelSpace | None, *, colour: bool) -> None:
    """Write a refined prediction in the form its input had (:func:`read_prediction`'s
    ``was_colour``): the space's colours for a colour-coded input, else a single-channel PNG of
    ids (8-bit when they fit). Atomic, as every write. The one writer of refined label maps:
    ``segfix refine`` and the window's export call it."""
    from .images import write_labels, write_png

    if colour:
        if space is None:
            raise ValueError("a colour-coded prediction needs its label space to be written")
        write_png(path, space.colorize(labels))
    else:
        write_labels(path, labels)


def load_instance_sample(paths: SamplePaths) -> Sample:
    """Read and check an instance sample: offsets, ``_pred.txt`` with its masks, and the
    optional image and instance ground truth, all of the offsets' size.

    Raises InputError (one line, naming the file and, for a ``_pred.txt``, the line).
    """
    from .images import read_image
    from .instances import read_instance_gt, read_instances
    from .offsets import read_offsets

    space = get_label_space(INSTANCE_SPACE)
    if paths.pairing_error:
        raise InputError(None, paths.pairing_error)
    if paths.instances is None:
        raise InputError(None, "no instance predictions (_pred.txt) given")
    if paths.offsets is None:
        raise InputError(paths.instances, "no offsets given for these instances")
    field = read_offsets(paths.offsets)
    h, w = field.shape
    off_name = Path(paths.offsets).name
    instances = read_instances(paths.instances, shape=(h, w), shape_of=f"the offsets {off_name}")
    gt = None
    if paths.gt_instances is not None:
        gt = read_instance_gt(paths.gt_instances)
        check_size(paths.gt_instances, "ground truth", gt.shape, paths.offsets, (h, w), ref_what="offsets")
    image = None
    if paths.image is not None:
        image = read_image(paths.image)
        check_size(paths.image, "image", image.shape[:2], paths.offsets, (h, w), ref_what="offsets")
    unlabeled = np.zeros((h, w), np.uint8)  # Cityscapes id 0: ignored, drawn transparent
    return Sample(
        space=space, pred=unlabeled, field=field, image=image, paths=paths, instances=instances, gt_instances=gt
    )


def demo_dir() -> Path:
    """The bundled demo's folder (found when asked: nothing is looked up at import)."""
    return resource("demo")


def demo_paths(folder: str | os.PathLike | None = None) -> tuple[SamplePaths, str]:
    """The files and label space of the demo in ``folder`` (default: the bundled one), from its
    ``sample.json``."""
    folder = Path(folder) if folder is not None else demo_dir()
    meta_path = folder / "sample.json"
    try:
        meta = json.loads(read_small(meta_path, limit=JSON_LIMIT, what="demo description").decode("utf-8"))
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(meta_path, "demo sample not found (run python tools/make_demo.py)") from None
    except (OSError, ValueError) as err:  # ValueError: not UTF-8, not JSON
        raise InputError(meta_path, f"cannot read the demo description: {err}") from None
    info = (
        ("sample", meta.get("source", "")),
        ("prediction", meta.get("prediction_info", "")),
        ("offsets", meta.get("offsets_info", "")),
    )
    summary = (
        ("prediction", meta.get("prediction_short", meta.get("prediction_info", ""))),
        ("offsets", meta.get("offsets_short", meta.get("offsets_info", ""))),
    )
    paths = SamplePaths(
        image=str(folder / meta["image"]),
        pred=str(folder / meta["prediction"]),
        offsets=str(folder / meta["offsets"]),
        gt=str(folder / meta["ground_truth"]),
        name=meta.get("name", "demo"),
        info=info,
        summary=summary,
    )
    return paths, meta.get("label_space", "camvid")


# --- sets of samples --------------------------------------------------------------------------

FOLDER_ROLES = {
    "image": ("images", "image", "leftImg8bit", "img"),
    "pred": ("preds", "pred", "predictions", "prediction"),
    "offsets": ("offsets", "offset"),
    "gt": ("gt", "ground_truth", "labels", "gtFine"),
}


def folder_layout(folder: str | os.PathLike) -> dict[str, str | None]:
    """Sub-folders of a set folder by role: ``images/``, ``preds/``, ``offsets/``, ``gt/``
    (also ``predictions/``, ``labels/``, …; see ``FOLDER_ROLES``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "folder not found" if not folder.exists() else "is not a folder")
    found: dict[str, str | None] = {}
    for role, names in FOLDER_ROLES.items():
        found[role] = next((str(folder / n) for n in names if (folder / n).is_dir()), None)
    if found["pred"] is None or found["offsets"] is None:
        raise InputError(
            folder,
            "a set folder needs sub-folders preds/ (or predictions/) and offsets/, with images/ and gt/ optional",
        )
    return found


def pair_set(*, pred: str, offsets: str, image: str | None = None, gt: str | None = None) -> list[SamplePaths]:
    """Samples of a set, paired by key (:func:`segfix_gui.io.pairing.pair_folders`), one per
    prediction.

    A prediction without offsets is kept (loading it then says so); images and ground truth
    are optional per sample. A prediction whose partners cannot be told apart is kept too, with
    the reason: loading it fails with that one line.
    """
    from .pairing import pair_folders

    rows = pair_folders(
        "pred", {"pred": pred, "offsets": offsets, "image": image, "gt": gt}, one_per_key=True
    )  # a set evaluation counts an image once
    if not rows:
        raise InputError(pred, "no prediction PNGs found")
    return [
        SamplePaths(
            image=_str(r["image"]),
            pred=str(r["pred"]),
            offsets=_str(r["offsets"]),
            gt=_str(r["gt"]),
            name=r["key"],
            pairing_error=r["error"],
        )
        for r in rows
    ]


def _str(path) -> str | None:
    return None if path is None else os.fspath(path)


# --- sweeps -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepJob:
    """One image's files for a sweep (picklable: a worker process loads it itself)."""

    key: str
    gt: str
    pred: str
    offsets: str

    def __str__(self) -> str:  # the file a message about the job names: its prediction
        return self.pred


def load_sweep_sample(job: SweepJob, space: LabelSpace) -> SweepSample:
    """Read a job's three files; InputError for a bad file or mismatched sizes."""
    from .images import read_labels
    from .offsets import read_offsets

    gt = read_labels(job.gt, space)
    pred = read_labels(job.pred, space)
    check_size(job.pred, "prediction", pred.shape, job.gt, gt.shape, ref_what="ground truth")
    fld = read_offsets(job.offsets)
    check_size(job.offsets, "offsets", fld.shape, job.pred, pred.shape)
    # the sweep reads only the boundary and the best direction: drop the K probability planes
    return SweepSample(job.key, gt, pred, fld.summarized())


def iter_sweep_samples(items, space: LabelSpace, errors: list[str]):
    """Yield a :class:`SweepSample` per item (a SweepJob is read here; a SweepSample passes
    through); a job with a bad file is left out and its one-line message appended to ``errors``."""
    for item in items:
        if isinstance(item, SweepSample):
            yield item
            continue
        try:
            yield load_sweep_sample(item, space)
        except InputError as err:
            errors.append(str(err))


def sweep_jobs(gt_dir, pred_dir, offsets_dir) -> tuple[list[SweepJob], list[str]]:
    """Pair the predictions in ``pred_dir`` with ground truth and offsets by name.

    Returns ``(jobs, errors)``: one job per complete triple, and a one-line message for each
    prediction that lacks a partner. InputError when a folder is missing or holds no PNGs.
    """
    from .pairing import pair_folders

    rows = pair_folders(
        "pred", {"pred": pred_dir, "gt": gt_dir, "offsets": offsets_dir}, one_per_key=True
    )  # an image counted once
    if not rows:
        raise InputError(pred_dir, "no prediction PNGs found")
    jobs, errors = [], []
    for r in rows:
        p = r["pred"]
        if r["error"]:
            errors.append(r["error"])
        elif r["gt"] is None:
            errors.append(str(InputError(p, "no ground truth with this name")))
        elif r["offsets"] is None:
            errors.append(
                str(
                    InputError(
                        p, f"no offsets file for this prediction (expected {r['key']}.npz or .mat in {offsets_dir})"
                    )
                )
            )
        else:
            jobs.append(SweepJob(r["key"], os.fspath(r["gt"]), os.fspath(p), os.fspath(r["offsets"])))
    return jobs, errors
