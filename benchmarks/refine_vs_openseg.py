"""``refine_labels`` against the original SegFix code itself, side by side in one run.

    python benchmarks/refine_vs_openseg.py OPENSEG [--repeat 20] [--json FILE]

``OPENSEG`` is an openseg.pytorch checkout, or its bare git mirror (the script then extracts
``scripts/cityscapes/segfix.py`` into a temporary folder with ``git archive``). The original's
``LabelTransformer`` (with its 19-entry label list) and ``shift`` are taken from that file's own
source text and run unchanged; the module's top-level code (a ``subprocess`` call that sources
``config.profile``, an ``os.chdir``, the command-line part) is not run. One shim: the file uses
``np.int``, removed in NumPy 1.24, so its ``np`` is NumPy plus ``int`` (what ``np.int`` was).
Its ``torch.meshgrid`` and ``grid_sample`` calls warn on current torch; the warnings are silenced.

Input: ``../shared/data/cityscapes_mini`` label ids enlarged 8× to 1024×2048 (nearest); oracle
offsets (``gt_offset_field``, band width 7, Cityscapes ignore ids: about 10 % of pixels move)
written as an openseg ``.mat`` (unit steps, ``write_offsets``) and read back — ours through
``read_offsets`` (column-major int16 planes) and ``to_offsets`` at scale 2; the original's as its
``get_offset`` does (``loadmat(...)['mat'].astype(np.float32).transpose(2, 0, 1) * scale``).

Timed, best of ``--repeat`` (the original best of ``max(3, repeat // 4)``), interleaved:

- ``refine``: ``refine_labels(labels, offsets)`` vs ``decode(shift(encode(labels), offsets))``
  (the issue's comparison: each side given its offsets as its own loader produces them);
- ``with offsets``: the same plus each side's offset scaling (``to_offsets(Setting(scale=2))`` from the
  read field vs ``astype(float32).transpose(2, 0, 1) * 2`` from ``loadmat``'s array);
- ``floor``: a plain copy of the 1024×2048 map (``np.copyto``), and of the offsets' 8 MB;
- ``numba``: a minimal one-pass kernel written here (the lower bound of that approach; its output
  must equal ours; compile time excluded, reported apart). ``refine_labels`` itself is such a
  pass since numba became a dependency (``segfix_gui/core/gather.py``).

The outputs are not compared bit for bit: the original maps ids outside its 19-entry list to
255 and samples with ``align_corners=False`` (see ``benchmarks/engine_speed.py`` for the
correctness comparison). The script prints how many pixels differ, for the record.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from segfix_gui.core.refine import refine_labels  # noqa: E402
from segfix_gui.core.setting import Setting  # noqa: E402
from segfix_gui.core.targets import gt_offset_field  # noqa: E402
from segfix_gui.io.offsets import read_offsets, write_offsets  # noqa: E402
from segfix_gui.labels import get_label_space  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CS_LABELS = DATA / "cityscapes_mini/gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png"
SCRIPT = "scripts/cityscapes/segfix.py"
SCALE = 2


def segfix_script(openseg: Path, tmp: Path) -> Path:
    """The path of openseg's ``segfix.py``: in a checkout, or extracted from a bare mirror."""
    if (openseg / SCRIPT).is_file():
        return openseg / SCRIPT
    archive = subprocess.run(
        ["git", "-C", str(openseg), "archive", "HEAD", SCRIPT], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
    return tmp / SCRIPT


def load_original(path: Path) -> dict:
    """The original's imports, ``LabelTransformer`` and ``shift``/``gen_coord_map``, executed
    from its source text; nothing else of the module runs."""
    tree = ast.parse(path.read_text(), str(path))
    keep = [
        n
        for n in tree.body
        if isinstance(n, (ast.Import, ast.ImportFrom))
        or (isinstance(n, ast.ClassDef) and n.name == "LabelTransformer")
        or (isinstance(n, ast.FunctionDef) and n.name in ("gen_coord_map", "shift"))
    ]
    found = {n.name for n in keep if not isinstance(n, (ast.Import, ast.ImportFrom))}
    missing = {"LabelTransformer", "gen_coord_map", "shift"} - found
    if missing:
        raise SystemExit(f"{path}: no {', '.join(sorted(missing))} in the original script")
    ns: dict = {"__name__": "openseg_segfix", "__file__": str(path)}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(path), "exec"), ns)
    shim = types.ModuleType("numpy_with_int")  # np.int was removed in NumPy 1.24
    shim.__getattr__ = lambda name: getattr(np, name)
    shim.int = int
    ns["np"] = shim
    return ns


def best(fn, repeat: int) -> float:
    t_best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best


def numba_refine():
    """A minimal one-pass numba kernel for the same gather (the reference of ``core.gather``), or
    None without numba."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(nogil=True)
    def kernel(lab, a, b, out):  # a, b: (W, H) views of column-major (d_row, d_col) planes
        w, h = a.shape
        for c in range(w):
            for r in range(h):
                dr, dc = a[c, r], b[c, r]
                if dr != 0 or dc != 0:
                    out[r, c] = lab[min(max(r + dr, 0), h - 1), min(max(c + dc, 0), w - 1)]

    def run(labels, offsets):
        out = labels.copy()
        kernel(labels, offsets[0].T, offsets[1].T, out)
        return out

    return run


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("openseg", type=Path, help="openseg.pytorch checkout or bare git mirror")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args()
    import torch
    from scipy.io import loadmat

    space = get_label_space("cityscapes")
    labels = np.kron(np.asarray(Image.open(CS_LABELS)), np.ones((8, 8), np.uint8))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        orig = load_original(segfix_script(args.openseg, tmp))
        mat = tmp / "offsets.mat"
        write_offsets(mat, gt_offset_field(labels, width=7, ignore_ids=space.ignore_ids))
        field = read_offsets(mat)
        raw = loadmat(mat)["mat"]
    offsets = field.to_offsets(Setting(scale=SCALE))
    orig_offsets = raw.astype(np.float32).transpose(2, 0, 1) * SCALE
    lt, shift = orig["LabelTransformer"], orig["shift"]

    def original():
        return lt.decode(shift(lt.encode(labels), orig_offsets))

    def original_with_offsets():
        return lt.decode(shift(lt.encode(labels), raw.astype(np.float32).transpose(2, 0, 1) * SCALE))

    def ours():
        return refine_labels(labels, offsets, device="cpu")

    def ours_with_offsets():
        return refine_labels(labels, field.to_offsets(Setting(scale=SCALE)), device="cpu")

    copy_map, copy_off = np.empty_like(labels), np.empty_like(offsets)
    nb = numba_refine()
    if nb is not None:
        t = time.perf_counter()
        nb_equal = bool(np.array_equal(nb(labels, offsets), ours()))
        nb_compile = time.perf_counter() - t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # meshgrid indexing, grid_sample defaults
        differ = int((original() != ours()).sum())
        times = {
            k: float("inf") for k in ("ours", "original", "ours_off", "original_off", "floor_map", "floor_offsets")
        }
        n_orig = max(3, args.repeat // 4)
        for i in range(args.repeat):  # interleaved, so that load changes hit both sides
            times["ours"] = min(times["ours"], best(ours, 1))
            times["ours_off"] = min(times["ours_off"], best(ours_with_offsets, 1))
            times["floor_map"] = min(times["floor_map"], best(lambda: np.copyto(copy_map, labels), 1))
            times["floor_offsets"] = min(times["floor_offsets"], best(lambda: np.copyto(copy_off, offsets), 1))
            if nb is not None:
                times["numba"] = min(times.get("numba", float("inf")), best(lambda: nb(labels, offsets), 1))
            if i < n_orig:
                times["original"] = min(times["original"], best(original, 1))
                times["original_off"] = min(times["original_off"], best(original_with_offsets, 1))
    ms = {k: 1000 * v for k, v in times.items()}
    res = {
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "map": f"{labels.shape[0]}x{labels.shape[1]}",
        "scale": SCALE,
        "moving_fraction": float((offsets != 0).any(0).mean()),
        "offsets_memory": "column-major planes" if offsets[0].T.flags.c_contiguous else "row-major",
        "repeat": args.repeat,
        "original_repeat": n_orig,
        "refine": {"ours_ms": ms["ours"], "original_ms": ms["original"], "ratio": ms["original"] / ms["ours"]},
        "with_offsets": {
            "ours_ms": ms["ours_off"],
            "original_ms": ms["original_off"],
            "ratio": ms["original_off"] / ms["ours_off"],
        },
        "floor": {"copy_map_ms": ms["floor_map"], "copy_offsets_ms": ms["floor_offsets"]},
        "pixels_differing_from_original": differ,
    }
    if nb is not None:
        import numba

        res["numba"] = {
            "version": numba.__version__,
            "ms": ms["numba"],
            "ratio_to_original": ms["original"] / ms["numba"],
            "ours_over_numba": ms["ours"] / ms["numba"],
            "first_call_with_compile_s": nb_compile,
            "equal_to_ours": nb_equal,
        }
    print(json.dumps(res, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
