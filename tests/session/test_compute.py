"""The session's compute path (segfix_gui.session.compute): numbers equal the engine's."""

from __future__ import annotations

import numpy as np
import pytest

from segfix_gui.core.metrics import SemanticEvaluator, change_codes, change_counts
from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.refine import refine_labels
from segfix_gui.core.setting import Setting
from segfix_gui.io.samples import Sample
from segfix_gui.labels import get_label_space
from segfix_gui.session import compute

SPACE = get_label_space("camvid")


def _sample(rng, *, hard=False, column_major=False, gt=True):
    h, w = 40, 56
    pred = rng.integers(0, 12, (h // 8, w // 8)).repeat(8, 0).repeat(8, 1).astype(np.uint8)
    truth = np.roll(pred, 3, axis=1)
    if hard:
        off = rng.integers(-1, 2, (2, h, w)).astype(np.int16)
        if column_major:  # as loadmat gives openseg's .mat planes
            off = np.asfortranarray(off.transpose(0, 2, 1)).transpose(0, 2, 1)
        field = OffsetField.from_hard(off)
    else:
        b = rng.random((h, w)).astype(np.float32)
        d = rng.dirichlet(np.ones(8), (h, w)).transpose(2, 0, 1).astype(np.float32)
        field = OffsetField(boundary=b, direction=d, recommended={"threshold": 0.6, "scale": 1.0})
    return Sample(space=SPACE, pred=pred, field=field, gt=truth if gt else None)


@pytest.mark.parametrize("hard", [False, True])
def test_refine_equals_the_engine(hard):
    s = _sample(np.random.default_rng(0), hard=hard)
    base = compute.baseline(s)
    for th in (0.2, 0.5, 0.9):
        setting = compute.ViewSetting(th, 2.0, 0.3, "cpu")
        r = compute.refine(s, setting, base=base)
        refined = refine_labels(s.pred, s.field.to_offsets(setting), device="cpu")
        assert np.array_equal(r.refined, refined)
        assert r.after == SemanticEvaluator(SPACE).add(s.gt, refined)
        assert np.array_equal(r.codes, change_codes(s.pred, refined, s.gt, SPACE))
        c = change_counts(r.codes)
        assert {k: r.counts[k] for k in c} == c
        assert r.counts["changed"] == int((refined != s.pred).sum())


def test_initial_setting_is_the_fields_recommendation():
    s = _sample(np.random.default_rng(1))
    assert compute.initial_setting(s, device="cpu") == compute.ViewSetting(0.6, 1.0, 0.0, "cpu")
    with pytest.raises(ValueError, match="device"):
        compute.ViewSetting(device="tpu")
    with pytest.raises(ValueError, match="scale"):
        compute.ViewSetting(scale=20000)
    assert compute.ViewSetting(0.3, 2, 0, "cuda").refinement() == Setting(0.3, 2, 0)


def test_source_of_finds_every_moving_pixel_with_column_major_offsets():
    s = _sample(np.random.default_rng(2), hard=True, column_major=True, gt=False)
    assert not s.field.hard[0].flags.c_contiguous
    r = compute.refine(s, compute.ViewSetting(scale=1.0, device="cpu"))
    h, w = s.shape
    off = r.offsets
    for row in range(h):
        for col in range(w):
            got = r.source_of(row, col)
            if off[0, row, col] == 0 and off[1, row, col] == 0:
                assert got is None
            else:
                assert got == (
                    min(max(row + int(off[0, row, col]), 0), h - 1),
                    min(max(col + int(off[1, row, col]), 0), w - 1),
                )
