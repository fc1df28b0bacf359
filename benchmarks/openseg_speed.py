"""Time of openseg's SegFix checkpoints per 1024×2048 image, against the bundled network.

openseg's protocol runs 5 × 11 = 55 crops of 512×512 on a 1024×2048 image. A whole image
takes minutes per architecture on a small CPU, so by default this times ``--crops`` crops
through the real predictor (an image 512 high and just wide enough for that many crops:
normalisation, crops, network, upsampling and averaging included, after one warm-up crop),
and extrapolates: per image = 55 × time per crop. ``--full`` times a whole 1024×2048 image
instead. The weights come from ``tests/openseg_rule.py`` (speed does not depend on them),
written once to a temporary openseg-format checkpoint. The baseline, in the same run and on
the same device, is the bundled offset network on one 1024×2048 image (best of 3).

    python benchmarks/openseg_speed.py [--device cpu|cuda] [--crops 3] [--full]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from openseg_rule import rule_image, rule_state_dict  # noqa: E402

from segfix_gui.model.openseg.nets import build  # noqa: E402
from segfix_gui.model.openseg.predictor import OpensegPredictor, tile_starts  # noqa: E402
from segfix_gui.model.predictor import OffsetPredictor  # noqa: E402

CROPS_PER_IMAGE = len(tile_starts(1024, 512)) * len(tile_starts(2048, 512))  # 55


def timed(fn, device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--crops", type=int, default=3, help="crops timed per architecture")
    ap.add_argument("--full", action="store_true", help="time a whole 1024x2048 image")
    ap.add_argument("--arch", nargs="+", default=["hrnet48", "hrnext20"])
    args = ap.parse_args(argv)
    dev = args.device
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {dev}"
        + (f" ({torch.cuda.get_device_name(0)})" if dev == "cuda" else "")
    )
    big = rule_image(1024, 2048, 0)
    base = OffsetPredictor(None, device=dev, flip=False)
    base.predict(big)
    t_base = min(timed(lambda: base.predict(big), dev) for _ in range(3))
    print(f"bundled offset network, 1024x2048: {t_base:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.arch:
            state = rule_state_dict({k: v.shape for k, v in build(arch).state_dict().items()})
            path = Path(tmp) / f"{arch}.pth"
            torch.save({"config_dict": {}, "state_dict": {"module." + k: v for k, v in state.items()}}, path)
            del state
            pred = OpensegPredictor(path, device=dev)
            pred.predict(rule_image(512, 512, 1))  # warm-up: one crop
            if args.full:
                t_img = timed(lambda p=pred: p.predict(big), dev)
                how = f"whole image ({CROPS_PER_IMAGE} crops)"
            else:
                image = rule_image(512, 512 + 170 * (args.crops - 1), 2)
                assert len(pred.tiles(image.shape)) == args.crops
                t = timed(lambda p=pred, im=image: p.predict(im), dev)
                t_img = CROPS_PER_IMAGE * t / args.crops
                how = f"{args.crops} crops in {t:.1f} s, x {CROPS_PER_IMAGE}/{args.crops}"
            print(
                f"{arch}: {t_img:.1f} s per 1024x2048 image ({how}); {t_img / t_base:.0f}x the bundled network",
                flush=True,
            )
            del pred
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
