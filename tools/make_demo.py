"""Make the bundled demo sample in ``resources/demo/`` from one CamVid val frame.

What it writes (all small, a few hundred kB in all):

- ``image.jpg``        the CamVid val frame, byte for byte as in the data folder
- ``ground_truth.png`` its CamVid label map (single-channel ids)
- ``prediction.png``   the prediction, from one of two sources (``--prediction``):
                       ``segmenter`` (default) a real segmentation network's val prediction: the
                                   EfficientNet-Lite0 FPN of ``benchmarks/segmenter.py``, trained on CamVid
                                   train (its run folder, ``--segmenter``, holds ``record.json`` and ``val/``);
                       ``simulated`` ``segfix_gui.core.degrade.degrade(gt, stride=8)`` (class scores pooled
                                   on 8×8 blocks and enlarged bilinearly) — not a model's output
- ``offsets.npz``      the offset field, from one of two sources (``--offsets``):
                       ``oracle``  (default) ``segfix_gui.core.targets.gt_offset_field`` of the ground truth:
                                   boundary 1 on the 5-px band, one-hot directions — an upper bound,
                                   computed from the answer, not predicted;
                       ``network`` the bundled offset network (``segfix_gui.model``) run on the image
- ``sample.json``      names the files and says where the prediction and offsets come from
                       (the window shows this text as the sample's info)

Usage::

    python tools/make_demo.py --offsets network     # the shipped demo: the bundled network's offsets
    python tools/make_demo.py                       # oracle offsets (the upper bound), for comparison
    python tools/make_demo.py --prediction simulated --offsets network   # on the simulated stride-8 map
    python tools/make_demo.py --readme-only         # rewrite resources/demo/README.md only

The window shows the upper bound next to the shipped offsets without a file: it computes
``gt_offset_field`` of ``ground_truth.png`` when the demo opens (header button, U).

The README in ``resources/demo/`` is written too, so its description always matches the files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "camvid"
DEFAULT_OUT = ROOT / "resources" / "demo"
DEFAULT_SEGMENTER = ROOT / "runs" / "segmenter"
# the val frame typical of the bundled network on the segmenter's predictions: its mIoU and
# boundary-F gains are the closest to the val medians
# (python benchmarks/demo_frame.py --pred runs/segmenter/val)
DEFAULT_FRAME = "0016E5_08073"

SIMULATED_TEXT = (
    "simulated stride-8 coarse prediction: segfix_gui.core.degrade.degrade(ground truth, "
    "stride=8) — a simulation of how a coarse network errs at borders, not a model's output"
)
ORACLE_TEXT = (
    "oracle offsets from the ground truth (segfix_gui.core.targets.gt_offset_field, 5-px band, "
    "K=8): boundary is 1 on the band and directions are one-hot, so this shows the upper bound "
    "of SegFix, not a network's prediction; the threshold and direction-confidence controls have "
    "no effect on such a field (every band pixel moves at any threshold below 1)"
)
NETWORK_TEXT = (
    "predicted by the bundled offset network (segfix_gui.model.OffsetPredictor, "
    "resources/weights/offsetnet-camvid.pt, trained on CamVid train) from the image alone; "
    "the window opens it at the network's recommended setting (chosen on CamVid val)"
)
SEGMENTER_TEXT = (
    "the val prediction of a real segmentation network, {name} (EfficientNet-Lite0 encoder from ImageNet "
    "weights, FPN decoder, stride-4 logits enlarged bilinearly; benchmarks/segmenter.py), trained on "
    "CamVid train ({epochs} epochs on a CPU, seed {seed}): val mIoU {miou:.1f}, boundary F {bf:.1f}; "
    "this frame's prediction is its output as it is"
)
SEGMENTER_SHORT = "{name}, trained on CamVid train, val mIoU {miou:.1f}"
SHORT = {
    "simulated": "simulated stride-8 coarse prediction (not a model's output)",
    "oracle": "oracle offsets from the ground truth (an upper bound, not a network)",
    "network": "the bundled offset network's prediction from the image, opened at its recommended setting",
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Make resources/demo/ from one CamVid val frame.")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CamVid folder (default: %(default)s)")
    p.add_argument("--frame", default=DEFAULT_FRAME, help="val frame stem (default: %(default)s)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    p.add_argument(
        "--offsets",
        choices=("oracle", "network"),
        default="oracle",
        help="where the offset field comes from (default: oracle; the shipped demo uses network)",
    )
    p.add_argument(
        "--prediction",
        choices=("segmenter", "simulated"),
        default="segmenter",
        help="where the prediction comes from (default: segmenter, a real network's val prediction)",
    )
    p.add_argument(
        "--segmenter",
        type=Path,
        default=DEFAULT_SEGMENTER,
        help="run folder of benchmarks/segmenter.py, with record.json and val/ (default: %(default)s)",
    )
    p.add_argument("--weights", default=None, help="network weights (default: the bundled ones)")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    p.add_argument("--readme-only", action="store_true", help="only rewrite README.md from the existing sample.json")
    return p


def network_field(image, *, weights=None, device="cpu"):
    """The offset field ``segfix_gui.model.OffsetPredictor`` predicts for an ``(H, W, 3)`` uint8
    image (the bundled weights unless ``weights`` is given), with the weights' recommended
    setting recorded in the field."""
    from segfix_gui.errors import InputError

    try:
        from segfix_gui.model import OffsetPredictor
    except ImportError as err:
        raise SystemExit(f"make_demo: --offsets network needs segfix_gui.model ({err})") from None
    try:
        predictor = OffsetPredictor(weights, device=device)
    except InputError as err:
        raise SystemExit(f"make_demo: {err}") from None
    field = predictor.predict(image)
    if not field.recommended and getattr(predictor, "recommended", None):
        field.recommended = dict(predictor.recommended)
    return field


def segmenter_prediction(run: Path, frame: str, space):
    """``(labels, info, short)``: the segmenter's val prediction of ``frame`` from its run folder,
    and the texts naming it with its val mIoU (from the run's ``record.json``)."""
    from segfix_gui.io.images import read_labels

    record_path = run / "record.json"
    if not record_path.is_file():
        raise OSError(f"{record_path}: not found (train the segmenter: python benchmarks/segmenter.py train)")
    rec = json.loads(record_path.read_text(encoding="utf-8"))
    path = run / "val" / f"{frame}.png"
    if not path.is_file():
        raise OSError(f"{path}: not found (python benchmarks/segmenter.py predict --out {run})")
    fields = {
        "name": rec["network"],
        "epochs": rec["options"]["epochs"],
        "seed": rec["options"]["seed"],
        "miou": rec["val"]["miou"],
        "bf": rec["val"]["boundary_f"],
    }
    return read_labels(path, space), SEGMENTER_TEXT.format(**fields), SEGMENTER_SHORT.format(**fields)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.readme_only:
        meta = json.loads((args.out / "sample.json").read_text(encoding="utf-8"))
        (args.out / "README.md").write_text(_readme(meta), encoding="utf-8")
        print(f"{args.out / 'README.md'} written")
        return 0

    from segfix_gui.core.degrade import degrade
    from segfix_gui.core.targets import gt_offset_field
    from segfix_gui.io.images import read_image, read_labels, write_labels
    from segfix_gui.io.offsets import write_offsets
    from segfix_gui.labels import get_label_space

    space = get_label_space("camvid")
    image_path = args.data / "val" / "images" / f"{args.frame}.jpg"
    label_path = args.data / "val" / "labels" / f"{args.frame}.png"
    for p in (image_path, label_path):
        if not p.is_file():
            print(f"make_demo: {p}: not found", file=sys.stderr)
            return 2
    gt = read_labels(label_path, space)
    if args.prediction == "simulated":
        pred = degrade(gt, space, stride=8)
        prediction_info, prediction_short = SIMULATED_TEXT, SHORT["simulated"]
    else:
        try:
            pred, prediction_info, prediction_short = segmenter_prediction(args.segmenter, args.frame, space)
        except (OSError, KeyError, ValueError) as err:
            print(f"make_demo: {err}", file=sys.stderr)
            return 2
    if args.offsets == "oracle":
        field = gt_offset_field(gt, width=5, directions=8, ignore_ids=space.ignore_ids)
        offsets_text = ORACLE_TEXT
    else:
        field = network_field(read_image(image_path), weights=args.weights, device=args.device)
        offsets_text = NETWORK_TEXT
        rec = field.recommended
        if rec:
            offsets_text += (
                f" (threshold {rec.get('threshold', 0.5):g}, direction confidence "
                f"{rec.get('min_direction_prob', 0.0):g}, scale {rec.get('scale', 2.0):g})"
            )

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(image_path, out / "image.jpg")
    write_labels(out / "ground_truth.png", gt)
    write_labels(out / "prediction.png", pred)
    write_offsets(out / "offsets.npz", field)
    meta = {
        "name": f"CamVid val {args.frame}",
        "label_space": "camvid",
        "image": "image.jpg",
        "prediction": "prediction.png",
        "offsets": "offsets.npz",
        "ground_truth": "ground_truth.png",
        "source": f"CamVid (Brostow et al. 2008), val frame {args.frame}, 360×480, SegNet 11-class layout",
        "prediction_kind": args.prediction,
        "prediction_info": prediction_info,
        "prediction_short": prediction_short,
        "offsets_kind": args.offsets,
        "offsets_info": offsets_text,
        "offsets_short": SHORT[args.offsets],
        "made_by": "python tools/make_demo.py"
        + (" --prediction simulated" if args.prediction == "simulated" else "")
        + (" --offsets network" if args.offsets == "network" else ""),
    }
    if args.offsets == "network":
        from segfix_gui.model import bundled_weights

        weights = Path(args.weights) if args.weights else bundled_weights()
        meta["offsets_weights"] = weights.name
        meta["offsets_recommended"] = dict(field.recommended)
        from segfix_gui.model import read_record

        record = read_record(weights)
        meta["offsets_training"] = (
            f"{record['epochs']} epochs on {record.get('device', '?')}"
            if "epochs" in record
            else "see the weights' record"
        )
    (out / "sample.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "README.md").write_text(_readme(meta), encoding="utf-8")
    print(f"demo written to {out}")
    return 0


def _readme(meta: dict) -> str:
    return f"""# Demo sample

Opened by `segfix-gui --demo`. Made by `{meta["made_by"]}` (see that script); do not edit by hand.

| file | what it is |
|---|---|
| `image.jpg` | {meta["source"]} (the data folder's JPEG, copied byte for byte) |
| `ground_truth.png` | its CamVid ground truth, single-channel class ids (11 = unlabelled, ignored) |
| `prediction.png` | {meta["prediction_info"]} |
| `offsets.npz` | {meta["offsets_info"]} |
| `sample.json` | the names above and these descriptions; the window shows them as the sample's info |

**Where the numbers come from.** The prediction is {
        "a real segmentation network's output (benchmarks/segmenter.py, trained on CamVid train; "
        "its weights are not shipped)"
        if meta.get("prediction_kind", "simulated") == "segmenter"
        else "a simulation"
    }, and the offsets are
{
        "the oracle (computed from the ground truth, i.e. from the answer)"
        if meta["offsets_kind"] == "oracle"
        else "the bundled network's prediction from the image (not from the answer)"
    }. The gain the window shows on this sample is therefore
{
        "an upper bound of what SegFix can do for this prediction, not what a trained offset network achieves"
        if meta["offsets_kind"] == "oracle"
        else "what the bundled network achieves on this one frame at its recommended setting "
        "(a small model trained for "
        + meta.get("offsets_training", "?")
        + ": expect a small gain, far below the oracle's; see docs/RESULTS.md)"
    }.
{
        "The frame is the val frame typical of the bundled network on these predictions: its mIoU and "
        "boundary-F gains are the closest to the val medians (`python benchmarks/demo_frame.py"
        + (" --pred runs/segmenter/val" if meta.get("prediction_kind") == "segmenter" else "")
        + "`), neither its best nor its worst frame."
        if DEFAULT_FRAME in meta["source"]
        else ""
    }

**The upper bound, one click away.** The window also shows this frame with the offsets a perfect
offset network would give: the header's "Show the upper bound" button (or U, Refine ▸ Offsets)
switches to `segfix_gui.core.targets.gt_offset_field` of `ground_truth.png` — the field
`segfix gt-offsets` writes (5-px band, K=8) — computed when the demo opens, so it follows the
oracle whenever the targets change; the header then says UPPER BOUND. It is not shipped as a
file.

Regenerate: `python benchmarks/segmenter.py train` (the prediction's network, a few CPU hours; its
run folder `runs/segmenter/` holds the val predictions), then `python tools/make_demo.py --offsets
network` (the bundled network, as shipped) or `python tools/make_demo.py` (oracle offsets from the
ground truth written as the file, for comparison); `--prediction simulated` uses the simulated
stride-8 map instead. `python tools/make_demo.py --readme-only` rewrites this README from `sample.json`.
"""


if __name__ == "__main__":
    sys.exit(main())
