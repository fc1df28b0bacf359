"""SegFix's HRNet offset networks as openseg trained them, in plain torch.

The module tree mirrors the names of openseg's checkpoints (``backbone.stage3.2.fuse_layers.
2.0.1.weight`` …) so they load with ``strict=True``; the maths follows openseg's modules:

- every normalisation is inplace-ABN in inference: ``(x - mean) / sqrt(var + eps) ·
  (|weight| + eps) + bias`` (eps 1e-5), followed in the heads by leaky ReLU (slope 0.01) and
  inside the backbone by nothing (the ReLUs there are separate modules);
- HRNet fuses branches by summing, upsampling lower resolutions bilinearly with
  ``align_corners=True`` after a 1×1 conv + norm, and downsampling higher ones by a chain of
  stride-2 3×3 convs;
- :class:`SegFixHRNet` upsamples all branch outputs to the first (``align_corners=True``),
  concatenates them and applies two heads ``1×1 conv → 256 → ABN + leaky ReLU → 1×1 conv``:
  ``mask_head`` (2 logits: background, boundary) and ``dir_head`` (8 direction logits).

Architectures (:data:`SPECS`): ``hrnet48`` (HRNet-W48: stride 4, 48+96+192+384 = 720
channels) and ``hrnext20`` (openseg's ``hrnet2x20``, HRNet2x-W20: one stride-2 stem conv, a
two-branch bottleneck stage, then 3/4/5 branches of widths 20…320: stride 2, 620 channels).
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-5
SLOPE = 0.01


class ABN(nn.Module):
    """Inplace-ABN in inference mode: batch norm whose scale is ``|weight| + eps``, then
    leaky ReLU (``activation=True``, slope 0.01) or nothing. State: ``weight``, ``bias``,
    ``running_mean``, ``running_var`` — no ``num_batches_tracked``."""

    running_mean: torch.Tensor
    running_var: torch.Tensor

    def __init__(self, channels: int, activation: bool = False):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x):
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight.abs() + EPS, self.bias, False, 0.0, EPS)
        return F.leaky_relu(x, SLOPE) if self.activation else x


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1, self.bn1 = _conv(cin, planes, 3, stride), ABN(planes)
        self.conv2, self.bn2 = _conv(planes, planes, 3), ABN(planes)
        self.downsample = downsample

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1, self.bn1 = _conv(cin, planes, 1), ABN(planes)
        self.conv2, self.bn2 = _conv(planes, planes, 3, stride), ABN(planes)
        self.conv3, self.bn3 = _conv(planes, planes * 4, 1), ABN(planes * 4)
        self.downsample = downsample

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


BLOCKS: dict[str, type[BasicBlock | Bottleneck]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


def _blocks(block, cin: int, planes: int, n: int) -> nn.Sequential:
    """``n`` blocks; the first projects ``cin`` (1×1 conv + norm) when it differs."""
    cout = planes * block.expansion
    down = None if cin == cout else nn.Sequential(_conv(cin, cout, 1), ABN(cout))
    return nn.Sequential(block(cin, planes, 1, down), *[block(cout, planes) for _ in range(n - 1)])


def _conv_norm(cin: int, cout: int, stride: int, relu: bool) -> nn.Sequential:
    layers = [_conv(cin, cout, 3, stride), ABN(cout)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


class Transition(nn.ModuleList):
    """From the previous stage's branches to the next stage's: a 3×3 conv where a kept
    branch changes width (None where it does not), a chain of stride-2 convs from the
    lowest resolution for each new branch."""

    def __init__(self, pre: list[int], cur: list[int]):
        layers: list[nn.Module | None] = []
        for i, c in enumerate(cur):
            if i < len(pre):
                layers.append(None if c == pre[i] else _conv_norm(pre[i], c, 1, True))
            else:
                n = i + 1 - len(pre)
                layers.append(
                    nn.Sequential(*[_conv_norm(pre[-1], c if j == n - 1 else pre[-1], 2, True) for j in range(n)])
                )
        super().__init__(layers)  # type: ignore[arg-type]  # None: a branch kept as it is (openseg's keys)

    def forward(self, ys: list) -> list:
        out = []
        for i, layer in enumerate(self):
            src = ys[i] if i < len(ys) else ys[-1]
            out.append(src if layer is None else layer(src))
        return out


class HRModule(nn.Module):
    """One multi-resolution module: a block sequence per branch, then every output branch
    the sum of all branches brought to its resolution, then ReLU."""

    def __init__(self, block, cin: list[int], planes: list[int], n: int):
        super().__init__()
        self.branches = nn.ModuleList(_blocks(block, c, p, n) for c, p in zip(cin, planes, strict=True))
        ch = [p * block.expansion for p in planes]
        self.channels = ch
        fuse = []
        for i in range(len(ch)):
            row: list[nn.Module | None] = []
            for j in range(len(ch)):
                if j > i:
                    row.append(nn.Sequential(_conv(ch[j], ch[i], 1), ABN(ch[i])))
                elif j == i:
                    row.append(None)
                else:
                    row.append(
                        nn.Sequential(
                            *[
                                _conv_norm(ch[j], ch[i], 2, False)
                                if k == i - j - 1
                                else _conv_norm(ch[j], ch[j], 2, True)
                                for k in range(i - j)
                            ]
                        )
                    )
            fuse.append(nn.ModuleList(row))  # type: ignore[arg-type]  # None: the branch itself
        self.fuse_layers = nn.ModuleList(fuse) if len(ch) > 1 else None

    def forward(self, xs: list) -> list:
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        if self.fuse_layers is None:
            return xs
        out = []
        for i, row in enumerate(self.fuse_layers):
            row = cast(nn.ModuleList, row)
            y = xs[0] if i == 0 else row[0](xs[0])
            for j in range(1, len(xs)):
                if j == i:
                    y = y + xs[j]
                elif j > i:
                    y = y + F.interpolate(row[j](xs[j]), size=xs[i].shape[-2:], mode="bilinear", align_corners=True)
                else:
                    y = y + row[j](xs[j])
            out.append(F.relu(y))
        return out


# stem: stride-2 3×3 convs (64 channels); layer1: openseg's 4 bottlenecks after a two-conv
# stem; stages: (block, branch widths, modules), 4 blocks per branch; first: index of the
# first stage in the key names (transition{first-1} feeds stage{first}).
SPECS: dict[str, dict[str, Any]] = {
    "hrnet48": {
        "stem": 2,
        "layer1": True,
        "first": 2,
        "stages": [("basic", (48, 96), 1), ("basic", (48, 96, 192), 4), ("basic", (48, 96, 192, 384), 3)],
    },
    "hrnext20": {
        "stem": 1,
        "layer1": False,
        "first": 1,
        "stages": [
            ("bottleneck", (32, 64), 1),
            ("basic", (20, 40, 80), 1),
            ("basic", (20, 40, 80, 160), 4),
            ("basic", (20, 40, 80, 160, 320), 3),
        ],
    },
}
STRIDE = {"hrnet48": 4, "hrnext20": 2}


class HRNet(nn.Module):
    """HRNet backbone: returns the list of branch outputs, highest resolution first."""

    def __init__(self, arch: str):
        super().__init__()
        spec = SPECS[arch]
        self.conv1, self.bn1 = _conv(3, 64, 3, 2), ABN(64)
        if spec["stem"] == 2:
            self.conv2, self.bn2 = _conv(64, 64, 3, 2), ABN(64)
        self.has_layer1 = spec["layer1"]
        if self.has_layer1:
            self.layer1 = _blocks(Bottleneck, 64, 64, 4)
        pre = [256 if self.has_layer1 else 64]
        self.order = []
        for n, (block, planes, modules) in enumerate(spec["stages"]):
            block = BLOCKS[block]
            cur = [p * block.expansion for p in planes]
            idx = spec["first"] + n
            setattr(self, f"transition{idx - 1}", Transition(pre, cur))
            mods = []
            for _ in range(modules):
                mods.append(HRModule(block, cur, list(planes), 4))
                cur = mods[-1].channels
            setattr(self, f"stage{idx}", nn.Sequential(*mods))
            self.order.append(idx)
            pre = cur
        self.channels = pre

    def forward(self, x) -> list:
        x = F.relu(self.bn1(self.conv1(x)))
        if hasattr(self, "conv2"):
            x = F.relu(self.bn2(self.conv2(x)))
        if self.has_layer1:
            x = self.layer1(x)
        ys = [x]
        for idx in self.order:
            ys = getattr(self, f"transition{idx - 1}")(ys)
            for module in getattr(self, f"stage{idx}"):
                ys = module(ys)
        return ys


def _head(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(_conv(cin, 256, 1), ABN(256, activation=True), _conv(256, cout, 1))


class SegFixHRNet(nn.Module):
    """openseg's ``SegFix_HRNet``: ``forward(x) -> (mask logits (N, 2, h, w), direction
    logits (N, 8, h, w))`` at 1/``STRIDE[arch]`` of the input size."""

    def __init__(self, arch: str, directions: int = 8):
        super().__init__()
        if arch not in SPECS:
            raise ValueError(f"unknown architecture {arch!r} (expected one of {', '.join(SPECS)})")
        self.arch = arch
        self.backbone = HRNet(arch)
        c = sum(self.backbone.channels)
        self.mask_head = _head(c, 2)
        self.dir_head = _head(c, directions)

    def forward(self, x):
        ys = self.backbone(x)
        size = ys[0].shape[-2:]
        feats = torch.cat(
            [ys[0]] + [F.interpolate(y, size=size, mode="bilinear", align_corners=True) for y in ys[1:]], 1
        )
        return self.mask_head(feats), self.dir_head(feats)


def build(arch: str) -> SegFixHRNet:
    """An (untrained) :class:`SegFixHRNet` in eval mode."""
    return SegFixHRNet(arch).eval()
