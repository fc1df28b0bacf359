"""The offset network: boundary + direction prediction from an RGB image.

- :mod:`.encoder` — EfficientNet-Lite0 in plain torch (ImageNet weights at training time only)
- :mod:`.net` — :class:`OffsetNet` and the registry :data:`CONFIGS`
- :mod:`.data`, :mod:`.train` — targets, loss, training loop (``segfix train``)
- :mod:`.predictor` — :class:`OffsetPredictor` (numpy in, :class:`OffsetField` out),
  :func:`load_model`, the bundled weights

Nothing here imports torch until it is used.
"""

from __future__ import annotations


def __getattr__(name):
    if name in ("OffsetPredictor", "load_model", "bundled_weights", "bundled_path", "read_record"):
        from . import predictor

        return getattr(predictor, name)
    if name in ("OffsetNet", "CONFIGS", "build"):
        from . import net

        return getattr(net, name)
    raise AttributeError(name)


def gpu_timing(*, weights=None, shape=(1024, 2048), repeat: int = 10) -> dict:
    """Time offset prediction on CUDA for one ``shape`` RGB image with the bundled weights.

    Returns ``{"predict_1024x2048_cuda_ms": best network-only time (bfloat16 autocast),
    "predict_1024x2048_cuda_numpy_ms": best time numpy in -> OffsetField out,
    "predict_1024x2048_cuda_flip_ms": same with flip averaging, "predict_gpu": name}``;
    ``{}`` without CUDA, ``{"predict_error": ...}`` if timing failed.
    """
    import torch

    if not torch.cuda.is_available():
        return {}
    try:
        out = predict_timing("cuda", weights=weights, shape=shape, repeat=repeat)
        out["predict_gpu"] = torch.cuda.get_device_name(0)
        return out
    except Exception as err:  # noqa: BLE001 - a timing must never break the caller's check
        return {"predict_error": f"{err.__class__.__name__}: {err}"}


def predict_timing(device: str, *, weights=None, shape=(1024, 2048), repeat: int = 10) -> dict:
    """Best times (ms) of offset prediction for one ``shape`` image on ``device``."""
    import tempfile
    import time

    import numpy as np
    import torch

    from .predictor import OffsetPredictor, bundled_path

    tag = f"{shape[0]}x{shape[1]}_{device}"
    image = np.random.default_rng(0).integers(0, 256, size=(*shape, 3), dtype=np.uint8)
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if weights is None and not bundled_path().exists():
            # no bundled weights yet: time an untrained network of the shipped architecture
            from .net import build
            from .train import save_weights

            weights = f"{tmp}/untrained.pt"
            save_weights(weights, build("lite0-fr"))
            out["predict_weights"] = "untrained lite0-fr (bundled weights absent; same architecture)"

        def sync():
            if device == "cuda":
                torch.cuda.synchronize()

        for flip in (False, True):
            pred = OffsetPredictor(weights, device=device, flip=flip, smooth=False)
            x = (torch.from_numpy(image).to(device).permute(2, 0, 1)[None].float() / 255).contiguous(
                memory_format=torch.channels_last
            )

            def net_only(pred=pred, x=x):
                with torch.inference_mode():
                    pred._forward(x)
                sync()

            def full(pred=pred):
                pred.predict(image)
                sync()

            cases = [(full, "_flip")] if flip else [(net_only, ""), (full, "_numpy")]
            for fn, key in cases:
                fn()
                best = float("inf")
                for _ in range(repeat):
                    t = time.perf_counter()
                    fn()
                    best = min(best, time.perf_counter() - t)
                out[f"predict_{tag}{key}_ms"] = round(1000 * best, 2)
    return out
