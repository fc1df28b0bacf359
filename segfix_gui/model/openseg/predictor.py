"""openseg's SegFix tester protocol as a predictor: RGB image in, soft OffsetField out.

The protocol of openseg's ``segmentor/tester_offset.py`` (``sscrop`` mode, as its
Cityscapes scripts run it):

1. the image as OpenCV reads it (BGR), divided by 255, then the ImageNet mean/std of the
   config (listed in RGB order) applied to the channels in BGR order;
2. zero-padded (after normalisation) on the right and bottom to at least one tile;
3. ``tile``×``tile`` crops (512) at stride ``int(tile / 3)`` (170), plus a last crop flush
   with the far edge; each crop's mask logits softmaxed, mask probabilities and raw direction
   logits upsampled bilinearly (``align_corners=True``) to the crop and averaged over the
   crops covering each pixel;
4. the padding cropped; direction probabilities = softmax of the averaged logits.

openseg pads every Cityscapes image to its fixed 2048×1024 canvas (no padding at that size)
and resizes back with nearest neighbours (a no-op without rescaling); this predictor pads
only up to one tile, which is the same for images of at least 512×512. Its output keeps the
probabilities that openseg's tester thresholds away: ``boundary`` = mask probability,
``direction`` = the 8 probabilities in openseg's bin order (the same as ``DIRECTIONS[8]``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from ...core.offsets import OffsetField, as_stored
from .checkpoint import load_checkpoint

MEAN = (0.485, 0.456, 0.406)  # as openseg's config lists them; applied to B, G, R
STD = (0.229, 0.224, 0.225)
TILE = 512
SCALE = {"semantic": 2.0, "instance": 1.0}


def tile_starts(total: int, tile: int) -> list[int]:
    """Crop offsets along one axis of length ``total >= tile``: stride ``int(tile / 3)``,
    plus a last crop flush with the end when the strided ones do not reach it."""
    stride = int(tile * (1 / 3))
    starts = [stride * i for i in range((total - tile) // stride + 1)]
    if total - starts[-1] > tile:
        starts.append(total - tile)
    return starts


def _nothing(*_args) -> None:
    return None


class OpensegPredictor:
    """Runs one of openseg's released SegFix checkpoints.

    Parameters
    ----------
    checkpoint : path of the ``.pth`` file
    arch : "hrnet48", "hrnext20", or None to read it from the checkpoint
    device : "auto", "cpu" or "cuda"
    task : "semantic" (scale 2), "instance" (scale 1), or None: from the file name /
        config (openseg's instance checkpoints are named ``..._segfix_loss_inst_...``)
    tile : crop size (openseg: 512); smaller only for tests
    batch : crops per network call
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        *,
        arch: str | None = None,
        device: str = "auto",
        task: str | None = None,
        tile: int = TILE,
        batch: int = 1,
    ):
        from ...core.refine import resolve_device

        if task is not None and task not in SCALE:
            raise ValueError(f"task must be semantic or instance, not {task!r}")
        self.device = resolve_device(device)
        self.model, self.info = load_checkpoint(checkpoint, arch=arch, device=self.device)
        self.arch = self.info["arch"]
        self.task = task or self.info["task"]
        self.tile, self.batch = int(tile), max(int(batch), 1)
        self.recommended = {"threshold": 0.5, "scale": SCALE[self.task], "min_direction_prob": 0.0}

    def tiles(self, shape: tuple[int, int]) -> list[tuple[int, int]]:
        """(top, left) of every crop for an image of ``shape`` (after padding)."""
        h, w = (max(s, self.tile) for s in shape[:2])
        return [(y, x) for y in tile_starts(h, self.tile) for x in tile_starts(w, self.tile)]

    def predict(self, image: np.ndarray, *, progress: Callable = _nothing, check: Callable = _nothing) -> OffsetField:
        """``(H, W, 3)`` uint8 RGB -> OffsetField (boundary (H, W), direction (8, H, W) at the
        storage precision, float16, as a written ``.npz`` holds them) with the recommended
        setting. ``progress(done, total)`` is called after each batch of crops and ``check()``
        before each (raise in it to cancel)."""
        b, d = self.probabilities(image, progress=progress, check=check)
        return OffsetField(boundary=as_stored(b), direction=as_stored(d), recommended=dict(self.recommended))

    def predict_batch(
        self, images, *, batch: int = 1, progress: Callable = _nothing, check: Callable = _nothing
    ) -> list[OffsetField]:
        """Fields for several images, one after another (``batch`` is unused: crops are
        batched by the predictor's own ``batch``); ``progress`` counts each image's crops."""
        return [self.predict(im, progress=progress, check=check) for im in images]

    def probabilities(
        self, image: np.ndarray, *, progress: Callable = _nothing, check: Callable = _nothing
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(H, W, 3)`` uint8 RGB -> boundary ``(H, W)`` and direction ``(8, H, W)`` float32."""
        import torch
        import torch.nn.functional as F

        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
        h, w = image.shape[:2]
        t = self.tile
        hp, wp = max(h, t), max(w, t)
        cl = torch.channels_last if self.device == "cpu" else torch.contiguous_format
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(image[..., ::-1])).to(self.device)
            x = x.permute(2, 0, 1).float().div(255)
            for c in range(3):
                x[c].sub_(MEAN[c]).div_(STD[c])
            x = F.pad(x, (0, wp - w, 0, hp - h), value=0.0)
            sums = torch.zeros(10, hp, wp, device=self.device)
            count = torch.zeros(1, hp, wp, device=self.device)
            crops = self.tiles((h, w))
            progress(0, len(crops))
            for s in range(0, len(crops), self.batch):
                check()
                part = crops[s : s + self.batch]
                xb = torch.stack([x[:, y : y + t, c : c + t] for y, c in part])
                mask, direction = self.model(xb.contiguous(memory_format=cl))
                out = torch.cat([torch.softmax(mask.float(), 1), direction.float()], 1)
                out = F.interpolate(out, size=(t, t), mode="bilinear", align_corners=True)
                for (y, c), o in zip(part, out, strict=True):
                    sums[:, y : y + t, c : c + t] += o
                    count[:, y : y + t, c : c + t] += 1
                progress(min(s + self.batch, len(crops)), len(crops))
            sums = (sums / count)[:, :h, :w]
            boundary = sums[1]
            direction = torch.softmax(sums[2:], 0)
            return (boundary.cpu().numpy().astype(np.float32), direction.cpu().numpy().astype(np.float32))
