"""The offset network: an encoder, a top-down decoder to stride 2, a full-resolution
image branch, and two heads.

Input ``(N, 3, H, W)`` float RGB in [0, 1] (any H, W: padded inside to a multiple of 32).
Output ``(boundary_logit (N, 1, H, W), direction_logits (N, K, H, W))`` at full resolution.

Named configurations live in :data:`CONFIGS`; a config is a plain dict of numbers and
strings (it is stored inside the weights file and validated on load).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .encoder import CHANNELS, EfficientNetLite0

CONFIGS: dict[str, dict] = {
    # the shipped configuration
    "lite0-fr": {
        "name": "lite0-fr",
        "encoder": "efficientnet-lite0",
        "decoder": 64,
        "fine": 32,
        "full_res": 16,
        "directions": 8,
    },
    # the same without the full-resolution image branch (outputs upsampled from stride 2)
    "lite0-s2": {
        "name": "lite0-s2",
        "encoder": "efficientnet-lite0",
        "decoder": 64,
        "fine": 32,
        "full_res": 0,
        "directions": 8,
    },
    # a wider full-resolution branch
    "lite0-fr32": {
        "name": "lite0-fr32",
        "encoder": "efficientnet-lite0",
        "decoder": 64,
        "fine": 32,
        "full_res": 32,
        "directions": 8,
    },
    # a tiny one for tests
    "tiny": {"name": "tiny", "encoder": "efficientnet-lite0", "decoder": 16, "fine": 8, "full_res": 4, "directions": 8},
}
CONFIG_KEYS = ("name", "encoder", "decoder", "fine", "full_res", "directions")


def check_config(config: object) -> dict:
    """A validated copy of ``config`` (ValueError naming the problem otherwise)."""
    if not isinstance(config, dict):
        raise ValueError("model config must be a dict")
    missing = [k for k in CONFIG_KEYS if k not in config]
    if missing:
        raise ValueError(f"model config lacks {', '.join(missing)}")
    if config["encoder"] != "efficientnet-lite0":
        raise ValueError(f"unknown encoder {config['encoder']!r}")
    for k in ("decoder", "fine", "full_res"):
        v = config[k]
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 1024 or (v == 0 and k != "full_res"):
            raise ValueError(f"model config {k}={v!r} is not a valid channel count")
    if config["directions"] not in (4, 8, 16):
        raise ValueError(f"model config directions={config['directions']!r} not in 4, 8, 16")
    return {k: config[k] for k in CONFIG_KEYS}


def _sep(cin: int, cout: int) -> nn.Sequential:
    """Depthwise 3×3 + pointwise conv + BN + ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class OffsetNet(nn.Module):
    """Boundary + direction network (see module docstring)."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = check_config(config)
        c, fine, fr, k = (self.config[x] for x in ("decoder", "fine", "full_res", "directions"))
        self.encoder = EfficientNetLite0()
        self.lateral = nn.ModuleList(nn.Conv2d(ch, c, 1) for ch in CHANNELS[1:])  # strides 4..32
        self.smooth = nn.ModuleList(_sep(c, c) for _ in CHANNELS[1:-1])  # strides 4..16
        self.lat2 = nn.Conv2d(CHANNELS[0], fine, 1)
        self.fuse2 = _sep(c + fine, fine)  # stride 2
        if fr:
            self.full = nn.Sequential(
                nn.Conv2d(3, fr, 3, 1, 1, bias=False), nn.BatchNorm2d(fr), nn.ReLU(inplace=True), _sep(fr, fr)
            )
            self.fuse1 = _sep(fine + fr, fine)
        self.boundary_head = nn.Conv2d(fine, 1, 1)
        self.direction_head = nn.Conv2d(fine, k, 1)

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = rgb.shape[-2:]
        ph, pw = (-h) % 32, (-w) % 32
        x = F.pad(rgb, (0, pw, 0, ph), mode="replicate") if (ph or pw) else rgb
        x = (x - 0.5) / 0.5
        f1, *rest = self.encoder(x)
        top = self.lateral[-1](rest[-1])
        for i in range(len(rest) - 2, -1, -1):  # strides 16, 8, 4
            top = self.smooth[i](self.lateral[i](rest[i]) + _up(top, rest[i]))
        y = self.fuse2(torch.cat([self.lat2(f1), _up(top, f1)], 1))
        if self.config["full_res"]:
            full = self.full(x)
            y = self.fuse1(torch.cat([_up(y, full), full], 1))
        b = self.boundary_head(y)
        d = self.direction_head(y)
        if b.shape[-2:] != x.shape[-2:]:
            b = F.interpolate(b, size=x.shape[-2:], mode="bilinear", align_corners=False)
            d = F.interpolate(d, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return b[..., :h, :w], d[..., :h, :w]


def build(config: dict | str) -> OffsetNet:
    """A fresh network from a config dict or a name in :data:`CONFIGS`."""
    if isinstance(config, str):
        if config not in CONFIGS:
            raise ValueError(f"unknown model config {config!r} (known: {', '.join(CONFIGS)})")
        config = CONFIGS[config]
    return OffsetNet(config)
