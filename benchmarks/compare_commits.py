"""Run one benchmark script on an earlier commit and on this tree, alternately, in one run.

    python benchmarks/compare_commits.py BASE [--rounds 3] [--pattern REGEX] -- SCRIPT [ARGS…]

``BASE`` is checked out with ``git worktree`` into a temporary folder (removed afterwards);
the script (a path relative to the repository, e.g. ``benchmarks/gui_latency.py``) runs from
each tree in turn — base, this tree, base, … — so both see the same machine load. The figures
compared are the lines matching ``--pattern``, whose first number is taken (default: the
``median_ms=…`` line that ``gui_latency.py`` prints last). Prints each round, the medians and
their ratio. ``--same-script`` runs *this tree's* copy of the script on both trees (each still
imports its own ``segfix_gui``): the way to compare two commits when the benchmark itself
changed. Both trees use the same Python (the one running this script); the script is run
with the tree as its working folder, so each imports its own ``segfix_gui``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(tree: Path, script: list[str], pattern: re.Pattern) -> tuple[list[float], str]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    r = subprocess.run([sys.executable, *script], cwd=tree, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{tree}: {' '.join(script)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    values = []
    for line in r.stdout.splitlines():
        if pattern.search(line):
            m = re.search(r"[-+]?\d+(?:\.\d+)?", line[pattern.search(line).end() :] or line)
            if m:
                values.append(float(m.group()))
    return values, r.stdout


def main() -> int:
    argv = sys.argv[1:]
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    cut = argv.index("--")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", help="the earlier commit")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pattern", default=r"^median_ms=", help="lines whose first number is compared")
    ap.add_argument("--show", default="", help="also print the lines matching this regex")
    ap.add_argument("--same-script", action="store_true", help="run this tree's copy of the script on both trees")
    a = ap.parse_args(argv[:cut])
    script = argv[cut + 1 :]
    if a.same_script:
        script[0] = str(ROOT / script[0])
    pattern = re.compile(a.pattern)
    show = re.compile(a.show) if a.show else None
    with tempfile.TemporaryDirectory(prefix="segfix-base-") as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base_tree), a.base], cwd=ROOT, check=True)
        # the base tree sits beside a link to ../shared, as this checkout does
        if (ROOT.parent / "shared").exists():
            os.symlink(ROOT.parent / "shared", Path(tmp) / "shared")
        try:
            got: dict[str, list[float]] = {"base": [], "this tree": []}
            for rnd in range(a.rounds):
                for name, tree in (("base", base_tree), ("this tree", ROOT)):
                    values, out = run_once(tree, script, pattern)
                    got[name] += values
                    print(f"round {rnd + 1}, {name}: {', '.join(f'{v:g}' for v in values)}", flush=True)
                    if show:
                        for line in out.splitlines():
                            if show.search(line):
                                print(f"    {line}")
            mb, mt = statistics.median(got["base"]), statistics.median(got["this tree"])
            print(f"median: base ({a.base}) {mb:g}, this tree {mt:g}; ratio base/this {mb / mt:.2f}")
            print(f"load average at the end: {os.getloadavg()}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
