"""The boundary measures' passes over label maps (:mod:`segfix_gui.core.metrics`), exact in
integer arithmetic:

- :func:`other_label_sq_distance` — every pixel's squared Euclidean distance to the nearest
  pixel of another label (the image edge is not a border). Separable, as the exact distance
  transform of Felzenszwalb & Huttenlocher: a column pass (two sweeps) gives the squared
  distance to the nearest other label in the pixel's own column; a row pass takes, inside each
  horizontal run of one label, the lower envelope of the parabolas ``(c - c')² + col(c')``
  together with the two pixels just beyond the run (another label, distance 0). A pixel of
  another run of the same label in the row is never nearer than the other-label pixel between
  them, so the runs are independent. Equal to a Euclidean distance transform of every label's mask
  (``tests/core/test_boundary_measures.py`` checks it against ``scipy.ndimage`` and brute force).
- :func:`own_label_band` — the pixels whose ``(2d+1)×(2d+1)`` window holds another label or
  leaves the image: the union over labels ``c`` of ``mask_to_boundary(labels == c)`` of the
  Boundary IoU paper (``d`` iterations of a 3×3 erosion of the zero-padded mask), also in a
  row and a column pass of run lengths.
- :func:`match_sq_distance_counts` — for the boundary F-score at several tolerances: for each
  1-px boundary pixel, the nearest same-class boundary pixel of the other map, searched over
  the tolerance disk ordered by distance.
- :func:`other_label_distance_keys` / :func:`distance_keys` — each pixel's distance binned for
  the error profile and the trimap bands; :func:`region_counts` and
  :func:`boundary_iou_pixel_counts` — the per-class counts of one (ground truth, prediction)
  pair in one pass over the pixels.

The passes are numba kernels (:mod:`.distance_kernel`, compiled once per dtype signature and
cached on disk). numba is optional: where it is not installed each function takes a NumPy/SciPy
path to the same integers — a Euclidean distance transform per label
(``scipy.ndimage.distance_transform_edt``, on the label's bounding box and one pixel around it),
a maximum and a minimum filter for the band, one shifted comparison per offset of the tolerance
disk, ``np.bincount`` for the counts — several times slower (``tests/core/test_boundary_measures.py``
checks the two paths equal).
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

import numpy as np

INF = np.int64(1) << np.int64(62)
"""Squared distance of a pixel that has no other label in the image."""


@functools.cache
def _compiled() -> ModuleType | None:
    """The compiled kernels (:mod:`.distance_kernel`), or None where numba is not installed."""
    try:
        return importlib.import_module(f"{__package__}.distance_kernel")
    except ImportError:
        return None


def _labels_2d(labels: np.ndarray) -> np.ndarray:
    lab = np.ascontiguousarray(labels)
    if lab.ndim != 2:
        raise ValueError(f"labels must be (H, W), got shape {lab.shape}")
    return lab


def other_label_sq_distance(labels: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance from each pixel to the nearest pixel of another label.

    Parameters
    ----------
    labels : ndarray of shape (H, W), any integer dtype (every value is a label, void too)

    Returns
    -------
    ndarray of shape (H, W), int64 — exact squared distances (1 for a pixel with a
    4-neighbour of another label); :data:`INF` where the image holds one label only.
    Pixels outside the image are not another label.

    Examples
    --------
    >>> other_label_sq_distance(np.array([[0, 0, 0, 1]])).tolist()
    [[9, 4, 1, 1]]
    """
    lab = _labels_2d(labels)
    kernels = _compiled()
    if kernels is None:
        return _sq_distance_numpy(lab)
    colsq = np.empty(lab.shape, np.int64)
    out = np.empty(lab.shape, np.int64)
    if lab.size:
        kernels._col_sq(lab, colsq, INF)
        kernels._row_envelope(lab, colsq, out, INF)
    return out


def _sq_distance_numpy(lab: np.ndarray) -> np.ndarray:
    """:func:`other_label_sq_distance` without numba: for each label, the exact Euclidean
    distance transform of its mask (the indices of the nearest other-label pixel, so that the
    squares stay integers) on its bounding box grown by one pixel — every pixel of that ring
    is another label, and the nearest other-label pixel of a pixel in the box is never beyond
    it (clamping a pixel outside to the ring brings it nearer)."""
    from scipy import ndimage as ndi  # the path without numba only: not imported at start-up

    h, w = lab.shape
    out = np.full(lab.shape, INF, np.int64)
    values, inverse = np.unique(lab, return_inverse=True)
    if values.size < 2:
        return out
    ids = inverse.reshape(lab.shape)
    for i, box in enumerate(ndi.find_objects(ids + 1)):
        rows = slice(max(box[0].start - 1, 0), min(box[0].stop + 1, h))
        cols = slice(max(box[1].start - 1, 0), min(box[1].stop + 1, w))
        mask = ids[rows, cols] == i
        near = ndi.distance_transform_edt(mask, return_distances=False, return_indices=True)
        rr, cc = np.indices(mask.shape)
        sq = (near[0] - rr).astype(np.int64) ** 2 + (near[1] - cc).astype(np.int64) ** 2
        out[rows, cols][mask] = sq[mask]
    return out


def own_label_band(labels: np.ndarray, dilation: int) -> np.ndarray:
    """``(H, W)`` bool: pixels whose ``(2·dilation+1)``-square window holds another label or
    reaches outside the image.

    For every label ``c``, ``band & (labels == c)`` equals the official
    ``mask_to_boundary((labels == c).astype(np.uint8), ratio)`` of the Boundary IoU code
    (boundary-iou-api, ``boundary_iou/utils/boundary_utils.py``) with ``dilation`` =
    ``max(1, round(ratio · diagonal))``: the mask minus ``dilation`` iterations of a 3×3
    erosion of the mask padded with one row and column of zeros (cv2's border), which is
    the erosion by the square window with zeros outside the image.

    Examples
    --------
    >>> own_label_band(np.array([[0, 0, 0, 0, 0, 1]] * 3), 1)[1].astype(int).tolist()
    [1, 0, 0, 0, 1, 1]
    """
    lab = _labels_2d(labels)
    d = int(dilation)
    if d < 1:
        raise ValueError(f"dilation must be at least 1, not {dilation}")
    kernels = _compiled()
    if kernels is None:
        return _band_numpy(lab, d)
    out = np.empty(lab.shape, bool)
    if lab.size:
        kernels._band(lab, d, out)
    return out


def _band_numpy(lab: np.ndarray, d: int) -> np.ndarray:
    """:func:`own_label_band` without numba: the window holds one label where its maximum
    equals its minimum; the pixels within ``d`` of the image's edge are all in the band."""
    from scipy import ndimage as ndi

    size = 2 * d + 1
    band = ndi.maximum_filter(lab, size=size, mode="nearest") != ndi.minimum_filter(lab, size=size, mode="nearest")
    band[:d] = True
    band[-d:] = True
    band[:, :d] = True
    band[:, -d:] = True
    return band


def _disk_offsets(tols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(K, 2)`` int64 offsets of the largest tolerance's disk, nearest first, and their
    ``(K,)`` float64 squared lengths."""
    r = int(np.floor(tols.max()))
    dr, dc = np.mgrid[-r : r + 1, -r : r + 1]
    dr, dc = dr.ravel(), dc.ravel()
    d2 = dr * dr + dc * dc
    keep = d2 <= tols.max() ** 2
    order = np.argsort(d2[keep], kind="stable")
    offs = np.stack([dr[keep][order], dc[keep][order]], axis=1).astype(np.int64)
    return offs, d2[keep][order].astype(np.float64)


def match_sq_distance_counts(src: np.ndarray, dst: np.ndarray, tols, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Boundary pixels of ``src`` matched in ``dst`` within each tolerance.

    Parameters
    ----------
    src, dst : ndarray of shape (H, W), int16 class of each boundary pixel, -1 elsewhere
    tols : sequence of tolerances in px (a pixel matches at ``t`` when a ``dst`` pixel of its
        class lies at squared distance ``<= t²``, the disk of ``metrics._disk``)
    n : number of classes

    Returns
    -------
    (matched, total) : ndarrays of shapes (T, n) and (n,), int64
    """
    tols = np.asarray(tols, np.float64).reshape(-1)
    if not tols.size or not np.all(tols >= 0):
        raise ValueError(f"tolerances must be one or more numbers >= 0, not {tols.tolist()}")
    offs, d2 = _disk_offsets(tols)
    s = np.ascontiguousarray(src, np.int16)
    t = np.ascontiguousarray(dst, np.int16)
    kernels = _compiled()
    if kernels is None:
        return _match_counts_numpy(s, t, offs, d2, tols * tols, n)
    total = np.zeros(n, np.int64)
    matched = np.zeros((tols.size, n), np.int64)
    if s.size:
        kernels._match_counts(s, t, offs, d2, tols * tols, n, total, matched)
    return matched, total


def _match_counts_numpy(
    s: np.ndarray, t: np.ndarray, offs: np.ndarray, d2: np.ndarray, tol2: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`match_sq_distance_counts` without numba: the boundary pixels of ``s`` look, one
    offset of the disk at a time (nearest first), for a pixel of their class in ``t``."""
    h, w = s.shape
    rr, cc = np.nonzero((s >= 0) & (s < n))
    cls = s[rr, cc]
    total = np.bincount(cls, minlength=n).astype(np.int64)
    best = np.full(cls.size, -1.0)
    for (dr, dc), dd in zip(offs.tolist(), d2.tolist(), strict=True):
        todo = np.flatnonzero(best < 0)
        if not todo.size:
            break
        r2, c2 = rr[todo] + dr, cc[todo] + dc
        inside = (r2 >= 0) & (r2 < h) & (c2 >= 0) & (c2 < w)
        todo, r2, c2 = todo[inside], r2[inside], c2[inside]
        best[todo[t[r2, c2] == cls[todo]]] = dd
    found = best >= 0
    matched = np.stack([np.bincount(cls[found & (best <= tt)], minlength=n) for tt in tol2.tolist()])
    return matched.astype(np.int64), total


def other_label_distance_keys(labels: np.ndarray, valid: np.ndarray, max_px: int) -> np.ndarray:
    """``distance_keys(other_label_sq_distance(labels), valid, max_px)`` in one go (no ``(H, W)``
    int64 map of squared distances is kept)."""
    lab = _labels_2d(labels)
    kernels = _compiled()
    if kernels is None:
        return _keys_numpy(_sq_distance_numpy(lab), np.asarray(valid, bool), int(max_px))
    out = np.empty(lab.shape, np.uint8)
    if lab.size:
        colsq = np.empty(lab.shape, np.int64)
        kernels._col_sq(lab, colsq, INF)
        kernels._row_envelope_keys(lab, colsq, np.ascontiguousarray(valid, bool), int(max_px), out, INF)
    return out


def distance_keys(sq: np.ndarray, valid: np.ndarray, max_px: int) -> np.ndarray:
    """``(H, W)`` uint8 key of each pixel's squared distance ``sq``: ``2·floor(d) + (d is not
    an integer)`` for ``floor(d) <= max_px``, ``2·(max_px + 1)`` beyond, 0 where not ``valid``.

    Examples
    --------
    >>> distance_keys(np.array([[0, 1, 2, 4, 100]]), np.ones((1, 5), bool), 3).tolist()
    [[0, 2, 3, 4, 8]]
    """
    kernels = _compiled()
    if kernels is None:
        return _keys_numpy(np.asarray(sq, np.int64), np.asarray(valid, bool), int(max_px))
    out = np.empty(sq.shape, np.uint8)
    if sq.size:
        kernels._keys(np.ascontiguousarray(sq, np.int64), np.ascontiguousarray(valid, bool), int(max_px), out)
    return out


def _keys_numpy(sq: np.ndarray, valid: np.ndarray, max_px: int) -> np.ndarray:
    """:func:`distance_keys` without numba (integer square roots, corrected after the float one)."""
    far = sq > (max_px + 1) * (max_px + 1) - 1
    s = np.where(far, 0, sq)
    k = np.sqrt(s.astype(np.float64)).astype(np.int64)
    k -= k * k > s
    k += (k + 1) * (k + 1) <= s
    key = np.where(far, 2 * (max_px + 1), 2 * k + (k * k != s))
    return np.where(valid, key, 0).astype(np.uint8)


def region_counts(
    g: np.ndarray,
    p: np.ndarray,
    key: np.ndarray,
    gband: np.ndarray,
    pband: np.ndarray,
    n: int,
    ignore: int,
    n_keys: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One pass over the pixels whose ground truth ``g`` is a class (not ``ignore``):

    - ``(n_keys, n, 3)`` int64: per distance key (:func:`distance_keys`) and class, the pixels
      predicted right, the ground-truth pixels and the predicted pixels;
    - ``(n, 2)`` int64: per class, the intersection and union of the ground-truth boundary
      ``gband & (g == c)`` and the predicted one ``pband & (p == c)``.
    """
    kernels = _compiled()
    if kernels is None:
        return _region_counts_numpy(g, p, key, gband, pband, n, ignore, n_keys)
    cnt = np.zeros((n_keys, n, 3), np.int64)
    inter = np.zeros(n, np.int64)
    union = np.zeros(n, np.int64)
    if g.size:
        kernels._region_counts(
            np.ascontiguousarray(g),
            np.ascontiguousarray(p),
            np.ascontiguousarray(key),
            np.ascontiguousarray(gband),
            np.ascontiguousarray(pband),
            n,
            ignore,
            cnt,
            inter,
            union,
        )
    return cnt, np.stack([inter, union], axis=1)


def _classes(g: np.ndarray, p: np.ndarray, n: int, ignore: int):
    """The pixels whose ground truth is a class: their ``g`` and ``p`` (int64), where they
    are, and whether ``p`` is a class."""
    g, p = np.asarray(g).ravel(), np.asarray(p).ravel()
    ok = np.flatnonzero((g != ignore) & (g < n))
    gi, pi = g[ok].astype(np.int64), p[ok].astype(np.int64)
    return gi, pi, ok, (pi != ignore) & (pi < n)


def _biou_numpy(gi, pi, gb, pb, n) -> np.ndarray:
    """``(n, 2)`` intersection and union of the boundaries: ``gb``, ``pb`` per pixel of ``gi``."""
    both = gb & pb & (pi == gi)
    inter = np.bincount(gi[both], minlength=n)
    union = np.bincount(gi[gb], minlength=n) + np.bincount(pi[pb & ~both], minlength=n)
    return np.stack([inter, union], axis=1).astype(np.int64)


def _region_counts_numpy(g, p, key, gband, pband, n, ignore, n_keys) -> tuple[np.ndarray, np.ndarray]:
    """:func:`region_counts` without numba (``np.bincount`` per count)."""
    gi, pi, ok, p_cls = _classes(g, p, n, ignore)
    k = np.asarray(key).ravel()[ok].astype(np.int64) * n
    size = n_keys * n
    cnt = np.zeros((n_keys, n, 3), np.int64)
    cnt[..., 0] = np.bincount((k + gi)[pi == gi], minlength=size).reshape(n_keys, n)
    cnt[..., 1] = np.bincount(k + gi, minlength=size).reshape(n_keys, n)
    cnt[..., 2] = np.bincount((k + pi)[p_cls], minlength=size).reshape(n_keys, n)
    gb = np.asarray(gband, bool).ravel()[ok]
    pb = np.asarray(pband, bool).ravel()[ok] & p_cls
    return cnt, _biou_numpy(gi, pi, gb, pb, n)


def boundary_iou_pixel_counts(
    g: np.ndarray, p: np.ndarray, gband: np.ndarray, pband: np.ndarray, n: int, ignore: int
) -> np.ndarray:
    """``(n, 2)`` int64 intersection and union per class of ``gband & (g == c)`` and
    ``pband & (p == c)`` over the pixels whose ground truth ``g`` is a class (the boundary IoU
    part of :func:`region_counts`, alone)."""
    kernels = _compiled()
    if kernels is None:
        gi, pi, ok, p_cls = _classes(g, p, n, ignore)
        gb = np.asarray(gband, bool).ravel()[ok]
        return _biou_numpy(gi, pi, gb, np.asarray(pband, bool).ravel()[ok] & p_cls, n)
    inter = np.zeros(n, np.int64)
    union = np.zeros(n, np.int64)
    if g.size:
        kernels._biou_counts(
            np.ascontiguousarray(g),
            np.ascontiguousarray(p),
            np.ascontiguousarray(gband),
            np.ascontiguousarray(pband),
            n,
            ignore,
            inter,
            union,
        )
    return np.stack([inter, union], axis=1)
