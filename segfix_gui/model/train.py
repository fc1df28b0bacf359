"""Training loop of the offset network.

``train(options, out_dir)`` writes into ``out_dir``: ``log.csv`` (one row per epoch),
``last.pt`` (checkpoint to resume from), ``weights.pt`` (half-precision model for
shipping) and ``record.json`` (what was run and the validation figures).

Loss (as in SegFix): class-balanced binary cross entropy on the boundary map (positives
are pixels within ``boundary_width`` of another label; ignored pixels count nowhere),
plus cross entropy on the K direction bins of pixels within ``direction_width``,
weighted ``1 + near_weight`` on the pixels at most 1.5 px from the border (where the
oracle's gain lies at 360×480). Augmentation: random crops, horizontal flips (direction
bins mapped with :func:`~segfix_gui.core.offsets.flip_bins`), brightness/contrast jitter.
Randomness comes from generators seeded with ``seed`` and the epoch, so a resumed run
draws the same batches as an uninterrupted one.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core.offsets import flip_bins
from ..errors import InputError
from .data import Runner
from .net import CONFIGS, OffsetNet, build

CSV_FIELDS = (
    "epoch",
    "lr",
    "loss",
    "loss_boundary",
    "loss_direction",
    "val_boundary_precision",
    "val_boundary_recall",
    "val_boundary_f",
    "val_direction_acc_near",
    "val_direction_acc_band",
    "seconds",
)


@dataclass
class TrainOptions:
    """Everything that decides a training run (stored in checkpoints and the record)."""

    model: str = "lite0-fr"
    epochs: int = 10
    batch: int = 8
    crop: tuple = (288, 288)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    boundary_width: float = 2.0
    direction_width: float = 4.0
    near_weight: float = 4.0
    cos_weight: float = 1.0  # weight of the expected-cosine direction loss
    pretrained: bool = True
    seed: int = 0
    val_every: int = 1
    val_subset: int = 4  # validate on every n-th val image between epochs (all at the end)
    label_space: str = "camvid"
    extra: dict = field(default_factory=dict)


def balanced_bce(logit: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Class-balanced BCE: positives and negatives weigh the same in total.

    ``logit`` (N, H, W) float, ``target`` and ``valid`` (N, H, W) bool.
    """
    v = valid.float()
    pos = (target & valid).float()
    n_pos = pos.sum()
    n_all = v.sum().clamp_min(1)
    frac = (n_pos / n_all).clamp(1e-3, 1 - 1e-3)
    weight = pos * (1 - frac) + (v - pos) * frac
    loss = F.binary_cross_entropy_with_logits(logit.float(), pos, reduction="none")
    return (loss * weight).sum() / weight.sum().clamp_min(1e-6)


def offset_loss(
    boundary_logit,
    direction_logits,
    distance,
    bins,
    valid,
    *,
    boundary_width: float,
    direction_width: float,
    near_weight: float,
    cos_weight: float = 0.0,
):
    """``(total, boundary_loss, direction_loss)`` for one batch.

    ``boundary_logit`` (N, 1, H, W), ``direction_logits`` (N, K, H, W), ``distance`` (N, H, W)
    float (inf off the band), ``bins`` (N, H, W) int64, ``valid`` (N, H, W) bool.
    """
    lb = balanced_bce(boundary_logit[:, 0], distance <= boundary_width, valid)
    dmask = (distance <= direction_width) & valid
    if dmask.any():
        ce = F.cross_entropy(direction_logits.float(), bins, reduction="none")
        if cos_weight:
            # 1 - E[cos(angle error)]: mass pointing into the wrong half-plane costs most
            k = direction_logits.shape[1]
            ang = torch.arange(k, device=bins.device, dtype=torch.float32) * (2 * math.pi / k)
            cos = torch.cos(ang.view(1, k, 1, 1) - ang[bins].unsqueeze(1))
            prob = torch.softmax(direction_logits.float(), 1)
            ce = ce + cos_weight * (1 - (prob * cos).sum(1))
        w = (1 + near_weight * (distance <= 1.5).float()) * dmask.float()
        ld = (ce * w).sum() / w.sum()
    else:
        ld = direction_logits.sum() * 0
    return lb + ld, lb, ld


class _Batches:
    """Random crops and flips of a split held as tensors on ``device``."""

    def __init__(self, split, device: str):
        self.images = torch.from_numpy(split.images).permute(0, 3, 1, 2).contiguous().to(device)
        dist = np.minimum(split.distance, 255).astype(np.float16)
        self.distance = torch.from_numpy(dist).to(device)
        self.bins = torch.from_numpy(split.bins.astype(np.int64)).to(device)
        self.valid = torch.from_numpy(split.valid).to(device)
        self.flip = torch.from_numpy(flip_bins(8, "horizontal")).to(device)
        self.n = len(split.names)
        self.device = device

    def epoch(self, gen: torch.Generator, batch: int, crop: tuple):
        h, w = self.images.shape[-2:]
        ch, cw = min(crop[0], h), min(crop[1], w)
        order = torch.randperm(self.n, generator=gen)
        for s in range(0, self.n - batch + 1, batch):
            idx = order[s : s + batch]
            rs = torch.randint(0, h - ch + 1, (batch,), generator=gen)
            cs = torch.randint(0, w - cw + 1, (batch,), generator=gen)
            flips = torch.rand(batch, generator=gen) < 0.5
            jitter = torch.rand(batch, 2, generator=gen)
            imgs, dists, bins, valids = [], [], [], []
            for j in range(batch):
                i, r, c = int(idx[j]), int(rs[j]), int(cs[j])
                sl = (slice(r, r + ch), slice(c, c + cw))
                im, d, b, v = (
                    self.images[i][(slice(None),) + sl],
                    self.distance[i][sl],
                    self.bins[i][sl],
                    self.valid[i][sl],
                )
                if flips[j]:
                    im, d, b, v = im.flip(-1), d.flip(-1), self.flip[b.flip(-1)], v.flip(-1)
                imgs.append(im)
                dists.append(d)
                bins.append(b)
                valids.append(v)
            x = (torch.stack(imgs).float() / 255).contiguous(memory_format=torch.channels_last)
            bright = (jitter[:, 0] - 0.5).mul(0.4).to(self.device).view(-1, 1, 1, 1)
            contrast = (1 + (jitter[:, 1] - 0.5) * 0.4).to(self.device).view(-1, 1, 1, 1)
            mean = x.mean((1, 2, 3), keepdim=True)
            x = ((x - mean) * contrast + mean + bright).clamp(0, 1)
            yield x, torch.stack(dists).float(), torch.stack(bins), torch.stack(valids)


@torch.no_grad()
def validate(model: OffsetNet, split, device: str, *, boundary_width: float, every: int = 1, batch: int = 4) -> dict:
    """Boundary precision/recall/F at 0.5 against the band, direction accuracy on the band
    (``near``: pixels at most 1.5 px from the border)."""
    model.eval()
    tp = fp = fn = 0
    near_ok = near_n = band_ok = band_n = 0
    idx = list(range(0, len(split.names), every))
    for s in range(0, len(idx), batch):
        sel = idx[s : s + batch]
        x = torch.from_numpy(split.images[sel]).permute(0, 3, 1, 2).float().to(device) / 255
        with _autocast(device):
            b, d = model(x)
        pred = (b[:, 0] > 0).cpu().numpy()
        dist = split.distance[sel]
        valid = split.valid[sel]
        band = (dist <= boundary_width) & valid
        tp += int((pred & band).sum())
        fp += int((pred & ~band & valid).sum())
        fn += int((~pred & band).sum())
        ok = d.argmax(1).cpu().numpy() == split.bins[sel]
        near = (dist <= 1.5) & valid
        near_ok += int(ok[near].sum())
        near_n += int(near.sum())
        band_ok += int(ok[band].sum())
        band_n += int(band.sum())
    model.train()
    p = tp / max(tp + fp, 1)
    r = tp / max(tp + fn, 1)
    return {
        "val_boundary_precision": p,
        "val_boundary_recall": r,
        "val_boundary_f": 2 * p * r / max(p + r, 1e-9),
        "val_direction_acc_near": near_ok / max(near_n, 1),
        "val_direction_acc_band": band_ok / max(band_n, 1),
    }


def _autocast(device: str):
    if device == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _lr_at(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(total - warmup, 1)
    return base * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def git_commit(repo: Path) -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> str:
    text = f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name(0)}"
    return text


def save_weights(path: Path, model: OffsetNet, *, half: bool = True) -> None:
    """Write a shipping weights file: ``{"format", "version", "config", "state_dict"}``."""
    from ..io.atomic import atomic_path

    sd = {
        k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
        for k, v in model.state_dict().items()
    }
    for k, v in sd.items():  # NaN, or beyond float16 (65504): weights no reader would accept
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise InputError(path, f"not written: the weights hold NaN or infinite values ({k}{' as float16' * half})")
    with atomic_path(path) as tmp:
        torch.save({"format": "segfix-offset-net", "version": 1, "config": dict(model.config), "state_dict": sd}, tmp)


def train(
    opts: TrainOptions,
    data: str | Path,
    out: str | Path,
    *,
    device: str = "cpu",
    resume: bool = False,
    command: str | None = None,
    progress: bool = True,
    train_limit: int | None = None,
    val_limit: int | None = None,
    run: Runner | None = None,
) -> dict:
    """Train, log and save (see module docstring). Returns the final record dict. ``run``
    computes the targets of the images (see :data:`.data.Runner`; default: in this process)."""
    from tqdm import tqdm

    from ..io.atomic import atomic_path, check_output, write_text
    from .data import load_split

    out = Path(out)
    ckpt_path = out / "last.pt"
    # every file the run writes, checked by an active guard (segfix train's) before any work
    for name in ("log.csv", "last.pt", "weights.pt", "record.json"):
        check_output(out / name)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(opts.seed)
    state = None
    if resume:
        if not ckpt_path.exists():
            raise InputError(ckpt_path, "no checkpoint to resume from")
        from .predictor import load_plain

        state = load_plain(ckpt_path, what="training checkpoint")
        try:
            saved = dict(state["options"])
            saved["crop"] = tuple(saved["crop"])
            opts = TrainOptions(**{**saved, "epochs": opts.epochs})
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(ckpt_path, f"not a segfix training checkpoint (no usable {err})") from None
    elif ckpt_path.exists():
        raise InputError(out, "holds a run already (last.pt): pass --resume or choose another --out")
    if opts.model not in CONFIGS:
        raise InputError(None, f"unknown model config {opts.model!r}")
    t0 = time.time()
    tr = load_split(data, "train", space=opts.label_space, limit=train_limit, run=run)
    va = load_split(data, "val", space=opts.label_space, limit=val_limit, run=run)
    model = build(opts.model)
    if opts.pretrained and state is None:
        from .encoder import load_imagenet

        try:
            load_imagenet(model.encoder, opts.extra.get("imagenet_weights"))
        except InputError:
            raise  # refused by its declared size, before it was read
        except Exception as err:  # noqa: BLE001 - torch.load refuses code (UnpicklingError) and more
            from .predictor import load_failure

            where = opts.extra.get("imagenet_weights")
            refused = load_failure(where, err, "ImageNet weights file")
            if refused.problem.startswith("refused: it would run code"):
                raise refused from None
            raise InputError(where, f"cannot use as ImageNet weights: {err}") from None
    model.to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs omit it
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
    optim = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    start_epoch, elapsed = 0, 0.0
    if state is not None:
        try:
            model.load_state_dict(state["model"])
            optim.load_state_dict(state["optim"])
            start_epoch, elapsed = int(state["epoch"]), float(state["elapsed"])
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
            msg = str(err).replace("\n", " ")[:200]
            raise InputError(ckpt_path, f"not a checkpoint of this run's network ({msg})") from None
    n_train = int(tr.images.shape[0])
    if n_train < opts.batch:  # a step takes --batch crops of different images: no step would run
        raise InputError(
            Path(data) / "train",
            f"{n_train} training image{'' if n_train == 1 else 's'}, fewer than the batch of {opts.batch} "
            f"crops a step takes: give --batch {n_train} or less, or more images",
        )
    batches = _Batches(tr, device)
    steps_per_epoch = max(tr.images.shape[0] // opts.batch, 1)
    total = steps_per_epoch * opts.epochs
    warmup = min(steps_per_epoch, max(total // 20, 1))
    log_path = out / "log.csv"
    if not resume or not log_path.exists():
        with open(log_path, "w", newline="") as f:
            csv.writer(f).writerow(CSV_FIELDS)
    record = {}
    model.train()
    for epoch in range(start_epoch, opts.epochs):
        gen = torch.Generator().manual_seed(opts.seed * 100_003 + epoch)
        te = time.time()
        sums = np.zeros(3)
        nb = 0
        bar = tqdm(
            batches.epoch(gen, opts.batch, opts.crop),
            total=steps_per_epoch,
            desc=f"epoch {epoch + 1}/{opts.epochs}",
            disable=not progress or None,
            file=sys.stderr,
            leave=False,
        )
        for x, dist, bins, valid in bar:
            step = epoch * steps_per_epoch + nb
            lr = _lr_at(step, total, opts.lr, warmup)
            for g in optim.param_groups:
                g["lr"] = lr
            with _autocast(device):
                b, d = model(x)
            loss, lb, ld = offset_loss(
                b,
                d,
                dist,
                bins,
                valid,
                boundary_width=opts.boundary_width,
                direction_width=opts.direction_width,
                near_weight=opts.near_weight,
                cos_weight=opts.cos_weight,
            )
            value = loss.item()
            if not math.isfinite(value):  # diverged: nothing after this is a result
                raise _diverged(out, opts, f"epoch {epoch + 1}, step {nb + 1}", f"the loss is {value}")
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sums += [value, lb.item(), ld.item()]
            nb += 1
            bar.set_postfix(loss=f"{sums[0] / nb:.3f}")
        bar.close()
        last = epoch + 1 == opts.epochs
        row = {
            "epoch": epoch + 1,
            "lr": lr,
            "loss": sums[0] / max(nb, 1),
            "loss_boundary": sums[1] / max(nb, 1),
            "loss_direction": sums[2] / max(nb, 1),
        }
        if last or (opts.val_every and (epoch + 1) % opts.val_every == 0):
            row.update(
                validate(model, va, device, boundary_width=opts.boundary_width, every=1 if last else opts.val_subset)
            )
        bad = next((k for k, v in model.state_dict().items() if v.is_floating_point() and not v.isfinite().all()), None)
        if bad is not None:  # the last step's update overflowed: neither logged nor saved
            raise _diverged(
                out, opts, f"the end of epoch {epoch + 1}", f"the weights hold NaN or infinite values ({bad})"
            )
        elapsed += time.time() - te
        row["seconds"] = round(elapsed, 1)
        with open(log_path, "a", newline="") as f:
            csv.writer(f).writerow([_fmt(row.get(k)) for k in CSV_FIELDS])
        print(" ".join(f"{k}={_fmt(v)}" for k, v in row.items()), file=sys.stderr, flush=True)
        with atomic_path(ckpt_path) as tmp:  # never a half-written checkpoint, nor a stray temporary
            torch.save(
                {
                    "model": model.state_dict(),
                    "optim": optim.state_dict(),
                    "epoch": epoch + 1,
                    "elapsed": elapsed,
                    "options": _plain(asdict(opts)),
                },
                tmp,
            )
        record = row
    save_weights(out / "weights.pt", model)
    rec = {
        "command": command,
        "commit": git_commit(Path(__file__).resolve().parents[2]),
        "data": str(data),
        "train_images": int(tr.images.shape[0]),
        "val_images": int(va.images.shape[0]),
        "epochs": opts.epochs,
        "device": device,
        "machine": machine(),
        "wall_seconds_training": round(elapsed, 1),
        "wall_seconds_total": round(time.time() - t0, 1),
        "options": _plain(asdict(opts)),
        "config": dict(model.config),
        "validation": {k: v for k, v in record.items() if k.startswith("val_")},
    }
    write_text(out / "record.json", json.dumps(rec, indent=2) + "\n")
    return rec


def _diverged(out: Path, opts: TrainOptions, where: str, what: str) -> InputError:
    """The one line of a run that diverged: where, and that nothing of it was saved."""
    return InputError(
        out,
        f"training diverged at {where}: {what} (a lower --lr than "
        f"{opts.lr:g}?); this epoch is neither logged nor saved, and no weights.pt is written",
    )


def _plain(d: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.5g}"
    return v
