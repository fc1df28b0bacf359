"""Label spaces: the one table of class ids, names, colours and evaluation indices.

A label space maps the integer ids stored in label PNGs to *evaluation classes*
(``0 .. n_classes-1``) or to *ignore*. Cityscapes comes from
``cityscapesscripts.helpers.labels``; CamVid and ADE20K from JSON specs in
``resources/label_spaces``; any JSON file of the same form may be passed by path.

JSON spec::

    {"name": "camvid",
     "classes": [{"id": 0, "name": "sky", "color": [128, 128, 128]},
                 ...,
                 {"id": 11, "name": "unlabelled", "color": [0, 0, 0], "ignore": true}]}

Classes that are not ``"ignore"`` are evaluated, in the order listed, unless a
class gives ``"train_id"`` explicitly (several ids may share one train id; 0..254, or 255 for
ignore). ``"ignore"`` is ``true`` or ``false``. A malformed spec is an InputError naming the
file and the entry (``classes[3] (id 7, 'car'): train_id 300 is out of range (0..255)``).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._files import JSON_LIMIT, read_small
from ._resources import resource
from .errors import InputError

IGNORE = 255
"""Evaluation index of ignored / void pixels."""

BUILTIN = ("cityscapes", "cityscapes-trainid", "camvid", "ade20k")


@dataclass(frozen=True)
class LabelClass:
    id: int
    name: str
    color: tuple[int, int, int]
    train_id: int  # evaluation index, or IGNORE


@dataclass(frozen=True, eq=False)
class LabelSpace:
    """Classes of one label space and every lookup derived from them.

    Attributes
    ----------
    name : str
    classes : tuple of LabelClass, one per stored id
    names : tuple of str, the evaluation class names by evaluation index
    colors : ndarray of shape (n_classes, 3), uint8, colour of each evaluation class
    id_to_eval : ndarray of shape (65536,), uint8 — evaluation index of every stored id
        (``IGNORE`` for ignored ids and for ids not in the space)
    palette : ndarray of shape (65536, 3), uint8 — display colour of every stored id
    valid_ids : ndarray of bool, shape (65536,) — True for ids that belong to the space
    """

    name: str
    classes: tuple[LabelClass, ...]
    names: tuple[str, ...] = field(init=False)
    colors: np.ndarray = field(init=False, repr=False)
    id_to_eval: np.ndarray = field(init=False, repr=False)
    palette: np.ndarray = field(init=False, repr=False)
    valid_ids: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        n = 1 + max((c.train_id for c in self.classes if c.train_id != IGNORE), default=-1)
        names: list[str | None] = [None] * n
        colors = np.zeros((n, 3), np.uint8)
        id_to_eval = np.full(65536, IGNORE, np.uint8)
        palette = np.zeros((65536, 3), np.uint8)
        valid = np.zeros(65536, bool)
        for c in self.classes:
            if not 0 <= c.id < 65536:
                continue
            valid[c.id] = True
            palette[c.id] = c.color
            id_to_eval[c.id] = c.train_id
            if c.train_id != IGNORE and names[c.train_id] is None:
                names[c.train_id] = c.name
                colors[c.train_id] = c.color
        if any(nm is None for nm in names):
            raise ValueError(f"label space {self.name!r}: evaluation indices are not contiguous")
        object.__setattr__(self, "names", tuple(names))
        object.__setattr__(self, "colors", colors)
        object.__setattr__(self, "id_to_eval", id_to_eval)
        object.__setattr__(self, "palette", palette)
        object.__setattr__(self, "valid_ids", valid)

    @property
    def n_classes(self) -> int:
        return len(self.names)

    @property
    def ignore_ids(self) -> tuple[int, ...]:
        return tuple(c.id for c in self.classes if c.train_id == IGNORE)

    @property
    def max_id(self) -> int:
        return max(c.id for c in self.classes)

    def to_eval(self, labels: np.ndarray) -> np.ndarray:
        """Map stored ids ``(H, W)`` to evaluation indices ``(H, W)`` uint8 (``IGNORE`` = 255)."""
        return self.id_to_eval[np.asarray(labels)]

    def colorize(self, labels: np.ndarray) -> np.ndarray:
        """``(H, W)`` ids -> ``(H, W, 3)`` uint8 colours."""
        return self.palette[np.asarray(labels)]

    def ids_from_colors(self, rgb: np.ndarray, *, path=None) -> np.ndarray:
        """Convert a colour-coded ``(H, W, 3)`` uint8 image to ``(H, W)`` ids.

        Raises InputError naming the first colour that is not in the palette and where it is.
        """
        rgb = np.asarray(rgb, np.uint8)
        key = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
        table: dict[int, int] = {}
        for c in sorted(self.classes, key=lambda c: c.id, reverse=True):  # lowest id wins
            r, g, b = c.color
            table[(r << 16) | (g << 8) | b] = c.id
        keys = np.array(sorted(table), np.uint32)
        ids = np.array([table[int(k)] for k in keys], np.int64)
        pos = np.clip(np.searchsorted(keys, key), 0, len(keys) - 1)
        bad = keys[pos] != key
        if bad.any():
            r, c = np.argwhere(bad)[0]
            colour = tuple(int(v) for v in rgb[r, c])
            raise InputError(path, f"colour {colour} at (row {r}, col {c}) is not in the {self.name} palette")
        dtype = np.uint8 if self.max_id < 256 else np.uint16
        return ids[pos].astype(dtype)

    def check_ids(self, labels: np.ndarray, *, path=None) -> None:
        """Raise InputError if ``labels`` holds an id that is not in this space."""
        labels = np.asarray(labels)
        if labels.dtype in (np.uint8, np.uint16):  # bincount is much faster than unique
            present = np.flatnonzero(np.bincount(labels.ravel(), minlength=1))
        else:
            present = np.unique(labels)
        bad = present[(present < 0) | (present >= 65536)]
        if bad.size == 0:
            bad = present[~self.valid_ids[present]]
        if bad.size:
            raise InputError(
                path, f"label id {int(bad[0])} is not in the {self.name} label space (ids {self.id_summary()})"
            )

    def id_summary(self) -> str:
        ids = sorted(c.id for c in self.classes)
        if ids == list(range(ids[0], ids[-1] + 1)):
            return f"{ids[0]}..{ids[-1]}"
        return ", ".join(map(str, ids))

    def lut_rgba(self, *, alpha: int = 255, hidden: set[int] | frozenset = frozenset()) -> np.ndarray:
        """A 256-row RGBA lookup table for display of uint8 ids (ignored ids transparent).

        ``hidden`` holds evaluation indices whose rows are made transparent too.
        """
        lut = np.zeros((256, 4), np.uint8)
        for c in self.classes:
            if 0 <= c.id < 256:
                lut[c.id, :3] = c.color
                visible = c.train_id != IGNORE and c.train_id not in hidden
                lut[c.id, 3] = alpha if visible else 0
        return lut


def _int(v, what: str, lo: int, hi: int) -> int:
    if (
        isinstance(v, bool)
        or not isinstance(v, (int, float))
        or v != v
        or v in (float("inf"), -float("inf"))
        or int(v) != v
    ):
        raise ValueError(f"{what} must be an integer {lo}..{hi}, not {json.dumps(v)[:40]}")
    if not lo <= int(v) <= hi:
        raise ValueError(f"{what} {int(v)} is out of range ({lo}..{hi})")
    return int(v)


def _entry(i: int, e) -> tuple[int, str, tuple[int, int, int], bool, int | None]:
    """``(id, name, colour, ignore, train_id or None)`` of one ``classes`` entry, checked."""
    if not isinstance(e, dict):
        raise ValueError(f"classes[{i}] must be an object with id, name and color, not {json.dumps(e)[:40]}")
    where = f"classes[{i}]"
    for key in ("id", "name", "color"):
        if key not in e:
            raise ValueError(f"{where} has no {key!r}")
    cid = _int(e["id"], f"{where}: id", 0, 65535)
    if not isinstance(e["name"], str):
        raise ValueError(f"{where} (id {cid}): name must be a string")
    where = f"{where} (id {cid}, {e['name']!r})"
    color = e["color"]
    if not isinstance(color, list) or len(color) != 3:
        raise ValueError(f"{where}: color must be 3 values 0..255, not {json.dumps(color)[:40]}")
    color = tuple(_int(v, f"{where}: color value", 0, 255) for v in color)
    ignore = e.get("ignore", False)
    if not isinstance(ignore, bool):
        raise ValueError(f"{where}: ignore must be true or false, not {json.dumps(ignore)[:40]}")
    tid = None
    if "train_id" in e and not ignore:
        tid = _int(e["train_id"], f"{where}: train_id", 0, IGNORE)
    return cid, e["name"], color, ignore or tid == IGNORE, tid


def _from_spec(spec, *, source) -> LabelSpace:
    """A label space from a parsed JSON spec; InputError naming ``source`` and the bad entry."""
    try:
        if not isinstance(spec, dict):
            raise ValueError("the spec must be a JSON object with a 'classes' list")
        entries = spec.get("classes")
        if not isinstance(entries, list):
            raise ValueError(
                "'classes' must be a list of objects (id, name, color)" if "classes" in spec else "no 'classes' list"
            )
        if not entries:
            raise ValueError("no classes")
        name = spec.get("name", Path(str(source)).stem)
        if not isinstance(name, str):
            raise ValueError("'name' must be a string")
        classes: list[LabelClass] = []
        seen: dict[int, int] = {}
        order = 0
        for i, e in enumerate(entries):
            cid, cname, color, ignore, tid = _entry(i, e)
            if cid in seen:
                raise ValueError(f"classes[{i}]: id {cid} is also classes[{seen[cid]}]")
            seen[cid] = i
            if ignore:
                tid = IGNORE
            else:
                if tid is None and order >= IGNORE:  # evaluation indices are 0..254 (uint8, 255 ignore)
                    raise ValueError(
                        f"classes[{i}] (id {cid}, {cname!r}): more than {IGNORE} evaluated classes; at most "
                        f'{IGNORE} are supported (mark the others "ignore" or give classes a shared train_id)'
                    )
                tid = order if tid is None else tid
                order = max(order, tid) + 1
            classes.append(LabelClass(cid, cname, color, tid))
        _check_distinct(classes)
        if all(c.train_id == IGNORE for c in classes):
            raise ValueError("every class is ignored: nothing would be evaluated")
        return LabelSpace(name, tuple(classes))
    except ValueError as err:
        raise InputError(source, f"not a valid label space spec: {err}") from None


def _check_distinct(classes: list[LabelClass]) -> None:
    """ValueError for two classes of different evaluation indices (or one evaluated, one
    ignored) that share a colour (a colour-coded map could not tell them apart: one would take
    the other's pixels) or a name (their figures would be reported under one name)."""
    by: dict[tuple, tuple[int, LabelClass]] = {}
    for i, c in enumerate(classes):
        for key, what in ((("color", c.color), f"colour {c.color}"), (("name", c.name), f"name {c.name!r}")):
            if key in by and by[key][1].train_id != c.train_id:
                j, other = by[key]
                raise ValueError(
                    f"classes[{i}] (id {c.id}, {c.name!r}): {what} is also classes[{j}]'s "
                    f"(id {other.id}, {other.name!r}), another class: give each class its own"
                )
            by.setdefault(key, (i, c))


def _load_json(path):
    """The parsed JSON of a label-space spec; InputError for any unreadable file."""
    try:
        return json.loads(read_small(path, limit=JSON_LIMIT, what="label space spec").decode("utf-8"))
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(path, "label space spec not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not a label space spec") from None
    except RecursionError:
        raise InputError(path, "cannot read label space spec: nested too deeply") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(path, f"cannot read label space spec: {err}") from None


def _cityscapes(train_ids: bool) -> LabelSpace:
    from cityscapesscripts.helpers.labels import labels as cs_labels

    classes = []
    for lab in cs_labels:
        tid = IGNORE if (lab.ignoreInEval or lab.trainId in (255, -1)) else int(lab.trainId)
        if train_ids:
            if tid == IGNORE:
                continue
            classes.append(LabelClass(tid, lab.name, tuple(lab.color), tid))
        elif lab.id >= 0:
            classes.append(LabelClass(int(lab.id), lab.name, tuple(lab.color), tid))
    if train_ids:
        classes.append(LabelClass(IGNORE, "ignore", (0, 0, 0), IGNORE))
        return LabelSpace("cityscapes-trainid", tuple(classes))
    return LabelSpace("cityscapes", tuple(classes))


@functools.cache
def _builtin(name: str) -> LabelSpace:
    if name == "cityscapes":
        return _cityscapes(False)
    if name == "cityscapes-trainid":
        return _cityscapes(True)
    path = resource("label_spaces", f"{name}.json")
    if not path.is_file():
        raise InputError(path, f"the bundled {name} label space is missing from this install")
    return _from_spec(_load_json(path), source=path)


def get_label_space(name_or_path: str | os.PathLike | LabelSpace) -> LabelSpace:
    """Return a built-in label space by name (see ``BUILTIN``) or load a JSON spec by path."""
    if isinstance(name_or_path, LabelSpace):
        return name_or_path
    s = os.fspath(name_or_path)
    if s in BUILTIN:
        return _builtin(s)
    if not s.lower().endswith(".json") and not os.path.exists(s):
        raise InputError(None, f"unknown label space {s!r}: use one of {', '.join(BUILTIN)} or the path of a JSON spec")
    return _from_spec(_load_json(s), source=s)
