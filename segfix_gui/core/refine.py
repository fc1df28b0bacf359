"""Refinement by integer gather: ``L'(p) = L(clip(p + offset(p)))``.

Never interpolates ids: the output holds only ids present in the input, and CPU
and CUDA give identical results. Only pixels with a non-zero offset are touched.
On the CPU a label map is refined in one compiled pass (:mod:`segfix_gui.core.gather`); the
moving pixels and their sources as index pairs (:func:`source_indices`: for stacks of masks, the
evaluator and the window's inspector) are applied with :func:`take_sources`.
"""

from __future__ import annotations

import functools
import os
import sys

import numpy as np

GPU_DRIVER_FILES = ("/dev/nvidiactl", "/proc/driver/nvidia", "/dev/dxg", "/dev/kfd")
"""What a GPU that torch's ``cuda`` can use leaves on Linux: NVIDIA's driver (its control
device and ``/proc`` entry), WSL 2's GPU device, AMD's ROCm driver (torch's ``cuda`` on ROCm)."""


def may_have_gpu() -> bool:
    """False when torch certainly sees no GPU, known without importing torch (about a second
    of CPU): on Linux, none of :data:`GPU_DRIVER_FILES` exists. True otherwise (torch is asked:
    on other systems, or once torch is imported anyway)."""
    if "torch" in sys.modules or not sys.platform.startswith("linux"):
        return True
    return any(os.path.exists(p) for p in GPU_DRIVER_FILES)


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when torch sees a GPU, else ``"cpu"`` (on a machine without a
    GPU driver, without importing torch: :func:`may_have_gpu`)."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    if device == "cpu":
        return "cpu"
    if not may_have_gpu():
        if device == "cuda":
            raise ValueError("device 'cuda' was asked for but this machine has no GPU driver")
        return "cpu"
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch is a dependency
        has_cuda = False
    if device == "cuda" and not has_cuda:
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU")
    return "cuda" if has_cuda else "cpu"


def source_indices(offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the moving pixels and of the pixels they take their label from.

    One pass over the offsets in their memory order: row-major planes are scanned row by
    row, column-major planes (MATLAB ``.mat`` files, see ``io.offsets``) column by column,
    with no transposed copy. The pairs come in that scan order, so ``dst`` is ascending
    only for row-major offsets (sort them before bisecting).

    Parameters
    ----------
    offsets : ndarray of shape (2, H, W), integer (d_row, d_col); read-only is fine

    Returns
    -------
    dst, src : 1-D intp arrays of equal length (flat row-major indices into (H, W)); the
        source is clamped to the image (border pixels repeat)
    """
    offsets = np.asarray(offsets)
    if offsets.ndim != 3 or offsets.shape[0] != 2:
        raise ValueError(f"offsets must be (2, H, W), got shape {offsets.shape}")
    _, h, w = offsets.shape
    d_row, d_col = offsets[0], offsets[1]
    column_major = not d_row.flags.c_contiguous and d_row.T.flags.c_contiguous and d_col.T.flags.c_contiguous
    if column_major:  # scan the (W, H) planes in memory order
        d_row, d_col = d_row.T, d_col.T
    else:
        d_row, d_col = np.ascontiguousarray(d_row), np.ascontiguousarray(d_col)
    flat = np.flatnonzero((d_row | d_col) != 0)  # one pass over both planes, no per-plane masks
    if column_major:
        c, r = np.divmod(flat, h)
    else:
        r, c = np.divmod(flat, w)
    # widen the gathered steps once, then add and clamp in place (no clip temporaries)
    sr = d_row.ravel()[flat].astype(np.intp)
    sr += r
    np.clip(sr, 0, h - 1, out=sr)
    sc = d_col.ravel()[flat].astype(np.intp)
    sc += c
    np.clip(sc, 0, w - 1, out=sc)
    sr *= w
    sr += sc
    r *= w
    r += c
    return r, sr


def _check(labels: np.ndarray, offsets: np.ndarray):
    if labels.shape[-2:] != offsets.shape[1:]:
        raise ValueError(
            f"offsets are {offsets.shape[1]}×{offsets.shape[2]} but the labels are "
            f"{labels.shape[-2]}×{labels.shape[-1]}"
        )


def refine_labels(labels: np.ndarray, offsets: np.ndarray, *, device: str = "auto") -> np.ndarray:
    """Move labels along integer offsets.

    Parameters
    ----------
    labels : ndarray of shape (H, W) or (N, H, W), any integer or bool dtype
        A label map, or N instance masks moved with the same offsets.
    offsets : ndarray of shape (2, H, W), integer (d_row, d_col)
    device : "auto", "cpu" or "cuda"

    Returns
    -------
    ndarray of the same shape and dtype as ``labels``

    Example
    -------
    >>> labels = np.array([[1, 1, 2, 2]], np.uint8)
    >>> offsets = np.zeros((2, 1, 4), np.int16)
    >>> offsets[1, 0, 2] = -1                       # pixel (0, 2) takes its left neighbour's label
    >>> offsets[1, 0, 3] = 5                        # far steps clamp at the border
    >>> refine_labels(labels, offsets, device="cpu")
    array([[1, 1, 1, 2]], dtype=uint8)
    """
    labels = np.asarray(labels)
    offsets = np.asarray(offsets)
    if labels.ndim not in (2, 3):
        raise ValueError(f"labels must be (H, W) or (N, H, W), got shape {labels.shape}")
    _check(labels, offsets)
    if resolve_device(device) == "cuda":
        return _refine_torch(labels, offsets, "cuda")
    gather = _compiled_gather()
    if labels.ndim == 3 or gather is None:  # masks: the pairs once, then one gather per mask
        return take_sources(labels, *source_indices(offsets))
    return gather(labels, offsets)


@functools.cache
def _compiled_gather():
    """The compiled kernel of :mod:`.gather`, or None where numba is not installed: NumPy's
    path (:func:`source_indices` + :func:`take_sources`) then refines label maps too, to the
    same result (``tests/core/test_refine.py``), about 3 ms slower per 1024×2048 map."""
    try:
        from .gather import gather
    except ImportError:
        return None
    return gather


def take_sources(labels: np.ndarray, dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """A copy of ``labels`` ``(H, W)`` or ``(N, H, W)`` in which each pixel ``dst`` (flat
    index) takes the label of pixel ``src``: the gather of :func:`refine_labels`, for index
    pairs from :func:`source_indices` or a subset of them that holds every pixel whose label
    changes (``ImageEvaluator.changes``)."""
    out = labels.copy()
    if labels.ndim == 2:
        out.ravel()[dst] = labels.ravel()[src]
    else:
        flat_in = labels.reshape(labels.shape[0], -1)
        out.reshape(labels.shape[0], -1)[:, dst] = flat_in[:, src]
    return out


def refine_masks(masks: np.ndarray, offsets: np.ndarray, *, device: str = "auto") -> np.ndarray:
    """Instance masks ``(N, H, W)`` moved with one image's offsets (same dtype out)."""
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"masks must be (N, H, W), got shape {masks.shape}")
    return refine_labels(masks, offsets, device=device)


def _refine_torch(labels: np.ndarray, offsets: np.ndarray, device: str) -> np.ndarray:
    import torch

    h, w = offsets.shape[1:]
    # send the small integers as they are; widen on the device
    off = torch.from_numpy(np.require(offsets, requirements=("C", "W"))).to(device).long()
    rows = torch.arange(h, device=device).view(h, 1)
    cols = torch.arange(w, device=device).view(1, w)
    src = (rows + off[0]).clamp_(0, h - 1) * w + (cols + off[1]).clamp_(0, w - 1)
    dtype = labels.dtype
    if dtype in (np.uint16, np.uint32, np.uint64):  # no unsigned gather on every torch build
        work = labels.astype(np.int64)
    else:  # contiguous and writable (torch warns on read-only arrays such as decoded images)
        work = np.require(labels, requirements=("C", "W"))
    t = torch.from_numpy(work).to(device)
    flat = t.reshape(-1, h * w) if labels.ndim == 3 else t.reshape(1, h * w)
    out = flat[:, src.reshape(-1)]
    return out.reshape(labels.shape).cpu().numpy().astype(dtype, copy=False)
