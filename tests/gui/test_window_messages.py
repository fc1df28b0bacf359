"""The window's messages for bad files (issue 19): one dialog naming the file, and the window
keeps running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"


def _deg_reduce_text(tmp_path: Path) -> tuple[str, str]:
    import scipy.io as sio

    z = np.zeros((360, 480), np.uint8)
    path = tmp_path / "o.mat"
    sio.savemat(path, {"depth": z, "dir_deg": z, "deg_reduce": "two"})
    return str(path), "'deg_reduce' must be one positive number, found text"


def _big_space(tmp_path: Path) -> tuple[str, str]:
    path = tmp_path / "space.json"
    classes = [{"id": i, "name": f"c{i}", "color": [i % 256, i // 256, 1]} for i in range(300)]
    path.write_text(json.dumps({"classes": classes}))
    return str(path), "more than 255 evaluated classes"


@pytest.mark.parametrize("what", ["mat deg_reduce", "300 classes"])
def test_window_names_the_file_and_keeps_running(tmp_path, open_window, dialogs, qtbot, what):
    from segfix_gui.io.samples import SamplePaths

    w = open_window()
    offsets, space = str(DEMO / "offsets.npz"), "camvid"
    if what == "mat deg_reduce":
        offsets, expect = _deg_reduce_text(tmp_path)
        bad = offsets
    else:
        space, expect = _big_space(tmp_path)
        bad = space
    w.open_paths(SamplePaths(pred=str(DEMO / "prediction.png"), offsets=offsets), space)
    qtbot.waitUntil(lambda: len(dialogs) > 0, timeout=20000)
    assert dialogs[0].startswith(f"{bad}: ") and expect in dialogs[0]
    assert len(dialogs[0].splitlines()) == 1
    assert w.isVisible()
    w.open_demo()  # and it still opens what is good
    qtbot.waitUntil(lambda: w.session.sample is not None, timeout=20000)


def test_inspect_outside_the_image_is_said(tmp_path):
    # in a process of its own: the app's event loop, once it has run and quit, delivers nothing
    # more to the windows of later tests in this process
    shot = tmp_path / "s.png"
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
    )
    argv = ["--demo", "--inspect", "100000,100000", "--screenshot", str(shot)]
    proc = subprocess.run(
        [sys.executable, "-m", "segfix_gui.gui.app", *argv], capture_output=True, text=True, env=env, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "segfix-gui: warning: --inspect 100000,100000 is outside the 360×480 image" in proc.stderr
    assert shot.exists()
