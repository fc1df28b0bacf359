"""Cityscapes instance predictions (``<image>_pred.txt`` + mask PNGs) and instance ground truth.

Prediction format (as cityscapesscripts' ``evalInstanceLevelSemanticLabeling`` reads it):
one line per instance, ``relative/mask.png labelId score``, the mask path relative to the
folder of the ``.txt`` file; a mask is a PNG whose non-zero pixels are inside (read the way
the official evaluation reads it: converted to 8-bit grey, then ``!= 0``). This reader also
accepts runs of spaces or tabs between fields and skips blank lines; everything else that
the official parser would reject, or that would make it count wrongly, is an
:class:`~segfix_gui.errors.InputError` naming the ``.txt`` file and the line:
a malformed line, an absolute mask path or one outside the root folder, a missing mask, a
mask that is not an image or is of another size, a label id that is not an integer, a score
that is not a finite number, the same mask listed twice (also under two names of one file: a
symlinked folder, a hard link).

Ground truth: ``*_gtFine_instanceIds.png``, 16-bit, ``labelId * 1000 + index`` for things
and ``labelId`` for stuff and for groups of things.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from .._files import LIST_LIMIT, read_small
from ..core.instances import InstanceSet
from ..errors import InputError
from .atomic import atomic_path
from .pairing import PRED_TXT_SUFFIXES

MAX_LABEL_ID = 65535
"""Largest label id of a ``_pred.txt`` line: a 16-bit label map's (Cityscapes' are 0..33)."""


@dataclass(frozen=True)
class PredLine:
    """One line of a ``_pred.txt`` file.

    Attributes
    ----------
    line : int, 1-based line number in the file
    mask : str, the mask path as written (relative to the file's folder, ``/`` separators)
    label_id : int, Cityscapes label id (not the train id)
    score : float, confidence
    """

    line: int
    mask: str
    label_id: int
    score: float


def parse_pred_txt(path: str | os.PathLike) -> list[PredLine]:
    """The lines of a ``_pred.txt`` file, checked for form (masks are not opened).

    Raises :class:`InputError` naming the file and line for a malformed line, an absolute
    mask path, a label id that is not an integer, a score that is not a finite number, or
    a mask listed twice.
    """
    path = Path(path)
    try:
        raw = read_small(path, limit=LIST_LIMIT, what="_pred.txt file")  # a FIFO or a device is refused
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not a _pred.txt file") from None
    except OSError as err:
        raise InputError(path, f"cannot read: {err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(path, f"not a text file (byte {err.start} is not UTF-8)") from None
    out: list[PredLine] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise InputError(
                path,
                f"line {n}: expected 'relative/mask.png labelId score', "
                f"found {len(fields)} field{'s' if len(fields) != 1 else ''}: "
                f"{line.strip()[:80]!r}",
            )
        mask, label, score = fields
        if os.path.isabs(mask) or PurePosixPath(mask).is_absolute() or ":" in mask[:3]:
            raise InputError(path, f"line {n}: mask path {mask!r} must be relative to the folder of this file")
        try:
            label_f = float(label)
        except ValueError:
            label_f = math.nan
        if not math.isfinite(label_f) or label_f != int(label_f) or label_f < 0:
            raise InputError(path, f"line {n}: label id {label!r} is not a non-negative integer")
        if label_f > MAX_LABEL_ID:
            raise InputError(path, f"line {n}: label id {label!r} is not a label id (0..{MAX_LABEL_ID})")
        try:
            score_f = float(score)
        except ValueError:
            raise InputError(path, f"line {n}: score {score!r} is not a number") from None
        if not math.isfinite(score_f):
            raise InputError(path, f"line {n}: score {score!r} is not a finite number")
        key = os.path.normpath(mask)
        if key in seen:
            raise InputError(path, f"line {n}: mask {mask!r} is already listed on line {seen[key]}")
        seen[key] = n
        out.append(PredLine(n, mask, int(label_f), score_f))
    return out


def mask_path(txt: str | os.PathLike, entry: PredLine, *, root: str | os.PathLike | None = None) -> Path:
    """The file of ``entry``'s mask; with ``root``, it must lie inside ``root``."""
    txt = Path(txt)
    p = Path(os.path.normpath(txt.parent / entry.mask))
    if root is not None:
        r = Path(os.path.normpath(os.path.abspath(root)))
        if r != p and r not in Path(os.path.abspath(p)).parents:
            raise InputError(txt, f"line {entry.line}: mask {entry.mask!r} lies outside the folder {root}")
    return p


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """A mask PNG as ``(H, W)`` bool, non-zero = inside (as the official evaluation reads it)."""
    from .images import open_png

    im = open_png(path, what="instance masks")  # InputError: unreadable, missing, too large, not PNG
    try:
        return np.asarray(im.convert("L")) != 0
    except (OSError, ValueError) as err:
        raise InputError(path, f"cannot read image: {err}") from None


def _size(shape) -> str:
    return f"{shape[0]}×{shape[1]}"


def read_pred_masks(
    txt: str | os.PathLike,
    lines: Sequence[PredLine],
    *,
    shape: tuple[int, int] | None = None,
    shape_of: str = "",
    root: str | os.PathLike | None = None,
) -> np.ndarray:
    """The masks named by ``lines`` as ``(N, H, W)`` bool.

    ``shape`` is the size every mask must have (``shape_of`` names what it comes from, for
    the message); without it, the first mask sets the size. Errors name ``txt`` and the line.
    """
    masks = []
    files: dict[tuple[int, int], PredLine] = {}  # (device, inode) -> the line that listed it
    for entry in lines:
        p = mask_path(txt, entry, root=root)
        if not p.exists():
            raise InputError(txt, f"line {entry.line}: mask {entry.mask!r} not found ({p})")
        st = p.stat()
        first = files.setdefault((st.st_dev, st.st_ino), entry)
        if first is not entry:  # another name of one file: a symlinked folder, a hard link
            raise InputError(
                txt,
                f"line {entry.line}: mask {entry.mask!r} is the file listed on line {first.line} "
                f"({first.mask!r}) under another name",
            )
        try:
            m = read_mask(p)
        except InputError as err:
            raise InputError(txt, f"line {entry.line}: mask {entry.mask!r}: {err.problem}") from None
        if shape is None:
            shape, shape_of = m.shape, f"the mask on line {entry.line}"
        elif m.shape != tuple(shape):
            raise InputError(
                txt,
                f"line {entry.line}: mask {entry.mask!r} is {_size(m.shape)} "
                f"but {shape_of or 'the image'} is {_size(shape)}",
            )
        masks.append(m)
    if not masks:
        return np.zeros((0,) + (tuple(shape) if shape is not None else (0, 0)), bool)
    return np.stack(masks)


def read_instances(
    txt: str | os.PathLike,
    *,
    shape: tuple[int, int] | None = None,
    shape_of: str = "",
    root: str | os.PathLike | None = None,
    lines: Sequence[PredLine] | None = None,
    cityscapes_ids: bool = False,
) -> InstanceSet:
    """Read a ``_pred.txt`` and its masks as an :class:`~segfix_gui.core.instances.InstanceSet`:
    the one reader of instance predictions (the window, ``segfix refine-instances`` and
    ``segfix evaluate-instances`` all call it).

    Parameters
    ----------
    txt : path of the ``_pred.txt`` file
    shape : (H, W) every mask must have, e.g. the offsets' or the ground truth's
    shape_of : what ``shape`` comes from, for the error message
    root : masks must lie inside this folder (the official evaluation requires it)
    lines : the file's lines if :func:`parse_pred_txt` has read them already
    cityscapes_ids : every label id must be one of Cityscapes' (as the official evaluation
        needs), else an InputError naming the line

    Returns
    -------
    InstanceSet of N masks ``(N, H, W)`` bool, with the label ids, the scores and the mask
    paths as written (``names``); :func:`mask_files` gives the files.
    """
    if lines is None:
        lines = parse_pred_txt(txt)
    if cityscapes_ids:
        from cityscapesscripts.helpers.labels import id2label

        for e in lines:
            if e.label_id not in id2label:
                raise InputError(txt, f"line {e.line}: {e.label_id} is not a Cityscapes label id")
    masks = read_pred_masks(txt, lines, shape=shape, shape_of=shape_of, root=root)
    return InstanceSet(
        masks=masks,
        label_ids=np.array([e.label_id for e in lines], np.int32),
        scores=np.array([e.score for e in lines], np.float64),
        names=tuple(e.mask for e in lines),
    )


def mask_files(txt: str | os.PathLike, instances: InstanceSet) -> list[Path]:
    """The mask file of each instance read from ``txt`` (its ``names`` joined to the folder of
    ``txt``), in order."""
    if instances.names is None:
        raise ValueError("these instances have no mask names")
    folder = Path(txt).parent
    return [Path(os.path.normpath(folder / n)) for n in instances.names]


def format_pred_txt(entries: Sequence[tuple[str, int, float]]) -> str:
    """The text of a ``_pred.txt``: one ``mask labelId score`` line per entry (``\\n`` ended)."""
    out = []
    for mask, label_id, score in entries:
        mask = str(mask).replace(os.sep, "/")
        if any(c.isspace() for c in mask) or not mask:
            raise ValueError(f"mask path {mask!r} must be non-empty and without spaces")
        out.append(f"{mask} {int(label_id)} {float(score)!r}\n")
    return "".join(out)


def _write_mask_to(tmp: str, mask: np.ndarray) -> None:
    from PIL import Image

    png = np.where(np.asarray(mask) != 0, 255, 0).astype(np.uint8)
    Image.fromarray(png).save(tmp, format="PNG")


def write_instances(
    txt: str | os.PathLike,
    instances: InstanceSet,
    *,
    copy_from: dict | None = None,
    txt_from: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
) -> None:
    """Write ``instances`` as ``txt`` plus one PNG (0 / 255) per mask, all or nothing.

    Mask files go to ``txt``'s folder joined with ``instances.names[i]``, which must stay
    inside ``root`` (default: ``txt``'s folder). Every file is
    first written under a temporary name beside its target; only when all are complete
    are they renamed, the ``.txt`` last — an error leaves no file of this image changed.
    ``copy_from`` maps an index to an existing mask file whose bytes are copied instead of
    encoding the mask again (used for masks that did not change); ``txt_from`` is a
    ``_pred.txt`` listing the same instances whose bytes are copied as the ``.txt`` (keeps
    the user's formatting of scores).
    """
    txt = Path(txt)
    names = instances.names
    if names is None or len(names) != len(instances):
        raise ValueError("instances need one relative mask name each to be written")
    top = Path(root if root is not None else txt.parent).resolve()
    targets = []
    for name in names:
        p = Path(os.path.normpath(txt.parent / name))
        if os.path.isabs(name) or top not in p.resolve().parents:
            raise ValueError(f"mask name {name!r} must stay inside {top}")
        targets.append(p)
    text = format_pred_txt(list(zip(names, instances.label_ids, instances.scores, strict=True)))
    copy_from = copy_from or {}
    with contextlib.ExitStack() as stack:
        # entered first, so renamed last: the .txt never names a mask not yet in place
        tmp_txt = stack.enter_context(atomic_path(txt))
        for i, target in enumerate(targets):
            tmp = stack.enter_context(atomic_path(target))
            if i in copy_from:
                shutil.copyfile(copy_from[i], tmp)
            else:
                _write_mask_to(tmp, instances.masks[i])
        if txt_from is not None:
            shutil.copyfile(txt_from, tmp_txt)
        else:
            with open(tmp_txt, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)


def write_refined_instances(
    txt: str | os.PathLike,
    before: InstanceSet,
    after: InstanceSet,
    *,
    source: str | os.PathLike,
    root: str | os.PathLike | None = None,
    changed: Sequence[bool] | np.ndarray | None = None,
) -> list[Path]:
    """Write refined instances as ``segfix refine-instances`` does (the window's export too):
    ``txt`` is a byte copy of ``source`` (the ``_pred.txt`` that ``before`` was read from: the
    same instances, so the user's formatting of scores is kept), each mask that refinement did
    not change is a byte copy of its input file, the others are encoded anew; all or nothing
    (:func:`write_instances`). ``changed`` (N,) bool says which masks changed when the caller
    knows it already (else the masks are compared). Returns the files written, ``txt`` first.
    """
    if len(after) != len(before) or after.names != before.names:
        raise ValueError("the refined instances must be the instances read from the source file")
    if changed is None:
        changed = [not np.array_equal(a, b) for a, b in zip(after.masks, before.masks, strict=True)]
    sources = mask_files(source, before)
    unchanged = {i: str(sources[i]) for i in range(len(after)) if not changed[i]}
    write_instances(txt, after, copy_from=unchanged, txt_from=source, root=root)
    return [Path(txt)] + mask_files(txt, after)


def read_instance_gt(path: str | os.PathLike, *, cityscapes_ids: bool = False) -> np.ndarray:
    """A ``*_gtFine_instanceIds.png`` as ``(H, W)`` int32 ids (``labelId * 1000 + index``).

    ``cityscapes_ids``: every label id (``id // 1000`` of an instance, the id itself below
    1000) must be one of Cityscapes' (as the official evaluation needs), else an InputError
    naming the file and the id."""
    from .images import read_labels

    arr = read_labels(path).astype(np.int32)
    if cityscapes_ids:
        from cityscapesscripts.helpers.labels import id2label

        ids = np.unique(arr)
        labels = np.unique(np.where(ids >= 1000, ids // 1000, ids))
        bad = [int(v) for v in labels if int(v) not in id2label]
        if bad:
            where = int(ids[np.where(ids >= 1000, ids // 1000, ids) == bad[0]][0])
            raise InputError(
                path,
                f"label id {bad[0]} (pixel value {where}) is not a Cityscapes label id "
                f"(ids 0..{max(k for k in id2label)}): not Cityscapes instance ground truth",
            )
    return arr


def list_pred_txts(folder: str | os.PathLike, *, skip=()) -> list[Path]:
    """The ``*_pred.txt`` files under ``folder`` (recursively, sorted; sub-folders in ``skip``
    are not searched)."""
    from .pairing import list_files

    return list_files(folder, PRED_TXT_SUFFIXES, skip=skip)


def list_instance_gts(folder: str | os.PathLike) -> list[Path]:
    """The ``*_gtFine_instanceIds.png`` files under ``folder`` (recursively, sorted): the
    files :func:`pair_instance_set` pairs as instance ground truth."""
    from .pairing import ROLES, list_files

    return list_files(folder, ROLES["gt_instances"][0])


def pair_instance_set(
    *,
    instances: str | os.PathLike,
    offsets: str | os.PathLike | None = None,
    image: str | os.PathLike | None = None,
    gt: str | os.PathLike | None = None,
    refined: str | os.PathLike | None = None,
    skip=(),
) -> list[dict]:
    """An instance set's files, one row per ``*_pred.txt`` under ``instances``, paired by name
    (``x_leftImg8bit_pred.txt`` with ``x.npz`` / ``x_leftImg8bit.npz``, ``x_leftImg8bit.png``,
    ``x_gtFine_instanceIds.png``, a refined ``x_leftImg8bit_pred.txt``) the way
    :func:`segfix_gui.io.pairing.pair_folders` pairs semantic sets:
    ``{"key", "error", "instances", "offsets", "image", "gt_instances", "refined_instances"}``
    (a role whose folder is None is None in every row).

    Two ``_pred.txt`` of one image in one folder (``x_pred.txt`` beside
    ``x_leftImg8bit_pred.txt``) are each an ``error``: which one is meant cannot be told.
    InputError when ``instances`` holds no ``_pred.txt``. ``skip``: sub-folders of
    ``instances`` not searched (an output folder inside it).
    """
    from .pairing import pair_folders

    txts = list_pred_txts(instances, skip=skip)
    if not txts:
        raise InputError(instances, f"no *{PRED_TXT_SUFFIXES[0]} files found")
    return pair_folders(
        "instances",
        {"instances": instances, "offsets": offsets, "image": image, "gt_instances": gt, "refined_instances": refined},
        primary_files=txts,
        one_per_key=True,
    )
