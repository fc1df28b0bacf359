"""Reading and writing images and label maps, with clear errors."""

from __future__ import annotations

import os
import threading
import warnings

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from .._files import check_input
from ..errors import InputError
from ..labels import LabelSpace
from .atomic import atomic_path

MAX_PIXELS = 1 << 28
"""Largest image read (W × H); a header declaring more is refused before decoding."""

# PIL widens 2- and 4-bit grayscale to 8 bits by scaling (×85, ×17); labels need the stored ids
_SCALED_GRAY = {"L;2": 85, "L;4": 17}
_PIL_LIMIT = threading.Lock()


def _bomb(path) -> InputError:
    return InputError(
        path,
        f"the image declares more than {MAX_PIXELS:,} pixels, the most this program reads (a damaged or hostile file?)",
    )


def _open_header(path) -> ImageFile.ImageFile:
    """``Image.open`` (the header only) with our pixel limit, leaving PIL's own alone.

    PIL's decompression-bomb limit is a process-wide setting (``Image.MAX_IMAGE_PIXELS``, which
    this module never sets at import): it warns above it (ignored here: our limit is checked by
    the caller) and refuses above twice it. When that refusal comes below our limit, the header
    is read again with PIL's check at our limit for the length of that one call, under a lock.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except Image.DecompressionBombError:
            with _PIL_LIMIT:
                saved = Image.MAX_IMAGE_PIXELS
                Image.MAX_IMAGE_PIXELS = MAX_PIXELS
                try:
                    return Image.open(path)
                finally:
                    Image.MAX_IMAGE_PIXELS = saved


def open_image(path) -> Image.Image:
    """The decoded image; InputError naming ``path`` for anything unreadable or too large.

    ``im.info["segfix_scale"]`` is the factor PIL multiplied low-bit grayscale values by
    (absent when values are as stored).
    """
    try:
        if isinstance(path, (str, os.PathLike)):
            check_input(path)  # a FIFO or a device would block or never end
        im = _open_header(path)
        w, h = im.size
        if max(w, 1) * max(h, 1) > MAX_PIXELS:
            im.close()
            raise _bomb(path)
        rawmode = im.tile[0][3] if im.tile and im.format == "PNG" else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im.load()
        if isinstance(rawmode, tuple):
            rawmode = rawmode[0] if rawmode else None
        if im.mode == "L" and rawmode in _SCALED_GRAY:
            im.info["segfix_scale"] = _SCALED_GRAY[rawmode]
        return im
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not an image") from None
    except UnidentifiedImageError:
        raise InputError(path, "not an image file (or an image format PIL cannot read)") from None
    except Image.DecompressionBombError:
        raise _bomb(path) from None
    except (OSError, SyntaxError, ValueError, MemoryError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(path, f"cannot read image: {err}") from None


_open = open_image


def open_png(path, *, what: str = "label maps") -> Image.Image:
    """:func:`open_image` of a file that must be a PNG: ``what`` (label maps, instance masks)
    are ids, which a lossy format (a JPEG named ``.png``) changes; any other format is an
    InputError naming ``path``."""
    im = _open(path)
    if im.format != "PNG":
        raise InputError(
            path, f"is a {im.format or 'non-PNG'} image, not a PNG: {what} must be PNG (lossless, values as stored)"
        )
    return im


def read_image(path) -> np.ndarray:
    """An RGB image as ``(H, W, 3)`` uint8."""
    im = _open(path)
    if im.mode in ("I;16", "I;16B", "I", "F"):
        arr = np.asarray(im, np.float64)
        hi = arr.max() if arr.size else 1
        arr = (arr * (255.0 / hi if hi > 0 else 1)).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


def read_labels(path, space: LabelSpace | None = None) -> np.ndarray:
    """A label map as ``(H, W)`` integer ids.

    Single-channel PNGs (1, 2, 4, 8 or 16 bit) and palette PNGs (palette index = id) are ids; an RGB
    PNG is colour-coded and converted through the space's palette. With a ``space``,
    ids not in it are an error naming the id. Any other format (a JPEG named ``.png``, whose
    compression changes ids) is an InputError.
    """
    im = open_png(path)
    if im.mode in ("RGB", "RGBA"):
        if space is None:
            raise InputError(path, "colour-coded label map needs a label space")
        rgb = np.asarray(im.convert("RGB"))
        return space.ids_from_colors(rgb, path=os.fspath(path))
    if im.mode in ("L", "P", "1"):
        arr = np.asarray(im).astype(np.uint8, copy=False)  # mode "1" (1-bit): False/True = 0/1
        scale = im.info.get("segfix_scale")
        if scale:  # 2- or 4-bit grayscale: the stored ids, not PIL's widened values
            arr = arr // np.uint8(scale)
    elif im.mode.startswith("I"):
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise InputError(path, f"label ids must be 0..65535, found {int(arr.min())}..{int(arr.max())}")
        arr = arr.astype(np.uint16 if arr.size and arr.max() > 255 else np.uint8)
    else:
        raise InputError(path, f"unsupported label image mode {im.mode!r} (expected single-channel ids or RGB colours)")
    if arr.ndim != 2:
        raise InputError(path, f"expected a single-channel label map, got shape {arr.shape}")
    if space is not None:
        space.check_ids(arr, path=os.fspath(path))
    return arr


def write_png(path, array: np.ndarray) -> None:
    """Write ``(H, W)`` uint8/uint16 ids or ``(H, W, 3|4)`` uint8 colours atomically."""
    array = np.asarray(array)
    if array.ndim == 2 and array.dtype != np.uint8:
        if array.size and (array.min() < 0 or array.max() > 65535):
            raise ValueError("label ids must be 0..65535 to be written as PNG")
        array = array.astype(np.uint8 if (not array.size or array.max() < 256) else np.uint16)
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def write_labels(path, labels: np.ndarray) -> None:
    """Write a label map as a single-channel PNG (8-bit when ids fit, else 16-bit)."""
    write_png(path, labels)
