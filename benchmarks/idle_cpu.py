"""CPU an idle window uses, after panels are closed and opened: it should be none.

    Xvfb :99 -screen 0 1920x1080x24 & openbox &   # a real X server (offscreen hides the effect)
    DISPLAY=:99 python benchmarks/idle_cpu.py

Opens the demo, waits for it to settle, then for each step (close Layers, close Instances, open
Tune and Boundary, close Tune) measures the process's CPU time over ``--seconds`` of idle event
loop and prints it as a share of one core. A share near 1 is a busy loop (one was: closing a
tabbed panel made the window re-check Qt's tab bars on every layout request it caused itself).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from segfix_gui.gui.window import MainWindow

    def wait(ms: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(ms), loop.quit)
        loop.exec()

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    settings = QSettings("/tmp/segfix-idle-cpu.ini", QSettings.Format.IniFormat)
    w = MainWindow(settings=settings)
    w.resize(1600, 1000)
    w.show()
    w.open_demo()
    wait(15000)
    steps = (
        ("demo open", lambda: None),
        ("Layers closed", lambda: w.docks["layers"].close()),
        ("Instances closed", lambda: w.docks["instances"].close()),
        ("Tune and Boundary open", lambda: (w.show_panel("tune"), w.show_panel("boundary"))),
        ("Tune closed", lambda: w.docks["tune"].close()),
    )
    print(f"platform {app.platformName()}, load average {os.getloadavg()[0]:.2f}")
    for name, act in steps:
        act()
        wait(2000)
        c0 = cpu()
        wait(1000 * args.seconds)
        print(f"{name}: idle CPU {100 * (cpu() - c0) / args.seconds:.1f} % of a core")
    w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
