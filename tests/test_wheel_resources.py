"""The bundled resources travel with the package: a wheel's layout finds them, a checkout too.

A wheel installs ``segfix_gui/`` with ``resources/`` inside it (pyproject.toml maps the
checkout's top-level folder there). These tests copy the package into that layout in a temporary
folder and run the real commands from another folder, so nothing can come from the checkout.
(.ci/run also builds the real wheel and runs it from a fresh virtual environment.)
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "resources"


def _pyproject() -> dict:
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_and_resource_file_is_in_the_wheel_list():
    cfg = _pyproject()["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "segfix_gui").rglob("__init__.py")}
    assert found - listed == set(), "packages missing from pyproject.toml [tool.setuptools] packages"
    assert cfg["package-dir"] == {"segfix_gui.resources": "resources"}
    patterns = cfg["package-data"]["segfix_gui.resources"]
    files = [
        p.relative_to(RESOURCES).as_posix()
        for p in RESOURCES.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert files
    left_out = [f for f in files if not any(fnmatch.fnmatch(f, g) and f.count("/") == g.count("/") for g in patterns)]
    assert left_out == [], "resource files the wheel would not ship"


def test_one_version():
    """The version is written once, in segfix_gui/__init__.py; pyproject.toml reads it."""
    import importlib.metadata

    import segfix_gui

    project = _pyproject()
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "segfix_gui.__version__"}
    assert importlib.metadata.version("segfix-gui") == segfix_gui.__version__


def test_the_checkout_finds_its_resources():
    from segfix_gui._resources import resource, resources_dir
    from segfix_gui.io.samples import demo_dir
    from segfix_gui.model.predictor import bundled_path

    assert resources_dir() == RESOURCES or (resources_dir() / "label_spaces" / "camvid.json").is_file()
    assert resource("label_spaces", "camvid.json").is_file()
    assert bundled_path().is_file() and bundled_path() == resource("weights", "offsetnet-camvid.pt")
    assert (demo_dir() / "sample.json").is_file()


def _site(tmp_path, *, with_resources=True) -> Path:
    """A folder laid out as a wheel installs the package (resources inside it, or missing)."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "segfix_gui", site / "segfix_gui", ignore=shutil.ignore_patterns("__pycache__"))
    if with_resources:
        shutil.copytree(RESOURCES, site / "segfix_gui" / "resources")
    return site


def _run(site, args, cwd, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(site), QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(cwd / "config"))
    code = (
        "import sys, segfix_gui; assert segfix_gui.__file__.startswith(sys.argv[1]), "
        "segfix_gui.__file__; sys.argv = sys.argv[2:]; "
        "from runpy import run_module; run_module(sys.argv[0], run_name='__main__')"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(site), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.mark.slow
@pytest.mark.gui
def test_commands_from_the_wheel_layout_outside_the_checkout(tmp_path):
    """degrade, predict-offsets and the demo screenshot from the wheel's layout. .ci/run runs the
    same three commands from the real wheel in a fresh environment, so the default run leaves
    this copy out (15-30 s); ``pytest -m slow`` runs it without building a wheel."""
    site = _site(tmp_path)
    work = tmp_path / "work"
    (work / "gt").mkdir(parents=True)
    (work / "images").mkdir()
    shutil.copy(RESOURCES / "demo" / "ground_truth.png", work / "gt" / "demo.png")
    shutil.copy(RESOURCES / "demo" / "image.jpg", work / "images" / "demo.jpg")
    p = _run(site, ["segfix_gui.cli", "degrade", "--labels", "gt", "--out", "coarse"], work)
    assert p.returncode == 0, p.stderr
    assert (work / "coarse" / "demo.png").stat().st_size > 0
    p = _run(site, ["segfix_gui.cli", "predict-offsets", "--images", "images", "--out", "off"], work)
    assert p.returncode == 0, p.stderr
    assert (work / "off" / "demo.npz").stat().st_size > 0
    p = _run(site, ["segfix_gui.gui.app", "--demo", "--screenshot", "shot.png", "--size", "900x600"], work)
    assert p.returncode == 0, p.stderr
    assert (work / "shot.png").stat().st_size > 0


@pytest.mark.gui
def test_missing_demo_ends_the_screenshot_run_at_once(tmp_path):
    """The failure is reported before the event loop starts; the run must still end (no hang)."""
    site = _site(tmp_path, with_resources=False)
    work = tmp_path / "work"
    work.mkdir()
    # a hang would wait for the 120 s screenshot deadline; the subprocess limit catches it
    p = _run(site, ["segfix_gui.gui.app", "--demo", "--screenshot", "shot.png"], work, timeout=90)
    assert p.returncode == 2
    assert "segfix-gui: error:" in p.stderr and "demo" in p.stderr
    assert "timed out" not in p.stderr
    assert not (work / "shot.png").exists()
    p = _run(site, ["segfix_gui.cli", "degrade", "--labels", "x", "--out", "y"], work)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "camvid.json" in p.stderr
