"""Tiny camvid samples written with the package's own writers, and the engine's own answers
for them: what the session's tests compare against."""

from __future__ import annotations

import numpy as np
import pytest

from segfix_gui.core.metrics import SemanticEvaluator
from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.refine import refine_labels
from segfix_gui.core.setting import Setting
from segfix_gui.core.targets import gt_offset_field
from segfix_gui.io.images import read_labels, write_labels, write_png
from segfix_gui.io.offsets import read_offsets, write_offsets
from segfix_gui.io.samples import SamplePaths
from segfix_gui.labels import get_label_space

SPACE = get_label_space("camvid")
TIMEOUT = 60  # seconds


# --- tiny samples, written with the package's own writers -----------------------------------


def make_sample(folder, name="s", *, seed=0, shape=(32, 40), recommended=None, image=True, gt=True):
    """Files of a small camvid sample: ground truth with a few regions (and an ignored
    corner), a prediction with its borders shifted, and an oracle offset field whose
    boundary is graded (0.25 .. 1, exact in float16) so the threshold matters."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = shape
    g = np.zeros((h, w), np.uint8)  # sky
    g[h // 2 :, :] = 3  # road
    g[4:14, 6 + seed : 18 + seed] = 1  # building
    g[20:28, 22 : 34 - seed] = 8  # car
    g[0:3, 0:4] = 11  # unlabelled (ignored)
    pred = np.roll(g, 2, axis=1)
    pred = np.roll(pred, 1 + seed % 2, axis=0)
    f = gt_offset_field(g, width=3, ignore_ids=SPACE.ignore_ids)
    grade = rng.choice(np.array([0.25, 0.5, 0.75, 1.0], np.float32), size=g.shape)
    field = OffsetField(boundary=f.boundary * grade, direction=f.direction, recommended=dict(recommended or {}))
    p = SamplePaths(pred=str(folder / f"{name}_pred.png"), offsets=str(folder / f"{name}.npz"), name=name)
    write_labels(p.pred, pred)
    write_offsets(p.offsets, field)
    if gt:
        p = p.with_part("gt", str(folder / f"{name}_gt.png"))
        write_labels(p.gt, g)
    if image:
        p = p.with_part("image", str(folder / f"{name}_image.png"))
        write_png(p.image, rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return p


def engine(paths: SamplePaths, setting: Setting):
    """The engine's own answer for a sample's files: (before, after, refined, offsets)."""
    pred = read_labels(paths.pred, SPACE)
    gt = read_labels(paths.gt, SPACE)
    offsets = read_offsets(paths.offsets).to_offsets(
        Setting(setting.threshold, setting.scale, setting.min_direction_prob)
    )
    refined = refine_labels(pred, offsets, device="cpu")
    before = SemanticEvaluator(SPACE, boundary_tol=3).add(gt, pred)
    after = SemanticEvaluator(SPACE, boundary_tol=3).add(gt, refined)
    return before, after, refined, offsets


def assert_same_metrics(got: dict, want: dict):
    assert got["miou"] == pytest.approx(want["miou"], rel=1e-12, abs=1e-12)
    assert got["boundary_f"] == pytest.approx(want["boundary_f"], rel=1e-12, abs=1e-12)
    assert got["pixel_accuracy"] == pytest.approx(want["pixel_accuracy"], rel=1e-12)
    assert got["per_class_iou"].keys() == want["per_class_iou"].keys()
    for name, v in want["per_class_iou"].items():
        if v is None:
            assert got["per_class_iou"][name] is None
        else:
            assert got["per_class_iou"][name] == pytest.approx(v, rel=1e-12, abs=1e-12)


class Recorder:
    """Every emission of the session's events, in order: (field, new value)."""

    def __init__(self, session):
        self.seen: list[tuple[str, object]] = []
        session.events.connect(self._any)
        session.failed.connect(lambda text: self.seen.append(("failed", text)))

    def _any(self, info) -> None:
        self.seen.append((info.signal.name, info.args[0]))

    def names(self) -> list[str]:
        return [n for n, _ in self.seen]

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.seen if n == name)

    def values(self, name: str) -> list:
        return [v for n, v in self.seen if n == name]

    def clear(self) -> None:
        self.seen.clear()
