"""Expected outputs of openseg's own SegFix code, for ``tests/model/test_openseg.py``.

Needs a checkout (or ``git archive``) of openseg-group/openseg.pytorch; not part of the test
run and no openseg code enters this repository. It builds openseg's ``SegFix_HRNet`` for
``hrnet48`` and ``hrnet2x20`` (our ``hrnext20``) in a throwaway setting:

- small stand-ins for what the code imports but does not use here (``cv2``, ``yacs``'s
  ``CfgNode``, the data loaders and managers the tester module imports), a config stub;
- a minimal ``InPlaceABNSync`` following its CPU kernel (``inplace_abn_1/src/
  inplace_abn_cpu.cpp``): ``(x - mean) · rsqrt(var + eps) · (|weight| + eps) + bias``, then
  leaky ReLU (slope 0.01) or nothing (``activation='none'``), put in place of
  ``ModuleHelper``'s version switch (which has no branch for torch 2);
- ``torch.cuda.FloatTensor`` / ``synchronize`` redirected to the CPU for the tester.

It checks that openseg's state-dict keys and shapes equal ours (so ``strict`` loading is
meaningful), fills the network with ``tests/openseg_rule.py``'s weights, and for each of
``CASES`` normalises the image with openseg's own ``ToTensor``/``Normalize`` (BGR, /255,
ImageNet mean/std as configured), pads right/bottom with 0 as its ``collate`` does, runs
its tester's ``sscrop_test`` (tiles, averaging) and ``extract_offset`` (the 0.5 threshold
and its direction table), and saves boundary and direction probabilities (subsampled) and
openseg's unit-step offsets (full size) into ``tests/data/openseg_expected.npz``.

    python benchmarks/openseg_reference.py --openseg /tmp/openseg.pytorch
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from openseg_rule import CASES, rule_image, rule_state_dict  # noqa: E402

OPENSEG_BACKBONE = {"hrnet48": "hrnet48", "hrnext20": "hrnet2x20"}


class InPlaceABNSync(nn.Module):
    """Stand-in for openseg's inplace-ABN in inference, after its CPU kernel's forward."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, activation="leaky_relu", slope=0.01):
        super().__init__()
        self.eps, self.activation, self.slope = eps, activation, slope
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x):
        shape = (1, -1, 1, 1)
        gamma = self.weight.abs() + self.eps
        mul = torch.rsqrt(self.running_var + self.eps) * gamma
        x = (x - self.running_mean.view(shape)) * mul.view(shape) + self.bias.view(shape)
        if self.activation == "leaky_relu":
            x = F.leaky_relu(x, self.slope)
        return x


class Configer:
    """What openseg's model code asks of its configer."""

    def __init__(self, backbone: str):
        self.values = {
            ("network", "backbone"): backbone,
            ("network", "bn_type"): "inplace_abn",
            ("network", "pretrained"): None,
            ("test", "mode"): "ss_test",
        }

    def get(self, *keys):
        return self.values[keys]


def import_openseg(root: str):
    """``(SegFix_HRNet, Tester, ToTensor, Normalize)`` from the openseg checkout ``root``."""
    sys.path.insert(0, str(Path(root).resolve()))
    os.environ.setdefault("dt_num_classes", "8")

    class CfgNode(dict):
        __getattr__ = dict.__getitem__

        def __setattr__(self, k, v):
            self[k] = v

    yacs = types.ModuleType("yacs")
    yacs.config = types.ModuleType("yacs.config")
    yacs.config.CfgNode = CfgNode
    sys.modules.update({"yacs": yacs, "yacs.config": yacs.config, "cv2": types.ModuleType("cv2")})
    # the tester module imports data loading, losses, managers: not used by its test methods
    for name, attrs in {
        "lib.datasets.data_loader": ["DataLoader"],
        "lib.loss.loss_manager": ["LossManager"],
        "lib.models.model_manager": ["ModelManager"],
        "lib.metrics.running_score": ["RunningScore"],
        "lib.utils.helpers.file_helper": ["FileHelper"],
        "lib.utils.helpers.image_helper": ["ImageHelper"],
        "segmentor.tools.module_runner": ["ModuleRunner"],
    }.items():
        mod = types.ModuleType(name)
        for a in attrs:
            setattr(mod, a, type(a, (), {}))
        sys.modules[name] = mod

    from lib.models.tools.module_helper import ModuleHelper

    ModuleHelper.BatchNorm2d = staticmethod(
        lambda bn_type="torch", ret_cls=False: functools.partial(InPlaceABNSync, activation="none")
    )
    ModuleHelper.BNReLU = staticmethod(lambda num_features, bn_type=None, **kw: InPlaceABNSync(num_features, **kw))
    from lib.datasets.tools.transforms import Normalize, ToTensor
    from lib.models.nets.segfix import SegFix_HRNet
    from segmentor.tester_offset import Tester

    torch.cuda.FloatTensor = lambda *size: torch.empty(*size)
    torch.cuda.synchronize = lambda *a, **k: None
    return SegFix_HRNet, Tester, ToTensor, Normalize


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--openseg", required=True, help="openseg.pytorch checkout")
    ap.add_argument("--out", default=str(ROOT / "tests" / "data" / "openseg_expected.npz"))
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)

    from segfix_gui.model.openseg.nets import build

    SegFix_HRNet, Tester, ToTensor, Normalize = import_openseg(args.openseg)

    class SSCropTester(Tester):
        def __init__(self, net, crop):  # only what sscrop_test / extract_offset use
            self.seg_net, self.crop_size, self.sscrop = net, crop, True
            self.size_mode, self.configer = "fix_size", None

    normalize = Normalize(div_value=255.0, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    nets, out = {}, {}
    for arch, backbone in OPENSEG_BACKBONE.items():
        net = SegFix_HRNet(Configer(backbone)).eval()
        theirs = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        ours = {k: tuple(v.shape) for k, v in build(arch).state_dict().items()}
        assert theirs == ours, (arch, sorted(set(theirs) ^ set(ours))[:5])
        params = sum(p.numel() for p in net.parameters())
        print(f"{arch} ({backbone}): {len(theirs)} keys equal to ours, {params / 1e6:.1f} M params")
        net.load_state_dict(rule_state_dict(theirs), strict=True)
        nets[arch] = net
    for name, arch, h, w, seed, tile, step in CASES:
        rgb = rule_image(h, w, seed)
        bgr = np.ascontiguousarray(rgb[..., ::-1])  # cv2.imread's channel order
        x = normalize(ToTensor()(bgr))[None]
        hp, wp = max(h, tile), max(w, tile)
        x = F.pad(x, (0, wp - w, 0, hp - h), value=0)  # collate's only_pad, right/bottom
        tester = SSCropTester(nets[arch], (tile, tile))
        t = time.perf_counter()
        mask_probs, dir_logits = tester.sscrop_test([x], (tile, tile))
        offsets, _ = tester.extract_offset([x])
        print(f"{name}: {h}x{w} tiles {tile}: {time.perf_counter() - t:.1f} s")
        direction = torch.softmax(F.interpolate(dir_logits, size=(hp, wp), mode="bilinear", align_corners=True), 1)
        boundary = mask_probs[0, 1, :h, :w].numpy()
        direction = direction[0, :, :h, :w].numpy()
        out[f"{name}_boundary"] = boundary[::step, ::step].astype(np.float32)
        out[f"{name}_direction"] = direction[:, ::step, ::step].astype(np.float32)
        out[f"{name}_offsets"] = np.moveaxis(offsets[0].squeeze(0).numpy()[:h, :w], 2, 0).astype(np.int8)
        print(
            f"  boundary {boundary.min():.3f}..{boundary.max():.3f} "
            f"(> 0.5: {(boundary > 0.5).mean():.2f}), top direction mean "
            f"{direction.max(0).mean():.2f}"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
