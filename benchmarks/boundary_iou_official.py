"""Boundary IoU and Boundary AP against the Boundary IoU authors' own code, on the same maps.

    python benchmarks/boundary_iou_official.py --official DIR [--camvid-every 1] [--json FILE]

``DIR`` is a checkout of the public repository ``bowenc0221/boundary-iou-api`` (its code is run
as it is, never copied). It needs OpenCV and pycocotools, which are *not* dependencies of this
project; install them for this script only, beside the project's environment::

    pip install --target /tmp/biou-deps --no-deps opencv-python-headless pycocotools
    PYTHONPATH=/tmp/biou-deps python benchmarks/boundary_iou_official.py --official DIR

What is compared:

1. **Boundary IoU** (semantic): for every image and class ``c``, the official
   ``boundary_iou.utils.mask_to_boundary((gt == c).astype(uint8), 0.005)`` and the same of
   the prediction; pixels whose ground truth is void are left out; intersections and unions
   summed over the set, then divided; the mean over classes with a non-empty union. Against
   ``segfix_gui.core.metrics``' ``SemanticEvaluator(borders=BorderOptions())``. Maps: the
   CamVid val ground truth (``../shared/data/camvid``) with ``degrade(gt, stride=8)``
   predictions, and the ``cityscapes_mini`` frame enlarged 8× to 1024×2048 with its own
   stride-8 prediction (dilation 11 px there, 3 px at CamVid's 360×480). Also: the number of
   pixels where the two boundary masks differ, over every (image, class).
2. **Boundary AP** (instances): the authors' Cityscapes evaluation
   (``boundary_iou/cityscapes_instance_api/evalInstanceLevelSemanticLabeling.py``,
   ``iou_type = "boundary"``, dilation ratio 0.005 — what their
   ``tools/cityscapes_instance_evaluation.py --iou-type boundary`` runs) against
   ``segfix_gui.cityscapes_eval.instance_level_ap(iou_type="boundary")``, on the instance
   fixture of ``tests/make_instance_fixture.py`` (its stride-8 predictions, and the same refined
   with its ground-truth offsets by ``segfix refine-instances``). The authors' module predates
   NumPy 2 (``np.in1d``, ``np.float``, ``np.bool``): it is given, for this run only, a module
   global ``np`` that also has those three names (``isin`` of the flattened input, ``float``,
   ``bool``), and a JSON writer that takes NumPy integers; nothing else of it is changed.

Exits 1 when boundary IoU differs by more than 1e-6 or Boundary AP differs at all.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import platform
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from segfix_gui.core.degrade import degrade  # noqa: E402
from segfix_gui.core.distance import own_label_band  # noqa: E402
from segfix_gui.core.metrics import BorderOptions, SemanticEvaluator, gt_borders, mean_iou  # noqa: E402
from segfix_gui.io.images import read_labels  # noqa: E402
from segfix_gui.labels import IGNORE, get_label_space  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
CS_GT = SHARED / "cityscapes_mini/gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png"
RATIO = 0.005


# --------------------------------------------------------------------------- boundary IoU


def semantic_maps(every: int):
    """``(name, space, gt, pred)`` of the CamVid val set and the enlarged Cityscapes frame."""
    from PIL import Image

    camvid = get_label_space("camvid")
    for path in sorted((SHARED / "camvid" / "val" / "labels").glob("*.png"))[::every]:
        gt = read_labels(path, camvid)
        yield path.stem, camvid, gt, degrade(gt, camvid, stride=8)
    cs = get_label_space("cityscapes")
    gt = np.kron(np.asarray(Image.open(CS_GT)), np.ones((8, 8), np.uint8))
    yield "cityscapes_mini ×8", cs, gt, degrade(gt, cs, stride=8)


def compare_boundary_iou(official_mtb, every: int) -> dict:
    sets: dict[str, dict] = {}
    for _, space, gt, pred in semantic_maps(every):
        s = sets.setdefault(
            space.name,
            {
                "space": space,
                "inter": np.zeros(space.n_classes, np.int64),
                "union": np.zeros(space.n_classes, np.int64),
                "ours": SemanticEvaluator(space, borders=BorderOptions(dilation_ratio=RATIO)),
                "mask_pixels_differing": 0,
                "images": 0,
            },
        )
        g, p = space.to_eval(gt), space.to_eval(pred)
        valid = g != IGNORE
        s["ours"].add(gt, pred)
        # our boundary masks, for the pixel-by-pixel comparison: band & (map == c)
        ours_band = gt_borders(gt, space, options=s["ours"].borders)
        pred_band = own_label_band(p, ours_band.dilation)
        for c in range(space.n_classes):
            gb = official_mtb((g == c).astype(np.uint8), RATIO) > 0
            pb = official_mtb((p == c).astype(np.uint8), RATIO) > 0
            s["mask_pixels_differing"] += int(np.count_nonzero(gb != (ours_band.band & (g == c))))
            s["mask_pixels_differing"] += int(np.count_nonzero(pb != (pred_band & (p == c))))
            s["inter"][c] += np.count_nonzero(gb & pb & valid)
            s["union"][c] += np.count_nonzero((gb | pb) & valid)
        s["images"] += 1
    out = {}
    for key, s in sets.items():
        union = s["union"].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class = np.where(union > 0, s["inter"] / np.where(union > 0, union, 1), np.nan)
        res = s["ours"].result()
        ours = np.array([np.nan if v is None else v for v in res["boundary_iou_per_class"].values()])
        both = np.isfinite(per_class) & np.isfinite(ours)
        out[key] = {
            "images": s["images"],
            "official_mean": mean_iou(per_class),
            "ours_mean": res["boundary_iou"],
            "max_abs_diff_per_class": float(np.max(np.abs(per_class[both] - ours[both]))) if both.any() else 0.0,
            "same_classes_defined": bool(np.array_equal(np.isfinite(per_class), np.isfinite(ours))),
            "mask_pixels_differing": s["mask_pixels_differing"],
        }
    return out


# --------------------------------------------------------------------------- Boundary AP


class _NumpyOld(types.ModuleType):
    """``numpy`` as the authors' module expects it: plus ``in1d``, ``float`` and ``bool``."""

    def __init__(self):
        super().__init__("numpy")

    def __getattr__(self, name):
        if name == "in1d":
            return lambda a, b, **k: np.isin(np.ravel(a), b, **k)
        if name == "float":
            return float
        if name == "bool":
            return bool
        return getattr(np, name)


def official_boundary_ap(module, gt_files, txt_files, tmp: Path) -> dict:
    def write_json(obj, path):
        with open(path, "w") as f:
            json.dump(obj, f, default=lambda o: o.item() if isinstance(o, np.generic) else o.__dict__)

    module.np = _NumpyOld()
    module.writeDict2JSON = write_json
    args = module.args
    args.predictionPath = str(tmp)
    args.predictionWalk = None
    args.JSONOutput = False
    args.quiet = True
    args.colorized = False
    args.gtInstancesFile = str(tmp / "gtInstances.json")
    Path(args.gtInstancesFile).unlink(missing_ok=True)
    args.iou_type = "boundary"
    args.dilation_ratio = RATIO
    res = module.evaluateImgLists([str(t) for t in txt_files], [str(g) for g in gt_files], args)["averages"]
    return {
        "ap": float(res["allAp"]),
        "ap50": float(res["allAp50%"]),
        "per_class": {k: {"ap": float(v["ap"]), "ap50": float(v["ap50%"])} for k, v in res["classes"].items()},
    }


def ours_boundary_ap(gt_files, txt_files) -> dict:
    from segfix_gui.cityscapes_eval import instance_level_ap
    from segfix_gui.io.instances import mask_path, parse_pred_txt

    preds = [[(mask_path(t, e), e.label_id, e.score) for e in parse_pred_txt(t)] for t in txt_files]
    res = instance_level_ap(gt_files, preds, iou_type="boundary", dilation_ratio=RATIO)
    return {
        "ap": res.ap,
        "ap50": res.ap50,
        "per_class": res.per_class,
        "mask_ap": instance_level_ap(gt_files, preds).ap,
    }


def _same(a, b) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def compare_boundary_ap(module, tmp: Path) -> dict:
    from make_instance_fixture import make_fixture

    from segfix_gui.cli import main as segfix_main

    fx = make_fixture(tmp / "fixture")
    refined = tmp / "fixture" / "refined"
    if segfix_main(
        ["refine-instances", "--input", str(fx["pred"]), "--offset", str(fx["offsets_gt"]), "--out", str(refined)]
    ):
        raise SystemExit("refine-instances failed")
    out = {}
    for name, folder in (("stride-8 predictions", fx["pred"]), ("refined with ground-truth offsets", refined)):
        txts = sorted(Path(folder).rglob("*_pred.txt"))
        off = official_boundary_ap(module, [fx["gt_instance"]], txts, Path(folder))
        ours = ours_boundary_ap([fx["gt_instance"]], txts)
        equal = _same(off["ap"], ours["ap"]) and _same(off["ap50"], ours["ap50"])
        equal &= all(
            _same(off["per_class"][k][m], ours["per_class"][k][m]) for k in off["per_class"] for m in ("ap", "ap50")
        )
        out[name] = {"official": off, "ours": {k: v for k, v in ours.items() if k != "per_class"}, "equal": equal}
        out[name]["ours"]["per_class"] = ours["per_class"]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--official", required=True, metavar="DIR", help="checkout of bowenc0221/boundary-iou-api")
    ap.add_argument("--camvid-every", type=int, default=1, metavar="N", help="every N-th CamVid val map (default: all)")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(args.official).resolve()))
    import cv2

    official_mtb = importlib.import_module("boundary_iou.utils.boundary_utils").mask_to_boundary
    module = importlib.import_module("boundary_iou.cityscapes_instance_api.evalInstanceLevelSemanticLabeling")

    report = {
        "machine": f"{platform.machine()} {platform.python_version()} numpy {np.__version__} cv2 {cv2.__version__}"
    }
    report["boundary_iou"] = compare_boundary_iou(official_mtb, args.camvid_every)
    with tempfile.TemporaryDirectory() as tmp:
        report["boundary_ap"] = compare_boundary_ap(module, Path(tmp))
    ok = True
    print(report["machine"])
    for key, r in report["boundary_iou"].items():
        good = r["max_abs_diff_per_class"] <= 1e-6 and r["same_classes_defined"]
        ok &= good
        print(
            f"boundary IoU, {key} ({r['images']} images): official {r['official_mean']:.6f}, "
            f"ours {r['ours_mean']:.6f}, "
            f"largest per-class difference {r['max_abs_diff_per_class']:.1e}, boundary-mask pixels differing "
            f"{r['mask_pixels_differing']} -> {'agree' if good else 'DIFFER'}"
        )
    for key, r in report["boundary_ap"].items():
        ok &= r["equal"]
        print(
            f"Boundary AP, instance fixture, {key}: official {r['official']['ap']:.6f} "
            f"(AP50 {r['official']['ap50']:.6f}), "
            f"ours {r['ours']['ap']:.6f} (AP50 {r['ours']['ap50']:.6f}); mask AP {r['ours']['mask_ap']:.6f} "
            f"-> {'equal' if r['equal'] else 'DIFFER'}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float) + "\n")
    print("all agree" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
