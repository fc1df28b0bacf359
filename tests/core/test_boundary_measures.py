"""Boundary measures (error profile, boundary IoU, boundary F at several tolerances, trimap IoU)
against independent per-pixel references: brute force, scipy's distance transform and
erosion, and the one-tolerance boundary F-score."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numba_absent import numba_absent
from scipy import ndimage as ndi

from segfix_gui.core import distance
from segfix_gui.core.degrade import degrade
from segfix_gui.core.distance import (
    INF,
    distance_keys,
    other_label_distance_keys,
    other_label_sq_distance,
    own_label_band,
)
from segfix_gui.core.metrics import (
    BorderCounts,
    BorderOptions,
    SemanticEvaluator,
    border_counts,
    border_distance,
    border_result,
    boundary_counts,
    boundary_dilation,
    boundary_f_from_counts,
    confusion_matrix,
    evaluate_pair,
    gt_borders,
    iou_from_confusion,
    mask_to_boundary,
    mean_iou,
    present_classes,
)
from segfix_gui.labels import IGNORE, LabelClass, LabelSpace, get_label_space

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CAMVID_VAL = DATA / "camvid" / "val" / "labels"

SPACE = LabelSpace(
    "abc",
    (
        LabelClass(0, "a", (255, 0, 0), 0),
        LabelClass(1, "b", (0, 255, 0), 1),
        LabelClass(2, "c", (0, 0, 255), 2),
        LabelClass(9, "void", (0, 0, 0), 255),
    ),
)


# --------------------------------------------------------------------------- references


def brute_sq_distance(lab: np.ndarray) -> np.ndarray:
    """Squared distance to the nearest pixel of another label, pixel by pixel."""
    h, w = lab.shape
    rr, cc = np.mgrid[:h, :w]
    out = np.full((h, w), INF, np.int64)
    for r in range(h):
        for c in range(w):
            other = lab != lab[r, c]
            if other.any():
                out[r, c] = ((rr[other] - r) ** 2 + (cc[other] - c) ** 2).min()
    return out


def cv2_like_mask_to_boundary(mask: np.ndarray, dilation: int) -> np.ndarray:
    """The official definition step by step: pad with one row/column of zeros, erode with a
    3×3 kernel ``dilation`` times (cv2's erode treats what is outside the padded image as 1),
    crop, subtract."""
    m = (np.asarray(mask) != 0).astype(bool)
    padded = np.pad(m, 1, constant_values=False)
    eroded = ndi.binary_erosion(padded, np.ones((3, 3), bool), iterations=dilation, border_value=1)
    return m & ~eroded[1:-1, 1:-1]


def reference_measures(gt: np.ndarray, pred: np.ndarray, space: LabelSpace, options: BorderOptions) -> dict:
    """Every measure from per-pixel definitions, without the package's kernels."""
    g, p = space.to_eval(gt), space.to_eval(pred)
    n = space.n_classes
    valid = g != IGNORE
    dist = np.full(g.shape, np.inf)
    for lab in np.unique(g):  # each label's own distance transform (void is a label)
        m = g == lab
        if (~m).any():
            dist[m] = ndi.distance_transform_edt(m)[m]
    # error profile
    m = options.max_px
    bins = np.where(np.isfinite(dist), np.floor(dist), m + 1).clip(max=m + 1).astype(int)
    wrong = g != p
    prof_pixels = np.array([np.count_nonzero(valid & (bins == b)) for b in range(1, m + 2)])
    prof_errors = np.array([np.count_nonzero(valid & (bins == b) & wrong) for b in range(1, m + 2)])
    # boundary IoU
    d = max(1, int(round(options.dilation_ratio * math.hypot(*g.shape))))
    inter = np.zeros(n, np.int64)
    union = np.zeros(n, np.int64)
    for c in range(n):
        gb = cv2_like_mask_to_boundary(g == c, d) & valid
        pb = cv2_like_mask_to_boundary(p == c, d) & valid
        inter[c] = np.count_nonzero(gb & pb)
        union[c] = np.count_nonzero(gb | pb)
    # trimap IoU: the confusion of the pixels within w px
    trimap = {}
    for w in options.trimap_widths:
        band = dist <= w
        conf = confusion_matrix(np.where(band, gt, space.ignore_ids[0]), pred, space)
        trimap[w] = mean_iou(iou_from_confusion(conf))
    bf = np.stack([boundary_counts(g, p, n, tol=t) for t in options.f_tols])
    return {"pixels": prof_pixels, "errors": prof_errors, "inter": inter, "union": union, "trimap": trimap, "bf": bf}


def assert_matches_reference(gt, pred, space, options=None):
    options = options or BorderOptions()
    ref = reference_measures(gt, pred, space, options)
    counts = border_counts(gt_borders(gt, space, options=options), pred, space)
    pixels, errors = counts.profile()
    assert pixels.tolist() == ref["pixels"].tolist()
    assert errors.tolist() == ref["errors"].tolist()
    assert counts.biou[:, 0].tolist() == ref["inter"].tolist()
    assert counts.biou[:, 1].tolist() == ref["union"].tolist()
    assert np.array_equal(counts.bf, ref["bf"])
    for w, v in ref["trimap"].items():
        got = mean_iou(counts.trimap_iou(w))
        assert (math.isnan(got) and math.isnan(v)) or got == pytest.approx(v, abs=1e-12)
    return counts


# --------------------------------------------------------------------------- kernels


label_maps = hnp.arrays(
    np.uint8,
    st.tuples(st.integers(1, 14), st.integers(1, 14)),
    elements=st.integers(0, 3),
)


@settings(max_examples=150, deadline=None)
@given(label_maps, st.integers(1, 3))
def test_sq_distance_equals_brute_force(lab, zoom):
    lab = np.kron(lab, np.ones((zoom, zoom), np.uint8))[:20, :20]
    assert np.array_equal(other_label_sq_distance(lab), brute_sq_distance(lab))


@settings(max_examples=80, deadline=None)
@given(label_maps, st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_distance_keys_in_one_pass_equal_keys_of_the_distances(lab, max_px, seed):
    lab = np.kron(lab, np.ones((3, 2), np.uint8))
    valid = np.random.default_rng(seed).random(lab.shape) < 0.8
    keys = other_label_distance_keys(lab, valid, max_px)
    assert np.array_equal(keys, distance_keys(other_label_sq_distance(lab), valid, max_px))
    d = np.sqrt(brute_sq_distance(lab).astype(float))
    k = np.where(np.isfinite(d) & (d < max_px + 1), np.floor(d), max_px + 1).astype(int)
    frac = (k <= max_px) & (d != np.floor(d))
    assert np.array_equal(keys, np.where(valid, 2 * k + frac, 0))


def test_sq_distance_one_label_is_inf_and_edges_are_no_border():
    assert (other_label_sq_distance(np.zeros((3, 5), np.uint8)) == INF).all()
    lab = np.zeros((1, 6), np.uint8)
    lab[0, 5] = 1
    assert other_label_sq_distance(lab)[0].tolist() == [25, 16, 9, 4, 1, 1]
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        other_label_sq_distance(np.zeros(4, np.uint8))


@settings(max_examples=150, deadline=None)
@given(label_maps, st.integers(1, 4), st.integers(1, 3))
def test_own_label_band_is_the_official_mask_to_boundary_of_every_label(lab, zoom, dilation):
    lab = np.kron(lab, np.ones((zoom, zoom), np.uint8))
    band = own_label_band(lab, dilation)
    for c in np.unique(lab):
        assert np.array_equal(band & (lab == c), cv2_like_mask_to_boundary(lab == c, dilation))


def test_mask_to_boundary_dilation_and_rounding():
    assert boundary_dilation((1024, 2048)) == 11  # 0.005 · 2289.7
    assert boundary_dilation((360, 480)) == 3  # 0.005 · 600
    assert boundary_dilation((10, 10)) == 1  # at least 1
    assert boundary_dilation((300, 400), 0.005) == 2  # round(2.5) is 2, Python's half to even
    mask = np.zeros((40, 40), bool)
    mask[5:30, 8:35] = True
    assert np.array_equal(mask_to_boundary(mask, 0.05), cv2_like_mask_to_boundary(mask, 3))
    with pytest.raises(ValueError, match="at least 1"):
        own_label_band(mask, 0)


# --------------------------------------------------------------------------- without numba
# Each kernel's NumPy/SciPy path (the one taken where numba is not installed) against the
# compiled kernel, on small maps of several dtypes; then the measures end to end without numba.

needs_numba = pytest.mark.skipif(distance._compiled() is None, reason="numba is not installed: no kernel to compare")
signed_maps = hnp.arrays(
    st.sampled_from([np.uint8, np.int16, np.int32, np.uint16]),
    st.tuples(st.integers(1, 12), st.integers(1, 12)),
    elements=st.integers(0, 3),
)


@needs_numba
@settings(max_examples=60, deadline=None)
@given(signed_maps, st.integers(1, 3), st.integers(1, 4), st.integers(0, 7))
def test_numpy_distances_and_bands_equal_the_kernels(lab, zoom, dilation, max_px):
    lab = np.kron(lab, np.ones((zoom, zoom), lab.dtype))
    if lab.dtype.kind == "i":
        lab = lab - 1  # -1: a label too
    sq = other_label_sq_distance(lab)
    assert np.array_equal(distance._sq_distance_numpy(lab), sq)
    assert np.array_equal(distance._band_numpy(lab, dilation), own_label_band(lab, dilation))
    valid = lab != lab.flat[0]
    assert np.array_equal(distance._keys_numpy(sq, valid, max_px), distance_keys(sq, valid, max_px))


@needs_numba
@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 14), st.integers(1, 14)), elements=st.sampled_from([0, 1, 2, 255])),
    st.integers(0, 2**32 - 1),
    st.lists(st.sampled_from([0, 1, 1.5, 2, 3, 5.5]), min_size=1, max_size=3),
)
def test_numpy_counts_equal_the_kernels(g, seed, tols):
    rng = np.random.default_rng(seed)
    p = np.where(rng.random(g.shape) < 0.3, rng.choice(np.array([0, 1, 2, 255], np.uint8), g.shape), g)
    n, ignore = 3, 255
    gb = np.where(rng.random(g.shape) < 0.4, g.astype(np.int16), -1).astype(np.int16)
    pb = np.where(rng.random(g.shape) < 0.4, p.astype(np.int16), -1).astype(np.int16)
    gb[gb == ignore], pb[pb == ignore] = -1, -1
    offs, d2 = distance._disk_offsets(np.asarray(tols, float))
    tol2 = np.asarray(tols, float) ** 2
    for got, want in zip(
        distance._match_counts_numpy(pb, gb, offs, d2, tol2, n),
        distance.match_sq_distance_counts(pb, gb, tols, n),
        strict=True,
    ):
        assert np.array_equal(got, want)
    key = distance_keys(other_label_sq_distance(g), g != ignore, 4)
    gband, pband = own_label_band(g, 1), own_label_band(p, 2)
    args = (g, p, key, gband, pband, n, ignore, 2 * (4 + 1) + 1)  # keys 0 .. 2·(max_px + 1)
    for got, want in zip(distance._region_counts_numpy(*args), distance.region_counts(*args), strict=True):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    biou = distance.boundary_iou_pixel_counts(g, p, gband, pband, n, ignore)
    with numba_absent():
        assert distance._compiled() is None
        assert np.array_equal(distance.boundary_iou_pixel_counts(g, p, gband, pband, n, ignore), biou)


@settings(max_examples=25, deadline=None)
@given(
    hnp.arrays(np.uint8, st.tuples(st.integers(2, 10), st.integers(2, 10)), elements=st.sampled_from([0, 1, 2, 9])),
    st.integers(0, 2**32 - 1),
    st.integers(1, 3),
)
def test_measures_equal_references_without_numba(small, seed, zoom):
    """numba is optional: without it the measures take the NumPy path, to the same counts."""
    gt = np.kron(small, np.ones((zoom, zoom), np.uint8))
    rng = np.random.default_rng(seed)
    pred = np.where(rng.random(gt.shape) < 0.2, rng.choice(np.array([0, 1, 2, 9], np.uint8), gt.shape), gt)
    opts = BorderOptions(max_px=6, f_tols=(1, 2.5, 3), trimap_widths=(1, 2, 5))
    with numba_absent():
        assert distance._compiled() is None
        counts = assert_matches_reference(gt, pred, SPACE, opts)
    again = border_counts(gt_borders(gt, SPACE, options=opts), pred, SPACE)  # as it was (compiled where numba is)
    for part in ("region", "biou", "bf"):
        assert np.array_equal(getattr(again, part), getattr(counts, part))


# --------------------------------------------------------------------------- measures


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.uint8, st.tuples(st.integers(2, 12), st.integers(2, 12)), elements=st.sampled_from([0, 1, 2, 9])),
    st.integers(0, 2**32 - 1),
    st.integers(1, 3),
)
def test_measures_equal_references_on_random_maps(small, seed, zoom):
    gt = np.kron(small, np.ones((zoom, zoom), np.uint8))
    rng = np.random.default_rng(seed)
    pred = gt.copy()
    flip = rng.random(gt.shape) < 0.2
    pred[flip] = rng.choice(np.array([0, 1, 2, 9], np.uint8), size=int(flip.sum()))
    assert_matches_reference(gt, pred, SPACE, BorderOptions(max_px=6, f_tols=(1, 2.5, 3), trimap_widths=(1, 2, 5)))


@pytest.mark.skipif(not CAMVID_VAL.is_dir(), reason="needs ../shared/data/camvid")
def test_measures_equal_references_on_camvid():
    from segfix_gui.io.images import read_labels

    space = get_label_space("camvid")
    gt = read_labels(sorted(CAMVID_VAL.glob("*.png"))[3], space)
    pred = degrade(gt, space, stride=8)
    counts = assert_matches_reference(gt, pred, space)
    # the profile falls with the distance: most errors lie next to a border
    pixels, errors = counts.profile()
    assert errors[0] / pixels[0] > errors[4] / pixels[4]
    # distance map: 1 next to a border, inf nowhere on a real frame
    d = border_distance(gt, space)
    assert d.min() == 1 and np.isfinite(d).all()
    b = gt_borders(gt, space)
    assert np.array_equal(b.bins == 3, b.bin_mask(3))
    assert set(np.unique(b.bins[space.to_eval(gt) == IGNORE])) <= {0}


def test_profile_by_hand():
    gt = np.zeros((1, 8), np.uint8)
    gt[0, 4:] = 1  # a | b border between columns 3 and 4
    gt[0, 0] = 9  # void: a label of its own, counted nowhere
    pred = gt.copy()
    pred[0, 3] = 1  # one error at distance 1
    pred[0, 6] = 0  # one at distance 3
    counts = border_counts(gt_borders(gt, SPACE, options=BorderOptions(max_px=3, trimap_widths=(1, 2))), pred, SPACE)
    pixels, errors = counts.profile()
    # distances: col1 1 (void), col2 2, col3 1 | col4 1, col5 2, col6 3, col7 4 (beyond 3)
    assert pixels.tolist() == [3, 2, 1, 1]
    assert errors.tolist() == [1, 0, 1, 0]
    assert counts.profile(0)[0].tolist() == [2, 1, 0, 0]
    res = border_result(counts, SPACE.names, np.array([True, True, False]))
    prof = res["error_profile"]
    assert prof["bins_px"] == [1, 2, 3] and prof["beyond_px"] == 4
    assert prof["pixels"] == [3, 2, 1] and prof["pixels_beyond"] == 1
    assert prof["error_rate"] == [pytest.approx(1 / 3), 0.0, 1.0] and prof["error_rate_beyond"] == 0.0
    assert prof["per_class"]["c"]["error_rate"] == [None, None, None]
    # trimap at 1 px: columns 1, 3 and 4 (column 3 wrong: a predicted as b)
    assert res["trimap_iou"]["1"] == pytest.approx(mean_iou(counts.trimap_iou(1)))
    assert set(res["boundary_f_at"]) == {"1", "3", "5"}


def test_boundary_iou_perfect_absent_and_void():
    gt = np.zeros((30, 30), np.uint8)
    gt[10:20, 10:20] = 1
    r = evaluate_pair(gt, gt, SPACE, borders=BorderOptions())
    assert r["boundary_iou"] == 1.0
    assert r["boundary_iou_per_class"] == {"a": 1.0, "b": 1.0, "c": None}
    shifted = np.roll(gt, 3, axis=1)
    assert 0 < evaluate_pair(gt, shifted, SPACE, borders=BorderOptions())["boundary_iou"] < 1
    # a prediction inside void ground truth counts nowhere
    gt_void = gt.copy()
    gt_void[:, :5] = 9
    pred = gt_void.copy()
    pred[:, :5] = 2
    r = evaluate_pair(gt_void, pred, SPACE, borders=BorderOptions())
    assert r["boundary_iou_per_class"]["c"] is None and r["boundary_iou"] == 1.0


# --------------------------------------------------------------------------- the evaluator


def _pairs(n=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        gt = np.kron(
            rng.choice(np.array([0, 1, 2, 9], np.uint8), (6, 8), p=[0.4, 0.3, 0.2, 0.1]), np.ones((5, 5), np.uint8)
        )
        pred = np.roll(gt, int(rng.integers(-2, 3)), axis=1)
        out.append((gt, pred))
    return out


def test_evaluator_adds_border_counts_over_images_and_keeps_its_old_keys():
    opts = BorderOptions(max_px=8, trimap_widths=(1, 3))
    ev = SemanticEvaluator(SPACE, borders=opts)
    plain = SemanticEvaluator(SPACE)
    total = BorderCounts.zeros(SPACE.n_classes, opts)
    for gt, pred in _pairs():
        one = ev.add(gt, pred)
        plain.add(gt, pred)
        total = total + border_counts(gt_borders(gt, SPACE, options=opts), pred, SPACE)
        assert "boundary_iou" in one and "error_profile" in one
    res = ev.result()
    old = plain.result()
    assert "boundary_iou" not in old
    for k, v in old.items():
        assert res[k] == v
    assert np.array_equal(ev.border.region, total.region)
    assert np.array_equal(ev.border.biou, total.biou)
    assert np.array_equal(ev.border.bf, total.bf)
    assert res == border_result(total, SPACE.names, ev.present) | old
    # the same from counts, and with the ground-truth part prepared once
    again = SemanticEvaluator.from_counts(SPACE, ev.conf, ev.bcounts, ev.present, border=ev.border)
    assert again.result() == res
    ev2 = SemanticEvaluator(SPACE, borders=opts)
    for gt, pred in _pairs():
        ev2.add(gt, pred, gt_borders=gt_borders(gt, SPACE, options=opts))
    assert ev2.result() == res
    # boundary F at the evaluator's own tolerance equals its boundary_f when 3 is among the tolerances
    assert res["boundary_f_at"]["3"] == pytest.approx(res["boundary_f"])
    bf3 = boundary_f_from_counts(ev.border.bf[1], present_classes(ev.conf))
    assert mean_iou(bf3) == pytest.approx(res["boundary_f"])


def test_evaluator_refuses_counts_without_border_and_mismatched_parts():
    opts = BorderOptions()
    ev = SemanticEvaluator(SPACE, borders=opts)
    gt, pred = _pairs(1)[0]
    with pytest.raises(ValueError, match="border="):
        ev.add_counts(np.zeros((3, 4), np.int64), np.zeros((3, 4), np.int64))
    with pytest.raises(ValueError, match="another image size"):
        ev.add(gt, pred, gt_borders=gt_borders(gt, SPACE, options=BorderOptions(max_px=12)))
    with pytest.raises(ValueError, match="different options"):
        BorderCounts.zeros(3, opts) + BorderCounts.zeros(3, BorderOptions(max_px=12))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_px": 0},
        {"max_px": 2.5},
        {"dilation_ratio": 0},
        {"dilation_ratio": float("nan")},
        {"f_tols": ()},
        {"f_tols": (1, -3)},
        {"trimap_widths": (0,)},
        {"trimap_widths": (1.5,)},
        {"max_px": 5, "trimap_widths": (6,)},
    ],
)
def test_border_options_are_validated(kwargs):
    with pytest.raises(ValueError):
        BorderOptions(**kwargs)
