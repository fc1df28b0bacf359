"""A real semantic-segmentation network for CamVid, trained on the CPU, and its val predictions.

SegFix's figures on simulated predictions (``degrade(gt, stride=8)``) say little about a real
model's output, whose borders are blurred by a low-resolution output upsampled bilinearly, whose
thin things vanish and whose regions can be wrong as a whole. This script trains such a model
with a standard recipe, reproducible from a seed, and writes its predictions:

    python benchmarks/segmenter.py train --out runs/segmenter [--epochs 40] [--data ../shared/data/camvid]
    python benchmarks/segmenter.py predict --out runs/segmenter [--split val] [--pred-dir DIR]

``train`` resumes from ``OUT/last.pt`` when it exists (the batches drawn are those of an
uninterrupted run: every epoch's generator is seeded from the seed and the epoch). At the end
it scores the whole val split at full resolution and writes ``OUT/val/*.png`` (CamVid ids) and
``OUT/record.json`` (recipe, machine, training time, val mIoU / boundary F); weights and
predictions stay under ``runs/`` (git-ignored), never in the repository.

Network ("lite0-fpn", 3.1 M parameters): the EfficientNet-Lite0 encoder of
``segfix_gui.model.encoder`` started from its ImageNet weights (the ``train`` extra), an FPN
decoder (laterals at strides 4–32 to 96 channels, top-down sums, separable 3×3 smoothing, a
global-pooling context added at stride 32), and a 1×1 classifier at **stride 4**; logits are
upsampled bilinearly to the input size — the usual design of a light real-time segmenter.

The stem and the first three encoder blocks (strides 2 and 4) keep their ImageNet weights and
batch statistics: their backward pass, at the highest resolutions, is the costliest on a CPU.

Recipe: random scale 0.5–1.0 of the 360×480 frame (bilinear image, nearest labels), random
192×256 crop (padded with void when smaller), horizontal flip, brightness/contrast jitter;
cross entropy (void ignored) with class weights ``(median frequency / frequency) ** 0.5``
clipped to [0.25, 4] from the train labels; AdamW, lr 2e-3 for the decoder and 1e-3 for the
encoder, weight decay 1e-4, 1 epoch of linear warm-up then cosine decay, batch 8; seed 0.
Prediction at full 360×480 (scale 1), no flip or multi-scale averaging.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = "lite0-fpn"
N_CLASSES = 11
VOID = 11
DEFAULTS = {
    "epochs": 40,
    "batch": 8,
    "crop": [192, 256],
    "scale_range": [0.5, 1.0],
    "lr": 2e-3,
    "encoder_lr_factor": 0.5,
    "weight_decay": 1e-4,
    "class_weight_power": 0.5,
    "class_weight_clip": [0.25, 4.0],
    "decoder": 96,
    "frozen_blocks": 3,  # the stem and the encoder's first blocks (strides 2 and 4) keep their ImageNet weights
    "seed": 0,
    "val_every": 5,
    "val_subset": 4,
}


# ---------------------------------------------------------------- network


def build_network(decoder: int = 96, *, imagenet: bool = True):
    import torch
    import torch.nn.functional as F
    from torch import nn

    from segfix_gui.model.encoder import CHANNELS, EfficientNetLite0, load_imagenet

    def sep(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    class SegFPN(nn.Module):
        """EfficientNet-Lite0 + FPN, logits at stride 4 upsampled bilinearly to the input."""

        def __init__(self):
            super().__init__()
            c = decoder
            self.encoder = EfficientNetLite0()
            self.lateral = nn.ModuleList(nn.Conv2d(ch, c, 1) for ch in CHANNELS[1:])  # strides 4..32
            self.context = nn.Sequential(nn.Conv2d(CHANNELS[-1], c, 1), nn.ReLU(inplace=True))
            self.smooth = nn.ModuleList(sep(c, c) for _ in CHANNELS[1:])
            self.head = nn.Sequential(sep(c, c), nn.Dropout2d(0.1), nn.Conv2d(c, N_CLASSES, 1))

        def forward(self, rgb):
            h, w = rgb.shape[-2:]
            ph, pw = (-h) % 32, (-w) % 32
            x = F.pad(rgb, (0, pw, 0, ph), mode="replicate") if (ph or pw) else rgb
            x = (x - 0.5) / 0.5
            feats = self.encoder(x)[1:]  # strides 4, 8, 16, 32
            top = self.lateral[-1](feats[-1]) + self.context(feats[-1].mean((2, 3), keepdim=True))
            top = self.smooth[-1](top)
            for i in range(len(feats) - 2, -1, -1):
                up = F.interpolate(top, size=feats[i].shape[-2:], mode="bilinear", align_corners=False)
                top = self.smooth[i](self.lateral[i](feats[i]) + up)
            logits = self.head(top)
            logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
            return logits[..., :h, :w]

    net = SegFPN()
    if imagenet:
        load_imagenet(net.encoder)
    return net.to(memory_format=torch.channels_last)


# ---------------------------------------------------------------- data


def load_split(data: Path, split: str):
    """``(names, images (N, H, W, 3) uint8, labels (N, H, W) uint8)`` of a CamVid split."""
    from segfix_gui.io.images import read_image, read_labels
    from segfix_gui.labels import get_label_space
    from segfix_gui.model.data import split_files

    space = get_label_space("camvid")
    pairs = split_files(data, split)
    images = np.stack([read_image(i) for i, _ in pairs])
    labels = np.stack([read_labels(lab, space).astype(np.uint8) for _, lab in pairs])
    return [i.stem for i, _ in pairs], images, labels


def class_weights(labels: np.ndarray, power: float, clip) -> np.ndarray:
    counts = np.bincount(labels.ravel(), minlength=VOID + 1)[:N_CLASSES].astype(np.float64)
    freq = counts / counts.sum()
    w = (np.median(freq) / np.maximum(freq, 1e-9)) ** power
    return np.clip(w, *clip).astype(np.float32)


def batches(images, labels, gen, opts):
    """Random scaled crops of the train split, flipped and jittered: ``(x, y)`` tensors."""
    import torch
    import torch.nn.functional as F

    n, h, w = labels.shape
    ch, cw = opts["crop"]
    lo, hi = opts["scale_range"]
    b = opts["batch"]
    order = torch.randperm(n, generator=gen)
    for s in range(0, n - b + 1, b):
        xs, ys = [], []
        draws = torch.rand(b, 6, generator=gen)
        for j in range(b):
            i = int(order[s + j])
            sc = lo + (hi - lo) * float(draws[j, 0])
            sh, sw = max(round(h * sc), 1), max(round(w * sc), 1)
            img = torch.from_numpy(images[i]).permute(2, 0, 1)[None].float() / 255
            lab = torch.from_numpy(labels[i])[None, None].float()
            img = F.interpolate(img, size=(sh, sw), mode="bilinear", align_corners=False, antialias=sc < 1)
            lab = F.interpolate(lab, size=(sh, sw), mode="nearest")
            ph, pw = max(ch - sh, 0), max(cw - sw, 0)
            if ph or pw:
                img = F.pad(img, (0, pw, 0, ph), value=0.5)
                lab = F.pad(lab, (0, pw, 0, ph), value=VOID)
            r = int(draws[j, 1] * (img.shape[-2] - ch + 1))
            c = int(draws[j, 2] * (img.shape[-1] - cw + 1))
            img, lab = img[..., r : r + ch, c : c + cw], lab[..., r : r + ch, c : c + cw]
            if draws[j, 3] < 0.5:
                img, lab = img.flip(-1), lab.flip(-1)
            bright = (float(draws[j, 4]) - 0.5) * 0.4
            contrast = 1 + (float(draws[j, 5]) - 0.5) * 0.4
            mean = img.mean()
            img = ((img - mean) * contrast + mean + bright).clamp(0, 1)
            xs.append(img[0])
            ys.append(lab[0, 0].long())
        yield torch.stack(xs).contiguous(memory_format=torch.channels_last), torch.stack(ys)


# ---------------------------------------------------------------- predict / score


def frozen_modules(net, blocks: int) -> list:
    """The stem and the first ``blocks`` encoder blocks: kept at their ImageNet weights and
    batch statistics (their backward pass, at the highest resolutions, is the costliest)."""
    enc = net.encoder
    return [enc.stem, enc.bn_stem, *list(enc.blocks)[:blocks]] if blocks else []


def train_mode(net) -> None:
    net.train()
    for m in frozen_modules(net, getattr(net, "frozen_blocks", 0)):
        m.eval()


def predict(net, images: np.ndarray, *, batch: int = 4) -> np.ndarray:
    """``(N, H, W)`` uint8 class ids predicted at full resolution."""
    import torch

    net.eval()
    out = []
    with torch.inference_mode():
        for s in range(0, len(images), batch):
            x = torch.from_numpy(images[s : s + batch]).permute(0, 3, 1, 2).float() / 255
            out.append(net(x.contiguous(memory_format=torch.channels_last)).argmax(1).to(torch.uint8).numpy())
    train_mode(net)
    return np.concatenate(out)


def score(gts: np.ndarray, preds: np.ndarray) -> dict:
    from segfix_gui.core.metrics import SemanticEvaluator
    from segfix_gui.labels import get_label_space

    ev = SemanticEvaluator(get_label_space("camvid"))
    for g, p in zip(gts, preds, strict=True):
        ev.add(g, p)
    r = ev.result()
    return {
        "miou": round(100 * r["miou"], 2),
        "boundary_f": round(100 * r["boundary_f"], 2),
        "pixel_accuracy": round(100 * r["pixel_accuracy"], 2),
        "per_class_iou": {k: (None if v is None else round(100 * v, 2)) for k, v in r["per_class_iou"].items()},
    }


def write_predictions(folder: Path, names, preds) -> None:
    from segfix_gui.io.images import write_labels

    folder.mkdir(parents=True, exist_ok=True)
    for name, p in zip(names, preds, strict=True):
        write_labels(folder / f"{name}.png", p)


def load_weights(path: Path):
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    net = build_network(state["options"]["decoder"], imagenet=False)
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()})
    return net, state


# ---------------------------------------------------------------- commands


def train(args) -> int:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "last.pt"
    opts = dict(DEFAULTS)
    if args.epochs:
        opts["epochs"] = args.epochs
    state = None
    if ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        opts = {**state["options"], "epochs": args.epochs or state["options"]["epochs"]}
        print(f"resuming {ckpt} at epoch {state['epoch']}", file=sys.stderr)
    torch.manual_seed(opts["seed"])
    data = Path(args.data)
    t0 = time.time()
    _, tr_img, tr_lab = load_split(data, "train")
    va_names, va_img, va_lab = load_split(data, "val")
    weights = torch.from_numpy(class_weights(tr_lab, opts["class_weight_power"], opts["class_weight_clip"]))
    net = build_network(opts["decoder"], imagenet=state is None)
    net.frozen_blocks = opts.get("frozen_blocks", 0)
    for m in frozen_modules(net, net.frozen_blocks):
        m.requires_grad_(False)
    enc = [p for p in net.encoder.parameters() if p.requires_grad]
    enc_ids = {id(p) for p in enc}
    rest = [p for p in net.parameters() if id(p) not in enc_ids and p.requires_grad]
    optim = torch.optim.AdamW(
        [{"params": enc, "lr_factor": opts["encoder_lr_factor"]}, {"params": rest, "lr_factor": 1.0}],
        lr=opts["lr"],
        weight_decay=opts["weight_decay"],
    )
    start, elapsed = 0, 0.0
    if state is not None:
        net.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        start, elapsed = int(state["epoch"]), float(state["elapsed"])
    steps = len(tr_lab) // opts["batch"]
    total = steps * opts["epochs"]
    log = out / "log.csv"
    if start == 0:
        log.write_text("epoch,lr,loss,val_miou_subset,seconds\n")
    train_mode(net)
    for epoch in range(start, opts["epochs"]):
        gen = torch.Generator().manual_seed(opts["seed"] * 100_003 + epoch)
        te = time.time()
        loss_sum, nb = 0.0, 0
        for x, y in batches(tr_img, tr_lab, gen, opts):
            step = epoch * steps + nb
            lr = opts["lr"] * (
                (step + 1) / steps if step < steps else 0.5 * (1 + math.cos(math.pi * (step - steps) / (total - steps)))
            )
            for g in optim.param_groups:
                g["lr"] = lr * g["lr_factor"]
            loss = F.cross_entropy(net(x), y, weight=weights, ignore_index=VOID)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            loss_sum += loss.item()
            nb += 1
        elapsed += time.time() - te
        val = ""
        if opts["val_every"] and (epoch + 1) % opts["val_every"] == 0 and epoch + 1 < opts["epochs"]:
            sel = slice(None, None, opts["val_subset"])
            val = score(va_lab[sel], predict(net, va_img[sel]))["miou"]
        with open(log, "a") as f:
            f.write(f"{epoch + 1},{lr:.3g},{loss_sum / max(nb, 1):.4f},{val},{elapsed:.0f}\n")
        print(
            f"epoch {epoch + 1}/{opts['epochs']} loss {loss_sum / max(nb, 1):.4f} val {val} {elapsed:.0f}s",
            file=sys.stderr,
            flush=True,
        )
        tmp = ckpt.with_suffix(".tmp")
        torch.save(
            {
                "model": net.state_dict(),
                "optim": optim.state_dict(),
                "epoch": epoch + 1,
                "elapsed": elapsed,
                "options": opts,
            },
            tmp,
        )
        os.replace(tmp, ckpt)
    tmp = out / "weights.tmp"
    torch.save({"name": NAME, "options": opts, "model": net.state_dict()}, tmp)
    os.replace(tmp, out / "weights.pt")
    t = time.time()
    preds = predict(net, va_img)
    predict_s = (time.time() - t) / len(va_img)
    write_predictions(out / "val", va_names, preds)
    rec = {
        "network": NAME,
        "parameters": sum(p.numel() for p in net.parameters()),
        "command": "python benchmarks/segmenter.py train --out "
        + str(args.out)
        + (f" --epochs {args.epochs}" if args.epochs else ""),
        "options": opts,
        "class_weights": [round(float(w), 3) for w in weights],
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{args.threads} threads",
        "train_seconds": round(elapsed, 1),
        "wall_seconds_this_call": round(time.time() - t0, 1),
        "predict_seconds_per_val_image": round(predict_s, 3),
        "val": score(va_lab, preds),
        "val_predictions": str(out / "val"),
    }
    (out / "record.json").write_text(json.dumps(rec, indent=2) + "\n")
    print(json.dumps({k: rec[k] for k in ("train_seconds", "val")}, indent=1))
    return 0


def predict_cmd(args) -> int:
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    net, state = load_weights(out / "weights.pt")
    names, img, lab = load_split(Path(args.data), args.split)
    preds = predict(net, img)
    folder = Path(args.pred_dir) if args.pred_dir else out / args.split
    write_predictions(folder, names, preds)
    print(json.dumps({"split": args.split, "folder": str(folder), **score(lab, preds)}, indent=1))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("train", "predict"):
        p = sub.add_parser(name)
        p.add_argument("--out", default="runs/segmenter", help="run folder (default: %(default)s)")
        p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "camvid"))
        p.add_argument("--threads", type=int, default=2)
        if name == "train":
            p.add_argument("--epochs", type=int, default=None, help=f"default {DEFAULTS['epochs']}")
        else:
            p.add_argument("--split", default="val", choices=("train", "val"))
            p.add_argument("--pred-dir", default=None, help="default: OUT/SPLIT")
    args = ap.parse_args(argv)
    return train(args) if args.cmd == "train" else predict_cmd(args)


if __name__ == "__main__":
    sys.exit(main())
