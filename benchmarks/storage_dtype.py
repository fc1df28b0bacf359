"""In-memory and saved offset fields on the demo frame: do they refine alike?

    python benchmarks/storage_dtype.py [--thresholds 0.5,0.6,0.7,0.8,0.9]

The bundled network's field for the demo image, three ways: the float32 probabilities the
network computes (``OffsetPredictor.probabilities``), the field ``OffsetPredictor.predict``
returns (what the window's "Predict offsets" refines), and that field written by
``write_offsets`` (as ``segfix predict-offsets`` does) and read back. For each threshold (the
recommended direction confidence and scale): the pixels that move and the refined pixels of the
demo prediction that differ from the saved field's. Before predictions were stored at one
precision, ``predict`` returned the float32 field and the first two columns were the same.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from segfix_gui.core.offsets import OffsetField  # noqa: E402
from segfix_gui.core.refine import refine_labels  # noqa: E402
from segfix_gui.io.images import read_image, read_labels  # noqa: E402
from segfix_gui.io.offsets import read_offsets, write_offsets  # noqa: E402
from segfix_gui.io.samples import demo_paths  # noqa: E402
from segfix_gui.model.predictor import OffsetPredictor  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--thresholds", default="0.5,0.6,0.7,0.8,0.9")
    args = ap.parse_args()
    paths, _space = demo_paths()
    image = read_image(paths.image)
    pred = read_labels(paths.pred)
    predictor = OffsetPredictor(device="cpu")
    b, d = predictor.probabilities(image[None].copy())
    fields = {
        "float32 (network)": OffsetField(boundary=b[0], direction=d[0], recommended=dict(predictor.recommended)),
        "predict()": predictor.predict(image),
    }
    with tempfile.TemporaryDirectory() as tmp:
        write_offsets(Path(tmp) / "x.npz", fields["predict()"])
        fields["written, read back"] = read_offsets(Path(tmp) / "x.npz")
    saved = fields["written, read back"]
    print(
        f"demo frame {paths.name}, {image.shape[0]}×{image.shape[1]}; dtypes: "
        + ", ".join(f"{k} {f.boundary.dtype}" for k, f in fields.items())
    )
    print(f"{'threshold':>9}  " + "  ".join(f"{k + ' moves':>26}" for k in fields) + "  refined pixels ≠ saved")
    for t in (float(x) for x in args.thresholds.split(",")):
        setting = saved.setting(threshold=t)
        moves = [int(f.moving_mask(setting).sum()) for f in fields.values()]
        ref = refine_labels(pred, saved.to_offsets(setting), device="cpu")
        diffs = [int((refine_labels(pred, f.to_offsets(setting), device="cpu") != ref).sum()) for f in fields.values()]
        print(f"{t:>9g}  " + "  ".join(f"{m:>26,}" for m in moves) + "  " + " / ".join(map(str, diffs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
