"""The layering contract (pyproject.toml [tool.importlinter]), checked with import-linter.

core imports neither io, cli nor gui; nothing outside gui imports PySide6 or pyqtgraph (the
session included); the session imports neither gui nor cli; gui never imports cli; no command
of cli imports another. A broken contract fails here with import-linter's report of the chain.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    pytest.importorskip("importlinter")
    code = "from importlinter.cli import lint_imports; raise SystemExit(lint_imports(no_cache=True, no_logo=True))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    n = len(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"])
    assert f"{n} kept, 0 broken" in r.stdout


def test_the_session_runs_without_qt():
    """Importing the session and opening the demo in it loads no Qt module (a fresh process)."""
    code = (
        "import sys; from segfix_gui.session import Session; s = Session(); s.open_demo(); s.wait(120); "
        "assert s.result is not None, 'not refined'; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph')))"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "[]"


def test_every_command_is_in_the_independence_contract():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from segfix_gui.cli import COMMANDS

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (alone,) = [c for c in contracts["contracts"] if c["type"] == "independence"]
    assert sorted(alone["modules"]) == sorted(f"segfix_gui.cli.{c}" for c in COMMANDS)


def test_importing_the_package_changes_nothing_in_the_process():
    """No work at import: importing every module outside gui/ sets no library's global (PIL's
    pixel limit), looks up no bundled resource and imports neither Qt nor torch."""
    code = """
import importlib, pkgutil, sys
import PIL.Image
limit = PIL.Image.MAX_IMAGE_PIXELS
import segfix_gui, segfix_gui._resources as res
names = [m.name for m in pkgutil.walk_packages(segfix_gui.__path__, "segfix_gui.")
         if not m.name.startswith(("segfix_gui.gui", "segfix_gui.model.openseg.nets"))
         and m.name not in ("segfix_gui.__main__", "segfix_gui.cli.__main__", "segfix_gui.model.encoder",
                            "segfix_gui.model.net", "segfix_gui.model.train")]
for name in names:
    importlib.import_module(name)
assert PIL.Image.MAX_IMAGE_PIXELS == limit, PIL.Image.MAX_IMAGE_PIXELS
assert res.resources_dir.cache_info().currsize == 0, "a resource was looked up at import"
loaded = sorted(m for m in ("PySide6", "pyqtgraph", "torch") if m in sys.modules)
assert not loaded, loaded
print(len(names))
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) > 30


def test_the_engine_runs_without_numba():
    """numba is optional: with ``import numba`` failing (a fresh process), every module outside
    the window imports — all but the three that hold the compiled kernels — and the engine
    refines, scores and measures borders on NumPy's paths."""
    code = """
import importlib, pkgutil, sys
sys.modules["numba"] = None
import numpy as np
import segfix_gui
kernels = {"segfix_gui.core.gather", "segfix_gui.core.evaluator_kernel", "segfix_gui.core.distance_kernel"}
for m in pkgutil.walk_packages(segfix_gui.__path__, "segfix_gui."):
    if m.name in kernels:
        try:
            importlib.import_module(m.name)
        except ImportError:
            continue
        raise AssertionError(f"{m.name} imported without numba")
    if not m.name.startswith(("segfix_gui.gui", "segfix_gui.model", "segfix_gui.__main__", "segfix_gui.cli.__main__")):
        importlib.import_module(m.name)
from segfix_gui.core.evaluator import ImageEvaluator
from segfix_gui.core.metrics import BorderOptions, evaluate_pair
from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.refine import refine_labels
from segfix_gui.core.setting import Setting
from segfix_gui.labels import get_label_space
space = get_label_space("camvid")
gt = np.zeros((20, 30), np.uint8); gt[5:15, 8:20] = 3
pred = np.roll(gt, 2, axis=1)
field = OffsetField(boundary=np.full((20, 30), 0.9, np.float32), direction=np.full((8, 20, 30), 1 / 8, np.float32))
refined = refine_labels(pred, field.to_offsets(Setting()), device="cpu")
r = evaluate_pair(gt, refined, space, borders=BorderOptions())
ImageEvaluator(gt, pred, space).at(field, Setting())
assert "numba" not in {k for k, v in sys.modules.items() if v is not None}
print(round(r["boundary_iou"], 3))
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert 0 <= float(r.stdout) <= 1
