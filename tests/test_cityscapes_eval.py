"""The compatibility layer around cityscapesscripts' official evaluation."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segfix_gui import cityscapes_eval as ce
from segfix_gui.errors import InputError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cityscapes_mini"
GT_DIR = DATA / "gtFine" / "val" / "frankfurt"
FRAME = "frankfurt_000000_000294"
needs_data = pytest.mark.skipif(not GT_DIR.is_dir(), reason=f"shared Cityscapes sample not found at {DATA}")


def _gt_label_path():
    return GT_DIR / f"{FRAME}_gtFine_labelIds.png"


def _gt_instance_path():
    return GT_DIR / f"{FRAME}_gtFine_instanceIds.png"


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


@pytest.fixture
def clean_cwd(tmp_path, monkeypatch):
    """Run in an empty working folder and check that the evaluation wrote nothing there."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    pkg = Path(sys.modules["cityscapesscripts"].__file__).parent if "cityscapesscripts" in sys.modules else None
    before = set(pkg.rglob("*.json")) if pkg else None
    env = _env()
    had_in1d = hasattr(np, "in1d")
    yield cwd
    assert list(cwd.iterdir()) == [], "the evaluation wrote into the working folder"
    import cityscapesscripts

    pkg = Path(cityscapesscripts.__file__).parent
    if before is not None:
        assert set(pkg.rglob("*.json")) == before, "the evaluation wrote into the package"
    assert _env() == env
    assert hasattr(np, "in1d") == had_in1d, "numpy itself was modified"
    for name in (ce._PIXEL, ce._INSTANCE):
        if name in sys.modules:
            assert sys.modules[name].np is np, "a patched module global was left behind"


def test_numpy_proxy_in1d_flattens_like_the_removed_function():
    proxy = ce._NumpyWithIn1d(np)
    a = np.array([[1, 2], [3, 4]])
    assert proxy.in1d(a, [2, 4]).tolist() == [False, True, False, True]
    assert proxy.in1d(a, [2, 4], invert=True).tolist() == [True, False, True, False]
    assert proxy.zeros is np.zeros


@needs_data
def test_pixel_level_iou_of_ground_truth_is_one_where_present(clean_cwd, capsys):
    gt = _gt_label_path()
    iou = ce.pixel_level_iou([gt], [gt])
    assert list(iou) == list(ce.eval_class_names()) and len(iou) == 19
    ids = set(np.unique(np.asarray(Image.open(gt))).tolist())
    from cityscapesscripts.helpers.labels import name2label

    for name, v in iou.items():
        if name2label[name].id in ids:
            assert v == 1.0, name
        else:
            assert math.isnan(v), name
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


@needs_data
def test_pixel_level_iou_counts_as_the_official_rules_say(clean_cwd, tmp_path):
    gt = np.asarray(Image.open(_gt_label_path()))
    pred = gt.copy()
    pred[40:90, 60:200] = 7  # road over part of the frame
    pred[0:10, 0:30] = 0  # an unlabelled (void) prediction
    path = tmp_path / "pred.png"
    Image.fromarray(pred).save(path)
    iou = ce.pixel_level_iou([_gt_label_path()], [path])
    from cityscapesscripts.helpers.labels import id2label

    valid = np.isin(gt, [i for i, lb in id2label.items() if i >= 0 and not lb.ignoreInEval])
    for cid in (7, 11, 26):
        tp = np.sum((gt == cid) & (pred == cid))
        fn = np.sum((gt == cid) & (pred != cid))
        fp = np.sum(valid & (gt != cid) & (pred == cid))
        assert iou[id2label[cid].name] == pytest.approx(tp / (tp + fp + fn), abs=1e-12)


@needs_data
def test_official_failure_becomes_input_error_and_state_is_restored(clean_cwd, tmp_path):
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(small)
    with pytest.raises(InputError, match="cityscapesscripts evaluation: .*not equal"):
        ce.pixel_level_iou([_gt_label_path()], [small])


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        ce.pixel_level_iou([tmp_path / "nope.png"], [tmp_path / "nope.png"])


@needs_data
def test_import_ignores_invalid_cityscapes_environment(monkeypatch, tmp_path):
    # the pixel module raises at import time for an invalid CITYSCAPES_EXPORT_DIR
    monkeypatch.setenv("CITYSCAPES_EXPORT_DIR", str(tmp_path / "does-not-exist"))
    monkeypatch.setenv("CITYSCAPES_DATASET", str(tmp_path / "elsewhere"))
    for name in (ce._PIXEL, ce._INSTANCE):
        monkeypatch.delitem(sys.modules, name, raising=False)
    env = _env()
    iou = ce.pixel_level_iou([_gt_label_path()], [_gt_label_path()])
    assert iou["road"] == 1.0
    assert _env() == env


@needs_data
def test_instance_ap_perfect_predictions_and_min_region_size(clean_cwd, tmp_path):
    inst = np.asarray(Image.open(_gt_instance_path())).astype(np.int64)
    ids = [int(i) for i in np.unique(inst) if i >= 1000]
    preds = [(inst == i, i // 1000, 0.5 + 0.01 * k) for k, i in enumerate(ids)]
    res = ce.instance_level_ap([_gt_instance_path()], [preds])
    assert res.min_region_size == 100
    assert res.per_class["car"] == {"ap": 1.0, "ap50": 1.0}
    # at 128×256 every person is under 100 px: the official code ignores them all
    assert math.isnan(res.per_class["person"]["ap"])
    assert res.ap == 1.0 and res.ap50 == 1.0
    assert set(res.per_class) == {"person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"}
    # the same masks given as files give the same figures
    files = []
    for k, (m, lab, s) in enumerate(preds):
        p = tmp_path / f"m{k}.png"
        Image.fromarray(m.astype(np.uint8) * 255).save(p)
        files.append((p, lab, s))
    assert ce.instance_level_ap([_gt_instance_path()], [files]).as_dict() == res.as_dict()


@needs_data
def test_instance_ap_falls_for_a_bad_mask(clean_cwd):
    inst = np.asarray(Image.open(_gt_instance_path())).astype(np.int64)
    big = inst == 26002
    shifted = np.roll(big, 6, axis=1)
    res = ce.instance_level_ap([_gt_instance_path()], [[(inst == 26001, 26, 0.9), (shifted, 26, 0.8)]])
    assert 0 < res.per_class["car"]["ap"] < 1
    assert res.per_class["car"]["ap50"] == 1.0
    as_dict = res.as_dict()
    assert as_dict["per_class"]["person"]["ap"] is None


def test_instance_ap_rejects_unknown_label(tmp_path):
    gt = tmp_path / "g_gtFine_instanceIds.png"
    Image.fromarray(np.full((8, 8), 26001, np.uint16)).save(gt)
    with pytest.raises(ValueError, match="not a Cityscapes label id"):
        ce.instance_level_ap([gt], [[(np.ones((8, 8), bool), 99, 0.5)]])


# --------------------------------------------------------------------------- Boundary AP


def _upscaled_gt(tmp_path, k: int = 4) -> tuple[Path, np.ndarray]:
    """The frame's instance ids enlarged k× (persons pass the 100 px limit), as a file."""
    inst = np.asarray(Image.open(_gt_instance_path())).astype(np.int64)
    inst = np.kron(inst, np.ones((k, k), np.int64)).astype(np.uint16)
    path = tmp_path / f"{FRAME}_gtFine_instanceIds.png"
    Image.fromarray(inst).save(path)
    return path, inst


def _varied_predictions(inst: np.ndarray) -> list[tuple]:
    """Predictions that exercise every rule of the official AP: degraded masks, a duplicate with
    a lower score, a shifted mask, a mask over a group (id 26000 / 24000), one mostly on void,
    one of a class without ground truth, a far false positive, an empty one, a tie in scores."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from make_instance_fixture import degrade_mask

    preds = []
    for j, i in enumerate(int(i) for i in np.unique(inst) if i >= 1000 and i % 1000):
        preds.append((degrade_mask(inst == i, stride=8), i // 1000, round(0.9 - 0.05 * j, 2)))
    big = inst == 26002
    preds.append((big, 26, 0.3))  # duplicate of a car, lower score
    preds.append((np.roll(big, 9, axis=1), 26, 0.6))  # shifted: matches at low overlaps only
    preds.append((np.roll(big, 3, axis=0), 26, 0.6))  # a tie in scores
    preds.append((inst == 26000, 26, 0.5))  # exactly the car group
    preds.append(((inst == 24000) | (inst == 24001), 24, 0.45))  # a person and the person group
    void = np.zeros(inst.shape, bool)
    void[-40:, :60] = True  # ego vehicle / out of roi at the bottom left
    preds.append((void, 24, 0.4))
    fp = np.zeros(inst.shape, bool)
    fp[10:40, 500:560] = True  # sky: a false positive
    preds.append((fp, 26, 0.7))
    preds.append((fp, 28, 0.2))  # bus: no ground truth of the class
    preds.append((np.zeros(inst.shape, bool), 26, 0.99))  # empty: skipped
    return preds


@needs_data
@pytest.mark.parametrize("k", [1, 4])
def test_our_ap_equals_the_official_with_the_mask_iou(clean_cwd, tmp_path, monkeypatch, k):
    """The AP computation of Boundary AP, run with the mask IoU as overlap, is the official one."""
    module = ce._import(ce._INSTANCE)
    original = module.evaluateMatches
    seen = []

    def spy(matches, args):
        official = original(matches, args)
        seen.append((official, ce._evaluate_matches(matches, args, boundary=False)))
        return official

    monkeypatch.setattr(module, "evaluateMatches", spy)
    gt, inst = _upscaled_gt(tmp_path, k)
    preds = _varied_predictions(inst)
    ce.instance_level_ap([gt], [preds])
    ce.instance_level_ap([gt, gt], [preds, preds[::2]])  # two images, one with fewer predictions
    assert len(seen) == 2
    for official, ours in seen:
        assert official.shape == ours.shape
        np.testing.assert_array_equal(ours, official)  # NaN where official is NaN, else equal
        assert np.isfinite(official).any()


@needs_data
def test_boundary_ap_is_at_most_ap_and_one_for_perfect_masks(clean_cwd, tmp_path):
    gt, inst = _upscaled_gt(tmp_path, 4)
    perfect = [(inst == i, i // 1000, 0.5) for i in (int(i) for i in np.unique(inst)) if i >= 1000 and i % 1000]
    res = ce.instance_level_ap([gt], [perfect], iou_type="boundary")
    assert res.ap == 1.0 and res.iou_type == "boundary" and res.dilation_ratio == 0.005
    assert (
        res.as_dict()["dilation_ratio"] == 0.005
        and "dilation_ratio" not in ce.instance_level_ap([gt], [perfect]).as_dict()
    )
    preds = _varied_predictions(inst)
    mask_ap = ce.instance_level_ap([gt], [preds])
    boundary_ap = ce.instance_level_ap([gt], [preds], iou_type="boundary")
    assert boundary_ap.ap < mask_ap.ap  # degraded borders cost more in boundary IoU
    for name, v in boundary_ap.per_class.items():
        if not math.isnan(v["ap"]):
            assert v["ap"] <= mask_ap.per_class[name]["ap"] + 1e-12
    # a wider band forgives more
    wide = ce.instance_level_ap([gt], [preds], iou_type="boundary", dilation_ratio=0.05)
    assert wide.ap >= boundary_ap.ap


def test_boundary_ap_options_are_checked(tmp_path):
    gt = tmp_path / "g_gtFine_instanceIds.png"
    Image.fromarray(np.full((8, 8), 26001, np.uint16)).save(gt)
    with pytest.raises(ValueError, match="iou_type"):
        ce.instance_level_ap([gt], [[]], iou_type="bbox")
    with pytest.raises(ValueError, match="dilation_ratio"):
        ce.instance_level_ap([gt], [[]], iou_type="boundary", dilation_ratio=0)
