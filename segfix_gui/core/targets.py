"""Ground-truth boundary, directions and offsets from a label map.

Boundary band: pixels whose Euclidean distance to the nearest pixel of *another*
label is at most ``width``. Image edges are not borders; ignore/void pixels get no
band (but they are "another label" for their neighbours). Direction: the bin of the
vector from that nearest other-label pixel to the pixel, i.e. pointing into the
interior of the pixel's own segment.

The distance is exact (the same as a per-class Euclidean distance transform of the
whole image, the original's approach) but computed tile by tile, only where two
labels meet and only for the classes present there.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from .offsets import OffsetField, angles_to_bins, direction_table

TILE = 128


def boundary_targets(labels: np.ndarray, *, width: float = 5, directions: int = 8,
                     ignore_ids=()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boundary band, direction bins and distances of a label map.

    Parameters
    ----------
    labels : ndarray of shape (H, W), integer ids
    width : float, band half-width in pixels (distance to the other label at most this)
    directions : int, K in {4, 8, 16}
    ignore_ids : ids that get no band

    Returns
    -------
    band : ndarray of shape (H, W), bool
    bins : ndarray of shape (H, W), uint8 — direction bin on the band, 0 elsewhere
    distance : ndarray of shape (H, W), float32 — distance to the nearest other label on
        the band, ``inf`` elsewhere
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be (H, W), got shape {labels.shape}")
    direction_table(directions)
    h, w = labels.shape
    band = np.zeros((h, w), bool)
    bins = np.zeros((h, w), np.uint8)
    distance = np.full((h, w), np.inf, np.float32)
    if h == 0 or w == 0 or width <= 0:
        return band, bins, distance
    margin = int(math.ceil(width)) + 1
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
            R0, C0 = max(r0 - margin, 0), max(c0 - margin, 0)
            R1, C1 = min(r1 + margin, h), min(c1 + margin, w)
            if not edge[R0:R1, C0:C1].any():
                continue
            region = labels[R0:R1, C0:C1]
            core = (slice(r0 - R0, r1 - R0), slice(c0 - C0, c1 - C0))
            for c in np.unique(region[core]):
                if ignore.size and (c == ignore).any():
                    continue
                inside = region == c
                dist, (qr, qc) = ndi.distance_transform_edt(inside, return_indices=True)
                d = dist[core]
                sel = (d <= width) & inside[core]
                if not sel.any():
                    continue
                rr, cc = np.nonzero(sel)
                dr = (rr + (r0 - R0)) - qr[core][sel]
                dc = (cc + (c0 - C0)) - qc[core][sel]
                gr, gc = rr + r0, cc + c0
                band[gr, gc] = True
                distance[gr, gc] = d[sel]
                bins[gr, gc] = angles_to_bins(dr, dc, directions)
    return band, bins, distance


def gt_offset_field(labels: np.ndarray, *, width: float = 5, directions: int = 8,
                    ignore_ids=()) -> OffsetField:
    """An :class:`OffsetField` with boundary 1 on the band and one-hot directions.

    ``field.to_offsets(Setting(threshold=0.5, scale=s))`` gives the oracle offsets.
    """
    band, bins, _ = boundary_targets(labels, width=width, directions=directions,
                                     ignore_ids=ignore_ids)
    k = directions
    direction = np.zeros((k,) + band.shape, np.float32)
    np.put_along_axis(direction, bins[None].astype(np.int64), 1.0, axis=0)
    field = OffsetField(boundary=band.astype(np.float32), direction=direction)
    field._cache["bins"] = bins
    return field
