"""The official Cityscapes evaluation (cityscapesscripts), made callable on current NumPy.

This is the one place that deals with the rot in cityscapesscripts' evaluation modules
(checked with cityscapesscripts 2.3.0 and NumPy 2.4):

- ``evalPixelLevelSemanticLabeling`` and ``evalInstanceLevelSemanticLabeling`` call
  ``np.in1d``, which NumPy 2.4 removed;
- ``evalInstanceLevelSemanticLabeling.evaluateImgLists`` writes ``matches.json`` into the
  current working folder through ``writeDict2JSON``, whose ``default=lambda o: o.__dict__``
  fails on NumPy integer scalars; it also caches the ground truth in ``gtInstances.json``
  *inside the installed package* and reuses a stale cache without checking it;
- both modules read ``CITYSCAPES_DATASET`` / ``CITYSCAPES_EXPORT_DIR`` at import time, and
  report bad input by printing ``ERROR: ...`` and calling ``sys.exit``.

:func:`official_eval` is a context manager applied only around a call. It

- gives the two evaluation modules (and nothing else) a NumPy with ``in1d`` (= ``isin``
  on the flattened input, what ``in1d`` did), by swapping their module global ``np`` for a
  thin proxy — ``numpy`` itself is never modified;
- replaces ``writeDict2JSON`` in the instance module with a NumPy-safe writer that puts
  every file it is asked to write (``matches.json``, the ground-truth cache) into a fresh
  temporary folder, which is removed afterwards — the user's working folder and the
  installed package are never written to;
- captures the modules' printing, turns their ``sys.exit`` into :class:`InputError`, and
  silences their NumPy warnings;
- imports the modules with the ``CITYSCAPES_*`` variables hidden (so a stale or invalid
  value cannot break the import), restoring ``os.environ`` exactly.

The official scripts find ground truth through ``CITYSCAPES_DATASET`` and predictions
through ``CITYSCAPES_RESULTS`` only when run without arguments; here the functions pass
explicit lists of files to ``evaluateImgLists`` with a private copy of the module's
``args`` whose paths all point into the temporary folder, so no environment variable is
needed or changed. Everything is serialised by one lock (the swap of ``sys.stdout`` and of
module globals is process-wide while a call runs).

Public functions:

- :func:`pixel_level_iou` — per-class IoU from ``evalPixelLevelSemanticLabeling``;
- :func:`instance_level_ap` — AP and AP50, overall and per class, from
  ``evalInstanceLevelSemanticLabeling``; with ``iou_type="boundary"``, **Boundary AP** as the
  Boundary IoU authors' Cityscapes evaluation computes it (boundary-iou-api,
  ``boundary_iou/cityscapes_instance_api``, ``--iou-type boundary``, dilation ratio 0.005).

Boundary AP is the official pipeline (file reading, ground-truth instances, the mask matching
of ``assignGt2Preds``, ``computeAverages``) with two functions replaced for the call only:

- the matching is the official one, then every ground-truth instance (groups too) and every
  prediction gets its boundary, ``mask_to_boundary`` of its mask
  (:func:`segfix_gui.core.metrics.mask_to_boundary`), and its boundary pixel count; each
  (ground truth, prediction) pair gets its boundary intersection, and a pair whose boundaries
  do not meet is no pair (the authors' rule: both intersections must be non-zero);
- AP (:func:`_evaluate_matches`) counts a pair as overlapping by ``min(mask IoU, boundary
  IoU)`` instead of the mask IoU, with everything else of ``evaluateMatches`` unchanged:
  groups, small and void regions ignored as the official code ignores them, the same
  precision–recall curve and its step-wise integral. With the mask IoU alone it gives the
  official AP exactly (``tests/test_cityscapes_eval.py``); the boundary variant is checked
  against the authors' own code by ``benchmarks/boundary_iou_official.py``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError

_LOCK = threading.RLock()
BOUNDARY_AP_RATIO = 0.005
"""The dilation ratio of Boundary AP on Cityscapes (the authors' evaluation script's default)."""
_ENV_VARS = ("CITYSCAPES_DATASET", "CITYSCAPES_RESULTS", "CITYSCAPES_EXPORT_DIR")
_PIXEL = "cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling"
_INSTANCE = "cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling"


class _NumpyWithIn1d:
    """``numpy`` as seen by the old evaluation modules: everything of numpy, plus ``in1d``."""

    def __init__(self, np_module):
        self.__dict__["_np"] = np_module

    def __getattr__(self, name):
        return getattr(self._np, name)

    def in1d(self, ar1, ar2, assume_unique=False, invert=False, **kwargs):
        """What ``np.in1d`` did: ``isin`` on the flattened first argument (1-D result)."""
        return self._np.isin(self._np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert, **kwargs)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj.__dict__


@contextlib.contextmanager
def _hidden_env():
    """Hide the ``CITYSCAPES_*`` variables for the duration; restore them exactly."""
    saved = {k: os.environ.pop(k) for k in _ENV_VARS if k in os.environ}
    try:
        yield
    finally:
        for k in _ENV_VARS:
            os.environ.pop(k, None)
        os.environ.update(saved)


def _import(name: str):
    import importlib

    if name in sys.modules:
        return sys.modules[name]
    with _hidden_env(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(name)


@dataclass
class _Session:
    """What :func:`official_eval` yields: the two modules and a private temporary folder."""

    tmp: Path
    pixel: object
    instance: object
    output: io.StringIO = field(default_factory=io.StringIO)

    def args(self, module, **overrides):
        """A private copy of ``module.args`` with every path inside :attr:`tmp`."""
        args = copy.copy(module.args)
        args.cityscapesPath = str(self.tmp)
        args.exportFile = str(self.tmp / "evaluationResults" / "result.json")
        args.groundTruthSearch = str(self.tmp / "gtFine" / "val" / "*" / "*.png")
        args.predictionPath = None
        args.predictionWalk = None
        args.JSONOutput = False
        args.quiet = True
        args.colorized = False
        if hasattr(args, "gtInstancesFile"):
            args.gtInstancesFile = str(self.tmp / "gtInstances.json")
        if hasattr(args, "bold"):
            args.bold = args.nocol = ""
        for k, v in overrides.items():
            setattr(args, k, v)
        return args


@contextlib.contextmanager
def official_eval(*, boundary_ratio: float | None = None):
    """Context manager around a call into cityscapesscripts' evaluation modules.

    Yields a session with ``.pixel`` and ``.instance`` (the two modules), ``.tmp`` (a
    private temporary folder, removed on exit) and ``.args(module, **overrides)``. On exit
    every patched module global, ``sys.stdout`` and the environment are as they were.
    With ``boundary_ratio``, the instance module's matching and AP are those of Boundary AP
    at that dilation ratio (see the module).

    Raises
    ------
    InputError
        when the official code gives up (its ``printError`` → ``sys.exit``), with its message.
    """
    with _LOCK:
        pixel = _import(_PIXEL)
        instance = _import(_INSTANCE)
        tmp = Path(tempfile.mkdtemp(prefix="segfix-cityscapes-eval-"))
        session = _Session(tmp, pixel, instance)

        def write_json(obj, file_name):
            target = Path(file_name)
            if not target.is_absolute() or tmp not in target.parents:
                target = tmp / "written" / target.name
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w") as f:
                json.dump(obj, f, default=_json_default, sort_keys=True)

        saved = []
        patches = [
            (pixel, "np", _NumpyWithIn1d(np)),
            (instance, "np", _NumpyWithIn1d(np)),
            (instance, "writeDict2JSON", write_json),
            (pixel, "writeDict2JSON", write_json),
        ]
        if boundary_ratio is not None:
            patches += [
                (instance, "assignGt2Preds", _boundary_assign(instance.assignGt2Preds, boundary_ratio)),
                (instance, "evaluateMatches", functools.partial(_evaluate_matches, boundary=True)),
            ]
        try:
            for module, name, value in patches:
                saved.append((module, name, module.__dict__.get(name, _MISSING)))
                setattr(module, name, value)
            with contextlib.redirect_stdout(session.output), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    yield session
                except SystemExit:
                    msg = [ln for ln in session.output.getvalue().splitlines() if ln.startswith("ERROR:")]
                    text = msg[-1][len("ERROR:") :].strip() if msg else "gave up without a message"
                    raise InputError(None, f"cityscapesscripts evaluation: {text}") from None
        finally:
            for module, name, value in reversed(saved):
                if value is _MISSING:
                    module.__dict__.pop(name, None)
                else:
                    setattr(module, name, value)
            shutil.rmtree(tmp, ignore_errors=True)


_MISSING = object()


def _float(v) -> float:
    return float(v) if v is not None else float("nan")


def eval_class_names() -> tuple[str, ...]:
    """The 19 Cityscapes classes the official pixel-level evaluation scores."""
    from cityscapesscripts.helpers.labels import labels

    return tuple(lb.name for lb in labels if lb.id >= 0 and not lb.ignoreInEval)


def pixel_level_iou(gt_paths: Sequence[str | os.PathLike], pred_paths: Sequence[str | os.PathLike]) -> dict[str, float]:
    """Per-class IoU by cityscapesscripts' ``evalPixelLevelSemanticLabeling``.

    Parameters
    ----------
    gt_paths : ground-truth ``*_gtFine_labelIds.png`` files (Cityscapes label ids)
    pred_paths : predictions of the same size, single-channel PNGs of Cityscapes label ids,
        in the same order

    Returns
    -------
    dict
        ``{class name: IoU}`` for the 19 evaluated classes, in the official order; NaN for a
        class absent from both ground truth and predictions (as the official code returns).
    """
    gt = [os.path.abspath(p) for p in gt_paths]
    pred = [os.path.abspath(p) for p in pred_paths]
    if len(gt) != len(pred):
        raise ValueError(f"{len(gt)} ground-truth files but {len(pred)} predictions")
    if not gt:
        raise ValueError("no files to evaluate")
    for p in gt + pred:
        if not os.path.isfile(p):
            raise InputError(p, "file not found")
    with official_eval() as ev:
        # the instance-level (nIoU) part needs *_instanceIds.png beside the ground truth;
        # only class IoU is asked for here, so it is switched off
        args = ev.args(ev.pixel, evalInstLevelScore=False, evalPixelAccuracy=False)
        result = ev.pixel.evaluateImgLists(pred, gt, args)
    scores = result["classScores"]
    return {name: _float(scores.get(name)) for name in eval_class_names()}


@dataclass(frozen=True)
class InstanceAP:
    """Official instance-level figures (fractions in [0, 1]; NaN where undefined).

    Attributes
    ----------
    ap : float, mean AP over overlaps 0.50:0.95 and the classes that have ground truth or
        predictions
    ap50 : float, the same at overlap 0.5
    per_class : dict ``{class name: {"ap": float, "ap50": float}}`` for the 8 evaluated
        instance classes (NaN for a class with neither ground truth nor predictions)
    min_region_size : int, ground-truth instances smaller than this (pixels) are ignored
    """

    ap: float
    ap50: float
    per_class: dict
    min_region_size: int
    iou_type: str = "segm"
    dilation_ratio: float | None = None

    def as_dict(self) -> dict:
        """The figures with undefined ones (NaN) as None, ready for JSON; Boundary AP adds its
        ``dilation_ratio``."""
        from .core.numbers import json_safe

        out = {
            "ap": json_safe(self.ap),
            "ap50": json_safe(self.ap50),
            "per_class": json_safe(self.per_class),
            "min_region_size": self.min_region_size,
        }
        if self.iou_type == "boundary":
            out["dilation_ratio"] = self.dilation_ratio
        return out


def _place_mask(mask, dst: Path) -> None:
    """Put one predicted mask at ``dst``: a link to a file, or a PNG of an array."""
    if isinstance(mask, (str, os.PathLike)):
        src = os.path.abspath(mask)
        if not os.path.isfile(src):
            raise InputError(src, "mask file not found")
        try:
            os.symlink(src, dst)
        except OSError:  # pragma: no cover - platforms without symlinks
            shutil.copyfile(src, dst)
        return
    from PIL import Image

    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"a mask must be (H, W), got shape {arr.shape}")
    Image.fromarray(np.where(arr != 0, 255, 0).astype(np.uint8)).save(dst, format="PNG")


def instance_level_ap(
    gt_paths: Sequence[str | os.PathLike],
    predictions: Sequence[Iterable[tuple]],
    *,
    iou_type: str = "segm",
    dilation_ratio: float = BOUNDARY_AP_RATIO,
) -> InstanceAP:
    """AP and AP50 by cityscapesscripts' ``evalInstanceLevelSemanticLabeling``.

    ``iou_type="boundary"`` gives Boundary AP instead (overlap = min(mask IoU, boundary IoU),
    boundaries by ``mask_to_boundary`` at ``dilation_ratio``; see the module).

    Parameters
    ----------
    gt_paths : ground-truth ``*_gtFine_instanceIds.png`` files (16-bit, ``labelId * 1000 +
        index`` for things)
    predictions : for each ground-truth file, in the same order, the predicted instances as
        ``(mask, label_id, score)`` tuples; ``mask`` is a mask PNG path (non-zero = inside)
        or an ``(H, W)`` array (non-zero = inside); ``label_id`` a Cityscapes label id.

    The official ``_pred.txt`` files are written in the private temporary folder, with the
    masks linked (paths) or written (arrays) beside them, so the official parser always
    sees its exact format.

    Returns
    -------
    InstanceAP
    """
    from cityscapesscripts.helpers.labels import id2label

    if iou_type not in ("segm", "boundary"):
        raise ValueError(f"iou_type must be 'segm' or 'boundary', not {iou_type!r}")
    dilation_ratio = float(dilation_ratio)
    if not (math.isfinite(dilation_ratio) and dilation_ratio > 0):
        raise ValueError(f"dilation_ratio must be a number > 0, not {dilation_ratio!r}")
    boundary = iou_type == "boundary"
    gt = [os.path.abspath(p) for p in gt_paths]
    predictions = [list(p) for p in predictions]
    if len(gt) != len(predictions):
        raise ValueError(f"{len(gt)} ground-truth files but {len(predictions)} prediction lists")
    if not gt:
        raise ValueError("no files to evaluate")
    for p in gt:
        if not os.path.isfile(p):
            raise InputError(p, "file not found")
    with official_eval(boundary_ratio=dilation_ratio if boundary else None) as ev:
        root = ev.tmp / "results"
        txts = []
        for i, insts in enumerate(predictions):
            folder = root / f"{i:06d}"
            folder.mkdir(parents=True)
            lines = []
            for j, (mask, label_id, score) in enumerate(insts):
                label_id = int(label_id)
                if label_id not in id2label:
                    raise ValueError(f"{label_id} is not a Cityscapes label id")
                score = float(score)
                if not math.isfinite(score):
                    raise ValueError(f"score {score} is not a finite number")
                name = f"m{j:05d}.png"
                _place_mask(mask, folder / name)
                lines.append(f"{name} {label_id} {score!r}")
            txt = folder / "pred.txt"
            txt.write_text("\n".join(lines) + ("\n" if lines else ""))
            txts.append(str(txt))
        args = ev.args(ev.instance, predictionPath=os.path.abspath(root))
        result = ev.instance.evaluateImgLists(txts, gt, args)
    avg = result["averages"]
    per_class = {name: {"ap": _float(v["ap"]), "ap50": _float(v["ap50%"])} for name, v in avg["classes"].items()}
    return InstanceAP(
        ap=_float(avg["allAp"]),
        ap50=_float(avg["allAp50%"]),
        per_class=per_class,
        min_region_size=int(args.minRegionSizes[0]),
        iou_type=iou_type,
        dilation_ratio=dilation_ratio if boundary else None,
    )


# --------------------------------------------------------------------------- Boundary AP


def _boundary_assign(official_assign, ratio: float):
    """``assignGt2Preds`` of Boundary AP: the official matching, then boundaries.

    Adds ``pixelCountBoundary`` to every ground-truth instance and prediction, and
    ``boundary_intersection`` to every pair (in both of the pair's copies); drops the pairs
    whose boundaries do not meet.
    """
    from PIL import Image

    from .core.metrics import mask_to_boundary

    def assign(gt_instances_orig, gt_image, pred_info, args):
        gt_instances, pred_instances = official_assign(gt_instances_orig, gt_image, pred_info, args)
        gt_np = np.array(gt_image)
        gt_boundary, gt_count = {}, {}
        for insts in gt_instances.values():
            for g in insts:
                b = mask_to_boundary(gt_np == g["instID"], ratio)
                gt_boundary[g["instID"]] = b
                gt_count[g["instID"]] = g["pixelCountBoundary"] = int(np.count_nonzero(b))
        pred_count, pair = {}, {}
        for preds in pred_instances.values():
            for p in preds:
                mask = np.array(Image.open(p["imgName"]).convert("L")) != 0
                b = mask_to_boundary(mask, ratio)
                pred_count[p["predID"]] = p["pixelCountBoundary"] = int(np.count_nonzero(b))
                kept = []
                for g in p["matchedGt"]:
                    inter = int(np.count_nonzero(gt_boundary[g["instID"]] & b))
                    pair[(g["instID"], p["predID"])] = inter
                    if inter > 0:
                        g["boundary_intersection"] = inter
                        g["pixelCountBoundary"] = gt_count[g["instID"]]
                        kept.append(g)
                p["matchedGt"] = kept
        for insts in gt_instances.values():
            for g in insts:
                kept = []
                for p in g["matchedPred"]:
                    inter = pair[(g["instID"], p["predID"])]
                    if inter > 0:
                        p["boundary_intersection"] = inter
                        p["pixelCountBoundary"] = pred_count[p["predID"]]
                        kept.append(p)
                g["matchedPred"] = kept
        return gt_instances, pred_instances

    return assign


def _pair_overlap(inter, gt, pred, boundary_inter, boundary: bool) -> float:
    """Mask IoU of a pair; with ``boundary``, the smaller of it and the boundary IoU."""
    iou = float(inter) / (gt["pixelCount"] + pred["pixelCount"] - inter)
    if boundary:
        biou = float(boundary_inter) / (gt["pixelCountBoundary"] + pred["pixelCountBoundary"] - boundary_inter)
        iou = min(iou, biou)
    return iou


def _image_examples(preds, gts, threshold, keep_gt, ignored_gt, boundary):
    """One image's (is true, score) examples of one class at one overlap, and its ground-truth
    instances with no prediction above the overlap ("hard" false negatives)."""
    gts = [g for g in gts if keep_gt(g)]
    true, score, matched = [1.0] * len(gts), [-math.inf] * len(gts), [False] * len(gts)
    extra_true, extra_score = [], []
    hard_fns = 0
    for i, g in enumerate(gts):
        found = False
        for p in g["matchedPred"]:
            if _pair_overlap(p["intersection"], g, p, p.get("boundary_intersection"), boundary) > threshold:
                if matched[i]:  # a second prediction of one instance: the lower score is a false positive
                    extra_true.append(0.0)
                    extra_score.append(min(score[i], p["confidence"]))
                    score[i] = max(score[i], p["confidence"])
                else:
                    found = matched[i] = True
                    score[i] = p["confidence"]
        hard_fns += not found
    ex_true = [t for t, m in zip(true, matched, strict=True) if m] + extra_true
    ex_score = [s for s, m in zip(score, matched, strict=True) if m] + extra_score
    for p in preds:
        if any(
            _pair_overlap(g["intersection"], g, p, g.get("boundary_intersection"), boundary) > threshold
            for g in p["matchedGt"]
        ):
            continue
        ignored = p["voidIntersection"]
        for g in p["matchedGt"]:
            if g["instID"] < 1000:  # a group
                ignored += g["intersection"]
            if ignored_gt(g):  # too small or too far
                ignored += g["intersection"]
        if float(ignored) / p["pixelCount"] <= threshold:  # mostly on what counts: a false positive
            ex_true.append(0.0)
            ex_score.append(p["confidence"])
    return ex_true, ex_score, hard_fns


def _average_precision(y_true: np.ndarray, y_score: np.ndarray, hard_fns: int) -> float:
    """Area under the precision–recall curve, cityscapesscripts' way: one point per distinct
    score (examples scoring at least it are positive), a first point (recall 0, precision 1),
    and the step-wise integral of precision over recall with centred step widths."""
    order = np.argsort(y_score)
    scores, trues = y_score[order], y_true[order]
    below = np.append(np.cumsum(trues), 0)  # below[i - 1]: true examples before i; below[-1] = 0
    n_true = below[-2]
    _, first = np.unique(scores, return_index=True)
    before = below[first - 1]
    tp = n_true - before
    fp = len(scores) - first - tp
    fn = before + hard_fns
    precision = np.append(tp / (tp + fp), 1.0)
    recall = np.append(tp / (tp + fn), 0.0)
    padded = np.concatenate([recall[:1], recall, [0.0]])
    widths = 0.5 * padded[:-2] - 0.5 * padded[2:]
    return float(np.dot(precision, widths))


def _evaluate_matches(matches: dict, args, *, boundary: bool) -> np.ndarray:
    """AP array ``(distances, classes, overlaps)`` of the official ``evaluateMatches``, with
    the overlap of a pair ``min(mask IoU, boundary IoU)`` when ``boundary``."""
    sizes, dists, confs = args.minRegionSizes, args.distanceThs, args.distanceConfs
    if not args.distanceAvailable:
        sizes, dists, confs = sizes[:1], dists[:1], confs[:1]
    if not len(sizes) == len(dists) == len(confs):
        raise ValueError("region sizes, distance thresholds and confidences differ in number")
    ap = np.zeros((len(dists), len(args.instLabels), len(args.overlaps)), float)
    for d, (min_size, dist_th, dist_conf) in enumerate(zip(sizes, dists, confs, strict=True)):

        def keep_gt(g, min_size=min_size, dist_th=dist_th, dist_conf=dist_conf):
            return (
                g["instID"] >= 1000
                and g["pixelCount"] >= min_size
                and g["medDist"] <= dist_th
                and g["distConf"] >= dist_conf
            )

        def ignored_gt(g, min_size=min_size, dist_th=dist_th, dist_conf=dist_conf):
            return g["pixelCount"] < min_size or g["medDist"] > dist_th or g["distConf"] < dist_conf

        for o, threshold in enumerate(args.overlaps):
            for c, label in enumerate(args.instLabels):
                y_true, y_score, hard_fns = [], [], 0
                have_gt = have_pred = False
                for img in matches.values():
                    preds = img["prediction"][label]
                    gts = img["groundTruth"][label]
                    have_gt |= any(keep_gt(g) for g in gts)
                    have_pred |= bool(preds)
                    t, s_, h = _image_examples(preds, gts, threshold, keep_gt, ignored_gt, boundary)
                    y_true += t
                    y_score += s_
                    hard_fns += h
                if have_gt and have_pred:
                    ap[d, c, o] = _average_precision(np.array(y_true, float), np.array(y_score, float), hard_fns)
                else:
                    ap[d, c, o] = 0.0 if have_gt else math.nan
    return ap
