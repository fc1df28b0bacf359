"""What to open, decided without Qt: the window's File menu, drops and recent entries call these
and only show the outcome (a sample to load, a set, or a one-line error).

Every function is pure (paths in, paths out) apart from reading folder listings, so the rules
— which parts replace which, when the setting is kept, what a dropped folder means — are
tested without a window.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..io.instances import list_pred_txts, pair_instance_set
from ..io.samples import PART_NAMES, SamplePaths, folder_layout, pair_set
from .drop import classify_files


def merge_parts(current: SamplePaths, parts: dict[str, str]) -> tuple[SamplePaths, bool]:
    """``current`` (the open or pending sample) with some parts replaced, and whether the
    refinement setting is kept (it is, unless new offsets bring their own recommendation).

    Instance files (``instances``, ``gt_instances``) turn it into an instance sample (the
    image and offsets stay); a label map (``pred``, ``gt``) turns it back.
    """
    base = SamplePaths(
        image=current.image,
        pred=current.pred,
        offsets=current.offsets,
        gt=current.gt,
        instances=current.instances,
        gt_instances=current.gt_instances,
    )
    if parts.keys() & {"instances", "gt_instances"}:
        base = base.as_instances()
    elif parts.keys() & {"pred", "gt"}:
        base = base.as_semantic()
    for part, path in parts.items():
        base = base.with_part(part, path)
    return base, "offsets" not in parts


def waiting_text(paths: SamplePaths) -> str | None:
    """What the sample still lacks before it can open, as a status line (None: complete)."""
    missing = paths.missing()
    if not missing:
        return None
    return "waiting for: " + ", ".join(PART_NAMES[m] for m in missing) + " (File ▸ Open … or drop files)"


@dataclass(frozen=True)
class SetSource:
    """Where a set comes from: a set folder, or one folder per role."""

    folder: str | None = None
    image: str | None = None
    pred: str | None = None
    offsets: str | None = None
    gt: str | None = None

    def resolved(self) -> SetSource:
        """The role folders (a set folder's sub-folders found by ``folder_layout``)."""
        if self.folder is None:
            return self
        lay = folder_layout(self.folder)
        return SetSource(self.folder, lay["image"], lay["pred"], lay["offsets"], lay["gt"])

    def samples(self) -> list[SamplePaths]:
        """The set's samples, paired by name; InputError (one line) when it cannot be opened.

        A prediction folder holding Cityscapes instance predictions (``*_pred.txt``) makes an
        instance set: each ``_pred.txt`` with its offsets, image and instance ground truth
        (``*_gtFine_instanceIds.png`` in the ground-truth folder), paired as the commands
        ``segfix refine-instances`` and ``segfix evaluate-instances`` pair them.
        """
        src = self.resolved()
        if src.pred is None or src.offsets is None:
            raise InputError(self.folder or src.pred or src.offsets, "a set needs prediction and offsets folders")
        if is_instance_folder(src.pred):
            rows = pair_instance_set(instances=src.pred, offsets=src.offsets, image=src.image, gt=src.gt)
            return [
                SamplePaths(
                    image=_str(r["image"]),
                    instances=str(r["instances"]),
                    offsets=_str(r["offsets"]),
                    gt_instances=_str(r["gt_instances"]),
                    name=_rel_name(r["instances"], src.pred, r["key"]),
                    pairing_error=r["error"],
                )
                for r in rows
            ]
        return pair_set(pred=src.pred, offsets=src.offsets, image=src.image, gt=src.gt)

    def recent_entry(self, space: str) -> dict:
        return {
            "kind": "set",
            "folder": self.folder,
            "image": self.image,
            "pred": self.pred,
            "offsets": self.offsets,
            "gt": self.gt,
            "space": space,
        }


def is_instance_folder(folder: str) -> bool:
    """Whether a prediction folder holds instance predictions (``*_pred.txt``)."""
    try:
        return bool(list_pred_txts(folder))
    except InputError:
        return False


def _rel_name(path, root, key: str) -> str:
    """A sample's name in a set: its key, with the sub-folders below ``root`` (Cityscapes keeps
    a folder per city; one frame name may appear in two of them)."""
    from pathlib import Path

    try:
        parent = Path(path).parent.relative_to(root)
    except ValueError:
        return key
    return key if str(parent) == "." else f"{parent.as_posix()}/{key}"


def _str(path) -> str | None:
    return None if path is None else str(path)


NOTHING_DROPPED = (
    "nothing to open in what was dropped (expected images, label PNGs, .npz/.mat offsets, a _pred.txt or a set folder)"
)


def dropped(paths: list[str]) -> tuple[str, object]:
    """What a drop opens: ``("set", SetSource)``, ``("parts", {part: path})`` or
    ``("error", message)``."""
    parts = classify_files(paths)
    if "folder" in parts:
        return "set", SetSource(folder=parts["folder"])
    if parts:
        return "parts", parts
    return "error", NOTHING_DROPPED
