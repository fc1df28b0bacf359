"""Loading weights and predicting offset fields: numpy in, numpy out.

Weights file (``torch.save`` of plain containers, read with ``weights_only=True``)::

    {"format": "segfix-offset-net", "version": 1, "config": {...}, "state_dict": {...}}

A JSON record of the same stem may sit beside it (``weights.json``); its
``"recommended"`` settings (``threshold``, ``min_direction_prob``, ``scale``), chosen on
validation data, are attached to every predicted :class:`OffsetField`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .._files import JSON_LIMIT, read_small
from .._resources import resource
from ..core.offsets import OffsetField, as_stored, flip_bins
from ..errors import InputError

BUNDLED_NAME = "offsetnet-camvid.pt"
FORMAT = "segfix-offset-net"


def bundled_path() -> Path:
    """Where the shipped weights are (found when asked: nothing is looked up at import)."""
    return resource("weights", BUNDLED_NAME)


def bundled_weights() -> Path:
    """Path of the shipped weights (InputError if the file is missing)."""
    path = bundled_path()
    if not path.exists():
        raise InputError(path, "bundled offset-network weights are missing from this install")
    return path


def read_record(weights: str | os.PathLike) -> dict:
    """The JSON record beside ``weights`` (``{}`` when there is none)."""
    path = Path(weights).with_suffix(".json")
    if not path.exists():
        return {}
    try:
        rec = json.loads(read_small(path, limit=JSON_LIMIT, what="weights record").decode("utf-8"))
    except InputError:
        raise
    except (OSError, ValueError) as err:
        raise InputError(path, f"not a readable JSON record: {err}") from None
    if not isinstance(rec, dict):
        raise InputError(path, "the record must be a JSON object")
    return rec


def recommended_settings(record: dict, path=None) -> dict:
    """Validated ``recommended`` settings of a record (``{}`` when absent), by the rule of every
    offset file's (:func:`segfix_gui.core.setting.check_recommended`); InputError naming
    ``path`` (the record) otherwise."""
    from ..core.setting import check_recommended

    rec = record.get("recommended") or {}
    if not isinstance(rec, dict):
        raise InputError(path, "'recommended' must be an object of settings")
    try:
        return check_recommended(rec)
    except ValueError as err:
        raise InputError(path, f"recommended {err}") from None


REFUSED = "refused: it would run code (only tensors and plain containers are ever read)"

SCAN_LIMIT = 64 << 20
"""At most this many bytes of a pickle are read when looking for code in it (:func:`pickle_code`)."""


def _allowed_globals() -> set[str]:
    """What torch's safe loader may call (its allowlist; torch's own types where it is gone)."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        return set(_get_allowed_globals())
    except (ImportError, AttributeError, TypeError):
        return set()


def _safe_global(name: str, allowed: set[str]) -> bool:
    return name in allowed or (not allowed and name.startswith(("torch.", "collections.OrderedDict")))


class _Capped:
    """A binary file read at most ``limit`` bytes (then ``EOFError``): scanning never loads a
    huge string of a pickle whole."""

    def __init__(self, f, limit: int):
        self.f, self.left = f, limit

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self.left:
            raise EOFError("scan limit reached")
        data = self.f.read(n)
        self.left -= len(data)
        return data

    def readline(self) -> bytes:
        data = self.f.readline(min(self.left, 1 << 16))
        self.left -= len(data)
        return data

    def tell(self) -> int:
        return self.f.tell()


def pickle_code(path) -> str | None:
    """The function or class (``posix.system``) that loading the pickle file ``path`` (plain,
    or torch's zip of one) would call and that torch's safe loader does not allow, or None.
    Found by reading its opcodes (nothing is run, at most :data:`SCAN_LIMIT` bytes read), so a
    file the safe loader cannot even parse (pickle protocol 4 or 5) is still refused as code."""
    import pickletools
    import zipfile

    allowed = _allowed_globals()
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if n.endswith("data.pkl")]
                streams = [z.open(n) for n in names[:1]]
        else:
            streams = [open(path, "rb")]
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    for raw in streams:
        with raw:
            f = _Capped(raw, SCAN_LIMIT)
            strings: list[str] = []
            try:
                for _ in range(8):  # torch's legacy format: a few pickles one after another
                    for op, arg, _pos in pickletools.genops(f):  # type: ignore[arg-type]  # read/readline do
                        name = None
                        if op.name in ("GLOBAL", "INST"):
                            name = ".".join(str(arg).split(" ", 1))
                        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                            name = f"{strings[-2]}.{strings[-1]}"
                        elif op.name.startswith("EXT"):
                            name = f"extension code {arg}"
                        elif isinstance(arg, str):
                            strings.append(arg)
                        if name is not None and not _safe_global(name, allowed):
                            return name
            except (EOFError, ValueError, OSError, UnicodeDecodeError, zipfile.BadZipFile):
                pass
    return None


def torch_load(path):
    """``torch.load(path, weights_only=True)`` on the CPU, without torch's warning about a
    pickle protocol it does not expect (the failure, if any, is reported in our words)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*pickle protocol", category=UserWarning)
        return torch.load(path, map_location="cpu", weights_only=True)


def refused(code: str | None = None) -> str:
    """The one line of a file that would run code if it were loaded (``code``: what it would
    call, when known): weights, checkpoints and ImageNet weights alike."""
    if code is None:
        return REFUSED
    return f"refused: it would run code (it would call {code[:120]}); only tensors and plain containers are ever read"


def load_failure(path, err: BaseException, what: str = "weights file") -> InputError:
    """The InputError for a file ``torch.load(..., weights_only=True)`` refused or could not read.

    A file that needs code or objects to unpickle is refused in our words (torch's own message
    ends in advice to load it unsafely, which we never do).
    """
    import pickle

    text = str(err).strip()
    if not isinstance(err, OSError) and path is not None and (code := pickle_code(path)) is not None:
        return InputError(path, refused(code))  # code the safe loader could not even parse (protocol 4, 5)
    if "Weights only load failed" in text or isinstance(err, pickle.UnpicklingError):
        # torch's reason sits after "WeightsUnpickler error:"; its advice (load unsafely) is dropped
        if "GLOBAL" in text or "Unsupported global" in text or "allowlisted" in text:
            return InputError(path, REFUSED)  # needs a function or class to unpickle
        reason = text.split("WeightsUnpickler error:", 1)[-1].strip().split("\n\n")[0].strip()
        first = " ".join(reason.split())
        if first.startswith("Weights only load failed"):
            first = "not plain tensors"
        return InputError(path, f"not a readable {what} ({first[:200]})")
    first = text.splitlines()[0] if text else err.__class__.__name__
    return InputError(path, f"not a readable {what} ({first[:200]})")


MAX_TENSOR_BYTES = 512 << 20
"""Most bytes of tensors a weights file or checkpoint may hold once inflated: about twice
openseg's HRNet-W48 SegFix checkpoint (263 MB), the largest network this program runs."""


def check_declared_size(path, *, what: str = "weights file", limit: int | None = None) -> None:
    """Refuse a ``torch.save`` archive whose members would inflate past ``limit`` bytes, from the
    sizes its zip directory declares (nothing is read or inflated; torch's reader allocates
    each member at its declared size and fails when the data would exceed it; ``limit``
    None: :data:`MAX_TENSOR_BYTES`). A file that
    is not a zip archive (torch's legacy format) holds its tensors uncompressed: its own
    size bounds them, and torch.load says what else is wrong with it."""
    import zipfile

    limit = MAX_TENSOR_BYTES if limit is None else limit
    try:
        if not zipfile.is_zipfile(path):
            return
        with zipfile.ZipFile(path) as zf:
            total = sum(info.file_size for info in zf.infolist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return  # torch.load names the problem
    if total > limit:
        raise InputError(
            path,
            f"declares {total:,} bytes of tensors once inflated, more than the {limit:,} a {what} may "
            "hold (a damaged or hostile file?)",
        )


def load_plain(path, *, what: str = "weights file"):
    """``torch.load`` of tensors and plain containers only, of a declared size at most
    :data:`MAX_TENSOR_BYTES`; InputError naming ``path`` otherwise."""
    from .._files import check_input

    check_input(path, what)  # a FIFO or a device would block or never end
    check_declared_size(path, what=what)
    try:
        return torch_load(path)
    except FileNotFoundError:
        raise InputError(path, f"{what} not found") from None
    except Exception as err:  # noqa: BLE001 - any failure to unpickle means a bad file
        raise load_failure(path, err, what) from None


def load_model(weights: str | os.PathLike | None = None, *, device: str = "cpu"):
    """``(model, record)``: the network in eval mode (float32) on ``device``.

    Raises :class:`InputError` naming the file for a missing, corrupted or foreign file.
    """
    import torch

    from .net import OffsetNet, check_config

    path = Path(weights) if weights is not None else bundled_weights()
    blob = load_plain(path, what="weights file")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise InputError(
            path, f"not segfix offset-network weights (no 'format': '{FORMAT}' entry; a checkpoint of another model?)"
        )
    if blob.get("version") != 1:
        raise InputError(path, f"weights format version {blob.get('version')!r} is not supported")
    try:
        config = check_config(blob.get("config"))
    except ValueError as err:
        raise InputError(path, str(err)) from None
    state = blob.get("state_dict")
    if not isinstance(state, dict):
        raise InputError(path, "weights file lacks a state_dict")
    model = OffsetNet(config)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (RuntimeError, AttributeError) as err:
        msg = str(err).replace("\n", " ")
        raise InputError(path, f"weights do not fit the '{config['name']}' network ({msg[:200]})") from None
    for k, v in state.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise InputError(path, f"weights hold NaN or infinite values ({k})")
    # ~3x faster convs on CPU (torch's stubs omit Module.to's memory_format)
    model.eval().to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model, read_record(path)


STRIDE = 32
"""The network's coarsest stride: windows start on its multiples (its grid is the same)."""
TILE = 768
"""Largest window side the network runs on at once: an image with a longer side is tiled
(about 1.1 GB at 768×768 on a CPU, the process included; docs/BENCHMARKS.md)."""
HALO = 128
"""Context around each window's kept core, on every side that has image there."""
RECEPTIVE_RADIUS = 480
"""A halo at least this wide makes the tiled field the whole image's (the network's receptive
field reaches 460 pixels from a pixel; measured by perturbation)."""


def tile_windows(total: int, tile: int, halo: int) -> list[tuple[slice, slice]]:
    """``(window, keep)`` along one axis of length ``total``: the image slice the network
    runs on and, within it, the slice kept. Cores of ``tile - 2 * halo`` pixels cover the
    axis once; each window adds up to ``halo`` pixels on both sides (fewer at the ends), and
    starts on a multiple of the cores' size less the halo, both multiples of :data:`STRIDE`.
    One window, all kept, when ``total <= tile``."""
    if total <= tile:
        return [(slice(0, total), slice(0, total))]
    core = tile - 2 * halo
    out = []
    for a in range(0, total, core):
        b = min(a + core, total)
        lo, hi = max(a - halo, 0), min(b + halo, total)
        out.append((slice(lo, hi), slice(a - lo, b - lo)))
    return out


class OffsetPredictor:
    """Predicts :class:`OffsetField` s from RGB images with a trained network.

    Parameters
    ----------
    weights : path, or None for the bundled weights
    device : "auto", "cpu" or "cuda"
    flip : bool, average with the horizontally flipped image (direction bins mapped);
        None: as the weights' record says (``"inference": {"flip": ...}``), else False
    smooth : bool, spread each direction probability over its two neighbouring bins
        (weights 1/4, 1/2, 1/4), so the most likely direction is the best of three
        adjacent sectors and its probability their mass; None: as the record says
    tile, halo : an image with a side longer than ``tile`` runs in windows of at most
        ``tile``×``tile`` pixels, ``halo`` of them context (:meth:`tiled`); multiples of 32
    """

    def __init__(
        self,
        weights=None,
        *,
        device: str = "auto",
        flip: bool | None = None,
        smooth: bool | None = None,
        tile: int = TILE,
        halo: int = HALO,
    ):
        import torch

        from ..core.refine import resolve_device

        self.device = resolve_device(device)
        self.model, self.record = load_model(weights, device=self.device)
        record_path = Path(weights if weights is not None else bundled_weights()).with_suffix(".json")
        self.recommended = recommended_settings(self.record, record_path)
        inference = self.record.get("inference") or {}
        self.flip = bool(inference.get("flip", False)) if flip is None else flip
        self.smooth = bool(inference.get("smooth", False)) if smooth is None else smooth
        self.k = self.model.config["directions"]
        if tile % STRIDE or halo % STRIDE or not 0 <= 2 * halo < tile:
            raise ValueError(f"tile {tile} and halo {halo} must be multiples of {STRIDE}, the halos less than the tile")
        self.tile, self.halo = int(tile), int(halo)
        self._perm = torch.from_numpy(flip_bins(self.k, "horizontal"))

    def predict(self, image: np.ndarray) -> OffsetField:
        """``(H, W, 3)`` uint8 RGB -> OffsetField: boundary (H, W) and direction (K, H, W) at the
        storage precision (:data:`~segfix_gui.core.offsets.PROBABILITY_DTYPE`, float16), so the
        field refines as it will once written to ``.npz`` and read back."""
        return self.predict_batch([image])[0]

    def predict_batch(self, images: list[np.ndarray], *, batch: int = 4) -> list[OffsetField]:
        """Fields for several images (same-size images run together, ``batch`` at a time;
        an image larger than one tile runs alone, tile by tile: see :meth:`tiled`)."""
        out: list[OffsetField | None] = [None] * len(images)
        groups: dict[tuple, list[int]] = {}
        for i, im in enumerate(images):
            im = np.asarray(im)
            if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
                raise ValueError(f"image {i} must be (H, W, 3) uint8, got {im.shape} {im.dtype}")
            if max(im.shape[:2]) > self.tile:
                b, d = self.tiled(im)
                out[i] = OffsetField(boundary=b, direction=d, recommended=dict(self.recommended))
                continue
            groups.setdefault(im.shape, []).append(i)
        for idx in groups.values():
            for s in range(0, len(idx), max(batch, 1)):
                sel = idx[s : s + batch]
                b, d = self.probabilities(np.stack([images[i] for i in sel]))
                for j, i in enumerate(sel):
                    out[i] = OffsetField(
                        boundary=as_stored(b[j]), direction=as_stored(d[j]), recommended=dict(self.recommended)
                    )
        return [f for f in out if f is not None]  # every image has its field

    def tiled(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(H, W, 3)`` uint8 -> boundary ``(H, W)`` and direction ``(K, H, W)`` at the storage
        precision, computed window by window so memory does not grow with the image.

        Each window is at most ``tile``×``tile`` pixels: a core, kept, with ``halo`` pixels of
        context on every side that has image there (:func:`tile_windows`). Windows start on
        multiples of 32, the network's stride, so a core whose receptive field lies inside its
        window (``halo`` >= :data:`RECEPTIVE_RADIUS`) is exactly what the whole image gives;
        with the default halo the two differ only at the seams, and little (docs/BENCHMARKS.md).
        """
        from ..core.offsets import PROBABILITY_DTYPE

        h, w = image.shape[:2]
        boundary = np.empty((h, w), PROBABILITY_DTYPE)
        direction = np.empty((self.k, h, w), PROBABILITY_DTYPE)
        for rows, keep_r in tile_windows(h, self.tile, self.halo):
            for cols, keep_c in tile_windows(w, self.tile, self.halo):
                b, d = self.probabilities(image[None, rows, cols])
                boundary[rows, cols][keep_r, keep_c] = b[0][keep_r, keep_c]
                direction[:, rows, cols][:, keep_r, keep_c] = d[0][:, keep_r, keep_c]
        return boundary, direction

    def probabilities(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(N, H, W, 3)`` uint8 -> boundary ``(N, H, W)`` and direction ``(N, K, H, W)`` float32."""
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device)
            x = x.permute(0, 3, 1, 2).float().div_(255).contiguous(memory_format=torch.channels_last)
            b, d = self._forward(x)
            if self.flip:
                bf, df = self._forward(x.flip(-1))
                # direction bin j of the image is bin perm[j] of its mirror image
                b = (b + bf.flip(-1)) / 2
                d = (d + df.flip(-1)[:, self._perm.to(df.device)]) / 2
            if self.smooth:
                d = 0.5 * d + 0.25 * (torch.roll(d, 1, 1) + torch.roll(d, -1, 1))
            return b.cpu().numpy(), d.cpu().numpy()

    def _forward(self, x):
        import torch

        ctx = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if self.device == "cuda"
            else torch.autocast("cpu", enabled=False)
        )
        with ctx:
            b, d = self.model(x)
        return torch.sigmoid(b[:, 0].float()), torch.softmax(d.float(), 1)
