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
  ``evalInstanceLevelSemanticLabeling``.
"""

from __future__ import annotations

import contextlib
import copy
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
def official_eval():
    """Context manager around a call into cityscapesscripts' evaluation modules.

    Yields a session with ``.pixel`` and ``.instance`` (the two modules), ``.tmp`` (a
    private temporary folder, removed on exit) and ``.args(module, **overrides)``. On exit
    every patched module global, ``sys.stdout`` and the environment are as they were.

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

    def as_dict(self) -> dict:
        """The figures with undefined ones (NaN) as None, ready for JSON."""
        from .core.numbers import json_safe

        return {
            "ap": json_safe(self.ap),
            "ap50": json_safe(self.ap50),
            "per_class": json_safe(self.per_class),
            "min_region_size": self.min_region_size,
        }


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


def instance_level_ap(gt_paths: Sequence[str | os.PathLike], predictions: Sequence[Iterable[tuple]]) -> InstanceAP:
    """AP and AP50 by cityscapesscripts' ``evalInstanceLevelSemanticLabeling``.

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

    gt = [os.path.abspath(p) for p in gt_paths]
    predictions = [list(p) for p in predictions]
    if len(gt) != len(predictions):
        raise ValueError(f"{len(gt)} ground-truth files but {len(predictions)} prediction lists")
    if not gt:
        raise ValueError("no files to evaluate")
    for p in gt:
        if not os.path.isfile(p):
            raise InputError(p, "file not found")
    with official_eval() as ev:
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
    )
