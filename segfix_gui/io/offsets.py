"""Offset field files: our ``.npz`` (documented in docs/FORMATS.md) and openseg's ``.mat``."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

from ..core.offsets import DIRECTIONS, OffsetField
from ..core.setting import Setting, check_value
from ..errors import InputError
from .atomic import write_bytes

FORMAT_VERSION = 1
from .pairing import OFFSET_SUFFIXES  # noqa: E402,F401 - one definition, re-exported


def read_offsets(path: str | os.PathLike) -> OffsetField:
    """Read an offset field from ``.npz`` (probabilities or hard offsets) or openseg ``.mat``."""
    path = os.fspath(path)
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".mat":
        return _read_mat(path)
    raise InputError(path, "offsets must be a .npz or .mat file")


def _read_npz(path: str) -> OffsetField:
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except ValueError as err:
        # numpy takes a file that is not a zip archive for a pickle: tell the two apart
        if "pickle" in str(err).lower() and zipfile.is_zipfile(path):
            raise InputError(path, "holds pickled objects, which are never loaded") from None
        raise InputError(path, "not a readable .npz file (not a zip archive of arrays)") from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise InputError(path, f"not a readable .npz file ({err.__class__.__name__}: {err})") from None
    if not data:
        raise InputError(path, "empty .npz file (expected 'boundary' and 'direction', or 'offsets')")
    version = data.get("format_version")
    if version is not None and (version.shape != () or int(version) > FORMAT_VERSION):
        raise InputError(path, f"offset format version {version} is newer than this program "
                               f"understands ({FORMAT_VERSION})")
    if "offsets" in data:
        return OffsetField.from_hard(_check_hard(path, data["offsets"], "offsets"))
    missing = [k for k in ("boundary", "direction") if k not in data]
    if missing:
        raise InputError(path, f"missing key {missing[0]!r} (found {', '.join(sorted(data))}; "
                               f"expected 'boundary' and 'direction', or 'offsets')")
    b, d = data["boundary"], data["direction"]
    for name, arr, nd in (("boundary", b, 2), ("direction", d, 3)):
        if not np.issubdtype(arr.dtype, np.floating):
            raise InputError(path, f"'{name}' must be floating point, found {arr.dtype}")
        if arr.ndim != nd:
            raise InputError(path, f"'{name}' must have {nd} dimensions, found shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise InputError(path, f"'{name}' holds NaN or infinite values")
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise InputError(path, f"'{name}' values must be probabilities in [0, 1], found "
                                   f"{float(arr.min()):g}..{float(arr.max()):g}")
    if d.shape[0] not in DIRECTIONS:
        raise InputError(path, f"'direction' has {d.shape[0]} bins, expected 4, 8 or 16")
    if d.shape[1:] != b.shape:
        raise InputError(path, f"'direction' is {d.shape[1]}×{d.shape[2]} but 'boundary' is "
                               f"{b.shape[0]}×{b.shape[1]}")
    return OffsetField(boundary=b, direction=d, recommended=_recommended(path, data))


RECOMMENDED_KEYS = ("threshold", "min_direction_prob", "scale")


def _recommended(path: str, data: dict) -> dict:
    out = {}
    for key in RECOMMENDED_KEYS:
        if f"recommended_{key}" in data:
            v = data[f"recommended_{key}"]
            if v.shape != () or not np.issubdtype(v.dtype, np.number) or not np.isfinite(v):
                raise InputError(path, f"'recommended_{key}' must be a finite number")
            try:
                out[key] = check_value(key, v)
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
    if arr.size and max(-arr.min(), arr.max()) > 64:
        raise InputError(path, f"'{key}' holds offsets up to {int(np.abs(arr).max())} pixels; "
                               "expected unit steps (at most a few pixels)")
    return arr.astype(np.int16, order="K")  # keeps the memory order: cheap


def _read_mat(path: str) -> OffsetField:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        data = loadmat(path)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (MatReadError, ValueError, OSError, TypeError, EOFError, NotImplementedError) as err:
        raise InputError(path, f"not a readable MATLAB .mat file: {err}") from None
    if "mat" not in data:
        keys = [k for k in data if not k.startswith("__")]
        raise InputError(path, f"missing key 'mat' (found {', '.join(keys) or 'no arrays'}; "
                               "openseg offsets are an H×W×2 array named 'mat')")
    arr = np.asarray(data["mat"])
    if arr.ndim != 3 or arr.shape[2] != 2:
        raise InputError(path, f"'mat' must be H×W×2, found shape {arr.shape}")
    # loadmat gives MATLAB's column-major order: cast first (sequential), transpose once
    return OffsetField.from_hard(np.moveaxis(_check_hard(path, arr, "mat", axis=2), 2, 0))


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
        if field.is_hard:
            np.savez_compressed(buf, format_version=np.int32(FORMAT_VERSION),
                                offsets=field.hard.astype(np.int8))
        else:
            extra = {f"recommended_{k}": np.float32(v) for k, v in field.recommended.items()
                     if k in RECOMMENDED_KEYS}
            np.savez_compressed(buf, format_version=np.int32(FORMAT_VERSION),
                                boundary=field.boundary.astype(np.float16),
                                direction=field.direction.astype(np.float16), **extra)
    elif fmt == "mat":
        from scipy.io import savemat

        steps = unit_steps(field, setting)
        savemat(buf, {"mat": np.moveaxis(steps, 0, 2).astype(np.int32)}, do_compression=True)
    else:
        raise ValueError(f"offset format must be npz or mat, not {fmt!r}")
    return buf.getvalue()


def write_offsets(path: str | os.PathLike, field: OffsetField, *, fmt: str | None = None,
                  setting: Setting | None = None) -> None:
    """Write ``field`` atomically; the format follows the suffix unless ``fmt`` is given.

    Writing probabilities as ``.mat`` thresholds them at ``setting`` (default threshold 0.5;
    openseg's files cannot be re-thresholded).
    """
    fmt = fmt or Path(path).suffix.lower().lstrip(".")
    write_bytes(path, offsets_bytes(field, fmt, setting=setting))
