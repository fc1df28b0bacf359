"""Metrics against hand-computed cases and cityscapesscripts' own evaluation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segfix_gui import SemanticEvaluator, change_codes, confusion_matrix, evaluate_pair
from segfix_gui.core.degrade import degrade
from segfix_gui.core.metrics import (
    BROKEN,
    CHANGED,
    FIXED,
    SWAPPED,
    UNCHANGED,
    boundary_counts,
    change_counts,
    iou_from_confusion,
)
from segfix_gui.labels import LabelClass, LabelSpace, get_label_space

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CS_GT = DATA / "cityscapes_mini/gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png"

# three classes a, b, c and a void id 9
SPACE = LabelSpace(
    "abc",
    (
        LabelClass(0, "a", (255, 0, 0), 0),
        LabelClass(1, "b", (0, 255, 0), 1),
        LabelClass(2, "c", (0, 0, 255), 2),
        LabelClass(9, "void", (0, 0, 0), 255),
    ),
)


def test_confusion_and_iou_by_hand():
    gt = np.array([[0, 0, 1, 1], [0, 0, 1, 9]])
    pred = np.array([[0, 1, 1, 1], [0, 9, 1, 0]])
    conf = confusion_matrix(gt, pred, SPACE)
    # rows a, b, c; columns a, b, c, void. gt void pixel (1, 3) counts nowhere.
    assert conf.tolist() == [[2, 1, 0, 1], [0, 3, 0, 0], [0, 0, 0, 0]]
    iou = iou_from_confusion(conf)
    assert iou[0] == pytest.approx(2 / 4)  # tp 2, fn 2 (one to b, one to void), fp 0
    assert iou[1] == pytest.approx(3 / 4)  # tp 3, fp 1
    assert math.isnan(iou[2])  # absent from both
    r = evaluate_pair(gt, pred, SPACE)
    assert r["miou"] == pytest.approx((0.5 + 0.75) / 2)
    assert r["pixel_accuracy"] == pytest.approx(5 / 7)
    assert r["per_class_iou"]["c"] is None


def test_class_only_predicted_gets_iou_zero():
    gt = np.zeros((2, 2), int)
    pred = np.array([[0, 2], [0, 0]])
    r = evaluate_pair(gt, pred, SPACE)
    assert r["per_class_iou"]["c"] == 0.0 and r["per_class_iou"]["b"] is None


def test_boundary_f_perfect_and_shifted():
    gt = np.zeros((40, 40), int)
    gt[:, 20:] = 1
    assert evaluate_pair(gt, gt, SPACE)["boundary_f"] == 1.0
    near = np.zeros_like(gt)
    near[:, 22:] = 1  # 2 px off: within the 3 px tolerance
    assert evaluate_pair(gt, near, SPACE, boundary_tol=3)["boundary_f"] == 1.0
    far = np.zeros_like(gt)
    far[:, 30:] = 1  # 10 px off
    assert evaluate_pair(gt, far, SPACE, boundary_tol=3)["boundary_f"] == 0.0
    counts = boundary_counts(gt, near, 3, tol=1)
    # class a: gt boundary column 19, pred boundary column 21 -> 2 px apart, unmatched at tol 1
    assert counts[0].tolist() == [0, 40, 0, 40]


def test_boundary_f_both_empty_is_one_and_absent_is_nan():
    gt = np.zeros((10, 10), int)
    r = evaluate_pair(gt, gt, SPACE)
    assert r["per_class_boundary_f"]["a"] == 1.0
    assert r["per_class_boundary_f"]["b"] is None


def test_change_attribution():
    gt = np.array([0, 0, 1, 1, 2, 9])
    before = np.array([1, 0, 1, 0, 0, 0])
    after = np.array([0, 1, 1, 2, 0, 1])
    codes = change_codes(before, after, gt, SPACE)
    assert codes.tolist() == [FIXED, BROKEN, UNCHANGED, SWAPPED, UNCHANGED, UNCHANGED]
    assert change_counts(codes) == {"fixed": 1, "broken": 1, "swapped": 1}
    assert (change_codes(before, after) == np.where(before != after, CHANGED, 0)).all()


def test_changes_explain_the_accuracy_change():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 3, (30, 30))
    before = np.where(rng.random(gt.shape) < 0.3, rng.integers(0, 3, gt.shape), gt)
    after = np.where(rng.random(gt.shape) < 0.2, rng.integers(0, 3, gt.shape), before)
    c = change_counts(change_codes(before, after, gt, SPACE))
    gain = (after == gt).sum() - (before == gt).sum()
    assert gain == c["fixed"] - c["broken"]


def test_evaluator_accumulates_over_images():
    rng = np.random.default_rng(3)
    gts = [rng.integers(0, 3, (20, 20)) for _ in range(3)]
    preds = [np.where(rng.random(g.shape) < 0.2, 1, g) for g in gts]
    ev = SemanticEvaluator(SPACE)
    for g, p in zip(gts, preds, strict=True):
        ev.add(g, p)
    whole = evaluate_pair(np.concatenate(gts), np.concatenate(preds), SPACE)
    assert ev.result()["per_class_iou"] == pytest.approx(whole["per_class_iou"])


@pytest.mark.skipif(not CS_GT.exists(), reason="../shared/data/cityscapes_mini is not here")
def test_per_class_iou_equals_cityscapesscripts(tmp_path):
    from segfix_gui.cityscapes_eval import pixel_level_iou

    space = get_label_space("cityscapes")
    gt = np.asarray(Image.open(CS_GT))
    pred = degrade(gt, space, stride=8)
    pred[:10, :20] = 0  # an ignored id predicted on valid pixels counts as a miss
    pred_path = tmp_path / "frankfurt_000000_000294_pred.png"
    Image.fromarray(pred).save(pred_path)
    official = pixel_level_iou([str(CS_GT)], [str(pred_path)])
    ours = evaluate_pair(gt, pred, space)["per_class_iou"]
    assert set(official) == set(ours)
    compared = 0
    for name, v in official.items():
        if math.isnan(v):
            assert ours[name] is None
        else:
            assert ours[name] == pytest.approx(v, abs=1e-6)
            compared += 1
    assert compared >= 8


def test_one_boundary_tolerance_default_everywhere():
    """Every function and command that scores boundaries defaults to metrics.BOUNDARY_TOL."""
    import inspect

    from segfix_gui.cli import build_parser
    from segfix_gui.core import evaluator, instances, metrics, sweep

    fns = {
        metrics.boundary_counts: "tol",
        metrics.SemanticEvaluator: "boundary_tol",
        metrics.SemanticEvaluator.from_counts: "boundary_tol",
        metrics.evaluate_pair: "boundary_tol",
        evaluator.ImageEvaluator: "boundary_tol",
        instances.mask_boundary_f: "tol",
        instances.instance_scores: "tol",
        instances.compare_instances: "tol",
        sweep.sweep_image: "boundary_tol",
        sweep.sweep: "boundary_tol",
        sweep.collect: "boundary_tol",
    }
    for fn, name in fns.items():
        assert inspect.signature(fn).parameters[name].default == metrics.BOUNDARY_TOL, fn.__qualname__
    parser = build_parser()
    required = {
        "evaluate": ["--gt", "g", "--pred", "p"],
        "evaluate-instances": ["--gt", "g", "--pred", "p"],
        "sweep": ["--gt", "g", "--pred", "p", "--offsets", "o"],
    }
    for command, args in required.items():
        assert parser.parse_args([command, *args]).boundary_tol == metrics.BOUNDARY_TOL, command


def test_boundaries_and_footprints_are_scikit_images():
    """Our 1-px boundaries, mask outlines and tolerance disks are scikit-image's
    (find_boundaries, disk); the package keeps its own for speed (3-60× on 1024×2048 maps) and
    for fractional tolerances, which skimage.morphology.disk centres between pixels
    (benchmarks/skimage_equivalents.py)."""
    skimage = pytest.importorskip("skimage")
    from skimage.morphology import disk
    from skimage.segmentation import find_boundaries

    from segfix_gui.core.instances import mask_outline
    from segfix_gui.core.metrics import _disk, boundary_classes

    assert skimage.__version__
    rng = np.random.default_rng(5)
    for shape, n in (((1, 7), 3), ((9, 1), 3), ((23, 31), 4), ((40, 40), 2)):
        # blocky maps (borders of every direction) with some void
        e = np.kron(rng.integers(0, n + 1, (shape[0] // 3 + 1, shape[1] // 3 + 1)), np.ones((3, 3), int))
        e = e[: shape[0], : shape[1]].astype(np.uint8)
        e[e == n] = 255
        theirs = np.where(find_boundaries(e, connectivity=1, mode="thick") & (e != 255), e.astype(np.int16), -1)
        np.testing.assert_array_equal(boundary_classes(e, n), theirs)
        mask = e == 0
        inner = find_boundaries(np.pad(mask, 1), connectivity=1, mode="inner")[1:-1, 1:-1]
        np.testing.assert_array_equal(mask_outline(mask), inner)
    for tol in (1, 2, 3, 5):
        d = disk(tol)
        assert sorted(map(tuple, (np.argwhere(d) - tol).tolist())) == sorted(map(tuple, _disk(tol).tolist()))
    # a fractional tolerance: the pixels within it, centred on the pixel (disk(2.5) is 6×6)
    assert {tuple(v) for v in _disk(2.5).tolist()} == {
        (r, c) for r in range(-2, 3) for c in range(-2, 3) if r * r + c * c <= 6.25
    }
