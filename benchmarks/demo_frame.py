"""Per-frame gains of the bundled offset network on CamVid val, and the frame typical of them.

    python benchmarks/demo_frame.py [--pred runs/segmenter/val] [--weights F] [--data ../shared/data/camvid]
        [--json OUT.json]

For each val frame: its prediction — a real network's (``--pred``: the folder
``python benchmarks/segmenter.py train`` writes) or, without ``--pred``, the stride-8 simulated
one (``degrade``) — refined with the network's offsets at its recommended setting (the one
written into every field it predicts), and the frame's mIoU and boundary-F change. Prints how
many frames gain and lose, the medians, and the frame whose two changes are closest to the two
medians (distance in points, both axes alike): the demo sample's frame (``tools/make_demo.py
--frame``), so that the demo shows what the network typically does rather than its best or
worst frame.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from segfix_gui.core.degrade import degrade  # noqa: E402
from segfix_gui.core.metrics import evaluate_pair  # noqa: E402
from segfix_gui.core.refine import refine_labels  # noqa: E402
from segfix_gui.io.images import read_image, read_labels  # noqa: E402
from segfix_gui.labels import get_label_space  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "camvid"))
    ap.add_argument("--weights", default=None, help="default: the bundled weights")
    ap.add_argument("--pred", default=None, metavar="DIR", help="val predictions (default: simulated stride 8)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from segfix_gui.model.data import split_files
    from segfix_gui.model.predictor import OffsetPredictor

    space = get_label_space("camvid")
    net = OffsetPredictor(args.weights, device="cpu")
    pairs = split_files(args.data, "val")
    real = None
    if args.pred:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from segfix_gains import predictions_by_name

        real = predictions_by_name(args.pred, [i.stem for i, _ in pairs])
    rows = []
    for img_path, lab_path in pairs:
        gt = read_labels(lab_path, space)
        coarse = read_labels(real[img_path.stem], space) if real else degrade(gt, space, stride=8)
        field = net.predict(read_image(img_path))
        before = evaluate_pair(gt, coarse, space)
        after = evaluate_pair(gt, refine_labels(coarse, field.to_offsets(field.setting()), device="cpu"), space)
        rows.append(
            {
                "frame": img_path.stem,
                "d_miou": 100 * (after["miou"] - before["miou"]),
                "d_boundary_f": 100 * (after["boundary_f"] - before["boundary_f"]),
            }
        )
    d = np.array([(r["d_miou"], r["d_boundary_f"]) for r in rows])
    med = np.median(d, axis=0)
    typical = rows[int(np.argmin(np.hypot(*(d - med).T)))]
    print(
        f"{len(rows)} val frames, predictions {args.pred or 'simulated (stride 8)'}, "
        f"at the network's recommended setting {field.recommended}"
    )
    print(
        f"mIoU: {int((d[:, 0] > 0).sum())} frames gain, {int((d[:, 0] < 0).sum())} lose, "
        f"median {med[0]:+.2f}, mean {d[:, 0].mean():+.2f} points"
    )
    print(
        f"boundary F: {int((d[:, 1] > 0).sum())} frames gain, {int((d[:, 1] < 0).sum())} lose, "
        f"median {med[1]:+.2f}, mean {d[:, 1].mean():+.2f} points"
    )
    print(
        f"typical frame (closest to both medians): {typical['frame']} "
        f"({typical['d_miou']:+.2f} mIoU, {typical['d_boundary_f']:+.2f} boundary F)"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"median": med.tolist(), "typical": typical, "frames": rows}, indent=1) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
