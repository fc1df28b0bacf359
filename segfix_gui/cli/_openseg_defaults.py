"""openseg's ``--split val|test`` defaults for ``segfix refine`` and ``segfix refine-instances``.

openseg's ``scripts/cityscapes/segfix.py`` and ``segfix_instance.py`` take, when ``--offset`` is
omitted, ``$DATA_ROOT/cityscapes/val/offset_pred/<kind>/offset_hrnext`` (val) or
``$DATA_ROOT/cityscapes/test_offset/<kind>/offset_hrnext`` (test), ``<kind>`` being ``semantic``
or ``instance``; when ``--out`` is omitted, the semantic script replaces ``/label`` by
``/label_w_segfix`` in the input path (else ``<input>/label_w_segfix``), the instance script
always takes ``<input>/label_w_segfix``. On val they evaluate the result: the semantic script
against ``$DATA_ROOT/cityscapes/val/label``, the instance script against
``<dataset_dir>/gtFine/val`` (its ``--dataset_dir``, given to cityscapesscripts as
``CITYSCAPES_DATASET``).

``DATA_ROOT`` and ``CITYSCAPES_DATASET`` are read from the environment when a command runs
(openseg reads ``DATA_ROOT`` from its ``config.profile``, which is not executed here).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

SPLITS = ("val", "test")
OUT_NAME = "label_w_segfix"


@dataclass(frozen=True)
class Plan:
    """Where a refine command reads and writes.

    offset : the offsets folder (None when only evaluating)
    out : the output folder (links resolved), checked against every input
    gt : the ground truth to evaluate against (``--split val``), else None
    skip : folders not searched under the input (the output: openseg's default may lie inside it)
    notes : where the command reads and writes, one line each, for the user
    """

    offset: Path | None
    out: Path
    gt: Path | None
    skip: tuple[Path, ...]
    notes: tuple[str, ...]


def add_split_option(p: argparse.ArgumentParser, *, kind: str) -> None:
    """``--split val|test``: openseg's default folders (``kind``: semantic or instance)."""
    gt = "$DATA_ROOT/cityscapes/val/label" if kind == "semantic" else "DATASET/gtFine/val"
    p.add_argument(
        "--split",
        choices=SPLITS,
        default=None,
        help="as openseg's segfix script: --offset defaults to "
        f"$DATA_ROOT/cityscapes/val/offset_pred/{kind}/offset_hrnext (val) or "
        f"$DATA_ROOT/cityscapes/test_offset/{kind}/offset_hrnext (test), --out to "
        + (
            "the input path with /label replaced by /label_w_segfix (else INPUT/label_w_segfix)"
            if kind == "semantic"
            else "INPUT/label_w_segfix"
        )
        + f"; val also evaluates the result against {gt}",
    )


def default_offset_dir(data_root: str, split: str, kind: str) -> Path:
    """openseg's offsets folder for ``split`` (val or test) and ``kind`` (semantic or instance)."""
    if split == "val":
        return Path(data_root, "cityscapes", "val", "offset_pred", kind, "offset_hrnext")
    return Path(data_root, "cityscapes", "test_offset", kind, "offset_hrnext")


def default_out(input_dir: str, kind: str) -> str:
    """openseg's output folder for the input folder as typed: the semantic script replaces every
    ``/label`` by ``/label_w_segfix`` (Python's ``str.replace``), else appends ``label_w_segfix``;
    the instance script always appends it."""
    if kind == "semantic" and "/label" in input_dir:
        return input_dir.replace("/label", "/" + OUT_NAME)
    return os.path.join(input_dir, OUT_NAME)


def _env(name: str) -> str | None:
    return os.environ.get(name) or None  # an empty variable is not set


def _existing(path: Path, what: str, set_by: str) -> Path:
    if not path.is_dir():
        raise InputError(path, f"{what} not found ({set_by})")
    return path


def resolve(args, *, kind: str, eval_only: bool = False) -> Plan:
    """The folders of a refine command from its options and openseg's defaults.

    ``args``: ``input``, ``offset``, ``out``, ``split`` and, for instances, ``dataset_dir``.
    Without ``--split`` the command's ``--offset`` and ``--out`` are required. Every bad set-up
    is one InputError line naming the folder and what sets it: no DATA_ROOT for a default
    folder, a default folder that does not exist, a default output that would be, hold or lie
    inside an input other than the input predictions.
    """
    from ..io.pairing import check_out_dir

    split = args.split
    if eval_only and split != "val":
        raise InputError(None, "--eval-only scores the output against the val ground truth: it needs --split val")
    if split is None:
        missing = [o for o, v in (("--offset", args.offset), ("--out", args.out)) if v is None]
        if missing:
            raise InputError(
                None,
                f"the following arguments are required: {', '.join(missing)} "
                "(or --split val|test for openseg's default folders)",
            )
    notes = []
    offset = None
    if not eval_only:
        if args.offset is not None:
            offset = Path(args.offset)
        else:
            root = _env("DATA_ROOT")
            if root is None:
                raise InputError(
                    None,
                    f"--split {split} without --offset takes openseg's offsets under $DATA_ROOT, and DATA_ROOT "
                    "is not set: set DATA_ROOT or give --offset",
                )
            offset = _existing(
                default_offset_dir(root, split, kind),
                "offsets folder",
                f"openseg's default for --split {split}, under DATA_ROOT; give --offset for another",
            )
        notes.append(f"offsets: {offset}")
    gt = None
    if split == "val":
        if kind == "semantic":
            root = _env("DATA_ROOT")
            if root is None:
                raise InputError(
                    None,
                    "--split val evaluates against $DATA_ROOT/cityscapes/val/label, and DATA_ROOT is not set: "
                    "set DATA_ROOT, or use --split test to refine without evaluating",
                )
            gt = _existing(
                Path(root, "cityscapes", "val", "label"),
                "ground-truth folder",
                "openseg's ground truth for --split val, under DATA_ROOT",
            )
        else:
            dataset = args.dataset_dir or _env("CITYSCAPES_DATASET")
            if dataset is None:
                raise InputError(
                    None,
                    "--split val evaluates against DATASET/gtFine/val: give --dataset-dir or set "
                    "CITYSCAPES_DATASET (openseg's default, /msravcshare/dataset/original_cityscapes/, "
                    "is its authors' own), or use --split test to refine without evaluating",
                )
            gt = _existing(
                Path(dataset, "gtFine", "val"),
                "ground-truth folder",
                "--split val; set by --dataset-dir" if args.dataset_dir else "--split val; set by CITYSCAPES_DATASET",
            )
        notes.append(f"ground truth: {gt}")
    is_default = args.out is None
    out = Path(default_out(args.input, kind) if is_default else args.out)
    others = [p for p in (offset, gt) if p is not None]
    if eval_only:
        checked = _existing(
            out,
            "refined predictions folder",
            "--eval-only scores it; set by " + (f"openseg's default --out for {args.input}" if is_default else "--out"),
        )
    else:
        # inside the input: allowed for openseg's default, whose search then skips it
        inside = is_default and Path(args.input).resolve() in out.resolve().parents
        try:
            checked = check_out_dir(out, *([] if inside else [args.input]), *others)
        except InputError as err:
            if not is_default:
                raise
            raise InputError(err.path, f"{err.problem} (this is openseg's default --out: give --out)") from None
    notes.append(f"{'evaluating' if eval_only else 'writing to'} {out}")
    # the input's search never enters the output, however it is reached (inside it, or a link)
    return Plan(offset=offset, out=checked, gt=gt, skip=(checked,), notes=tuple(notes))
