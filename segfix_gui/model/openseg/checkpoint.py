"""Reading openseg's SegFix checkpoints, strictly and safely.

openseg saves ``{'config_dict': ..., 'state_dict': ...}`` with every key prefixed
``module.`` (DataParallel); its loader also takes ``{'model': ...}`` or a bare state dict,
and so does :func:`read_checkpoint`. Files are read with ``torch.load(weights_only=True)``:
a file that needs code or arbitrary objects to unpickle is refused. Weights must fit the
network exactly (no missing, unexpected or mis-shaped keys): openseg's own loader is not
strict, and a plain-BatchNorm build silently misses the heads' inplace-ABN keys.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from ...errors import InputError
from . import ARCHS

# openseg's backbone names (config_dict['network']['backbone']) -> ours
BACKBONES = {"hrnet48": "hrnet48", "hrnet2x20": "hrnext20"}
# a key only each architecture has
MARKERS = {"backbone.layer1.0.conv1.weight": "hrnet48", "backbone.transition0.0.0.weight": "hrnext20"}


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict]:
    """``(state_dict without 'module.', config_dict or {})`` of an openseg checkpoint."""
    import torch

    from ..._files import check_input

    path = Path(path)
    check_input(path, "checkpoint file")  # a FIFO or a device would block or never end
    from ..predictor import check_declared_size, pickle_code, refused, torch_load

    check_declared_size(path, what="checkpoint")
    try:
        blob = torch_load(path)
    except pickle.UnpicklingError as err:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        glob = [ln for ln in lines if "GLOBAL" in ln or "global" in ln.split(":")[0]]
        code = pickle_code(path)  # what it would call, read without running anything
        if glob or code is not None:  # the pickle asks for a function or class: never run it
            raise InputError(path, refused(code or glob[0])) from None
        why = [ln for ln in lines if not ln.startswith(("Weights only", "Please file", "Check the"))]
        raise InputError(path, f"not a readable checkpoint ({(why or lines or ['?'])[0][:200]})") from None
    except OSError as err:
        raise InputError(path, f"cannot read checkpoint: {err.strerror or err}") from None
    except Exception as err:  # noqa: BLE001 - any other failure to unpickle means a bad file
        raise InputError(path, f"not a readable checkpoint ({_first_line(err)})") from None
    if not isinstance(blob, dict):
        raise InputError(path, f"not an openseg checkpoint (holds a {type(blob).__name__}, not a dict)")
    if blob.get("format") == "segfix-offset-net":
        raise InputError(
            path, "these are segfix offset-network weights, not an openseg checkpoint: pass them with --weights"
        )
    config: dict = blob["config_dict"] if isinstance(blob.get("config_dict"), dict) else {}
    if isinstance(blob.get("state_dict"), dict):
        state = blob["state_dict"]
    elif isinstance(blob.get("model"), dict):
        state = blob["model"]
    elif blob and all(isinstance(v, torch.Tensor) for v in blob.values()):
        state = blob
    else:
        raise InputError(
            path,
            "no state_dict in the checkpoint (expected 'state_dict', "
            f"'model' or a bare state dict; found {_names(blob)})",
        )
    bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise InputError(path, f"state_dict entry {bad[0]!r} is not a named tensor")
    state = {(k[7:] if k.startswith("module.") else k): v for k, v in state.items()}
    return state, config


def infer_arch(state: dict, config: dict | None = None) -> str | None:
    """``'hrnet48'`` / ``'hrnext20'`` from the config's backbone or the keys, else None."""
    backbone = ((config or {}).get("network") or {}).get("backbone")
    if isinstance(backbone, str) and backbone in BACKBONES:
        return BACKBONES[backbone]
    found = {arch for key, arch in MARKERS.items() if key in state}
    return found.pop() if len(found) == 1 else None


def infer_task(path: str | os.PathLike, config: dict | None = None) -> str:
    """``'instance'`` for openseg's instance checkpoints (``..._segfix_loss_inst_...``:
    refined with scale 1), else ``'semantic'`` (scale 2)."""
    names = [Path(path).name]
    ckpt = (config or {}).get("checkpoints") or {}
    if isinstance(ckpt, dict) and isinstance(ckpt.get("checkpoints_name"), str):
        names.append(ckpt["checkpoints_name"])
    return "instance" if any("_inst" in n for n in names) else "semantic"


def load_checkpoint(path: str | os.PathLike, *, arch: str | None = None, device: str = "cpu"):
    """``(model, info)``: the :class:`~.nets.SegFixHRNet` in eval mode (float32) on
    ``device`` with the checkpoint's weights, and ``info`` = ``{"arch", "task",
    "config"}``. ``arch`` None: inferred from the checkpoint (an error when it cannot be);
    given: must agree with what the checkpoint says. Raises :class:`InputError` (one line)."""
    import torch

    from .nets import SegFixHRNet

    if arch is not None and arch not in ARCHS:
        raise InputError(None, f"unknown architecture {arch!r} (expected {' or '.join(ARCHS)})")
    state, config = read_checkpoint(path)
    found = infer_arch(state, config)
    if arch is None:
        if found is None:
            raise InputError(
                path, f"cannot tell the architecture from the checkpoint; give it (--arch {' or '.join(ARCHS)})"
            )
        arch = found
    elif found is not None and found != arch:
        raise InputError(path, f"the checkpoint holds an {found} network, not {arch} (--arch)")
    model = SegFixHRNet(arch)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys ({', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({', '.join(unexpected[:3])})")
        raise InputError(path, f"weights do not fit openseg's SegFix {arch} network: " + "; ".join(parts))
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise InputError(
                path,
                f"weights do not fit openseg's SegFix {arch} network: {k} "
                f"has shape {tuple(state[k].shape)}, expected {tuple(v.shape)}",
            )
        if not state[k].is_floating_point() or not torch.isfinite(state[k]).all():
            raise InputError(path, f"weight {k} is not finite floating point")
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    model.eval().to(device)
    if device == "cpu":
        # several times faster convs on CPU (torch's stubs omit Module.to's memory_format)
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model, {"arch": arch, "task": infer_task(path, config), "config": config}


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else err.__class__.__name__)[:200]


def _names(blob: dict) -> str:
    keys = [str(k) for k in list(blob)[:4]]
    return ", ".join(keys) + (" …" if len(blob) > 4 else "") if keys else "an empty dict"
