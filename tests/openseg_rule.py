"""The seeded rule that fills an openseg SegFix network with repeatable weights.

Shared by ``benchmarks/openseg_reference.py`` (which fills openseg's own ``SegFix_HRNet``
with it and records the outputs) and ``tests/model/test_openseg.py`` (which rebuilds the same
weights, writes them as an openseg checkpoint and matches our outputs to the record).

Each tensor comes from its own ``torch.Generator`` seeded by the CRC-32 of its key, so the
values depend only on the key and the shape: convolutions ``N(0, 1/fan_in)``; norm weights
``±U(0.3, 1)`` (random signs, so inplace-ABN's ``|weight|`` matters), biases and running
means ``U(-0.2, 0.2)``, running variances ``U(0.5, 2)`` (positive). With these the logits
stay O(1) on both backbones (mask logit std ~1, direction ~1.6), so the softmaxes are not
saturated and a wrong step shows in the outputs.
"""

from __future__ import annotations

import zlib

import torch


def rule_tensor(key: str, shape) -> torch.Tensor:
    """The value of one state-dict entry (``key`` without the ``module.`` prefix)."""
    g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    shape = tuple(shape)
    if len(shape) == 4:
        fan_in = shape[1] * shape[2] * shape[3]
        return torch.randn(shape, generator=g) / fan_in**0.5

    def uniform(lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=g)

    if key.endswith("running_var"):
        return uniform(0.5, 2.0)
    if key.endswith("running_mean") or key.endswith("bias"):
        return uniform(-0.2, 0.2)
    if key.endswith("weight"):
        sign = torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0)
        return sign * uniform(0.3, 1.0)
    raise KeyError(f"no rule for {key} {shape}")


def rule_state_dict(shapes: dict) -> dict:
    """``{key: tensor}`` for ``{key: shape}`` (keys without ``module.``)."""
    return {k: rule_tensor(k, s) for k, s in shapes.items()}


def rule_image(h: int, w: int, seed: int = 0):
    """A repeatable ``(h, w, 3)`` uint8 RGB test image from integer arithmetic only
    (stripes, a checkerboard and a ramp, so there are edges in every direction)."""
    import numpy as np

    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    r = (x * x // 7 + 3 * y + 31 * seed) % 256
    g = np.where(((x + 2 * seed) // 17 + y // 13) % 2 == 0, 40, 215)
    b = (5 * x + 2 * y * y // 9 + 57 * seed) % 256
    return np.stack([r, g, b], -1).astype(np.uint8)


# (name, arch, image height, width, image seed, tile size, output subsampling step): tile
# 512 is openseg's protocol (these images are padded to one tile); tile 96 (stride 32)
# covers several overlapping tiles, the extra last tile and padding in one dimension.
CASES = (
    ("w48_tile512", "hrnet48", 200, 260, 1, 512, 5),
    ("x20_tile512", "hrnext20", 200, 260, 2, 512, 5),
    ("w48_tile96", "hrnet48", 88, 200, 3, 96, 4),
    ("x20_tile96", "hrnext20", 88, 200, 4, 96, 4),
)
