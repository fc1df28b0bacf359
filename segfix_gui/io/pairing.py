"""Finding files in folders and pairing them by stem.

A pairing key is the file name without its suffix and without the dataset conventions
``_leftImg8bit``, ``_gtFine_labelIds``, ``_gtFine_labelTrainIds``, ``_gtFine_color``,
``_gtFine_instanceIds`` and ``_pred``: so ``x.png`` pairs with ``x.npz`` or ``x.mat``, and
``frankfurt_000000_000294_leftImg8bit.png`` with ``frankfurt_000000_000294_gtFine_labelIds.png``.
Sub-folders are searched (Cityscapes keeps one folder per city); outputs keep them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._files import unlistable
from ..errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
LABEL_SUFFIXES = (".png",)
OFFSET_SUFFIXES = (".npz", ".mat")
PRED_TXT_SUFFIXES = ("_pred.txt",)  # Cityscapes instance predictions
INSTANCE_GT_SUFFIX = "_gtFine_instanceIds.png"  # Cityscapes instance ground truth
INSTANCE_GT_SUFFIXES = (INSTANCE_GT_SUFFIX.lower(),)  # (names are compared lower-case)
# role -> (suffixes, preference among suffixes when two files share a key)
ROLES = {
    "pred": (LABEL_SUFFIXES, ()),
    "gt": (LABEL_SUFFIXES, ()),
    "refined": (LABEL_SUFFIXES, ()),
    "labels": (LABEL_SUFFIXES, ()),
    "offsets": (OFFSET_SUFFIXES, (".npz", ".mat")),
    "image": (IMAGE_SUFFIXES, (".png", ".jpg", ".jpeg")),
    "instances": (PRED_TXT_SUFFIXES, ()),
    "gt_instances": (INSTANCE_GT_SUFFIXES, ()),
    "refined_instances": (PRED_TXT_SUFFIXES, ()),
}
CONVENTIONS = (
    "_leftImg8bit",
    "_gtFine_labelIds",
    "_gtFine_labelTrainIds",
    "_gtFine_color",
    "_gtFine_instanceIds",
    "_pred",
)


def pair_key(path: str | os.PathLike) -> str:
    stem = Path(path).name
    stem = stem[: len(stem) - len(Path(stem).suffix)] if Path(stem).suffix else stem
    stripped = True
    while stripped:  # x_leftImg8bit_pred -> x_leftImg8bit -> x
        stripped = False
        for suffix in CONVENTIONS:
            if stem.endswith(suffix) and len(stem) > len(suffix):
                stem = stem[: -len(suffix)]
                stripped = True
    return stem


def list_files(folder: str | os.PathLike, suffixes: tuple[str, ...], *, skip=()) -> list[Path]:
    """Files under ``folder`` (recursively) whose name ends with one of ``suffixes`` (lower-case:
    ``.png``, or a longer ending such as ``_pred.txt``), sorted, hidden ones skipped.

    Symlinked sub-folders are followed; a folder reached twice (a link loop) is searched once.
    A sub-folder that cannot be listed (permission denied) is an InputError naming it.
    ``skip``: sub-folders not searched, however they are reached (an output folder inside the
    input folder, as openseg's default ``<input>/label_w_segfix``).
    """
    folder = Path(folder)
    if not folder.exists():
        raise InputError(folder, "folder not found")
    if not folder.is_dir():
        raise InputError(folder, "is not a folder")
    out = []
    seen = {os.path.realpath(folder)} | {os.path.realpath(d) for d in skip}
    # symlinked sub-folders are followed (a set of cities linked in is searched); one that leads
    # to a folder already searched (a loop, or a second link to the same folder) is not
    # a sub-folder that cannot be listed is an error naming it, never a silent gap
    for root, dirs, files in os.walk(folder, followlinks=True, onerror=unlistable):
        keep = []
        for d in sorted(d for d in dirs if not d.startswith(".")):
            real = os.path.realpath(os.path.join(root, d))
            if real not in seen:
                seen.add(real)
                keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(tuple(suffixes)):
                out.append(Path(root) / name)
    return out


def pair_folders(
    primary: str,
    folders: dict[str, str | os.PathLike | None],
    *,
    primary_files: list[Path] | None = None,
    one_per_key: bool = False,
    skip=(),
) -> list[dict]:
    """Pair the files of ``folders[primary]`` with the files of the other folders
    (:func:`pair_with`: the same relative place first, else the same key when unambiguous).

    Parameters
    ----------
    primary : the role whose files lead (one entry per file, sorted), e.g. ``"pred"``
    folders : ``{role: folder or None}``; roles from ``ROLES`` give the suffixes looked for
    primary_files : the leading files, if already chosen (else every file of the role's
        suffixes under its folder)
    one_per_key : two leading files of one key in one folder (``x_pred.txt`` beside
        ``x_leftImg8bit_pred.txt``: two files for one image) each get an ``error`` naming
        the other (their partners are still filled in)
    skip : sub-folders of ``folders[primary]`` not searched (see :func:`list_files`)

    Returns
    -------
    list of ``{"key": pair key, "error": one-line message or None, role: Path or None, ...}``
    — None where a folder has no partner (or the role's folder is None); ``error`` when a
    partner cannot be told apart. What a missing partner means is the caller's call.
    InputError for a missing folder, or for two partners of one key at one relative place.
    """
    suffixes, _ = ROLES[primary]
    root = folders[primary]
    if root is None:
        raise ValueError(f"the folder of the leading role {primary!r} is needed")
    files = primary_files if primary_files is not None else list_files(root, suffixes, skip=skip)
    rows: list[dict[str, Any]] = [{"key": pair_key(p), "error": None, primary: Path(p)} for p in files]
    if one_per_key:
        at: dict[str, list[dict]] = {}  # relative place -> its rows
        for r in rows:
            at.setdefault(_rel_key(r[primary], Path(root)), []).append(r)
        for same in at.values():
            for i, r in enumerate(same if len(same) > 1 else ()):
                other = same[1 if i == 0 else 0][primary]
                r["error"] = str(
                    InputError(
                        r[primary], f"has the same pairing name {r['key']!r} as {other}: cannot tell which to use"
                    )
                )
    for role, folder in folders.items():
        if role == primary:
            continue
        if folder is None:
            for r in rows:
                r[role] = None
            continue
        suf, prefer = ROLES[role]
        for r, (_, partner, error) in zip(rows, pair_with(files, root, folder, suf, prefer=prefer), strict=True):
            r[role] = partner
            r["error"] = r["error"] or error
    return rows


def check_out_dir(out, *inputs) -> Path:
    """Refuse an output folder that is an input folder, is inside one, or holds one.

    Either way outputs could land on inputs (``--input T/p --out T`` writes ``T/p/...``), so
    both are refused; links are followed first (``resolve``).
    """
    out_p = Path(out).resolve()
    for inp in inputs:
        if inp is None:
            continue
        in_p = Path(inp).resolve()
        if out_p == in_p or in_p in out_p.parents:
            raise InputError(
                out, f"the output folder must not be the input folder {inp} or inside it (inputs are never overwritten)"
            )
        if out_p in in_p.parents:
            raise InputError(
                out,
                f"the output folder must not hold the input folder {inp} "
                "(inputs are never overwritten): choose a folder beside it",
            )
    if out_p.exists() and not out_p.is_dir():
        raise InputError(out, "output exists and is not a folder")
    return out_p


def _rel_key(path: Path, root: Path) -> str:
    """``sub/folder/key``: the pairing key with the sub-folders below ``root``."""
    try:
        parent = Path(path).parent.relative_to(root)
    except ValueError:
        parent = Path()
    return (parent / pair_key(path)).as_posix()


def pair_with(
    paths, root, folder, suffixes: tuple[str, ...], *, prefer: tuple[str, ...] = ()
) -> list[tuple[Path, Path | None, str | None]]:
    """Pair files listed under ``root`` with their partners under ``folder``.

    Returns ``(path, partner or None, error or None)`` for each of ``paths``. A partner at the
    same relative place (``root/a/x.png`` with ``folder/a/x.npz``: the folder mirrors the
    sub-folders) wins; else a partner of the same key anywhere in ``folder``, when that key is
    found there once and only one of ``paths`` has it. Anything else (two inputs of one name in
    different sub-folders sharing one partner, or one input and two partners of its name) is an
    error for that input, never a guess.
    """
    root, folder = Path(root), Path(folder)
    rank = {s: i for i, s in enumerate(prefer)}
    by_rel: dict[str, Path] = {}
    by_key: dict[str, list[Path]] = {}
    for p in list_files(folder, suffixes):
        rel = _rel_key(p, folder)
        if rel in by_rel:
            other = by_rel[rel]
            a, b = rank.get(other.suffix.lower()), rank.get(p.suffix.lower())
            if a is None or b is None or a == b:
                raise InputError(p, f"has the same name as {other}: cannot tell which to pair")
            if b < a:
                by_key[pair_key(p)].remove(other)
                by_rel[rel] = p
                by_key[pair_key(p)].append(p)
            continue
        by_rel[rel] = p
        by_key.setdefault(pair_key(p), []).append(p)
    inputs_per_key: dict[str, int] = {}
    for p in paths:
        inputs_per_key[pair_key(p)] = inputs_per_key.get(pair_key(p), 0) + 1
    out: list[tuple[Path, Path | None, str | None]] = []
    for p in paths:
        p = Path(p)
        rel, key = _rel_key(p, root), pair_key(p)
        if rel in by_rel:
            out.append((p, by_rel[rel], None))
            continue
        found = by_key.get(key, [])
        if not found:
            out.append((p, None, None))
        elif len(found) > 1:
            out.append(
                (
                    p,
                    None,
                    str(
                        InputError(
                            p,
                            f"{len(found)} files of this name in {folder} "
                            f"({found[0]}, {found[1]}) and none at the "
                            "same relative place: cannot tell which to pair",
                        )
                    ),
                )
            )
        elif inputs_per_key[key] > 1:
            out.append(
                (
                    p,
                    None,
                    str(
                        InputError(
                            p,
                            f"{inputs_per_key[key]} inputs of this name in "
                            f"different sub-folders would share {found[0]}: "
                            "mirror the sub-folders to pair them",
                        )
                    ),
                )
            )
        else:
            out.append((p, found[0], None))
    return out
