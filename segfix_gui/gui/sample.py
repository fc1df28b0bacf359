"""What the window shows: one sample's arrays, and how sets of samples are found (no Qt here).

A :class:`Sample` is an image (optional), a prediction, an offset field and a ground
truth (optional), all ``(H, W)``, in one label space. :func:`load_sample` reads and checks
them with the engine's readers; any problem is an :class:`~segfix_gui.errors.InputError`
with one line naming the file, so the window can show it and keep what it had.

An *instance sample* (instance mode) has Cityscapes instance predictions (a ``_pred.txt``
and its masks, :func:`segfix_gui.io.instances.read_instances`) instead of a label map, and
optionally an instance ground truth (``*_gtFine_instanceIds.png``); its ``pred`` is an
all-"unlabeled" map, so the semantic layers stay empty and the instances are drawn as
outlines.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .._resources import resource
from ..core.offsets import OffsetField
from ..errors import InputError
from ..labels import LabelSpace, get_label_space

DEMO_DIR = resource("demo")
PARTS = ("image", "pred", "offsets", "gt")
INSTANCE_PARTS = ("image", "instances", "offsets", "gt_instances")
PART_NAMES = {"image": "image", "pred": "prediction", "offsets": "offsets", "gt": "ground truth",
              "instances": "instance predictions (_pred.txt)",
              "gt_instances": "instance ground truth (instanceIds)"}
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
    info: tuple[tuple[str, str], ...] = ()     # (label, text): the sample's info, in full
    summary: tuple[tuple[str, str], ...] = ()  # (label, text): the same, short (window header)

    def with_part(self, part: str, path: str | None) -> "SamplePaths":
        return replace(self, **{part: path})

    @property
    def is_instances(self) -> bool:
        return self.instances is not None

    def missing(self) -> list[str]:
        # a semantic sample may come without offsets (the window can predict them)
        need = ("instances", "offsets") if self.is_instances else ("pred",)
        return [p for p in need if getattr(self, p) is None]

    def as_instances(self) -> "SamplePaths":
        """The same image and offsets as an instance sample (no label map, no label gt)."""
        return replace(self, pred=None, gt=None, name=None, info=(), summary=())

    def as_semantic(self) -> "SamplePaths":
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
    def from_json(cls, text: str) -> "SamplePaths":
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: dict) -> "SamplePaths":
        return cls(**{k: d.get(k) for k in JSON_KEYS})


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
    paths: SamplePaths = field(default_factory=SamplePaths)
    pred_is_colour: bool = False
    instances: object | None = None
    gt_instances: np.ndarray | None = None
    field_source: str | None = None   # where an in-memory field came from (e.g. the network)

    @property
    def has_field(self) -> bool:
        return self.field is not None

    @property
    def is_instances(self) -> bool:
        return self.instances is not None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.pred.shape)

    @property
    def name(self) -> str:
        return self.paths.title

    def info_lines(self, *, short: bool = False) -> list[tuple[str, str]]:
        """``(label, text)`` lines saying where each part comes from (``short`` for the header)."""
        lines = list(self.paths.summary if short and self.paths.summary else self.paths.info)
        have = {k for k, _ in lines}
        h, w = self.shape
        lines.insert(0, ("size", f"{h}×{w}, {self.space.name}"))
        if self.is_instances:
            n = len(self.instances)
            if "instances" not in have:
                lines.append(("instances", f"{_file_text(self.paths.instances, short)} "
                                           f"({n} mask{'s' if n != 1 else ''})"))
            if "offsets" not in have:
                lines.append(("offsets", _file_text(self.paths.offsets, short)))
            if "ground truth" not in have:
                lines.append(("ground truth", _file_text(self.paths.gt_instances, short)
                              if self.gt_instances is not None else
                              "none (no IoU / boundary F per instance)"))
            return lines
        if "prediction" not in have:
            lines.append(("prediction", _file_text(self.paths.pred, short)))
        if "offsets" not in have:
            if self.field is None:
                lines.append(("offsets", "none yet — Refine ▸ Predict offsets (Ctrl+Shift+P)"
                              if self.image is not None else
                              "none (and no image to predict them from)"))
            else:
                kind = ("hard offsets, already thresholded" if self.field.is_hard
                        else f"boundary + K={self.field.k} direction probabilities")
                where = (self.field_source if self.field_source and self.paths.offsets is None
                         else _file_text(self.paths.offsets, short))
                lines.append(("offsets", f"{where} ({kind})"))
        if "ground truth" not in have:
            lines.append(("ground truth", _file_text(self.paths.gt, short) if self.gt is not None
                          else "none (no IoU; changes shown as 'changed')"))
        return lines


def _file_text(path, short: bool = False) -> str:
    if path is None:
        return "in memory"
    return Path(path).name if short else os.fspath(path)


def load_sample(paths: SamplePaths, space: LabelSpace | str, *,
                field: OffsetField | None = None) -> Sample:
    """Read and check the files of one sample.

    ``field`` may be given instead of ``paths.offsets`` (an offset field made in memory).
    With neither, the sample has no offsets (``field`` None) and refining changes nothing.
    Raises InputError (one line, naming the file) for anything unreadable or mismatched.
    """
    from ..cli.refine import read_prediction
    from ..io.images import read_image, read_labels
    from ..io.offsets import read_offsets

    space = get_label_space(space)
    if paths.pred is None:
        raise InputError(None, "no prediction given")
    pred, colour = read_prediction(paths.pred, space)
    if field is None and paths.offsets is not None:
        field = read_offsets(paths.offsets)
    h, w = pred.shape
    pred_name = Path(paths.pred).name
    ref = f"the prediction {pred_name} is {h}×{w}"
    if field is not None:
        _check_size(paths.offsets, "offsets are", field.shape, (h, w), ref)
    image = None
    if paths.image is not None:
        image = read_image(paths.image)
        _check_size(paths.image, "image is", image.shape[:2], (h, w), ref)
    gt = None
    if paths.gt is not None:
        gt = read_labels(paths.gt, space)
        _check_size(paths.gt, "ground truth is", gt.shape, (h, w), ref)
    return Sample(space=space, pred=pred, field=field, image=image, gt=gt, paths=paths,
                  pred_is_colour=colour)


def _check_size(path, what: str, shape, expected, ref: str) -> None:
    """InputError "<what> H×W but <ref>" when ``shape`` is not ``expected``."""
    if tuple(shape) != tuple(expected):
        raise InputError(path, f"{what} {shape[0]}×{shape[1]} but {ref}")


def load_instance_sample(paths: SamplePaths) -> Sample:
    """Read and check an instance sample: offsets, ``_pred.txt`` with its masks, and the
    optional image and instance ground truth, all of the offsets' size.

    Raises InputError (one line, naming the file and, for a ``_pred.txt``, the line).
    """
    from ..io.images import read_image
    from ..io.instances import read_instance_gt, read_instances
    from ..io.offsets import read_offsets

    space = get_label_space(INSTANCE_SPACE)
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
        _check_size(paths.gt_instances, "ground truth is", gt.shape, (h, w),
                    f"the offsets {off_name} are {h}×{w}")
    image = None
    if paths.image is not None:
        image = read_image(paths.image)
        _check_size(paths.image, "image is", image.shape[:2], (h, w),
                    f"the offsets {off_name} are {h}×{w}")
    unlabeled = np.zeros((h, w), np.uint8)  # Cityscapes id 0: ignored, drawn transparent
    return Sample(space=space, pred=unlabeled, field=field, image=image, paths=paths,
                  instances=instances, gt_instances=gt)


def demo_paths(folder: str | os.PathLike = DEMO_DIR) -> tuple[SamplePaths, str]:
    """The bundled demo's files and label space, from its ``sample.json``."""
    folder = Path(folder)
    meta_path = folder / "sample.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(meta_path, "demo sample not found (run python tools/make_demo.py)") from None
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(meta_path, f"cannot read the demo description: {err}") from None
    info = (("sample", meta.get("source", "")),
            ("prediction", meta.get("prediction_info", "")),
            ("offsets", meta.get("offsets_info", "")))
    summary = (("prediction", meta.get("prediction_short", meta.get("prediction_info", ""))),
               ("offsets", meta.get("offsets_short", meta.get("offsets_info", ""))))
    paths = SamplePaths(
        image=str(folder / meta["image"]), pred=str(folder / meta["prediction"]),
        offsets=str(folder / meta["offsets"]), gt=str(folder / meta["ground_truth"]),
        name=meta.get("name", "demo"), info=info, summary=summary)
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
        raise InputError(folder, "a set folder needs sub-folders preds/ (or predictions/) and "
                                 "offsets/, with images/ and gt/ optional")
    return found


def pair_set(*, pred: str, offsets: str, image: str | None = None,
             gt: str | None = None) -> list[SamplePaths]:
    """Samples of a set, paired by stem (``segfix_gui.io.pairing.pair_key``), one per prediction.

    A prediction without offsets is kept (loading it then says so); images and ground truth
    are optional per sample.
    """
    from ..io.offsets import OFFSET_SUFFIXES
    from ..io.pairing import IMAGE_SUFFIXES, LABEL_SUFFIXES, index_by_key, list_files, pair_key

    preds = list_files(pred, LABEL_SUFFIXES)
    if not preds:
        raise InputError(pred, "no prediction PNGs found")
    offs = index_by_key(offsets, OFFSET_SUFFIXES, prefer=(".npz", ".mat"))
    imgs = index_by_key(image, IMAGE_SUFFIXES, prefer=(".png", ".jpg", ".jpeg")) if image else {}
    gts = index_by_key(gt, LABEL_SUFFIXES) if gt else {}
    out = []
    for p in preds:
        k = pair_key(p)
        out.append(SamplePaths(
            image=str(imgs[k]) if k in imgs else None, pred=str(p),
            offsets=str(offs[k]) if k in offs else None,
            gt=str(gts[k]) if k in gts else None, name=k))
    return out


def classify_files(paths) -> dict[str, str]:
    """Sort dropped files by role: ``{"folder"|"image"|"pred"|"offsets"|"gt"|"instances"|
    "gt_instances": path}``.

    A folder opens as a set; ``.npz`` / ``.mat`` are offsets; a ``.txt`` (Cityscapes
    ``_pred.txt``) is instance predictions; a PNG named ``…instanceIds…`` is instance ground
    truth; JPEG and other photo formats are images; a PNG is an image when it is colour (RGB)
    and its name does not say it is a label map, else a label map — ground truth when its
    name says so (``gt``, ``label``, ``ground``), else the prediction.
    """
    from ..io.offsets import OFFSET_SUFFIXES
    from ..io.pairing import IMAGE_SUFFIXES

    out: dict[str, str] = {}
    for p in map(Path, paths):
        low = p.name.lower()
        labelish = any(k in low for k in ("gt", "label", "ground", "pred", "seg"))
        gtish = any(k in low for k in ("gt", "label", "ground"))
        if p.is_dir():
            out["folder"] = str(p)
        elif p.suffix.lower() == ".txt":
            out["instances"] = str(p)
        elif p.suffix.lower() == ".png" and "instanceids" in low:
            out["gt_instances"] = str(p)
        elif p.suffix.lower() in OFFSET_SUFFIXES:
            out["offsets"] = str(p)
        elif p.suffix.lower() == ".png":
            if not labelish and _is_colour_png(p):
                out["image"] = str(p)
            else:
                out["gt" if gtish else "pred"] = str(p)
        elif p.suffix.lower() in IMAGE_SUFFIXES:
            out["image"] = str(p)
    return out


def _is_colour_png(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.mode in ("RGB", "RGBA")
    except (OSError, Image.DecompressionBombError):  # loading reports it with the file's name
        return False
