"""Offset fields and refinement (ground-truth targets: test_targets.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segfix_gui import OffsetField, refine_labels, refine_masks
from segfix_gui.core.offsets import DIRECTIONS, angles_to_bins, flip_bins
from segfix_gui.core.refine import source_indices
from segfix_gui.core.setting import Setting

# --- direction bins ----------------------------------------------------------------------


@pytest.mark.parametrize("k", [4, 8, 16])
def test_every_bin_vector_quantises_to_its_own_bin(k):
    table = DIRECTIONS[k]
    if k == 16:  # the 16-bin table is on a 5×5 square; quantisation is by 22.5° sectors
        angles = np.arctan2(table[:, 0], table[:, 1])
        ideal = np.arctan2(table[0, 0], table[0, 1]) + np.arange(16) * 2 * np.pi / 16
        assert np.allclose(np.cos(angles - ideal), 1, atol=0.02)
    assert (angles_to_bins(table[:, 0], table[:, 1], k) == np.arange(k)).all()


def test_eight_bin_table_is_openseg_order():
    assert DIRECTIONS[8].tolist() == [[0, -1], [-1, -1], [-1, 0], [-1, 1], [0, 1], [1, 1], [1, 0], [1, -1]]


@pytest.mark.parametrize("k", [4, 8, 16])
def test_flip_bins_negates_the_right_component(k):
    t = DIRECTIONS[k]
    h = flip_bins(k, "horizontal")
    v = flip_bins(k, "vertical")
    assert (t[h][:, 0] == t[:, 0]).all() and (t[h][:, 1] == -t[:, 1]).all()
    assert (t[v][:, 0] == -t[:, 0]).all() and (t[v][:, 1] == t[:, 1]).all()


# --- offset field -----------------------------------------------------------------------


def _field(h=4, w=5, k=8, seed=0):
    rng = np.random.default_rng(seed)
    d = rng.random((k, h, w)).astype(np.float32)
    return OffsetField(boundary=rng.random((h, w)).astype(np.float32), direction=d / d.sum(0))


def test_to_offsets_follows_the_contract():
    f = _field()
    for thr, scale in [(0.3, 1), (0.5, 2), (0.9, 3), (0.5, 1.5)]:
        off = f.to_offsets(Setting(threshold=thr, scale=scale))
        mask = f.boundary > thr
        step = np.rint(DIRECTIONS[8][np.argmax(f.direction, 0)] * scale).astype(int)
        expect = np.moveaxis(step, -1, 0) * mask
        assert off.dtype == np.int16 and off.shape == (2, 4, 5)
        assert (off == expect).all()


def test_min_direction_prob_gates_uncertain_directions():
    f = _field()
    conf = f.direction.max(0)
    c = float(np.median(conf))
    off = f.to_offsets(Setting(threshold=0.0, scale=1, min_direction_prob=c))
    moving = (off != 0).any(0)
    assert (moving == ((f.boundary > 0) & (conf >= c))).all()


def test_threshold_one_moves_nothing():
    assert not f_any(_field().to_offsets(Setting(threshold=1.0)))


def f_any(off):
    return bool((off != 0).any())


def test_hard_offsets_ignore_threshold_and_scale_multiplies():
    hard = np.zeros((2, 3, 3), np.int16)
    hard[:, 1, 1] = (1, -1)
    f = OffsetField.from_hard(hard)
    assert f.is_hard and f.boundary[1, 1] == 1 and f.boundary.sum() == 1
    assert (f.to_offsets(Setting(threshold=0.99, scale=2))[:, 1, 1] == (2, -2)).all()
    assert (f.to_offsets(Setting(threshold=0.0, scale=1)) == hard).all()


def test_recommended_setting_is_used_unless_overridden():
    f = _field()
    f.recommended = {"threshold": 0.7, "scale": 3.0}
    assert f.setting() == Setting(threshold=0.7, scale=3.0, min_direction_prob=0.0)
    assert f.setting(threshold=0.2).threshold == 0.2
    assert f.setting(threshold=0.2).scale == 3.0


# --- refinement -------------------------------------------------------------------------


def reference_refine(labels, offsets):
    h, w = labels.shape[-2:]
    out = labels.copy()
    for r in range(h):
        for c in range(w):
            rr = min(max(r + int(offsets[0, r, c]), 0), h - 1)
            cc = min(max(c + int(offsets[1, r, c]), 0), w - 1)
            out[..., r, c] = labels[..., rr, cc]
    return out


maps = st.tuples(st.integers(1, 12), st.integers(1, 12)).flatmap(
    lambda hw: st.tuples(
        arrays(np.uint8, hw, elements=st.integers(0, 30)), arrays(np.int16, (2,) + hw, elements=st.integers(-20, 20))
    )
)


@settings(max_examples=150, deadline=None)
@given(maps)
def test_refine_equals_clamped_gather(case):
    labels, offsets = case
    out = refine_labels(labels, offsets, device="cpu")
    assert out.dtype == labels.dtype and out.shape == labels.shape
    assert (out == reference_refine(labels, offsets)).all()
    assert set(np.unique(out)) <= set(np.unique(labels))


@settings(max_examples=50, deadline=None)
@given(arrays(np.int32, st.tuples(st.integers(1, 10), st.integers(1, 10)), elements=st.integers(-5, 1000)))
def test_zero_offsets_give_the_input_back(labels):
    out = refine_labels(labels, np.zeros((2,) + labels.shape, np.int8), device="cpu")
    assert out.dtype == labels.dtype and (out == labels).all()


def test_masks_move_like_a_label_map():
    rng = np.random.default_rng(1)
    masks = rng.random((3, 20, 30)) > 0.5
    off = rng.integers(-3, 4, (2, 20, 30))
    out = refine_masks(masks, off, device="cpu")
    assert out.dtype == bool and out.shape == masks.shape
    for i in range(3):
        assert (out[i] == refine_labels(masks[i], off, device="cpu")).all()


def test_source_indices_point_inside_the_image():
    off = np.full((2, 4, 4), 100, np.int16)
    off[:, 0, 0] = -100
    dst, src = source_indices(off)
    assert len(dst) == 16 and src.min() == 0 and src.max() == 15
    assert src[0] == 0 and (src[1:] == 15).all()


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="offsets are 3×3 but the labels are 4×4"):
        refine_labels(np.zeros((4, 4), np.uint8), np.zeros((2, 3, 3), np.int16))


cuda = pytest.importorskip("torch").cuda.is_available()


@pytest.mark.skipif(not cuda, reason="no CUDA device on this machine")
def test_cuda_equals_cpu():  # pragma: no cover - needs a GPU
    rng = np.random.default_rng(2)
    for dtype in (np.uint8, np.uint16, np.int32, bool):
        labels = rng.integers(0, 2 if dtype is bool else 300, (3, 50, 70)).astype(dtype)
        off = rng.integers(-5, 6, (2, 50, 70)).astype(np.int16)
        assert np.array_equal(refine_labels(labels, off, device="cpu"), refine_labels(labels, off, device="cuda"))
