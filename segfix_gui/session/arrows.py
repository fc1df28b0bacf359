"""Direction arrows as line segments (numpy only; the canvas draws them as one curve item).

Arrows are drawn on moving pixels only (those whose offset is non-zero at the current
setting, i.e. that pass the threshold), pointing from the pixel towards the pixel it takes
its label from. Zoomed in, every moving pixel gets an arrow; zoomed out, the visible
rectangle is cut into ``stride × stride`` blocks and each block with a moving pixel gets one
arrow, at its first moving pixel, ``stride`` long. The count is capped.
"""

from __future__ import annotations

import math

import numpy as np

MIN_SPACING_PX = 16.0  # screen pixels between neighbouring arrows
MAX_ARROWS = 10_000
BARB = 0.38  # barb length as a fraction of the arrow
BARB_ANGLE = math.radians(28)


def choose_stride(pixels_per_image_pixel: float, *, min_spacing: float = MIN_SPACING_PX) -> int:
    """Smallest power-of-two stride (image pixels) keeping arrows ``min_spacing`` screen pixels apart."""
    if not pixels_per_image_pixel > 0:
        return 1
    need = min_spacing / pixels_per_image_pixel
    stride = 1
    while stride < need - 1e-9:
        stride *= 2
    return stride


def visible_box(x0: float, x1: float, y0: float, y1: float, shape: tuple[int, int]):
    """Clip a view rectangle (x = col, y = row, floats) to ``(r0, r1, c0, c1)`` ints, or None."""
    h, w = shape
    r0, r1 = max(int(math.floor(min(y0, y1))), 0), min(int(math.ceil(max(y0, y1))), h)
    c0, c1 = max(int(math.floor(min(x0, x1))), 0), min(int(math.ceil(max(x0, x1))), w)
    if r1 <= r0 or c1 <= c0:
        return None
    return r0, r1, c0, c1


def arrow_points(offsets: np.ndarray, box, stride: int, *, cap: int = MAX_ARROWS):
    """Segment end points of the arrows inside ``box``.

    Parameters
    ----------
    offsets : ndarray of shape (2, H, W), integer (d_row, d_col); zero = not moving
    box : (r0, r1, c0, c1) visible rectangle in pixels
    stride : int >= 1, a power of two, block size; doubled until at most ``cap`` arrows remain

    Returns
    -------
    x, y : float32 arrays of length ``6 * n`` (shaft and two barbs per arrow, as pairs for
        ``connect="pairs"``), in image coordinates (x = col + 0.5, y = row + 0.5)
    stride : the stride used
    """
    r0, r1, c0, c1 = box
    stride = max(1, int(stride))
    while True:
        rows, cols, dr, dc = _pick(offsets, r0, r1, c0, c1, stride)
        if rows.size <= cap:
            break
        stride *= 2
    if rows.size == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32), stride
    norm = np.hypot(dr, dc)
    ur, uc = dr / norm, dc / norm
    length = 0.8 * stride if stride > 1 else 0.8
    y0 = rows + 0.5
    x0 = cols + 0.5
    ty = y0 + ur * length
    tx = x0 + uc * length
    b = BARB * length
    cos, sin = math.cos(BARB_ANGLE), math.sin(BARB_ANGLE)
    # barbs: the reversed direction rotated by ±angle
    bx1 = tx - b * (uc * cos - ur * sin)
    by1 = ty - b * (ur * cos + uc * sin)
    bx2 = tx - b * (uc * cos + ur * sin)
    by2 = ty - b * (ur * cos - uc * sin)
    x = np.stack([x0, tx, tx, bx1, tx, bx2], axis=1).ravel().astype(np.float32)
    y = np.stack([y0, ty, ty, by1, ty, by2], axis=1).ravel().astype(np.float32)
    return x, y, stride


def _pick(offsets, r0, r1, c0, c1, s):
    """Rows, cols and offsets of one moving pixel per ``s × s`` block (aligned to multiples of s)."""
    h, w = offsets.shape[1:]
    if s == 1:
        d_r = offsets[0, r0:r1, c0:c1]
        d_c = offsets[1, r0:r1, c0:c1]
        rr, cc = np.nonzero((d_r != 0) | (d_c != 0))
        return rr + r0, cc + c0, d_r[rr, cc].astype(np.float32), d_c[rr, cc].astype(np.float32)
    R0, C0 = (r0 // s) * s, (c0 // s) * s
    R1, C1 = min(-(-r1 // s) * s, h), min(-(-c1 // s) * s, w)
    # look at a sub-grid of each block (every k-th pixel, k divides s) so zoomed-out views stay cheap
    k = max(1, s // 8)
    m = s // k
    d_r = offsets[0, R0:R1:k, C0:C1:k]
    d_c = offsets[1, R0:R1:k, C0:C1:k]
    pad = ((0, -d_r.shape[0] % m), (0, -d_r.shape[1] % m))
    if pad[0][1] or pad[1][1]:  # blocks cut by the image's edge: pad with "not moving"
        d_r, d_c = np.pad(d_r, pad), np.pad(d_c, pad)
    nbr, nbc = d_r.shape[0] // m, d_r.shape[1] // m
    moving = (d_r != 0) | (d_c != 0)
    blocks = moving.reshape(nbr, m, nbc, m).transpose(0, 2, 1, 3).reshape(nbr, nbc, m * m)
    has = blocks.any(axis=2)
    first = blocks.argmax(axis=2)
    br, bc = np.nonzero(has)
    f = first[br, bc]
    lr, lc = br * m + f // m, bc * m + f % m  # position in the sub-grid
    rows, cols = R0 + lr * k, C0 + lc * k
    return rows, cols, d_r[lr, lc].astype(np.float32), d_c[lr, lc].astype(np.float32)
