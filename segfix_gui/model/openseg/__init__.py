"""openseg's released SegFix checkpoints (openseg.pytorch MODEL_ZOO), in plain torch.

- :mod:`.nets` — the HRNet-W48 and HRNet2x-W20 backbones and :class:`SegFixHRNet`, with
  module names that make openseg's ``state_dict`` keys load strictly; inplace-ABN maths
- :mod:`.checkpoint` — :func:`load_checkpoint`: ``weights_only`` reading, ``module.``
  prefix, architecture inferred from the keys, one-line errors
- :mod:`.predictor` — :class:`OpensegPredictor`: openseg's tester protocol (512×512 tiles at
  stride 170, averaged) from an RGB image to an :class:`~segfix_gui.core.offsets.OffsetField`

Written from a reading of openseg's code (``lib/models/nets/segfix.py``,
``lib/models/backbones/hrnet/``, ``segmentor/tester_offset.py``); none of it is copied.
Nothing here imports torch until it is used.
"""

from __future__ import annotations

ARCHS = ("hrnet48", "hrnext20")


def __getattr__(name):
    if name in ("OpensegPredictor",):
        from . import predictor

        return getattr(predictor, name)
    if name in ("load_checkpoint", "read_checkpoint", "infer_arch", "is_openseg_checkpoint"):
        from . import checkpoint

        return getattr(checkpoint, name)
    if name in ("SegFixHRNet", "build", "ABN"):
        from . import nets

        return getattr(nets, name)
    raise AttributeError(name)
