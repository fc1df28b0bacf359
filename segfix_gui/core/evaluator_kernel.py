"""The compiled (numba) step of :class:`segfix_gui.core.evaluator.ImageEvaluator`: pixels take new
labels, and the boundary counts follow — one pass over the changed pixels and their
neighbourhoods instead of NumPy's thirty small array operations per step.

It does exactly what ``_State._relabel`` does with NumPy (the fallback where numba is not
installed; ``tests/core/test_evaluator.py`` checks the two equal): the moved pixels take their
new labels; the 1-px prediction boundary is recomputed on them and their 4-neighbours; where
it changed, the prediction-side boundary counts (matched, all) move by the ground-truth
boundary classes near each pixel, and the ground-truth side's per-pixel counts of same-class
prediction boundary pixels in the tolerance disk move too, a ground-truth boundary pixel
counting as matched while its count is above zero. Every count is an integer, so the order of
the updates does not matter.

Compiled once per dtype signature and cached on disk (``cache=True``); ``nogil``.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def relabel(p, pb, cnt, bc, dst, new, g_valid, gb, near, bits, disk, h, w, n, ignore, mark):
    """Pixels ``dst`` (flat) take eval labels ``new`` in ``p``; ``pb``, ``cnt`` and ``bc`` (the
    state's boundary classes, ground-truth counts and (n, 4) boundary counts) follow.

    ``g_valid`` bool ground truth not void; ``gb`` int16 ground-truth boundary class per pixel
    (-1: none); ``near`` (words, H*W) bit words of the ground-truth boundary classes within the
    disk; ``disk`` (K, 2) int offsets; ``mark`` a zeroed bool scratch of H*W (left zeroed).
    """
    # the labels
    moved = np.empty(dst.size, np.int64)
    m = 0
    for i in range(dst.size):
        q = dst[i]
        if p[q] != new[i]:
            p[q] = new[i]
            moved[m] = q
            m += 1
    if m == 0:
        return
    # the moved pixels and their 4-neighbours, each once
    region = np.empty(5 * m, np.int64)
    k = 0
    for i in range(m):
        q = moved[i]
        r = q // w
        c = q - r * w
        for t in range(5):
            if t == 0:
                x = q
            elif t == 1:
                if c == 0:
                    continue
                x = q - 1
            elif t == 2:
                if c == w - 1:
                    continue
                x = q + 1
            elif t == 3:
                if r == 0:
                    continue
                x = q - w
            else:
                if r == h - 1:
                    continue
                x = q + w
            if not mark[x]:
                mark[x] = True
                region[k] = x
                k += 1
    for i in range(k):
        mark[region[i]] = False
    nd = disk.shape[0]
    for i in range(k):
        q = region[i]
        r = q // w
        c = q - r * w
        lab = p[q]
        edge = False
        if c > 0 and p[q - 1] != lab:
            edge = True
        elif c < w - 1 and p[q + 1] != lab:
            edge = True
        elif r > 0 and p[q - w] != lab:
            edge = True
        elif r < h - 1 and p[q + w] != lab:
            edge = True
        cls_new = np.int16(-1)
        if edge and lab != ignore and lab < n and g_valid[q]:
            cls_new = np.int16(lab)
        cls_old = pb[q]
        if cls_new == cls_old:
            continue
        pb[q] = cls_new
        # prediction side: the boundary pixel that vanished, the one that appeared
        for s in range(2):
            cls = cls_old if s == 0 else cls_new
            sign = -1 if s == 0 else 1
            if cls < 0:
                continue
            if (np.int64(near[cls // bits, q]) >> np.int64(cls % bits)) & 1:
                bc[cls, 0] += sign
            bc[cls, 1] += sign
        # ground-truth side: same-class prediction boundary pixels in each gt pixel's disk
        for j in range(nd):
            rr = r + disk[j, 0]
            cc = c + disk[j, 1]
            if rr < 0 or rr >= h or cc < 0 or cc >= w:
                continue
            x = rr * w + cc
            gq = gb[x]
            if gq < 0:
                continue
            d = (1 if cls_new == gq else 0) - (1 if cls_old == gq else 0)
            if d == 0:
                continue
            before = cnt[x] > 0
            cnt[x] += d
            after = cnt[x] > 0
            if after != before:
                bc[gq, 2] += 1 if after else -1
