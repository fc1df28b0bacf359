"""Latency of the inspector window on a 1024×2048 sample, driving the real widgets offscreen.

Measures, on this machine:

- opening: from ``open_paths`` until the first refined result is drawn and the IoU table filled;
- threshold move: the threshold spin box is set (as a user would) and the clock stops when the
  refined layer and the IoU table show that setting and Qt has painted every visible view since
  the result arrived (the event loop runs as in the application; paints are counted on the
  views' viewports; a view not painted within 2 s is repainted by force and the move counted
  as such);
- pan/zoom repaint with arrows: the view is moved, the arrows recomputed for the visible
  rectangle, and the views repainted (synchronously);
- resident memory with the sample open.

To compare with an earlier commit in one run, the same script on both trees::

    QT_QPA_PLATFORM=offscreen python benchmarks/compare_commits.py BASE --same-script --rounds 3 \
        --show "threshold move|3840|opening" -- benchmarks/gui_latency.py

The sample: the Cityscapes val frame in ``../shared/data/cityscapes_mini`` enlarged ×8 to
1024×2048 (nearest for labels, bilinear for the image), a stride-8 simulated prediction
(``degrade``), and a *synthetic* offset field: ground-truth directions softened with noise and a
boundary probability graded at random (so the threshold moves a realistic share of pixels). It
is a timing fixture, not a model's output.

Usage::

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_latency.py [--moves 21] [--pans 30]
    QT_QPA_PLATFORM=offscreen python benchmarks/gui_latency.py --startup 5
    QT_QPA_PLATFORM=offscreen python benchmarks/gui_latency.py --pans-only   # skip the threshold moves

The last line printed is ``median_ms=<threshold-move median>``.

``--startup N`` instead times N fresh processes opening the bundled demo, two ways: torch
imported in the background by the window's device probe (as shipped: jobs that need torch
wait for that one import) and torch imported on the main thread before the window is made.
It reports, from the first line of the script, when the window is shown and when the first
refined result is drawn.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "cityscapes_mini"
FRAME = "frankfurt_000000_000294"


def make_sample(folder: Path) -> dict:
    import numpy as np
    from PIL import Image

    from segfix_gui.core.degrade import degrade
    from segfix_gui.core.offsets import OffsetField
    from segfix_gui.core.targets import gt_offset_field
    from segfix_gui.io.images import read_image, read_labels, write_labels, write_png
    from segfix_gui.io.offsets import write_offsets
    from segfix_gui.labels import get_label_space

    space = get_label_space("cityscapes")
    img = read_image(DATA / "leftImg8bit" / "val" / "frankfurt" / f"{FRAME}_leftImg8bit.png")
    gt = read_labels(DATA / "gtFine" / "val" / "frankfurt" / f"{FRAME}_gtFine_labelIds.png", space)
    size = (2048, 1024)
    img = np.asarray(Image.fromarray(img).resize(size, Image.BILINEAR))
    gt = np.asarray(Image.fromarray(gt).resize(size, Image.NEAREST))
    pred = degrade(gt, space, stride=8)
    oracle = gt_offset_field(gt, ignore_ids=space.ignore_ids)
    rng = np.random.default_rng(0)
    boundary = np.clip(
        oracle.boundary * rng.uniform(0.35, 1.0, gt.shape) + rng.uniform(0.0, 0.3, gt.shape), 0, 1
    ).astype(np.float32)
    direction = 0.6 * oracle.direction + 0.4 * rng.dirichlet(np.ones(8), gt.shape).transpose(2, 0, 1)
    field = OffsetField(boundary=boundary, direction=direction.astype(np.float32))
    paths = {
        "image": folder / "x.png",
        "pred": folder / "x_pred.png",
        "offsets": folder / "x.npz",
        "gt": folder / "x_gt.png",
    }
    write_png(paths["image"], img)
    write_labels(paths["pred"], pred)
    write_labels(paths["gt"], gt)
    write_offsets(paths["offsets"], field)
    return {k: str(v) for k, v in paths.items()}


def rss_mb() -> tuple[float, float]:
    vals = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                vals[k] = int(v.split()[0]) / 1024
    return vals.get("VmRSS", float("nan")), vals.get("VmHWM", float("nan"))


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import pyqtgraph
    import PySide6

    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}, PySide6 {PySide6.__version__}, pyqtgraph {pyqtgraph.__version__}, "
        f"Qt platform {os.environ.get('QT_QPA_PLATFORM')}"
    )


STARTUP_SCRIPT = r"""
import sys, time
t0 = time.perf_counter()
from PySide6.QtWidgets import QApplication
app = QApplication([])
if sys.argv[1] == "main-thread":
    import torch  # noqa: F401
from PySide6.QtCore import QSettings
from segfix_gui.gui.window import MainWindow
win = MainWindow(settings=QSettings(sys.argv[2], QSettings.Format.IniFormat))
win.resize(1600, 1000)
win.show()
app.processEvents()
shown = time.perf_counter() - t0
win.open_demo()
st = win.session
while not (st.result is not None and st.result_is_current() and not win.runner.busy("refine")):
    app.processEvents()
    time.sleep(0.002)
for v in win.canvas.views:
    v.viewport().repaint()
print(f"{shown * 1000:.0f} {(time.perf_counter() - t0) * 1000:.0f}")
win.close()
"""


def startup(n: int) -> int:
    """Time ``n`` fresh start-ups each way (see the module docstring)."""
    import subprocess

    results = {}
    with tempfile.TemporaryDirectory(prefix="segfix-gui-start-") as tmp:
        for i in range(n):
            for mode in ("background", "main-thread"):  # interleaved: same machine load
                proc = subprocess.run(
                    [sys.executable, "-c", STARTUP_SCRIPT, mode, str(Path(tmp) / f"s{i}.ini")],
                    capture_output=True,
                    text=True,
                    env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
                    timeout=300,
                )
                if proc.returncode != 0:
                    print(proc.stderr, file=sys.stderr)
                    return 1
                shown, first = (float(v) for v in proc.stdout.split()[-2:])
                results.setdefault(mode, []).append((shown, first))
    for mode, vals in results.items():
        shown = statistics.median(v[0] for v in vals)
        first = statistics.median(v[1] for v in vals)
        print(
            "start-up, torch imported "
            f"{'in the background (as shipped)' if mode == 'background' else 'on the main thread first'}: "
            f"window shown {shown:.0f} ms, demo refined and drawn {first:.0f} ms "
            f"(medians of {len(vals)} processes)"
        )
    print(f"machine: {machine()}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moves", type=int, default=21, help="threshold moves timed (default 21)")
    ap.add_argument("--pans", type=int, default=30, help="pan/zoom repaints timed (default 30)")
    ap.add_argument("--opens", type=int, default=3, help="openings timed (default 3)")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--pans-only", action="store_true", help="time only opening and pan/zoom")
    ap.add_argument(
        "--startup",
        type=int,
        default=0,
        metavar="N",
        help="instead: time N fresh start-ups with torch imported in the background vs on the main thread",
    )
    args = ap.parse_args(argv)
    if args.startup:
        return startup(args.startup)
    if not DATA.is_dir():
        print(f"gui_latency: {DATA} not found", file=sys.stderr)
        return 2

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from segfix_gui.gui.window import MainWindow
    from segfix_gui.io.samples import SamplePaths

    tmp = tempfile.TemporaryDirectory(prefix="segfix-gui-bench-")
    print("making the 1024×2048 sample…", flush=True)
    paths = SamplePaths(**make_sample(Path(tmp.name)))
    rss0, _ = rss_mb()

    win = MainWindow(settings=QSettings(str(Path(tmp.name) / "s.ini"), QSettings.Format.IniFormat))
    win.resize(1600, 1000)
    win.show()
    app.processEvents()
    st = win.session
    st.set_setting(device=args.device)

    def wait(cond, timeout=120.0):
        """Run the Qt event loop (as the application does) until ``cond()`` holds."""
        end = time.monotonic() + timeout
        loop = QEventLoop()
        check = QTimer()
        check.setInterval(50)  # a fallback; results wake the loop through runner.delivered
        check.timeout.connect(lambda: cond() and loop.quit())
        win.runner.delivered.connect(loop.quit)
        try:
            while not cond():
                if time.monotonic() > end:
                    raise TimeoutError("timed out")
                check.start()
                loop.exec()
        finally:
            check.stop()
            win.runner.delivered.disconnect(loop.quit)

    def repaint():
        for v in win.canvas.views:
            if not v.isHidden():
                v.viewport().repaint()

    from PySide6.QtCore import QEvent, QObject

    class PaintCounter(QObject):
        """Counts the paint events each view's viewport receives."""

        def __init__(self):
            super().__init__()
            self.n = {id(v.viewport()): 0 for v in win.canvas.views}
            self.on_paint = None

        def eventFilter(self, obj, ev):  # noqa: N802 - Qt name
            if ev.type() == QEvent.Type.Paint and id(obj) in self.n:
                self.n[id(obj)] += 1
                if self.on_paint is not None:
                    self.on_paint()  # e.g. quit a waiting loop: it returns once this paint is done
            return False

    painted = PaintCounter()
    for v in win.canvas.views:
        v.viewport().installEventFilter(painted)
    seen = {}  # view paints counted when the result arrived

    def note_delivery(kind):
        if kind == "refine":
            seen.update(painted.n)

    win.runner.delivered.connect(note_delivery)

    def views_painted() -> bool:
        return all(
            painted.n[id(v.viewport())] > seen.get(id(v.viewport()), 0) for v in win.canvas.views if not v.isHidden()
        )

    def wait_painted(timeout=2.0):
        """Run the event loop until every visible view has been painted since the result (the
        loop is woken by the paint itself, not by polling)."""
        if views_painted():
            return
        loop = QEventLoop()
        painted.on_paint = lambda: views_painted() and loop.quit()
        QTimer.singleShot(int(timeout * 1000), loop.quit)
        try:
            loop.exec()
        finally:
            painted.on_paint = None
        if not views_painted():
            raise TimeoutError("views not painted")

    # wait for the device probe (torch import) so it does not land inside a timing
    wait(lambda: not win.runner.busy("probe"))

    opens = []
    for _ in range(args.opens):
        prev = st.sample
        t0 = time.perf_counter()
        win.open_paths(paths, "cityscapes", remember=False)
        wait(
            lambda prev=prev: (
                st.sample is not prev
                and st.result is not None
                and st.result_is_current()
                and not win.runner.busy("refine")
            )
        )
        repaint()
        opens.append((time.perf_counter() - t0) * 1000)
    print(f"opening: {', '.join(f'{v:.0f}' for v in opens)} ms (median {statistics.median(opens):.0f})")

    table = win.panels["metrics"]
    spin = win.panels["controls"].threshold.spin
    values = [round(0.3 + 0.4 * ((i * 7) % args.moves) / max(args.moves - 1, 1), 3) for i in range(args.moves + 1)]
    moves, moving, forced = [], [], 0
    for v in values if not args.pans_only else ():
        if abs(v - st.setting.threshold) < 1e-9:
            continue
        t0 = time.perf_counter()
        spin.setValue(v)
        wait(
            lambda v=v: (
                st.result_is_current()
                and st.result.setting.threshold == v
                and table.rows
                and not win.runner.busy("refine")
            )
        )
        try:
            wait_painted()
        except TimeoutError:
            forced += 1
            repaint()
        moves.append((time.perf_counter() - t0) * 1000)
        moving.append(st.result.moving)
    if moves:
        print(
            f"threshold move → refined layer + IoU table + views painted: median "
            f"{statistics.median(moves):.1f} ms, min {min(moves):.1f}, max {max(moves):.1f} over "
            f"{len(moves)} moves ({min(moving):,}–{max(moving):,} pixels moving; "
            f"{forced} repainted by force)"
        )

    cv = win.canvas
    vb = cv.left.vb
    pans, counts = {}, {}

    def measure_pans(label, h, w):
        """Median time of ``args.pans`` pans over an h×w visible rectangle, arrows redrawn."""
        times = []
        repaint()  # the first paint after a change of size: not timed
        for i in range(args.pans):
            r0 = (i * 37) % max(1024 - h, 1)
            c0 = (i * 53) % max(2048 - w, 1)
            t0 = time.perf_counter()
            vb.setRange(xRange=(c0, c0 + w), yRange=(r0, r0 + h), padding=0)
            cv.update_arrows()
            repaint()
            times.append((time.perf_counter() - t0) * 1000)
        pans[label] = statistics.median(times)
        counts[label] = cv.arrow_count

    for label, (h, w) in (
        ("zoomed in (128×256 px visible)", (128, 256)),
        ("mid zoom (512×1024 px visible)", (512, 1024)),
        ("whole image", (1024, 2048)),
    ):
        measure_pans(label, h, w)
    # a large screen: one view filling a 3840×2160 window draws many more arrows
    win.resize(3840, 2160)
    st.set_view(mode="single")
    app.processEvents()
    for label, (h, w) in (
        ("3840×2160 window, single view, mid zoom", (512, 1024)),
        ("3840×2160 window, single view, whole image", (1024, 2048)),
    ):
        measure_pans(label, h, w)
    for label, ms in pans.items():
        print(
            f"pan/zoom repaint with arrows, {label}: median {ms:.1f} ms ({counts[label]:,} arrows at the last position)"
        )

    app.processEvents()
    rss, peak = rss_mb()
    print(f"resident memory with the sample open: {rss:.0f} MB (peak {peak:.0f} MB; {rss0:.0f} MB before the window)")
    print(f"machine: {machine()}")
    try:
        print(f"load average during the run (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    except OSError:
        pass
    win.close()
    tmp.cleanup()
    if moves:
        print(f"median_ms={statistics.median(moves):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
