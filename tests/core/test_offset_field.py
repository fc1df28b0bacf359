"""OffsetField.summarized (what the sweep keeps of a big field) and the block-wise confusion."""

from __future__ import annotations

import numpy as np
import pytest

from segfix_gui.core.metrics import _confusion_eval
from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.setting import Setting
from segfix_gui.io.offsets import offsets_bytes


def _soft_field(dtype, k=8, shape=(37, 53), seed=0):
    rng = np.random.default_rng(seed)
    d = rng.random((k,) + shape).astype(dtype)
    d /= d.sum(axis=0, keepdims=True)
    return OffsetField(
        boundary=rng.random(shape).astype(dtype), direction=d.astype(dtype), recommended={"threshold": 0.4}
    )


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("k", [4, 8, 16])
def test_summarized_field_refines_exactly_as_the_full_one(dtype, k):
    full = _soft_field(dtype, k)
    small = full.summarized()
    assert small.direction is None and small.k == k and not small.is_hard
    assert small.recommended == {"threshold": 0.4}
    np.testing.assert_array_equal(small.bins(), full.bins())
    np.testing.assert_array_equal(small.direction_confidence(), full.direction_confidence())
    # the most likely direction's probability (float32, or float16 for a float16 field)
    conf = small.direction_confidence()
    assert (conf == full.direction.max(axis=0).astype(conf.dtype)).all()
    for t, s, m in [(0.0, 1, 0.0), (0.5, 2, 0.0), (0.3, 3, 0.2), (0.7, 1.5, 0.34), (0.1, 2, 0.3)]:
        setting = Setting(threshold=t, scale=s, min_direction_prob=m)
        np.testing.assert_array_equal(small.to_offsets(setting), full.to_offsets(setting))


def test_min_direction_prob_is_compared_in_float32_for_float16_fields():
    # 0.2 is 0.19995117 in float16 and 0.20000000298 in float32: a confidence of exactly the
    # float16 value is below the float32 threshold, as it was when the confidence was float32
    conf = np.float16(0.2)
    d = np.zeros((8, 1, 1), np.float16)
    d[0] = conf
    d[1] = np.float16(0.1)
    f = OffsetField(boundary=np.ones((1, 1), np.float16), direction=d)
    assert f.direction_confidence().dtype == np.float16
    assert not f.moving_mask(Setting(threshold=0.5, min_direction_prob=0.2)).any()
    assert f.moving_mask(Setting(threshold=0.5, min_direction_prob=float(conf))).all()


def test_hard_field_summarized_is_itself():
    f = OffsetField.from_hard(np.ones((2, 3, 4), np.int16))
    assert f.summarized() is f


def test_summarized_field_cannot_be_written_as_probabilities():
    with pytest.raises(ValueError, match="summarized"):
        offsets_bytes(_soft_field(np.float32).summarized(), "npz")
    # as openseg's hard .mat it can: the thresholded steps are all that file holds
    assert offsets_bytes(_soft_field(np.float32).summarized(), "mat")


def test_summary_must_match_the_boundary():
    with pytest.raises(ValueError, match="shape"):
        OffsetField(
            boundary=np.zeros((2, 2), np.float32), summary=(np.zeros((3, 2), np.uint8), np.zeros((2, 2), np.float32), 8)
        )
    with pytest.raises(ValueError, match="either"):
        OffsetField(boundary=np.zeros((2, 2), np.float32))


def test_confusion_in_blocks_equals_one_block():
    rng = np.random.default_rng(1)
    n = 11
    g = rng.integers(0, n, (64, 97)).astype(np.uint8)
    p = rng.integers(0, n, (64, 97)).astype(np.uint8)
    g[rng.random(g.shape) < 0.1] = 255
    p[rng.random(p.shape) < 0.1] = 255
    whole = _confusion_eval(g, p, n, block=g.size)
    for block in (1, 7, 1000, 4096):
        np.testing.assert_array_equal(_confusion_eval(g, p, n, block=block), whole)
    # against a direct count
    expect = np.zeros((n, n + 1), np.int64)
    for a, b in zip(g.ravel(), p.ravel(), strict=True):
        if a != 255:
            expect[a, n if b == 255 else b] += 1
    np.testing.assert_array_equal(whole, expect)


def test_above_equals_numpy_on_every_float16_and_other_dtypes():
    from segfix_gui.core.offsets import above

    every = np.arange(65536, dtype=np.uint16).view(np.float16)  # incl. -0, subnormals, inf, NaN
    thresholds = [float(t) for t in np.linspace(0, 1, 401)] + [
        1e-8,
        3e-8,
        5.96e-8,
        0.30000001,
        0.5 - 1e-12,
        float(np.float16(0.3)),
        0.99999,
        1.0,
        65504.0,
        1e5,
        float("inf"),
    ]
    with np.errstate(invalid="ignore", over="ignore"):
        for t in thresholds:
            np.testing.assert_array_equal(above(every, t), every > t, err_msg=f"t={t!r}")
    rng = np.random.default_rng(2)
    for dtype in (np.float32, np.float64):
        a = rng.random(500).astype(dtype)
        for t in (0.0, 0.3, 0.5, 0.999):
            np.testing.assert_array_equal(above(a, t), a > t)


def test_take_sources_is_refine_labels_gather():
    from segfix_gui.core.refine import refine_labels, source_indices, take_sources

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 5, (23, 31)).astype(np.uint8)
    offsets = rng.integers(-3, 4, (2, 23, 31)).astype(np.int16)
    offsets[:, rng.random((23, 31)) < 0.5] = 0
    dst, src = source_indices(offsets)
    np.testing.assert_array_equal(take_sources(labels, dst, src), refine_labels(labels, offsets))
    # only the pixels whose label changes: the same map
    keep = labels.ravel()[src] != labels.ravel()[dst]
    np.testing.assert_array_equal(take_sources(labels, dst[keep], src[keep]), refine_labels(labels, offsets))
    masks = rng.random((3, 23, 31)) < 0.5
    np.testing.assert_array_equal(take_sources(masks, dst, src), refine_labels(masks, offsets))


@pytest.mark.parametrize("k", [4, 8, 16])
def test_a_one_hot_field_is_the_field_of_its_directions(k):
    """OffsetField.one_hot keeps its bins (ground truth never recomputes the argmax); they are
    the argmax of the directions it holds, so the field refines as one read from a file."""
    rng = np.random.default_rng(k)
    bins = rng.integers(0, k, (9, 11)).astype(np.uint8)
    boundary = (rng.random((9, 11)) > 0.4).astype(np.float32)
    f = OffsetField.one_hot(boundary, bins, k, recommended={"scale": 1.0})
    assert f.direction.dtype == np.float16 and f.recommended == {"scale": 1.0}
    assert np.array_equal(f.direction.argmax(0), bins) and np.array_equal(f.direction.sum(0), np.ones((9, 11)))
    plain = OffsetField(boundary=f.boundary, direction=f.direction.copy())
    assert np.array_equal(plain.bins(), f.bins())
    for s in (Setting(threshold=0.5, scale=1), Setting(threshold=0.5, scale=3)):
        assert np.array_equal(plain.to_offsets(s), f.to_offsets(s))
    with pytest.raises(ValueError, match="below K"):
        OffsetField.one_hot(boundary, bins + k, k)


@pytest.mark.parametrize("k", [4, 8, 16])
@pytest.mark.parametrize("levels", [3, 50, None])
def test_float16_bins_and_confidence_equal_argmax_and_max(k, levels):
    """The float16 fields' one-pass summary (on bit patterns) gives argmax's bins (ties to the
    first bin) and max's values; few levels make many ties."""
    rng = np.random.default_rng(k)
    d = rng.random((k, 41, 29))
    if levels is not None:
        d = np.floor(d * levels) / levels
    d = d.astype(np.float16)
    f = OffsetField(boundary=np.zeros((41, 29), np.float16), direction=d)
    np.testing.assert_array_equal(f.bins(), np.argmax(d, axis=0).astype(np.uint8))
    conf = f.direction_confidence()
    assert conf.dtype == np.float16
    np.testing.assert_array_equal(conf.view(np.uint16), d.max(axis=0).view(np.uint16))


@pytest.mark.parametrize("odd", [-0.0, -0.25, np.nan, np.inf])
def test_float16_fields_with_signs_or_nan_take_the_general_path(odd):
    """A negative number, -0 or NaN would not order by its bit pattern: such a field's summary
    is argmax's and max's all the same (an infinity orders well and stays on the quick path)."""
    rng = np.random.default_rng(3)
    d = rng.random((8, 5, 6)).astype(np.float16)
    d[3, 2, 2] = odd
    d[:, 4, 4] = 0
    d[5, 4, 4] = odd
    f = OffsetField(boundary=np.zeros((5, 6), np.float16), direction=d)
    with np.errstate(invalid="ignore"):
        want_bins, want_conf = np.argmax(d, axis=0), np.max(d, axis=0)
    np.testing.assert_array_equal(f.bins(), want_bins.astype(np.uint8))
    np.testing.assert_array_equal(f.direction_confidence(), want_conf)
