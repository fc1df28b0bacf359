"""How long the test suite takes: the README's test command, timed.

Runs ``QT_QPA_PLATFORM=offscreen python -m pytest`` (what ``.ci/run`` runs; extra arguments go
to pytest, e.g. ``--durations=25``) in a child process and prints its wall time, the CPU time
it and its children used (user + system), and the load average before and after, so that a
figure taken while others share the machine says so. The suite's own target: under 3 minutes
on a 2-core machine.

    python benchmarks/suite_time.py [--without-qt] [pytest arguments...]

``--without-qt`` times the second pass of ``.ci/run`` instead (Qt hidden:
``SEGFIX_TEST_WITHOUT_QT=1 python -m pytest -p no:pytest-qt``).
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    without_qt = "--without-qt" in argv
    extra = [a for a in argv if a != "--without-qt"]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    cmd = [sys.executable, "-m", "pytest", *extra]
    if without_qt:
        env["SEGFIX_TEST_WITHOUT_QT"] = "1"
        cmd[3:3] = ["-p", "no:pytest-qt"]
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        "command:",
        ("SEGFIX_TEST_WITHOUT_QT=1 " if without_qt else "QT_QPA_PLATFORM=offscreen ") + " ".join(["python", *cmd[1:]]),
    )
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rc = subprocess.call(cmd, cwd=ROOT, env=env)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load1 = os.getloadavg()
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(f"suite: exit {rc}, wall {wall:.0f} s, CPU {cpu:.0f} s (user + system, with subprocesses)")
    print(
        "load average (1, 5, 15 min): before "
        + ", ".join(f"{x:.2f}" for x in load0)
        + "; after "
        + ", ".join(f"{x:.2f}" for x in load1)
    )
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
