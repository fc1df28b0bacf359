"""``segfix-gui``: open the inspector window (``entry`` is the console script).

Usage::

    segfix-gui                                   # empty window; File ▸ Open or drop files
    segfix-gui --demo                            # the bundled demo sample
    segfix-gui --image F --pred F --offsets F [--gt F] [--label-space NAME]
    segfix-gui --image F --pred F [--gt F]       # no offsets: Refine ▸ Predict offsets (Ctrl+Shift+P)
    segfix-gui --image DIR --pred DIR --offsets DIR [--gt DIR]   # a set, paired by file stem
    segfix-gui --folder DIR                      # a set: DIR/preds, DIR/offsets, [DIR/images, DIR/gt]
    segfix-gui --image F --instances F_pred.txt --offsets F [--gt-instances F]   # instance mode
    segfix-gui --instances DIR --offsets DIR [--image DIR] [--gt-instances DIR]  # an instance set
    segfix-gui --demo --screenshot out.png       # render offscreen after loading, save, exit
    segfix-gui --demo --upper-bound              # the demo with offsets from its ground truth
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="segfix-gui", description="See, tune and apply SegFix boundary refinement: the inspector window."
    )
    src = p.add_argument_group("what to open (files, or folders for a set paired by stem)")
    src.add_argument("--demo", action="store_true", help="open the bundled demo sample")
    src.add_argument("--image", metavar="F", help="the RGB image (optional)")
    src.add_argument("--pred", metavar="F", help="the prediction: a label map PNG")
    src.add_argument(
        "--offsets",
        metavar="F",
        help="the offset field (.npz or openseg .mat); "
        "optional for one sample with --image: Refine ▸ Predict offsets makes it",
    )
    src.add_argument("--gt", metavar="F", help="the ground truth label map (optional)")
    src.add_argument(
        "--folder", metavar="DIR", help="a set folder with preds/ and offsets/ (and optional images/, gt/) sub-folders"
    )
    src.add_argument(
        "--instances",
        metavar="F",
        help="instance mode: Cityscapes instance "
        "predictions (<image>_pred.txt with its mask PNGs), with --offsets; a folder "
        "of them (with folders for the others) opens an instance set",
    )
    src.add_argument(
        "--gt-instances",
        metavar="F",
        help="instance mode: the ground truth (*_gtFine_instanceIds.png), for mask IoU and boundary F per instance",
    )
    p.add_argument(
        "--label-space",
        metavar="NAME",
        default=None,
        help="cityscapes, cityscapes-trainid, camvid, ade20k or a JSON spec path (default: the demo's, else camvid)",
    )
    p.add_argument(
        "--upper-bound",
        action="store_true",
        help="show the upper bound once loaded: offsets computed from the sample's "
        "ground truth (as segfix gt-offsets), in place of its own offsets",
    )
    p.add_argument(
        "--view",
        choices=("side", "single"),
        default=None,
        help="start with before | after side by side, or a single view with a swipe",
    )
    p.add_argument(
        "--screenshot", metavar="PNG", help="render the window offscreen after loading, save it to PNG and exit"
    )
    p.add_argument(
        "--region",
        metavar="R0,C0,R1,C1",
        type=_ints(4),
        default=None,
        help="zoom to rows R0..R1, columns C0..C1 once loaded",
    )
    p.add_argument(
        "--inspect",
        metavar="ROW,COL",
        type=_ints(2),
        default=None,
        help="inspect this pixel once loaded (as if the cursor were on it)",
    )
    p.add_argument(
        "--select",
        metavar="K",
        type=int,
        default=None,
        help="instance mode: select the K-th instance of the _pred.txt (1-based) once "
        "loaded, zoomed to and highlighted",
    )
    p.add_argument(
        "--size",
        metavar="WxH",
        type=_size,
        default=None,
        help="window size (default: 1600x1000 for a screenshot; a first start fits the screen, at most 1600x1000)",
    )
    return p


def _ints(n: int):
    def parse(text: str) -> tuple[int, ...]:
        try:
            vals = tuple(int(v) for v in text.split(","))
        except ValueError:
            vals = ()
        if len(vals) != n:
            raise argparse.ArgumentTypeError(f"expected {n} integers separated by commas, not {text!r}")
        return vals

    return parse


MAX_SIZE = (7680, 4320)
"""Largest window (8K UHD): a screenshot of it is 133 MB of pixels, held a few times over."""


def _size(text: str) -> tuple[int, int]:
    """An argparse type: ``WxH`` pixels, each from 1 to :data:`MAX_SIZE`'s."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be WxH, not {text!r}") from None
    if not (1 <= w <= MAX_SIZE[0] and 1 <= h <= MAX_SIZE[1]):
        raise argparse.ArgumentTypeError(
            f"{w}x{h}: a window is from 1x1 to {MAX_SIZE[0]}x{MAX_SIZE[1]} pixels (8K; larger needs GBs)"
        )
    return w, h


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    files = [args.image, args.pred, args.offsets, args.gt]
    inst = [args.instances, args.gt_instances]
    if any(inst):
        if args.demo or args.folder or args.pred or args.gt:
            print(
                "segfix-gui: error: --instances/--gt-instances open an instance sample: give "
                "them with --offsets (and --image), not with --demo, --folder, --pred or --gt",
                file=sys.stderr,
            )
            return 2
        if not (args.instances and args.offsets):
            print("segfix-gui: error: instance mode needs --instances and --offsets", file=sys.stderr)
            return 2
    if args.demo and (any(files) or args.folder):
        print("segfix-gui: error: --demo opens the bundled sample; give no other inputs", file=sys.stderr)
        return 2
    if args.folder and any(files):
        print("segfix-gui: error: give --folder or --image/--pred/--offsets/--gt, not both", file=sys.stderr)
        return 2
    dirs = [f for f in files if f and Path(f).is_dir()] if not any(inst) else []
    if dirs and len(dirs) != len([f for f in files if f]):
        print(
            "segfix-gui: error: give all of --image/--pred/--offsets/--gt as files, or all as folders", file=sys.stderr
        )
        return 2
    if args.screenshot and "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ..errors import InputError
    from ..io.samples import SamplePaths
    from ..labels import get_label_space
    from ..session.guard import check_screenshot, output_guard
    from .window import APP, ORG, MainWindow

    if args.screenshot:  # never onto an input of the sample or set: refused before anything opens
        try:
            inputs = [args.image, args.pred, args.offsets, args.gt, args.instances, args.gt_instances]
            check_screenshot(args.screenshot, *inputs, folder=args.folder)
        except InputError as err:
            print(f"segfix-gui: error: {err}", file=sys.stderr)
            return 2

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    if args.label_space:
        try:
            get_label_space(args.label_space)
        except InputError as err:
            print(f"segfix-gui: error: {err}", file=sys.stderr)
            return 2
    win = MainWindow()
    session = win.session
    if args.size is not None:
        win.resize(*args.size)
    elif args.screenshot:  # screenshots: the default arrangement, at a known size
        win.resize(1600, 1000)
    elif not win.restore_layout():
        win.fit_to_screen()
    if args.view:
        session.set_view(mode=args.view)
    status = {"code": 0}
    arranged = {"done": False}

    def arrange(sample, *_old) -> None:
        if sample is None or arranged["done"]:
            return
        arranged["done"] = True  # once, for the first sample opened
        if args.region:
            r0, c0, r1, c1 = args.region
            session.set_camera((r0, c0, r1, c1))
        if args.inspect:
            session.set_cursor(tuple(args.inspect))
            if session.cursor is None:  # outside the image: said, not silently dropped
                h, w = sample.shape
                print(
                    f"segfix-gui: warning: --inspect {args.inspect[0]},{args.inspect[1]} is outside the "
                    f"{h}×{w} image (rows 0..{h - 1}, columns 0..{w - 1})",
                    file=sys.stderr,
                )
        if args.upper_bound and session.can_show_upper_bound()[0]:
            session.show_upper_bound(True)
        if args.select is not None and sample.is_instances:
            if 1 <= args.select <= len(sample.instances):
                session.select_instance(args.select - 1)
            else:
                print(
                    f"segfix-gui: warning: --select {args.select}: the sample has {len(sample.instances)} instances",
                    file=sys.stderr,
                )

    session.events.sample.connect(arrange)

    if args.screenshot:

        def fail(message: str) -> None:
            print(f"segfix-gui: error: {message}", file=sys.stderr)
            status["code"] = 2
            # may run before app.exec() (a file that fails at once): quit from the event loop
            QTimer.singleShot(0, app.quit)

        session.failed.disconnect(win.show_error)
        session.failed.connect(fail)
        win.show_error = fail  # a bad file ends the run with its message instead of a dialog

    if args.demo:
        win.open_demo()
    elif any(inst) and Path(args.instances).is_dir():  # an instance set, by folder per role
        if not win.open_set(image=args.image, pred=args.instances, offsets=args.offsets, gt=args.gt_instances):
            if args.screenshot:
                return 2
    elif any(inst):
        win.open_paths(
            SamplePaths(
                image=args.image, instances=args.instances, offsets=args.offsets, gt_instances=args.gt_instances
            )
        )
    elif args.folder or dirs:
        if not win.open_set(
            folder=args.folder,
            image=args.image if dirs else None,
            pred=args.pred if dirs else None,
            offsets=args.offsets if dirs else None,
            gt=args.gt if dirs else None,
            space=args.label_space,
        ):
            if args.screenshot:
                return 2
    elif any(files):
        paths = SamplePaths(image=args.image, pred=args.pred, offsets=args.offsets, gt=args.gt)
        if args.screenshot and paths.missing():
            print(
                "segfix-gui: error: --pred is needed (--offsets is optional: without it, "
                "Refine ▸ Predict offsets makes them from the image)",
                file=sys.stderr,
            )
            return 2
        win.open_paths(paths, args.label_space)
    win.show()

    if args.screenshot:
        expect = bool(args.demo or args.folder or dirs or any(files) or any(inst))
        deadline = time.monotonic() + 120

        def poll() -> None:
            ready = (not expect) or (
                session.result is not None
                and session.result_is_current()
                and (session.upper_bound or not args.upper_bound or not session.can_show_upper_bound()[0])
            )
            busy = any(win.runner.busy(k) for k in ("load", "refine", "set", "upper", "borders", "set-borders"))
            if session.sample is None and session.sample_error:  # a set's first sample failed: show it
                ready, busy = True, win.runner.busy("load")
            if status["code"]:  # a failure was reported: its message is out, end now
                app.quit()
            elif ready and not busy:
                try:  # nor onto any file of what opened (the demo's, a set's every sample's)
                    with output_guard(win.session.sample, win.session.set_samples).active():
                        win.save_screenshot(args.screenshot)
                    print(f"screenshot written to {args.screenshot}")
                except InputError as err:
                    print(f"segfix-gui: error: {err}", file=sys.stderr)
                    status["code"] = 2
                except OSError as err:
                    print(f"segfix-gui: error: {args.screenshot}: {err}", file=sys.stderr)
                    status["code"] = 2
                app.quit()
            elif time.monotonic() > deadline:
                print("segfix-gui: error: timed out waiting for the sample to load", file=sys.stderr)
                status["code"] = 2
                app.quit()
            else:
                QTimer.singleShot(50, poll)

        QTimer.singleShot(50, poll)
    code = app.exec()
    return status["code"] or code


def entry() -> None:  # console script
    sys.exit(main())


if __name__ == "__main__":
    entry()
