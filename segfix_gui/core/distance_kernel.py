"""The compiled (numba) kernels of :mod:`segfix_gui.core.distance` (the boundary measures).

:mod:`.distance` documents what each computes and calls them where numba is installed; where it
is not, this module does not import and :mod:`.distance` takes its NumPy/SciPy path to the same
integers (``tests/core/test_boundary_measures.py`` checks the two equal).

Compiled once per dtype signature and cached on disk (``cache=True``); ``nogil``.
"""

from __future__ import annotations

import numba
import numpy as np


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
