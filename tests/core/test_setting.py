"""The one refinement setting (segfix_gui.core.setting): ranges, defaults, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segfix_gui.core.grid import SweepGrid
from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.setting import DEFAULT_SCALE, DEFAULT_THRESHOLD, RANGES, Setting, check_value, range_text


def test_defaults_live_in_one_place():
    s = Setting()
    assert (s.threshold, s.scale, s.min_direction_prob) == (DEFAULT_THRESHOLD, DEFAULT_SCALE, 0.0)
    assert (DEFAULT_THRESHOLD, DEFAULT_SCALE) == (0.5, 2.0)


@pytest.mark.parametrize(
    "name, bad",
    [
        ("threshold", 1.7),
        ("threshold", -0.1),
        ("threshold", math.nan),
        ("threshold", "x"),
        ("scale", 0),
        ("scale", -1),
        ("scale", 64.5),
        ("scale", 1e30),
        ("scale", math.inf),
        ("scale", 40000),
        ("min_direction_prob", 2),
        ("min_direction_prob", None),
    ],
)
def test_a_bad_value_raises_in_the_engine(name, bad):
    with pytest.raises(ValueError, match=name):
        Setting(**{name: bad})
    with pytest.raises(ValueError, match=name):
        check_value(name, bad)


def test_ranges_edges_and_text():
    assert Setting(threshold=0, scale=64, min_direction_prob=1) == Setting(0.0, 64.0, 1.0)
    assert range_text("scale") == "(0, 64]" and range_text("threshold") == "[0, 1]"
    assert set(RANGES) == {"threshold", "scale", "min_direction_prob"}
    with pytest.raises(ValueError):
        Setting(0.5, 2.0).with_(scale=65)


def test_resolve_order_given_then_recommended_then_default():
    rec = {"threshold": 0.8, "min_direction_prob": 0.6, "scale": 1.0}
    assert Setting.resolve(rec) == Setting(0.8, 1.0, 0.6)
    assert Setting.resolve(rec, threshold=0.3) == Setting(0.3, 1.0, 0.6)
    assert Setting.resolve({}) == Setting()
    assert Setting.resolve({}, default_scale=1) == Setting(0.5, 1.0, 0.0)
    with pytest.raises(ValueError):
        Setting.resolve({"scale": 40000})


def test_hard_offsets_never_overflow_at_the_largest_scale():
    hard = np.zeros((2, 4, 4), np.int16)
    hard[:, 1, 1] = (-1, 1)
    off = OffsetField.from_hard(hard).to_offsets(Setting(scale=64))
    assert off.dtype == np.int16 and tuple(off[:, 1, 1]) == (-64, 64)


def test_to_offsets_takes_a_setting_only():
    f = OffsetField.from_hard(np.zeros((2, 3, 3), np.int16))
    with pytest.raises(TypeError):
        f.to_offsets(threshold=0.5)
    with pytest.raises(TypeError):
        f.to_offsets({"threshold": 0.5, "scale": 2})


def test_sweep_grid_uses_the_setting_ranges():
    g = SweepGrid((0.5, 0.1, 0.5), (2, 1), (0,))
    assert g.thresholds == (0.1, 0.5) and g.scales == (1.0, 2.0)
    assert g.setting(1, 0, 0) == Setting(0.5, 1.0, 0.0)
    assert g.index_of(Setting(0.1, 2.0)) == (0, 1, 0)
    assert SweepGrid.single(Setting(0.3, 3, 0.2)).shape == (1, 1, 1)
    for bad in (
        dict(thresholds=(1.5,), scales=(1,)),
        dict(thresholds=(0.5,), scales=(65,)),
        dict(thresholds=(0.5,), scales=(0,)),
        dict(thresholds=(), scales=(1,)),
    ):
        with pytest.raises(ValueError):
            SweepGrid(**bad)
