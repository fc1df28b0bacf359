"""The one per-image evaluator (segfix_gui.core.evaluator): exact at every setting.

``ImageEvaluator.at`` must give what plain ``refine_labels`` + ``SemanticEvaluator`` +
``change_codes`` give, whatever the field (soft float32 / float16, hard), the setting and the
order of queries (its candidates are cached per field).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba_absent import numba_absent

from segfix_gui.core.evaluator import ImageEvaluator
from segfix_gui.core.metrics import SemanticEvaluator, change_codes, change_counts
from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.refine import refine_labels
from segfix_gui.core.setting import Setting
from segfix_gui.labels import get_label_space

SPACE = get_label_space("camvid")


def scene(rng, h, w) -> np.ndarray:
    pts = rng.uniform((0, 0), (h, w), (7, 2))
    ids = rng.integers(0, 12, 7)  # 11 = void
    rr, cc = np.mgrid[:h, :w]
    d = (rr[..., None] - pts[:, 0]) ** 2 + (cc[..., None] - pts[:, 1]) ** 2
    return ids[d.argmin(-1)].astype(np.uint8)


def field_of(rng, h, w, kind: str) -> OffsetField:
    if kind == "hard":
        hard = rng.integers(-1, 2, (2, h, w)).astype(np.int16)
        hard[:, rng.random((h, w)) < 0.5] = 0
        return OffsetField.from_hard(hard)
    dtype = np.float16 if kind == "soft16" else np.float32
    b = rng.random((h, w)).astype(dtype)
    d = rng.dirichlet(np.full(8, 0.6), size=(h, w)).transpose(2, 0, 1).astype(dtype)
    return OffsetField(boundary=b, direction=d)


def plain(gt, pred, field, setting, tol=3):
    refined = refine_labels(pred, field.to_offsets(setting), device="cpu")
    ev = SemanticEvaluator(SPACE, tol)
    ev.add(gt, refined)
    c = change_counts(change_codes(pred, refined, gt, SPACE))
    return ev, [c["fixed"], c["broken"], c["swapped"]]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    h=st.integers(3, 24),
    w=st.integers(3, 24),
    kind=st.sampled_from(["soft32", "soft16", "hard"]),
    queries=st.lists(
        st.tuples(st.floats(0, 1), st.sampled_from([0.5, 1, 2, 3.5]), st.sampled_from([0.0, 0.3, 0.6])),
        min_size=1,
        max_size=8,
    ),
    tol=st.sampled_from([1, 3]),
)
def test_at_equals_plain_refine_and_evaluate(seed, h, w, kind, queries, tol):
    rng = np.random.default_rng(seed)
    gt, pred = scene(rng, h, w), scene(rng, h, w)
    field = field_of(rng, h, w, kind)
    ev = ImageEvaluator(gt, pred, SPACE, boundary_tol=tol)
    for t, s, m in queries:  # several queries on one evaluator: the cache must not leak
        setting = Setting(t, s, m)
        ref, change = plain(gt, pred, field, setting, tol)
        got = ev.at(field, setting)
        np.testing.assert_array_equal(got.conf, ref.conf)
        np.testing.assert_array_equal(got.bcounts, ref.bcounts)
        assert got.change.tolist() == change
        res = SemanticEvaluator.from_counts(SPACE, got.conf, got.bcounts, boundary_tol=tol).result()
        assert res == ref.result()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tol", [1, 2.5, 3, 5])
def test_base_is_the_unrefined_prediction(seed, tol):
    """The unrefined counts, read off the tolerance structures, are SemanticEvaluator's."""
    rng = np.random.default_rng(seed)
    gt, pred = scene(rng, 20 + seed, 30), scene(rng, 20 + seed, 30)
    ev = ImageEvaluator(gt, pred, SPACE, boundary_tol=tol)
    ref = SemanticEvaluator(SPACE, tol)
    ref.add(gt, pred)
    np.testing.assert_array_equal(ev.base.conf, ref.conf)
    np.testing.assert_array_equal(ev.base.bcounts, ref.bcounts)
    assert ev.base.change.tolist() == [0, 0, 0]


def test_a_new_field_replaces_the_cached_candidates():
    rng = np.random.default_rng(2)
    gt, pred = scene(rng, 16, 16), scene(rng, 16, 16)
    a, b = field_of(rng, 16, 16, "soft32"), field_of(rng, 16, 16, "soft32")
    ev = ImageEvaluator(gt, pred, SPACE)
    s = Setting(0.2, 2)
    ev.at(a, s)
    got = ev.at(b, s)
    ref, _ = plain(gt, pred, b, s)
    np.testing.assert_array_equal(got.conf, ref.conf)


def test_changes_are_the_pixels_refine_labels_changes():
    rng = np.random.default_rng(3)
    gt, pred = scene(rng, 30, 40), scene(rng, 30, 40)
    field = field_of(rng, 30, 40, "soft16")
    ev = ImageEvaluator(gt, pred, SPACE)
    s = Setting(0.4, 2, 0.3)
    dst, src = ev.changes(field, s)
    refined = refine_labels(pred, field.to_offsets(s), device="cpu")
    assert set(dst.tolist()) == set(np.flatnonzero(refined != pred).tolist())
    assert (pred.ravel()[src] == refined.ravel()[dst]).all()


def test_shapes_must_agree():
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError):
        ImageEvaluator(scene(rng, 5, 5), scene(rng, 5, 6), SPACE)
    ev = ImageEvaluator(scene(rng, 5, 5), scene(rng, 5, 5), SPACE)
    with pytest.raises(ValueError):
        ev.at(field_of(rng, 5, 6, "hard"), Setting())


@pytest.mark.parametrize("space_name", ["cityscapes-trainid", "ade20k"])
def test_many_classes_use_wider_words_exactly(space_name):
    """19 classes fit a 32-bit word per pixel, ADE20K's 150 need three 64-bit words."""
    space = get_label_space(space_name)
    rng = np.random.default_rng(5)
    ids = np.array([c.id for c in space.classes if c.id < 256], np.int64)
    h, w = 48, 64
    gt = rng.choice(ids, (h // 4, w // 4)).repeat(4, 0).repeat(4, 1).astype(np.uint8)
    pred = np.roll(gt, 2, axis=0)
    pred[rng.random((h, w)) < 0.05] = rng.choice(ids)
    field = field_of(rng, h, w, "soft32")
    ev = ImageEvaluator(gt, pred, space)
    for setting in (Setting(0.3, 2), Setting(0.7, 1, 0.2)):
        refined = refine_labels(pred, field.to_offsets(setting), device="cpu")
        ref = SemanticEvaluator(space)
        ref.add(gt, refined)
        got = ev.at(field, setting)
        np.testing.assert_array_equal(got.conf, ref.conf)
        np.testing.assert_array_equal(got.bcounts, ref.bcounts)


def test_threshold_moves_up_and_down_on_one_evaluator_equal_fresh_answers():
    # the window's pattern: one scale, the threshold jumping both ways; the kept state is
    # moved by the candidates in between and must equal a fresh evaluator every time
    rng = np.random.default_rng(7)
    gt, pred = scene(rng, 40, 56), scene(rng, 40, 56)
    field = field_of(rng, 40, 56, "soft32")
    ev = ImageEvaluator(gt, pred, SPACE)
    for t in (0.5, 0.2, 0.9, 0.3, 0.3, 0.0, 1.0, 0.45, 0.1):
        setting = Setting(t, 2)
        got, ref = ev.at(field, setting), ImageEvaluator(gt, pred, SPACE).at(field, setting)
        np.testing.assert_array_equal(got.conf, ref.conf)
        np.testing.assert_array_equal(got.bcounts, ref.bcounts)
        np.testing.assert_array_equal(got.change, ref.change)
    assert ev._live is not None and ev._live[2] == ev.candidates(field, 2).count_at(0.1)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    h=st.integers(3, 30),
    w=st.integers(3, 30),
    tol=st.sampled_from([1, 3, 5.5]),
    thresholds=st.lists(st.floats(0, 1), min_size=2, max_size=6),
)
def test_the_compiled_step_equals_numpys(seed, h, w, tol, thresholds):
    """The numba step (core.evaluator_kernel) and the NumPy fallback move every count alike,
    query after query (thresholds up and down on one running state)."""
    import segfix_gui.core.evaluator as evaluator

    if evaluator._compiled_relabel() is None:
        pytest.skip("numba is not installed: only the NumPy step exists")
    rng = np.random.default_rng(seed)
    gt, pred = scene(rng, h, w), scene(rng, h, w)
    field = field_of(rng, h, w, "soft32")
    compiled = ImageEvaluator(gt, pred, SPACE, boundary_tol=tol)
    numpy_ev = ImageEvaluator(gt, pred, SPACE, boundary_tol=tol)
    for t in thresholds:
        s = Setting(threshold=t, scale=2)
        a = compiled.at(field, s)
        real = evaluator._State._relabel
        evaluator._State._relabel = evaluator._State._relabel_numpy
        try:
            b = numpy_ev.at(field, s)
        finally:
            evaluator._State._relabel = real
        for x, y in zip((a.conf, a.bcounts, a.change), (b.conf, b.bcounts, b.change), strict=True):
            np.testing.assert_array_equal(x, y)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), h=st.integers(3, 24), w=st.integers(3, 24))
def test_without_numba_the_evaluator_takes_numpys_steps_alike(seed, h, w):
    """numba is optional: where it is not installed the evaluator (its step, core.evaluator_kernel,
    and the boundary measures it is built on, core.distance_kernel) takes NumPy's path to the
    same counts as where it is, and as scoring the refined map from scratch."""
    import segfix_gui.core.evaluator as evaluator

    rng = np.random.default_rng(seed)
    gt, pred = scene(rng, h, w), scene(rng, h, w)
    field = field_of(rng, h, w, "soft32")
    settings_ = [Setting(threshold=t, scale=2) for t in (0.8, 0.2, 0.5)]
    compiled = ImageEvaluator(gt, pred, SPACE)
    want = [compiled.at(field, s) for s in settings_]
    with numba_absent():
        assert evaluator._compiled_relabel() is None
        fallback = ImageEvaluator(gt, pred, SPACE)
        got = [fallback.at(field, s) for s in settings_]
    for a, b, s in zip(got, want, settings_, strict=True):
        for x, y in zip((a.conf, a.bcounts, a.change), (b.conf, b.bcounts, b.change), strict=True):
            np.testing.assert_array_equal(x, y)
        ev, _ = plain(gt, pred, field, s)
        np.testing.assert_array_equal(a.conf, ev.conf)
