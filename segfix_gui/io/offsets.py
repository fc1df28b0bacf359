"""Offset field files: our ``.npz`` (documented in docs/FORMATS.md) and openseg's ``.mat``
(offsets ``mat``, or the ground-truth targets ``depth`` / ``dir_deg`` of its generators)."""

from __future__ import annotations

import io
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .._files import check_input
from ..core.offsets import DIRECTIONS, OffsetField, angles_to_bins, as_stored
from ..core.setting import Setting, check_recommended
from ..errors import InputError
from .atomic import write_bytes

FORMAT_VERSION = 1
from .pairing import OFFSET_SUFFIXES  # noqa: E402,F401 - one definition, re-exported

PICKLED = "refused: it would run code (pickled objects in an offsets file are never loaded)"


def read_offsets(path: str | os.PathLike) -> OffsetField:
    """Read an offset field from ``.npz`` (probabilities or hard offsets) or openseg ``.mat``."""
    path = os.fspath(path)
    suffix = Path(path).suffix.lower()
    if suffix not in (".npz", ".mat"):
        raise InputError(path, "offsets must be a .npz or .mat file")
    check_input(path, "offsets file")  # a FIFO or a device would block or never end
    try:
        return _read_npz(path) if suffix == ".npz" else _read_mat(path)
    except (InputError, MemoryError):
        raise
    except Exception as err:  # noqa: BLE001 - whatever a malformed file trips, its line names the file
        text = " ".join(str(err).split())[:160]
        raise InputError(path, f"not a readable offsets file ({err.__class__.__name__}: {text})") from None


MAX_PIXELS = 1 << 28
"""Largest offset field read (H × W), the same limit as for images (io.images)."""
NPZ_KEYS = (
    "format_version",
    "boundary",
    "direction",
    "offsets",
    *(f"recommended_{k}" for k in ("threshold", "min_direction_prob", "scale")),
)


def _npy_header(f, path: str, name: str) -> tuple[tuple, np.dtype]:
    """``(shape, dtype)`` declared by a ``.npy`` member's header, read without loading it."""
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = npformat.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = npformat.read_array_header_2_0(f)
        else:
            # format 3.0 (utf-8 field names): numpy has no public reader of its header
            shape, _, dtype = npformat._read_array_header(f, version)  # type: ignore[attr-defined]
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, zipfile.BadZipFile) as err:
        raise InputError(
            path, f"member {name!r} is not a readable .npy array ({' '.join(str(err).split())[:120]})"
        ) from None
    return tuple(int(s) for s in shape), np.dtype(dtype)


def _npz_headers(path: str) -> dict[str, tuple[tuple, np.dtype]]:
    """``{key: (shape, dtype)}`` of every member, from the headers only (nothing is allocated)."""
    out = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir():
                continue
            if not name.endswith(".npy"):
                raise InputError(path, f"member {name!r} is not a .npy array (an .npz holds arrays only)")
            with zf.open(info) as f:
                shape, dtype = _npy_header(f, path, name)
                header_len = f.tell()
            if dtype.hasobject:
                raise InputError(
                    path, "refused: it would run code (pickled objects in an offsets file are never loaded)"
                )
            declared = dtype.itemsize
            for s in shape:
                declared *= s
            if declared > info.file_size - header_len:  # a header that lies about the data
                raise InputError(
                    path,
                    f"member {name!r} declares {declared:,} bytes of data but "
                    f"holds {max(info.file_size - header_len, 0):,}",
                )
            out[name[:-4]] = (shape, dtype)
    return out


NDIM = {"boundary": 2, "direction": 3, "offsets": 3}
"""Dimensions of each array of the ``.npz`` format; every one of them counts."""


def _check_declared(path: str, headers: dict) -> None:
    """Refuse sizes that would not fit in memory before any array is read: every dimension of
    every member the reader loads counts, and so does its element size."""
    for key, (shape, dtype) in headers.items():
        n = 1
        for s in shape:
            n *= s
        if key.startswith(("format_version", "recommended_")):
            if n != 1:
                raise InputError(path, f"'{key}' must be a single number, found shape {shape}")
            if dtype.itemsize > 16:
                raise InputError(path, f"'{key}' must be a single number, found {dtype}")
        if key in NDIM:
            if len(shape) != NDIM[key]:
                want = "H×W" if key == "boundary" else ("(2, H, W)" if key == "offsets" else "(K, H, W)")
                raise InputError(path, f"'{key}' must be {want}, found shape {shape}")
            if dtype.kind not in "fiub" or dtype.itemsize > 8:
                raise InputError(path, f"'{key}' must hold numbers of at most 8 bytes, found {dtype}")
            hw = shape[-2:]
            if hw[0] * hw[1] > MAX_PIXELS:
                size = "×".join(map(str, hw))
                raise InputError(
                    path,
                    f"'{key}' declares a {size} field, more than the {MAX_PIXELS:,} pixels an offset field may have",
                )
            if key == "direction" and shape[0] > max(DIRECTIONS):
                raise InputError(path, f"'direction' declares {shape[0]} bins, expected 4, 8 or 16")
            if key == "offsets" and shape[0] != 2:
                raise InputError(path, f"'offsets' must be (2, H, W), found shape {shape}")
    b, d = headers.get("boundary"), headers.get("direction")
    if b and d and "offsets" not in headers and tuple(d[0][1:]) != tuple(b[0]):
        raise InputError(
            path, f"'direction' is {'×'.join(map(str, d[0][1:]))} but 'boundary' is {'×'.join(map(str, b[0]))}"
        )


def _read_npz(path: str) -> OffsetField:
    try:
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as f:
                head = f.read(2)
            if head[:1] == b"\x80":
                raise InputError(
                    path, "refused: it would run code (pickled objects in an offsets file are never loaded)"
                )
            raise InputError(path, "not a readable .npz file (not a zip archive of arrays)")
        headers = _npz_headers(path)
        _check_declared(path, headers)
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in NPZ_KEYS if k in headers}
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not an offsets file") from None
    except MemoryError:
        raise InputError(path, "too large to load into memory") from None
    except (OSError, zipfile.BadZipFile, EOFError, ValueError, RuntimeError, KeyError) as err:
        text = " ".join(str(err).split())[:160]
        raise InputError(path, f"not a readable .npz file ({err.__class__.__name__}: {text})") from None
    if not headers:
        raise InputError(path, "empty .npz file (expected 'boundary' and 'direction', or 'offsets')")
    version = data.get("format_version")
    if version is not None:
        if not (np.issubdtype(version.dtype, np.integer) and version.dtype != np.bool_):
            raise InputError(path, f"'format_version' must be an integer, found {version.dtype}")
        number = int(version.reshape(-1)[0])  # one number (the header said so), of any shape
        if number > FORMAT_VERSION or number < 1:
            raise InputError(
                path, f"offset format version {number} is not one this program understands (1..{FORMAT_VERSION})"
            )
    if "offsets" in data:
        return OffsetField.from_hard(_check_hard(path, data["offsets"], "offsets"))
    missing = [k for k in ("boundary", "direction") if k not in data]
    if missing:
        raise InputError(
            path,
            f"missing key {missing[0]!r} (found {', '.join(sorted(headers))}; "
            f"expected 'boundary' and 'direction', or 'offsets')",
        )
    b, d = data["boundary"], data["direction"]
    for name, arr, nd in (("boundary", b, 2), ("direction", d, 3)):
        if not np.issubdtype(arr.dtype, np.floating):
            raise InputError(path, f"'{name}' must be floating point, found {arr.dtype}")
        if arr.ndim != nd:
            raise InputError(path, f"'{name}' must have {nd} dimensions, found shape {arr.shape}")
        if not arr.size or _unit_f16(arr):
            continue
        lo, hi = float(arr.min()), float(arr.max())  # NaN propagates: no full-size temporary
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise InputError(path, f"'{name}' holds NaN or infinite values")
        if lo < 0 or hi > 1:
            raise InputError(path, f"'{name}' values must be probabilities in [0, 1], found {lo:g}..{hi:g}")
    if d.shape[0] not in DIRECTIONS:
        raise InputError(path, f"'direction' has {d.shape[0]} bins, expected 4, 8 or 16")
    if d.shape[1:] != b.shape:
        raise InputError(path, f"'direction' is {d.shape[1]}×{d.shape[2]} but 'boundary' is {b.shape[0]}×{b.shape[1]}")
    return OffsetField(boundary=b, direction=d, recommended=_recommended(path, data))


def _unit_f16(arr: np.ndarray) -> bool:
    """Whether a float16 array holds numbers in [+0, 1] only, read from its bit patterns
    (those of +0 … 1 are 0 … 0x3C00; a sign, NaN or infinity lies above): one integer maximum
    where float16 ``min`` and ``max`` are not vectorised. False also for other arrays, which
    the general check reads."""
    return arr.dtype == np.float16 and int(arr.view(np.uint16).max()) <= 0x3C00


RECOMMENDED_KEYS = ("threshold", "min_direction_prob", "scale")


def _recommended(path: str, data: dict) -> dict:
    out = {}
    for key in RECOMMENDED_KEYS:
        if f"recommended_{key}" in data:
            v = data[f"recommended_{key}"]
            if v.shape != () or not np.issubdtype(v.dtype, np.number) or not np.isfinite(v):
                raise InputError(path, f"'recommended_{key}' must be a finite number")
            if np.issubdtype(v.dtype, np.floating) and v.dtype.itemsize < 8:
                # stored as float32: 0.8 comes back as 0.800000011920929; take the shortest
                # decimal that the stored number is the nearest float32 to (0.8)
                v = float(np.format_float_positional(v[()], unique=True, trim="-"))
            try:
                out.update(check_recommended({key: v}))
            except ValueError as err:
                raise InputError(path, f"'recommended_{key}': {err}") from None
    return out


def _check_hard(path: str, arr: np.ndarray, key: str, axis: int = 0) -> np.ndarray:
    if arr.ndim != 3 or arr.shape[axis] != 2:
        raise InputError(path, f"'{key}' must be (2, H, W), found shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(path, f"'{key}' must hold integers, found {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InputError(path, f"'{key}' holds NaN or infinite values")
        if (arr != np.round(arr)).any():
            raise InputError(path, f"'{key}' holds non-integer offsets")
    if arr.size:
        # as Python numbers: -arr.min() wraps at the integer minimum (int8 -128 stays -128)
        # and for unsigned types (uint8 1 becomes 255)
        lo, hi = arr.min().item(), arr.max().item()
        biggest = max(abs(lo), abs(hi))
        if biggest > 64:
            raise InputError(
                path, f"'{key}' holds offsets up to {int(biggest)} pixels; expected unit steps (at most a few pixels)"
            )
    return arr.astype(np.int16, order="K")  # keeps the memory order: cheap


MAT_NDIM = {"mat": 3, "depth": 2, "dir_deg": 2, "deg_reduce": None}
"""The variables of an openseg ``.mat`` that are read (all others are never loaded) and
their dimensions (``deg_reduce``: one number)."""
MAT_NUMBERS = ("double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "logical")


def _check_mat_header(path: str) -> list[str]:
    """The names of the variables to read, once their declared shapes and classes are checked
    from the headers (nothing is loaded): every dimension counts."""
    from scipy.io import whosmat

    found = whosmat(path)
    declared = {name: (shape, cls) for name, shape, cls in found}
    if "mat" not in declared and not {"depth", "dir_deg"} <= set(declared):
        raise InputError(
            path,
            f"missing key 'mat' (found {', '.join(declared) or 'no arrays'}; "
            "openseg offsets are an H×W×2 array named 'mat', its ground-truth "
            "targets 'depth' and 'dir_deg')",
        )
    names = ["mat"] if "mat" in declared else [k for k in ("depth", "dir_deg", "deg_reduce") if k in declared]
    for name in names:
        shape, cls = declared[name]
        n = 1
        for s in shape:
            n *= s
        ndim = MAT_NDIM[name]
        if ndim is None:
            if n != 1:
                raise InputError(path, f"'{name}' must be one positive number, found shape {tuple(shape)}")
            continue
        if cls not in MAT_NUMBERS:
            raise InputError(path, f"'{name}' must hold numbers, found a MATLAB {cls} array")
        if len(shape) != ndim or (name == "mat" and shape[2] != 2):
            want = "H×W×2" if name == "mat" else "H×W"
            raise InputError(path, f"'{name}' must be {want}, found shape {tuple(shape)}")
        if shape[0] * shape[1] > MAX_PIXELS:
            raise InputError(
                path,
                f"'{name}' declares a {shape[0]}×{shape[1]} field, more than the "
                f"{MAX_PIXELS:,} pixels an offset field may have",
            )
    return names


def _read_mat(path: str) -> OffsetField:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        names = _check_mat_header(path)
        data = loadmat(path, variable_names=names)
    except InputError:
        raise
    except MemoryError:
        raise InputError(path, "too large to load into memory") from None
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (MatReadError, ValueError, OSError, TypeError, EOFError, NotImplementedError) as err:
        raise InputError(path, f"not a readable MATLAB .mat file: {err}") from None
    if "mat" not in data:
        return depth_field(path, data)
    arr = np.asarray(data["mat"])
    if arr.ndim != 3 or arr.shape[2] != 2:
        raise InputError(path, f"'mat' must be H×W×2, found shape {arr.shape}")
    # loadmat gives MATLAB's column-major order: cast first (sequential), transpose once
    return OffsetField.from_hard(np.moveaxis(_check_hard(path, arr, "mat", axis=2), 2, 0))


DEPTH_WIDTH = 5
"""Band of an openseg target file: ``1 <= depth <= DEPTH_WIDTH`` (openseg's ``dt_max_distance``)."""


def depth_field(path: str, data: dict, *, width: float = DEPTH_WIDTH, directions: int = 8) -> OffsetField:
    """The field of one of the original's ground-truth target files (``depth``, ``dir_deg``).

    ``depth`` (H, W) uint8: distance to the class border, clipped (0: no distance, i.e. an
    ignored pixel or a class the generator skipped); ``dir_deg`` (H, W) uint8: direction angle
    ``deg_reduce · dir_deg − 180`` degrees, measured as ``atan2(d_row, d_col)``, pointing into
    the segment; ``deg_reduce`` a number (2 when absent). Boundary: ``1 <= depth <= width``;
    directions: one-hot in the nearest of the K bins (the original's own rounding).
    """
    depth, deg = np.asarray(data["depth"]), np.asarray(data["dir_deg"])
    for key, arr in (("depth", depth), ("dir_deg", deg)):
        if arr.ndim != 2:
            raise InputError(path, f"'{key}' must be H×W, found shape {arr.shape}")
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise InputError(path, f"'{key}' must hold numbers, found {arr.dtype}")
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            raise InputError(path, f"'{key}' holds NaN or infinite values")
    if depth.shape != deg.shape:
        raise InputError(
            path, f"'dir_deg' is {deg.shape[0]}×{deg.shape[1]} but 'depth' is {depth.shape[0]}×{depth.shape[1]}"
        )
    raw = np.asarray(data.get("deg_reduce", 2))
    if not (np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)) or raw.dtype == np.bool_:
        found = "text" if raw.dtype.kind in "US" else f"{raw.dtype} values"
        raise InputError(path, f"'deg_reduce' must be one positive number, found {found}")
    reduce = raw.astype(np.float64).ravel()
    if reduce.size != 1 or not np.isfinite(reduce[0]) or reduce[0] <= 0:
        raise InputError(path, "'deg_reduce' must be one positive number")
    theta = np.deg2rad(reduce[0] * deg.astype(np.float64) - 180.0)
    bins = angles_to_bins(np.sin(theta), np.cos(theta), directions)
    band = (depth >= 1) & (depth <= width)
    bins[~band] = 0
    return OffsetField.one_hot(band.astype(np.float32), bins, directions)


def unit_steps(field: OffsetField, setting: Setting | None = None) -> np.ndarray:
    """Hard ``(2, H, W)`` int16 unit steps at ``setting``'s threshold and direction confidence
    (scale 1, whatever ``setting`` says), as openseg saves them."""
    setting = setting or Setting()
    return field.to_offsets(setting.with_(scale=1.0))


def offsets_bytes(field: OffsetField, fmt: str = "npz", *, setting: Setting | None = None) -> bytes:
    """The file contents for ``field`` in ``fmt`` (``"npz"`` or ``"mat"``; ``setting`` for
    ``"mat"``: where to threshold)."""
    buf = io.BytesIO()
    if fmt == "npz":
        if field.hard is not None:
            np.savez_compressed(buf, format_version=np.int32(FORMAT_VERSION), offsets=field.hard.astype(np.int8))
        else:
            if field.direction is None:
                raise ValueError("a summarized field has no direction probabilities to write")
            arrays: dict[str, Any] = {
                "format_version": np.array(FORMAT_VERSION, np.int32),
                "boundary": as_stored(field.boundary),
                "direction": as_stored(field.direction),
            }
            for k, v in field.recommended.items():
                if k in RECOMMENDED_KEYS:
                    arrays[f"recommended_{k}"] = np.array(v, np.float32)
            np.savez_compressed(buf, **arrays)
    elif fmt == "mat":
        from scipy.io import savemat

        steps = unit_steps(field, setting)
        savemat(buf, {"mat": np.moveaxis(steps, 0, 2).astype(np.int32)}, do_compression=True)
    else:
        raise ValueError(f"offset format must be npz or mat, not {fmt!r}")
    return buf.getvalue()


def write_offsets(
    path: str | os.PathLike, field: OffsetField, *, fmt: str | None = None, setting: Setting | None = None
) -> None:
    """Write ``field`` atomically; the format follows the suffix unless ``fmt`` is given.

    Writing probabilities as ``.mat`` thresholds them at ``setting`` (default threshold 0.5;
    openseg's files cannot be re-thresholded). A field holding NaN or infinite values is an
    InputError naming ``path``, with nothing written.
    """
    fmt = fmt or Path(path).suffix.lower().lstrip(".")
    bad = field.nonfinite()
    if bad is not None:  # a reader would refuse it: never written
        raise InputError(path, f"not written: the field's '{bad}' holds NaN or infinite values")
    write_bytes(path, offsets_bytes(field, fmt, setting=setting))
