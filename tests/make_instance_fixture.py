"""Build a Cityscapes-format instance-segmentation fixture from ../shared/data/cityscapes_mini.

    python tests/make_instance_fixture.py OUT_DIR [--upscale 4] [--stride 8]

The one frame of cityscapes_mini is 128×256. The official instance evaluation ignores
ground-truth instances under 100 px (``minRegionSizes[0]``, no distance data), which at that
size leaves only 2 cars and none of the 4 persons (they have 6–42 px). So the frame is first
upscaled 4× with nearest neighbour to 512×1024 (half the Cityscapes resolution): 3 persons
and 2 cars then count; a person and a car of 96 px stay below the limit, as small far
objects do in the real data.

Predictions: every ground-truth thing instance (id >= 1000) as a degraded mask — averaged
over ``stride``×``stride`` blocks, brought back to full size by bilinear interpolation and
thresholded at 0.5, the way a stride-8 mask head rounds corners and shifts borders — with
a fixed score. Empty masks are dropped.

Written under OUT_DIR::

    gtFine/val/frankfurt/<frame>_gtFine_{instanceIds,labelIds}.png
    pred/frankfurt/<frame>_leftImg8bit_pred.txt          lines "masks/<frame>_<j>.png labelId score"
    pred/frankfurt/masks/<frame>_<j>.png                 0 / 255
    offsets_gt/frankfurt/<frame>_leftImg8bit.npz         oracle field of the instance map
    offsets_zero/frankfurt/<frame>_leftImg8bit.npz       all-zero offsets

No file of the shared data is modified.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cityscapes_mini"
FRAME = "frankfurt_000000_000294"
CITY = "frankfurt"


def degrade_mask(mask: np.ndarray, *, stride: int = 8) -> np.ndarray:
    """``(H, W)`` bool mask pooled at ``stride`` and upsampled bilinearly, thresholded at 0.5."""
    from scipy import ndimage as ndi

    h, w = mask.shape
    hp, wp = -(-h // stride) * stride, -(-w // stride) * stride
    m = np.zeros((hp, wp), np.float32)
    m[:h, :w] = mask
    pooled = m.reshape(hp // stride, stride, wp // stride, stride).mean(axis=(1, 3))
    up = ndi.zoom(pooled, stride, order=1, mode="nearest", grid_mode=True)
    return up[:h, :w] > 0.5


def make_fixture(out: str | Path, *, data: str | Path = DATA, upscale: int = 4, stride: int = 8) -> dict:
    """Write the fixture under ``out``; return its folders and files as a dict of Paths."""
    from PIL import Image

    from segfix_gui.core.instances import InstanceSet
    from segfix_gui.core.offsets import OffsetField
    from segfix_gui.core.targets import gt_offset_field
    from segfix_gui.io.images import write_labels
    from segfix_gui.io.instances import write_instances
    from segfix_gui.io.offsets import write_offsets

    out, data = Path(out), Path(data)
    src = data / "gtFine" / "val" / CITY
    inst = np.asarray(Image.open(src / f"{FRAME}_gtFine_instanceIds.png")).astype(np.int32)
    lab = np.asarray(Image.open(src / f"{FRAME}_gtFine_labelIds.png"))
    up = np.ones((upscale, upscale), np.uint8)
    inst = np.kron(inst, up).astype(np.uint16)
    lab = np.kron(lab, up).astype(np.uint8)

    gt_dir = out / "gtFine" / "val" / CITY
    gt_inst = gt_dir / f"{FRAME}_gtFine_instanceIds.png"
    write_labels(gt_inst, inst)
    write_labels(gt_dir / f"{FRAME}_gtFine_labelIds.png", lab)

    ids = [int(i) for i in np.unique(inst) if i >= 1000]
    masks, labels, scores, names = [], [], [], []
    for j, i in enumerate(ids):
        m = degrade_mask(inst == i, stride=stride)
        if not m.any():
            continue
        masks.append(m)
        labels.append(i // 1000)
        scores.append(round(0.95 - 0.05 * j, 2))
        names.append(f"masks/{FRAME}_{j}.png")
    pred_txt = out / "pred" / CITY / f"{FRAME}_leftImg8bit_pred.txt"
    write_instances(pred_txt, InstanceSet(np.stack(masks), labels, scores, tuple(names)))

    name = f"{FRAME}_leftImg8bit.npz"
    off_gt = out / "offsets_gt" / CITY / name
    write_offsets(off_gt, gt_offset_field(inst))
    off_zero = out / "offsets_zero" / CITY / name
    write_offsets(off_zero, OffsetField.from_hard(np.zeros((2,) + inst.shape, np.int16)))
    return {
        "gt": out / "gtFine",
        "gt_instance": gt_inst,
        "pred": out / "pred",
        "pred_txt": pred_txt,
        "offsets_gt": out / "offsets_gt",
        "offsets_zero": out / "offsets_zero",
        "shape": inst.shape,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("out")
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--upscale", type=int, default=4)
    p.add_argument("--stride", type=int, default=8)
    a = p.parse_args(argv)
    files = make_fixture(a.out, data=a.data, upscale=a.upscale, stride=a.stride)
    for k, v in files.items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
