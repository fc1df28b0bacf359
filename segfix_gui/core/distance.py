"""Compiled (numba) kernels of the boundary measures in :mod:`segfix_gui.core.metrics`.

Each is one or two passes over the label map, exact in integer arithmetic:

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

Compiled once per dtype signature and cached on disk (``cache=True``); ``nogil``.
"""

from __future__ import annotations

import numba
import numpy as np

INF = np.int64(1) << np.int64(62)
"""Squared distance of a pixel that has no other label in the image."""


@numba.njit(nogil=True, cache=True)
def _col_sq(lab, out, inf):
    """Squared distance to the nearest other label in the pixel's own column: a sweep down
    and a sweep up, row by row (memory order)."""
    h, w = lab.shape
    for c in range(w):
        out[0, c] = inf
    for r in range(1, h):
        for c in range(w):
            if lab[r, c] != lab[r - 1, c]:
                out[r, c] = 1
            elif out[r - 1, c] != inf:
                out[r, c] = out[r - 1, c] + 1
            else:
                out[r, c] = inf
    below = np.full(w, inf, np.int64)
    for r in range(h - 1, -1, -1):
        for c in range(w):
            if r < h - 1:
                if lab[r, c] != lab[r + 1, c]:
                    below[c] = 1
                elif below[c] != inf:
                    below[c] += 1
            d = out[r, c]
            if below[c] < d:
                d = below[c]
            out[r, c] = d * d if d != inf else inf


@numba.njit(nogil=True, cache=True)
def _envelope_1d(lab, sq, out, v, f, zn, zd, inf):
    """One row: the lower envelope per run of one label (intersections kept as fractions)."""
    h = lab.shape[0]
    a = 0
    while a < h:
        val = lab[a]
        b = a
        while b + 1 < h and lab[b + 1] == val:
            b += 1
        k = -1
        for q in range(a - 1, b + 2):
            if q < 0 or q >= h:
                continue
            if q < a or q > b:
                fq = np.int64(0)  # just beyond the run: another label
            else:
                fq = sq[q]
                if fq >= inf:
                    continue
            if k < 0:
                k = 0
                v[0] = q
                f[0] = fq
                continue
            # where the new parabola passes below the last one of the envelope: sn / sd
            sn = (fq + q * q) - (f[k] + v[k] * v[k])
            sd = 2 * (q - v[k])
            while k > 0 and sn * zd[k] <= zn[k] * sd:
                k -= 1
                sn = (fq + q * q) - (f[k] + v[k] * v[k])
                sd = 2 * (q - v[k])
            k += 1
            v[k] = q
            f[k] = fq
            zn[k] = sn
            zd[k] = sd
        if k < 0:
            for r in range(a, b + 1):
                out[r] = inf
        else:
            j = 0
            for r in range(a, b + 1):
                while j < k and zn[j + 1] < r * zd[j + 1]:
                    j += 1
                out[r] = (r - v[j]) * (r - v[j]) + f[j]
        a = b + 1


@numba.njit(nogil=True, cache=True)
def _row_envelope(lab, colsq, out, inf):
    h, w = lab.shape
    v = np.empty(w + 2, np.int64)  # parabola apexes (columns)
    f = np.empty(w + 2, np.int64)  # their values
    zn = np.empty(w + 3, np.int64)  # envelope boundaries z = zn / zd (zd > 0)
    zd = np.empty(w + 3, np.int64)
    for r in range(h):
        _envelope_1d(lab[r], colsq[r], out[r], v, f, zn, zd, inf)


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
    """
    lab = np.ascontiguousarray(labels)
    if lab.ndim != 2:
        raise ValueError(f"labels must be (H, W), got shape {lab.shape}")
    colsq = np.empty(lab.shape, np.int64)
    out = np.empty(lab.shape, np.int64)
    if lab.size:
        _col_sq(lab, colsq, INF)
        _row_envelope(lab, colsq, out, INF)
    return out


@numba.njit(nogil=True, cache=True)
def _band(lab, d, out):
    h, w = lab.shape
    ok = np.empty((h, w), np.bool_)  # the row segment [c - d, c + d] is in the image and of one label
    for r in range(h):
        a = 0
        while a < w:
            v = lab[r, a]
            b = a
            while b + 1 < w and lab[r, b + 1] == v:
                b += 1
            for c in range(a, b + 1):
                ok[r, c] = c - a >= d and b - c >= d
            a = b + 1
    for c in range(w):
        a = 0
        while a < h:
            if not ok[a, c]:
                out[a, c] = True
                a += 1
                continue
            v = lab[a, c]
            b = a
            while b + 1 < h and ok[b + 1, c] and lab[b + 1, c] == v:
                b += 1
            for r in range(a, b + 1):
                out[r, c] = not (r - a >= d and b - r >= d)
            a = b + 1


def own_label_band(labels: np.ndarray, dilation: int) -> np.ndarray:
    """``(H, W)`` bool: pixels whose ``(2·dilation+1)``-square window holds another label or
    reaches outside the image.

    For every label ``c``, ``band & (labels == c)`` equals the official
    ``mask_to_boundary((labels == c).astype(np.uint8), ratio)`` of the Boundary IoU code
    (boundary-iou-api, ``boundary_iou/utils/boundary_utils.py``) with ``dilation`` =
    ``max(1, round(ratio · diagonal))``: the mask minus ``dilation`` iterations of a 3×3
    erosion of the mask padded with one row and column of zeros (cv2's border), which is
    the erosion by the square window with zeros outside the image.
    """
    lab = np.ascontiguousarray(labels)
    if lab.ndim != 2:
        raise ValueError(f"labels must be (H, W), got shape {lab.shape}")
    d = int(dilation)
    if d < 1:
        raise ValueError(f"dilation must be at least 1, not {dilation}")
    out = np.empty(lab.shape, bool)
    if lab.size:
        _band(lab, d, out)
    return out


@numba.njit(nogil=True, cache=True)
def _match_counts(src, dst, offs, d2, tol2, n, total, matched):
    h, w = src.shape
    K = offs.shape[0]
    T = tol2.shape[0]
    for r in range(h):
        for c in range(w):
            cl = src[r, c]
            if cl < 0 or cl >= n:
                continue
            total[cl] += 1
            best = -1.0
            for k in range(K):
                rr = r + offs[k, 0]
                cc = c + offs[k, 1]
                if rr >= 0 and rr < h and cc >= 0 and cc < w and dst[rr, cc] == cl:
                    best = d2[k]
                    break
            if best >= 0:
                for t in range(T):
                    if best <= tol2[t]:
                        matched[t, cl] += 1


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
    r = int(np.floor(tols.max()))
    dr, dc = np.mgrid[-r : r + 1, -r : r + 1]
    dr, dc = dr.ravel(), dc.ravel()
    d2 = dr * dr + dc * dc
    keep = d2 <= tols.max() ** 2
    order = np.argsort(d2[keep], kind="stable")
    offs = np.stack([dr[keep][order], dc[keep][order]], axis=1).astype(np.int64)
    d2 = d2[keep][order].astype(np.float64)
    total = np.zeros(n, np.int64)
    matched = np.zeros((tols.size, n), np.int64)
    s = np.ascontiguousarray(src, np.int16)
    t = np.ascontiguousarray(dst, np.int16)
    if s.size:
        _match_counts(s, t, offs, d2, tols * tols, n, total, matched)
    return matched, total


@numba.njit(nogil=True, cache=True, inline="always")
def _key_of(s, max_px):
    """``2·floor(sqrt(s)) + (s is not a square)``, or ``2·(max_px + 1)`` when floor(sqrt(s)) > max_px."""
    if s > (max_px + 1) * (max_px + 1) - 1:
        return np.uint8(2 * (max_px + 1))
    k = np.int64(np.sqrt(np.float64(s)))
    while k * k > s:
        k -= 1
    while (k + 1) * (k + 1) <= s:
        k += 1
    return np.uint8(2 * k + (1 if k * k != s else 0))


@numba.njit(nogil=True, cache=True)
def _keys(sq, valid, max_px, out):
    h, w = sq.shape
    for r in range(h):
        for c in range(w):
            out[r, c] = _key_of(sq[r, c], max_px) if valid[r, c] else np.uint8(0)


@numba.njit(nogil=True, cache=True)
def _row_envelope_keys(lab, colsq, valid, max_px, out, inf):
    """:func:`_row_envelope` writing each pixel's distance key instead of its squared distance."""
    h, w = lab.shape
    v = np.empty(w + 2, np.int64)
    f = np.empty(w + 2, np.int64)
    zn = np.empty(w + 3, np.int64)
    zd = np.empty(w + 3, np.int64)
    row = np.empty(w, np.int64)
    for r in range(h):
        _envelope_1d(lab[r], colsq[r], row, v, f, zn, zd, inf)
        for c in range(w):
            out[r, c] = _key_of(row[c], max_px) if valid[r, c] else np.uint8(0)


def other_label_distance_keys(labels: np.ndarray, valid: np.ndarray, max_px: int) -> np.ndarray:
    """``distance_keys(other_label_sq_distance(labels), valid, max_px)`` in one go (no ``(H, W)``
    int64 map of squared distances is kept)."""
    lab = np.ascontiguousarray(labels)
    if lab.ndim != 2:
        raise ValueError(f"labels must be (H, W), got shape {lab.shape}")
    out = np.empty(lab.shape, np.uint8)
    if lab.size:
        colsq = np.empty(lab.shape, np.int64)
        _col_sq(lab, colsq, INF)
        _row_envelope_keys(lab, colsq, np.ascontiguousarray(valid, bool), int(max_px), out, INF)
    return out


def distance_keys(sq: np.ndarray, valid: np.ndarray, max_px: int) -> np.ndarray:
    """``(H, W)`` uint8 key of each pixel's squared distance ``sq``: ``2·floor(d) + (d is not
    an integer)`` for ``floor(d) <= max_px``, ``2·(max_px + 1)`` beyond, 0 where not ``valid``."""
    out = np.empty(sq.shape, np.uint8)
    if sq.size:
        _keys(np.ascontiguousarray(sq, np.int64), np.ascontiguousarray(valid, bool), int(max_px), out)
    return out


@numba.njit(nogil=True, cache=True)
def _region_counts(g, p, key, gband, pband, n, ignore, cnt, inter, union):
    h, w = g.shape
    for r in range(h):
        for c in range(w):
            gi = g[r, c]
            if gi == ignore or gi >= n:
                continue
            pi = p[r, c]
            k = key[r, c]
            cnt[k, gi, 1] += 1
            if pi == gi:
                cnt[k, gi, 0] += 1
            p_cls = pi != ignore and pi < n
            if p_cls:
                cnt[k, pi, 2] += 1
            gb = gband[r, c]
            pb = pband[r, c] and p_cls
            if gb:
                union[gi] += 1
                if pb and pi == gi:
                    inter[gi] += 1
                    continue
            if pb:
                union[pi] += 1


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
    cnt = np.zeros((n_keys, n, 3), np.int64)
    inter = np.zeros(n, np.int64)
    union = np.zeros(n, np.int64)
    if g.size:
        _region_counts(
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


@numba.njit(nogil=True, cache=True)
def _biou_counts(g, p, gband, pband, n, ignore, inter, union):
    h, w = g.shape
    for r in range(h):
        for c in range(w):
            gi = g[r, c]
            if gi == ignore or gi >= n:
                continue
            pi = p[r, c]
            gb = gband[r, c]
            pb = pband[r, c] and pi != ignore and pi < n
            if gb:
                union[gi] += 1
                if pb and pi == gi:
                    inter[gi] += 1
                    continue
            if pb:
                union[pi] += 1


def boundary_iou_pixel_counts(
    g: np.ndarray, p: np.ndarray, gband: np.ndarray, pband: np.ndarray, n: int, ignore: int
) -> np.ndarray:
    """``(n, 2)`` int64 intersection and union per class of ``gband & (g == c)`` and
    ``pband & (p == c)`` over the pixels whose ground truth ``g`` is a class (the boundary IoU
    part of :func:`region_counts`, alone)."""
    inter = np.zeros(n, np.int64)
    union = np.zeros(n, np.int64)
    if g.size:
        _biou_counts(
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
