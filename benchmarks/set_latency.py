"""The window on a whole set: threshold moves, opening a set, and memory on a large one.

Three measurements, each in its own part (``--part``):

- ``moves``: CamVid val (101 frames) opened as a folder set in the window (offscreen); the
  threshold spin box is set as a user would, and the clock stops when the set's figures (every
  sample at the new setting, summed: the Metrics panel's "the set" rows and the samples list)
  show that setting *and* the open sample's refined view and table do, and Qt has painted.
  Medians over ``--moves`` moves, for the set and (the same window) for the sample alone; then
  over a few moves, until the set's boundary profile (the Boundary panel) is measured too.
- ``open``: the same set opened in a fresh process (cold: the interpreter's start and every
  import count) and then again in that running session (warm: what a user opening a set in
  the window waits), each until every sample is scored at the first sample's recommended
  setting and until the set's boundary measures are in too, against ``segfix evaluate --gt
  --pred --refined --workers 2`` on the same files (refined beforehand by ``segfix refine``
  at that setting; a whole process, boundary measures included), alternately, ``--rounds``
  times. Prints the ratios evaluate / window (≥ 1: the window is at least as fast) and when
  the first rows showed.
- ``memory``: a 500-sample set at 1024×2048, made by enlarging the 101 CamVid val frames
  (nearest for labels and offsets; the 500 names reuse the 101 frames' files through symbolic
  links), opened in the window (offscreen) in a fresh process, scored, then browsed through
  ``--browse`` samples; prints the peak resident memory (VmHWM).

The set: CamVid val ground truth (``../shared/data/camvid/val``), simulated stride-8
predictions (``segfix degrade``), offsets predicted by the bundled network; made once in
``--work`` and reused.

    QT_QPA_PLATFORM=offscreen python benchmarks/set_latency.py [--part moves|open|memory|all]

It prints the machine and its load average; compare figures only from one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
CAMVID = ROOT.parent / "shared" / "data" / "camvid" / "val"
sys.path.insert(0, str(ROOT / "benchmarks"))


def load_avg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def segfix(*argv: str) -> float:
    """Run ``segfix ARGV`` in a fresh process; its wall time in seconds."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "segfix_gui.cli", *argv], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"segfix {' '.join(argv)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return time.perf_counter() - t0


def camvid_set(work: Path) -> Path:
    """CamVid val as a set folder: images and gt linked, preds degraded, offsets predicted."""
    root = work / "camvid_val"
    if (root / "offsets").is_dir() and len(list((root / "offsets").glob("*.npz"))) == 101:
        return root
    root.mkdir(parents=True, exist_ok=True)
    for sub, src in (("images", "images"), ("gt", "labels")):
        if not (root / sub).exists():
            (root / sub).symlink_to(CAMVID / src)
    print("making the CamVid val set (degrade, predict-offsets)…", flush=True)
    segfix("degrade", "--labels", str(root / "gt"), "--out", str(root / "preds"), "--stride", "8")
    segfix("predict-offsets", "--images", str(root / "images"), "--out", str(root / "offsets"))
    return root


def big_set(work: Path, n: int, size: tuple[int, int] = (1024, 2048)) -> Path:
    """``n`` samples at ``size``: the 101 frames enlarged once, the rest linked to them."""
    import numpy as np

    from segfix_gui.core.offsets import OffsetField
    from segfix_gui.io.images import read_labels, write_labels
    from segfix_gui.io.offsets import read_offsets, write_offsets
    from segfix_gui.labels import get_label_space

    src = camvid_set(work)
    root = work / f"big_{n}_{size[0]}x{size[1]}"
    done = root / ".done"
    if done.exists():
        return root
    space = get_label_space("camvid")
    frames = sorted(p.stem for p in (src / "preds").glob("*.png"))
    h, w = size
    for sub in ("preds", "gt", "offsets", "base"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    print(f"making {len(frames)} frames at {h}×{w}…", flush=True)
    for k, name in enumerate(frames):
        base = root / "base" / name
        if not base.with_suffix(".npz").exists():
            gt = read_labels(src / "gt" / f"{name}.png", space)
            rows = (np.arange(h) * gt.shape[0] // h)[:, None]
            cols = (np.arange(w) * gt.shape[1] // w)[None, :]
            write_labels(base.with_name(f"{name}_gt.png"), gt[rows, cols])
            pred = read_labels(src / "preds" / f"{name}.png", space)
            write_labels(base.with_name(f"{name}_pred.png"), pred[rows, cols])
            f = read_offsets(src / "offsets" / f"{name}.npz")
            big = OffsetField(
                boundary=f.boundary[rows, cols], direction=f.direction[:, rows, cols], recommended=f.recommended
            )
            write_offsets(base.with_suffix(".npz"), big)
        if k % 20 == 0:
            print(f"  {k}/{len(frames)}", flush=True)
    for i in range(n):
        name = frames[i % len(frames)]
        key = f"s{i:04d}_{name}"
        for sub, suffix, target in (
            ("preds", ".png", f"{name}_pred.png"),
            ("gt", ".png", f"{name}_gt.png"),
            ("offsets", ".npz", f"{name}.npz"),
        ):
            link = root / sub / f"{key}{suffix}"
            if not link.exists():
                link.symlink_to(root / "base" / target)
    done.write_text("ok")
    return root


# --- moves -----------------------------------------------------------------------------------


def part_moves(work: Path, moves: int) -> None:
    from gui_latency import machine
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from segfix_gui.gui.window import MainWindow

    root = camvid_set(work)
    win = MainWindow(settings=QSettings(str(work / "s.ini"), QSettings.Format.IniFormat))
    win.resize(1600, 1000)
    win.show()
    app.processEvents()
    s = win.session

    def wait(cond, timeout=300.0):
        end = time.monotonic() + timeout
        loop = QEventLoop()
        check = QTimer()
        check.setInterval(5)
        check.timeout.connect(lambda: cond() and loop.quit())
        check.start()
        try:
            while not cond():
                if time.monotonic() > end:
                    raise TimeoutError("timed out")
                loop.exec()
        finally:
            check.stop()

    wait(lambda: not win.runner.busy("probe"))
    win.open_set(folder=str(root), space="camvid", remember=False)
    wait(lambda: s.scores is not None and s.scores.done and not win.runner.busy())
    held = s.controller.scorer
    print(f"set: {len(s.set_samples)} samples, {len(held.held)} held ({held.held_bytes / 2**20:.0f} MB)")
    spin = win.panels["controls"].threshold.spin
    metrics = win.panels["metrics"]

    def shown_at(v) -> bool:
        sc = s.scores
        return (
            sc is not None
            and sc.done
            and sc.setting.threshold == v
            and s.result_is_current()
            and s.result.setting.threshold == v
            and not win.runner.busy("set")
            and not win.runner.busy("refine")
        )

    values = [round(0.55 + 0.4 * ((i * 7) % moves) / max(moves - 1, 1), 3) for i in range(moves + 1)]
    times = []
    for v in values:
        if abs(v - s.setting.threshold) < 1e-9:
            continue
        t0 = time.perf_counter()
        spin.setValue(v)
        wait(lambda v=v: shown_at(v))
        app.processEvents()  # the panels' updates and the views' paint
        for view in win.canvas.views:
            view.viewport().repaint()
        times.append((time.perf_counter() - t0) * 1000)
    summary = s.set_summary(wait=False)
    assert metrics.set_grid.cells["miou"][1].text() == f"{100 * summary['refined']['miou']:.2f}"
    print(
        f"threshold move, {len(s.set_samples)}-sample set → set figures + samples list + sample view: median "
        f"{statistics.median(times):.1f} ms (min {min(times):.1f}, max {max(times):.1f}, {len(times)} moves)"
    )

    # the Boundary panel's set curves: from a move until the whole set's profile is measured
    def borders_at(v) -> bool:
        sb = s.set_borders
        return shown_at(v) and sb is not None and sb.done and sb.setting.threshold == v

    prof = []
    for v in values[: max(3, moves // 4)]:
        if abs(v - s.setting.threshold) < 1e-9:
            continue
        t0 = time.perf_counter()
        spin.setValue(v)
        wait(lambda v=v: borders_at(v))
        prof.append((time.perf_counter() - t0) * 1000)
    print(
        f"threshold move → the set's boundary profile and boundary IoU (Boundary panel): median "
        f"{statistics.median(prof):.0f} ms ({len(prof)} moves)"
    )
    # the sample alone: the same window on one sample (no set)
    sample = s.set_samples[0]
    win.open_paths(sample, "camvid", remember=False)
    wait(lambda: not s.set_samples and s.result_is_current() and not win.runner.busy())
    single = []
    for v in values:
        if abs(v - s.setting.threshold) < 1e-9:
            continue
        t0 = time.perf_counter()
        spin.setValue(v)
        wait(lambda v=v: s.result_is_current() and s.result.setting.threshold == v and not win.runner.busy("refine"))
        app.processEvents()
        for view in win.canvas.views:
            view.viewport().repaint()
        single.append((time.perf_counter() - t0) * 1000)
    print(f"threshold move, one sample (360×480): median {statistics.median(single):.1f} ms")
    print(f"machine: {machine()}; load average {load_avg()}")
    win.close()


# --- open ------------------------------------------------------------------------------------


OPEN_SCRIPT = r"""
import sys, time
spawned = float(sys.argv[2])  # the parent's time.time() when it started this process
from segfix_gui.session import Session
s = Session()
first = []
def seen(v, *_):
    if v is not None and v.n_scored and not first:
        first.append(time.time())
s.events.scores.connect(seen)

def pump(cond):
    while not cond():
        s.jobs.wait(0.01) if s.jobs.busy() else s.jobs.process_events()

def open_set(t0):
    first.clear()
    s.open_folder(sys.argv[1], "camvid")
    pump(lambda: s.scores is not None and s.scores.done)
    scored = time.time() - t0
    pump(lambda: s.set_borders is not None and s.set_borders.done and not s.jobs.busy())
    return first[0] - t0, scored, time.time() - t0

cold = open_set(spawned)  # a fresh process: the interpreter's start and every import count
warm = open_set(time.time())  # the same set again in the running session (a new set: files read again)
st = s.setting
print(*(f"{v:.3f}" for v in cold + warm), st.threshold, st.scale, st.min_direction_prob)
s.close()
"""


def part_open(work: Path, rounds: int) -> None:
    """Opening a set in a fresh process (cold) and again in the running session (warm), until
    every sample is scored and until the set's boundary measures are in too, against
    ``segfix evaluate --workers 2`` (a whole process: every figure, boundary measures
    included), alternately."""
    root = camvid_set(work)
    out = work / "refined"
    runs: list[list[float]] = []
    theirs: list[float] = []
    setting = None
    for r in range(rounds):
        p = subprocess.run(
            [sys.executable, "-c", OPEN_SCRIPT, str(root), repr(time.time())], capture_output=True, text=True
        )
        if p.returncode != 0:
            raise SystemExit(p.stderr[-3000:])
        *times, t, sc, m = p.stdout.split()
        runs.append([float(v) for v in times])
        if setting is None:
            setting = (t, sc, m)
            segfix(
                "refine", "--input", str(root / "preds"), "--offset", str(root / "offsets"), "--out", str(out),
                "--threshold", t, "--scale", sc, "--min-direction-prob", m, "--label-space", "camvid",
            )  # fmt: skip
        theirs.append(
            segfix(
                "evaluate",
                "--gt",
                str(root / "gt"),
                "--pred",
                str(root / "preds"),
                "--refined",
                str(out),
                "--label-space",
                "camvid",
                "--workers",
                "2",
            )  # fmt: skip
        )
        c1, c2, c3, w1, w2, w3 = runs[-1]
        print(
            f"round {r + 1}: cold session: first rows {c1:.2f} s, scored {c2:.2f} s, with boundary measures "
            f"{c3:.2f} s | warm: first rows {w1:.2f} s, scored {w2:.2f} s, with boundary measures {w3:.2f} s | "
            f"segfix evaluate --workers 2: {theirs[-1]:.2f} s",
            flush=True,
        )
    med = [statistics.median(col) for col in zip(*runs, strict=True)]
    b = statistics.median(theirs)
    assert setting is not None
    print(f"opening the 101-sample set, scored at threshold {setting[0]}, scale {setting[1]} (medians of {rounds}):")
    print(f"  segfix evaluate --workers 2 (whole process, every figure): {b:.2f} s")
    for name, (first, scored, full) in (("cold (a fresh process)", med[:3]), ("warm (the running session)", med[3:])):
        print(
            f"  window session, {name}: first rows {first:.2f} s; scored {scored:.2f} s (ratio evaluate/window "
            f"{b / scored:.2f}); with the set's boundary measures {full:.2f} s (ratio {b / full:.2f})"
        )
    print(f"load average {load_avg()}")


# --- memory ----------------------------------------------------------------------------------


MEMORY_SCRIPT = r"""
import sys, time
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
from segfix_gui.gui.window import MainWindow

def rss():
    out = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS", "VmHWM")):
            k, v = line.split(":")
            out[k] = int(v.split()[0]) / 1024
    return out

win = MainWindow(settings=QSettings(sys.argv[2], QSettings.Format.IniFormat))
win.resize(1600, 1000)
win.show()
s = win.session
def wait(cond, timeout=3600):
    end = time.monotonic() + timeout
    while not cond():
        app.processEvents()
        time.sleep(0.01)
        if time.monotonic() > end:
            raise SystemExit("timed out")
t0 = time.perf_counter()
win.open_set(folder=sys.argv[1], space="camvid", remember=False)
wait(lambda: s.scores is not None and s.scores.done)
scored = time.perf_counter() - t0
wait(lambda: not win.runner.busy())
for i in range(int(sys.argv[3])):
    s.step(1)
    wait(lambda: s.result_is_current() and not win.runner.busy())
m = rss()
sc = s.controller.scorer
print(f"{len(s.set_samples)} {scored:.1f} {m['VmRSS']:.0f} {m['VmHWM']:.0f} {len(sc.held)} {sc.held_bytes / 2**20:.0f}")
win.close()
"""


def part_memory(work: Path, n: int, browse: int) -> None:
    root = big_set(work, n)
    p = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(root), str(work / "m.ini"), str(browse)],
        capture_output=True,
        text=True,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
    )
    if p.returncode != 0:
        raise SystemExit(p.stderr[-3000:])
    count, scored, rss, hwm, held, held_mb = p.stdout.split()[-6:]
    print(
        f"{count}-sample set at 1024×2048 in the window: scored in {scored} s, browsed {browse} samples; "
        f"resident {rss} MB, peak {hwm} MB (goal ≤ 1536); {held} samples held ({held_mb} MB)"
    )
    print(f"load average {load_avg()}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("moves", "open", "memory", "all"), default="all")
    ap.add_argument("--work", type=Path, default=Path("/tmp/segfix-set-bench"), help="where the sets are made")
    ap.add_argument("--moves", type=int, default=21)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--samples", type=int, default=500, help="samples of the memory part's set")
    ap.add_argument("--browse", type=int, default=10, help="samples browsed in the memory part")
    args = ap.parse_args(argv)
    if not CAMVID.is_dir():
        print(f"set_latency: {CAMVID} not found", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    if args.part in ("moves", "all"):
        part_moves(args.work, args.moves)
    if args.part in ("open", "all"):
        part_open(args.work, args.rounds)
    if args.part in ("memory", "all"):
        part_memory(args.work, args.samples, args.browse)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
