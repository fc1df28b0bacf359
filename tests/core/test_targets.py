"""Ground-truth targets: the band, directions along the border's normal, instance ids."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi

from segfix_gui import boundary_targets, gt_offset_field, refine_labels
from segfix_gui.core import targets as T
from segfix_gui.core.offsets import angles_to_bins
from segfix_gui.core.setting import Setting

# --- ground-truth targets ---------------------------------------------------------------


def brute_force_band(labels, width, ignore_ids=()):
    """The definition: per class, a Euclidean distance transform of the whole image."""
    band = np.zeros(labels.shape, bool)
    dist = np.full(labels.shape, np.inf)
    for c in np.unique(labels):
        if c in ignore_ids:
            continue
        m = labels == c
        if m.all():
            continue
        d = ndi.distance_transform_edt(m)
        band |= m & (d <= width)
        dist[m] = d[m]
    return band, dist


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([1, 2.5, 5]), st.integers(40, 300))
def test_band_equals_per_class_distance_transform(seed, width, w):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 5, (6, 1 + w // 40))
    labels = np.kron(small, np.ones((23, 40), np.int64))[:, :w].astype(np.uint8)
    labels[rng.random(labels.shape) < 0.01] = 9  # speckle
    band, bins, dist = boundary_targets(labels, width=width, ignore_ids=(9,))
    ref_band, ref_dist = brute_force_band(labels, width, ignore_ids=(9,))
    assert (band == ref_band).all()
    assert np.allclose(dist[band], ref_dist[band])
    assert not band[labels == 9].any()


def test_image_edges_are_not_borders():
    labels = np.zeros((30, 40), np.uint8)
    assert not boundary_targets(labels, width=5)[0].any()
    labels[:, 20:] = 1
    band = boundary_targets(labels, width=5)[0]
    assert band[:, 15:25].all() and not band[:, :15].any() and not band[:, 25:].any()


def test_directions_point_into_the_own_segment():
    labels = np.zeros((40, 40), np.uint8)
    labels[:, 20:] = 1  # left 0, right 1
    _, bins, _ = boundary_targets(labels, width=3)
    assert (bins[:, 17:20] == 0).all()  # class 0 pixels point left (0, -1)
    assert (bins[:, 20:23] == 4).all()  # class 1 pixels point right (0, 1)


def test_oracle_offsets_fix_a_shifted_border():
    gt = np.zeros((50, 60), np.uint8)
    gt[:, 30:] = 1
    pred = np.zeros_like(gt)
    pred[:, 27:] = 1  # border 3 px too far left
    off = gt_offset_field(gt, width=5).to_offsets(Setting(scale=2))
    refined = refine_labels(pred, off, device="cpu")
    assert (refined != gt).sum() < (pred != gt).sum()


def whole_image_directions(labels, width, ignore_ids=()):
    """The definition of the directions: per class, the Gaussian derivative of the clipped
    distance transform of the whole image, read on the class's band."""
    band = np.zeros(labels.shape, bool)
    gr = np.zeros(labels.shape)
    gc = np.zeros(labels.shape)
    for c in np.unique(labels):
        if c in ignore_ids:
            continue
        m = labels == c
        if m.all():
            continue
        d = np.minimum(ndi.distance_transform_edt(m), T.CLIP)
        sel = m & (ndi.distance_transform_edt(m) <= width)
        f = dict(mode="nearest", truncate=T.TRUNCATE)
        gr[sel] = ndi.gaussian_filter(d, T.SMOOTHING, order=(1, 0), **f)[sel]
        gc[sel] = ndi.gaussian_filter(d, T.SMOOTHING, order=(0, 1), **f)[sel]
        band |= sel
    return band, np.where(band, angles_to_bins(gr, gc, 8), 0)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([1.5, 5, 12]), st.integers(30, 330), st.integers(30, 300))
def test_tiled_directions_equal_the_whole_image_definition(seed, width, h, w):
    # blobs of random size, so that tiles cut through segments, thin parts and junctions
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 4, (rng.integers(2, 9), rng.integers(2, 9)))
    labels = ndi.zoom(small, (h / small.shape[0], w / small.shape[1]), order=0)[:h, :w]
    labels = labels.astype(np.uint8)
    labels[rng.random(labels.shape) < 0.002] = 9
    band, bins, _ = boundary_targets(labels, width=width, ignore_ids=(9,))
    ref_band, ref_bins = whole_image_directions(labels, width, ignore_ids=(9,))
    assert (band == ref_band).all()
    assert (bins == ref_bins).all()


def test_slanted_border_gets_slanted_directions():
    r, c = np.indices((80, 80))
    labels = (r > c).astype(np.uint8)  # 45° border: below-left is class 1
    band, bins, dist = boundary_targets(labels, width=3)
    inner = band & (r > 15) & (r < 65) & (c > 15) & (c < 65)
    # class 1 lies below the diagonal: its interior is down-left (1, -1) = bin 7;
    # class 0 above: up-right (-1, 1) = bin 3
    assert (bins[inner & (labels == 1)] == 7).all()
    assert (bins[inner & (labels == 0)] == 3).all()
    # the nearest-pixel rule is axis-aligned there (the defect the smoothing removes)
    _, old, _ = boundary_targets(labels, width=3, smoothing=0)
    near = inner & (dist == 1)
    assert np.isin(old[near], (0, 2, 4, 6)).all()


def test_staircase_corner_gets_the_bisector():
    labels = np.zeros((60, 60), np.uint8)
    labels[30:, 30:] = 1  # a corner of class 1
    band, bins, _ = boundary_targets(labels, width=2)
    # the corner pixel of class 1 touches class 0 above and left: into (1, 1) = bin 5
    assert band[30, 30] and bins[30, 30] == 5
    # the class-0 pixel diagonally outside points away: (-1, -1) = bin 1
    assert bins[29, 29] == 1


def test_nearest_pixel_rule_is_kept_with_smoothing_zero():
    labels = np.zeros((40, 40), np.uint8)
    labels[:, 20:] = 1
    for s in (0, T.SMOOTHING):
        _, bins, _ = boundary_targets(labels, width=3, smoothing=s)
        assert (bins[:, 17:20] == 0).all() and (bins[:, 20:23] == 4).all()
    with pytest.raises(ValueError):
        boundary_targets(labels, smoothing=-1)


def test_instance_ids_give_borders_between_instances():
    ids = np.full((40, 60), 7, np.int32)  # road (a plain label id)
    ids[10:30, 10:30] = 26000  # two cars side by side
    ids[10:30, 30:50] = 26001
    band, bins, _ = boundary_targets(ids, width=2)
    assert band[20, 28:32].all()  # the border between the two cars
    assert bins[20, 29] == 0 and bins[20, 30] == 4  # each points into its own car
    classes = np.where(ids >= 1000, ids // 1000, ids)
    assert not boundary_targets(classes, width=2)[0][20, 28:32].any()
    field = gt_offset_field(ids, width=2, ignore_ids=(7,))
    assert field.boundary[ids == 7].max() == 0
