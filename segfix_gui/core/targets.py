"""Ground-truth boundary, directions and offsets from a label map.

Boundary band: pixels whose Euclidean distance to the nearest pixel of *another*
label is at most ``width``. Image edges are not borders; ignore/void pixels get no
band (but they are "another label" for their neighbours). The label map may hold
class ids or instance ids (Cityscapes ``labelId * 1000 + index``): every change of id
is a border.

Direction (``smoothing`` = σ > 0, the default): the gradient of the pixel's own-label
distance map, i.e. the border's normal pointing into the interior of the pixel's own
segment, taken as a Gaussian derivative of scale σ (truncated at ``TRUNCATE``·σ) of that
distance map clipped at ``CLIP`` px. It sums every nearby border pixel, so a slanted border
gets slanted directions and corners and staircases get their bisector, where the vector to
the single nearest other-label pixel (``smoothing=0``, the old rule) is axis-aligned at
distance 1 and picks one neighbour arbitrarily. It is the original SegFix's idea (a 5×5
Sobel of each class's distance transform) with a wider, smoother window, which measures
better as an oracle on CamVid (docs/RESULTS.md, ``benchmarks/targets_quality.py``).

Everything is exact: the same as computing each label's Euclidean distance transform and
its smoothed gradient over the whole image, but done tile by tile, only where two labels
meet, only for the labels present there, around the bounding box of each label's pixels.
The clip is what makes tiles exact: a distance below ``CLIP`` is never changed by cutting
the image ``CLIP`` + kernel radius away.
"""

from __future__ import annotations

import math

import numpy as np

from .offsets import OffsetField, angles_to_bins, direction_table

TILE = 128
SMOOTHING = 4.0  # σ (px) of the Gaussian derivative giving directions
TRUNCATE = 2.0  # the derivative kernel reaches TRUNCATE·σ px (radius 8 at σ = 4)
CLIP = 8.0  # distances are clipped here before the derivative (exactness by tiles)


def kernel_radius(smoothing: float) -> int:
    """Radius in px of the direction kernel (``scipy.ndimage``'s rounding)."""
    return int(TRUNCATE * float(smoothing) + 0.5) if smoothing > 0 else 0


def boundary_targets(
    labels: np.ndarray, *, width: float = 5, directions: int = 8, ignore_ids=(), smoothing: float = SMOOTHING
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boundary band, direction bins and distances of a label map.

    Parameters
    ----------
    labels : ndarray of shape (H, W), integer ids (class or instance ids)
    width : float, band half-width in pixels (distance to the other label at most this)
    directions : int, K in {4, 8, 16}
    ignore_ids : ids that get no band
    smoothing : float, σ of the direction's Gaussian derivative; 0 = the vector from the
        single nearest other-label pixel (the old rule)

    Returns
    -------
    band : ndarray of shape (H, W), bool
    bins : ndarray of shape (H, W), uint8 — direction bin on the band, 0 elsewhere
    distance : ndarray of shape (H, W), float32 — distance to the nearest other label on
        the band, ``inf`` elsewhere
    """
    from scipy import ndimage as ndi  # imported when targets are made, not with the package

    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be (H, W), got shape {labels.shape}")
    if not smoothing >= 0:
        raise ValueError(f"smoothing must be >= 0, not {smoothing}")
    direction_table(directions)
    h, w = labels.shape
    band = np.zeros((h, w), bool)
    bins = np.zeros((h, w), np.uint8)
    distance = np.full((h, w), np.inf, np.float32)
    if h == 0 or w == 0 or width <= 0:
        return band, bins, distance
    rad = kernel_radius(smoothing)
    margin = int(math.ceil(width)) + 1
    if smoothing > 0:
        margin = max(margin, rad + int(math.ceil(CLIP)) + 1)
    reach = int(math.ceil(width)) + 1  # band pixels lie this close to an edge pixel
    # pixels that touch another label (8-neighbourhood): tiles without any are skipped
    edge = np.zeros((h, w), bool)
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    edge[1:, 1:] |= labels[1:, 1:] != labels[:-1, :-1]
    edge[1:, :-1] |= labels[1:, :-1] != labels[:-1, 1:]
    ignore = np.asarray(list(ignore_ids), dtype=np.int64)
    for r0 in range(0, h, TILE):
        for c0 in range(0, w, TILE):
            r1, c1 = min(r0 + TILE, h), min(c0 + TILE, w)
            if not edge[max(r0 - reach, 0) : r1 + reach, max(c0 - reach, 0) : c1 + reach].any():
                continue
            tile = labels[r0:r1, c0:c1]
            for c in np.unique(tile):
                if ignore.size and (c == ignore).any():
                    continue
                # the label's pixels in the tile; around their bounding box, the margin
                # that makes every distance needed exact
                mine = tile == c
                rows = np.flatnonzero(mine.any(1))
                cols = np.flatnonzero(mine.any(0))
                a0, a1 = r0 + int(rows[0]), r0 + int(rows[-1]) + 1
                b0, b1 = c0 + int(cols[0]), c0 + int(cols[-1]) + 1
                R0, C0 = max(a0 - margin, 0), max(b0 - margin, 0)
                inside = labels[R0 : a1 + margin, C0 : b1 + margin] == c
                core = (slice(a0 - R0, a1 - R0), slice(b0 - C0, b1 - C0))
                if smoothing > 0:
                    dist = ndi.distance_transform_edt(inside)
                else:
                    dist, (qr, qc) = ndi.distance_transform_edt(inside, return_indices=True)
                d = dist[core]
                sel = (d <= width) & mine[a0 - r0 : a1 - r0, b0 - c0 : b1 - c0]
                if not sel.any():
                    continue
                rr, cc = np.nonzero(sel)
                gr, gc = rr + a0, cc + b0
                band[gr, gc] = True
                distance[gr, gc] = d[sel]
                if smoothing > 0:
                    dr, dc = _smoothed_gradient(dist, rr + (a0 - R0), cc + (b0 - C0), smoothing, rad)
                else:
                    dr = (rr + (a0 - R0)) - qr[core][sel]
                    dc = (cc + (b0 - C0)) - qc[core][sel]
                bins[gr, gc] = angles_to_bins(dr, dc, directions)
    return band, bins, distance


def _smoothed_gradient(
    dist: np.ndarray, rr: np.ndarray, cc: np.ndarray, sigma: float, rad: int
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian derivative (row, col) of ``min(dist, CLIP)`` at the pixels ``(rr, cc)``.

    Only the window of those pixels plus the kernel radius is filtered; its edges are
    ``rad`` away from every pixel asked for, or are the image's own edges, so the values
    equal those of ``scipy.ndimage.gaussian_filter(..., order=(1, 0) / (0, 1),
    mode="nearest", truncate=TRUNCATE)`` over the whole image.
    """
    from scipy import ndimage as ndi

    h, w = dist.shape
    a0, a1 = max(int(rr.min()) - rad, 0), min(int(rr.max()) + rad + 1, h)
    b0, b1 = max(int(cc.min()) - rad, 0), min(int(cc.max()) + rad + 1, w)
    win = np.minimum(dist[a0:a1, b0:b1], CLIP)
    f = dict(mode="nearest", truncate=TRUNCATE)
    d_r = ndi.gaussian_filter1d(win, sigma, axis=0, order=1, **f)
    s_r = ndi.gaussian_filter1d(win, sigma, axis=0, order=0, **f)
    g_r = ndi.gaussian_filter1d(d_r, sigma, axis=1, order=0, **f)
    g_c = ndi.gaussian_filter1d(s_r, sigma, axis=1, order=1, **f)
    return g_r[rr - a0, cc - b0], g_c[rr - a0, cc - b0]


def gt_offset_field(
    labels: np.ndarray, *, width: float = 5, directions: int = 8, ignore_ids=(), smoothing: float = SMOOTHING
) -> OffsetField:
    """An :class:`OffsetField` with boundary 1 on the band and one-hot directions
    (:meth:`OffsetField.one_hot`: float16, a 4096×8192 map's 8 planes take 512 MB).

    ``field.to_offsets(Setting(threshold=0.5, scale=s))`` gives the oracle offsets.
    """
    band, bins = boundary_targets(
        labels, width=width, directions=directions, ignore_ids=ignore_ids, smoothing=smoothing
    )[:2]
    return OffsetField.one_hot(band.astype(np.float32), bins, directions)
