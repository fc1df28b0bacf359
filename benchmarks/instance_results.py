"""Instance AP before / after SegFix on the Cityscapes-format fixture (docs/RESULTS.md).

    python benchmarks/instance_results.py [--json OUT.json] [--keep DIR]

Builds the fixture of ``tests/make_instance_fixture.py`` (the cityscapes_mini frame upscaled
4× to 512×1024; every ground-truth instance degraded by stride-8 pooling; fixed scores) in a
temporary folder, runs ``segfix refine-instances`` with ground-truth (oracle) offsets at
scales 1 (the default, as the original does for instances), 2 and 3, and with all-zero
offsets, and evaluates each with ``segfix evaluate-instances`` (official cityscapesscripts
AP / AP50, Boundary AP (dilation ratio 0.005) plus per-instance mask IoU and boundary F-score at
3 px to the matched ground truth).
Prints a Markdown table. Needs ../shared/data/cityscapes_mini.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from make_instance_fixture import DATA, make_fixture  # noqa: E402

from segfix_gui.cli import main as segfix  # noqa: E402


def _evaluate(fx, refined: Path, tmp: Path, name: str) -> dict:
    out_json = tmp / f"{name}.json"
    with contextlib.redirect_stdout(io.StringIO()):
        rc = segfix(
            [
                "evaluate-instances",
                "--gt",
                str(fx["gt"]),
                "--pred",
                str(fx["pred"]),
                "--refined",
                str(refined),
                "--json",
                str(out_json),
            ]
        )
    if rc != 0:
        raise SystemExit(f"evaluate-instances failed ({rc})")
    return json.loads(out_json.read_text())


def run(keep: Path | None = None) -> dict:
    if not (DATA / "gtFine").is_dir():
        raise SystemExit(f"needs the shared Cityscapes sample at {DATA}")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(keep) if keep else Path(t)
        tmp.mkdir(parents=True, exist_ok=True)
        fx = make_fixture(tmp / "fixture")
        runs = [
            ("ground-truth offsets, scale 1 (default)", "offsets_gt", ["--scale", "1"]),
            ("ground-truth offsets, scale 2", "offsets_gt", ["--scale", "2"]),
            ("ground-truth offsets, scale 3", "offsets_gt", ["--scale", "3"]),
            ("zero offsets", "offsets_zero", []),
        ]
        rows = []
        for i, (label, offsets, extra) in enumerate(runs):
            out = tmp / f"refined_{i}"
            with contextlib.redirect_stdout(io.StringIO()):
                rc = segfix(
                    [
                        "refine-instances",
                        "--input",
                        str(fx["pred"]),
                        "--offset",
                        str(fx[offsets]),
                        "--out",
                        str(out),
                        "--device",
                        "cpu",
                        *extra,
                    ]
                )
            if rc != 0:
                raise SystemExit(f"refine-instances failed ({rc})")
            rows.append((label, _evaluate(fx, out, tmp, f"eval_{i}")))
    first = rows[0][1]
    return {
        "machine": f"{platform.machine()} {platform.system()}, Python {platform.python_version()}",
        "shape": list(fx["shape"]),
        "images": first["images"],
        "predictions": first["instances"]["instances"],
        "before": {k: first[k] for k in ("ap", "ap50", "per_class", "instances", "boundary_ap")},
        "runs": [
            {
                "setting": label,
                **{k: r["refined"][k] for k in ("ap", "ap50", "per_class", "instances", "boundary_ap")},
            }
            for label, r in rows
        ],
        "min_region_size": first["min_region_size"],
        "boundary_tol": first["boundary_tol"],
    }


def _p(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}"


def markdown(res: dict) -> str:
    b = res["before"]
    lines = [
        f"{res['images']} frame at {res['shape'][0]}×{res['shape'][1]}, "
        f"{res['predictions']} predicted instances; AP / AP50 from cityscapesscripts "
        f"(ground-truth instances under {res['min_region_size']} px ignored); mask IoU and "
        f"boundary F ({res['boundary_tol']:g} px) are means over instances, to the "
        "matched ground truth.",
        "",
        "| predictions | AP | AP50 | AP person | AP car | Boundary AP | mask IoU | boundary F |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def row(name, r):
        pc = r["per_class"]
        return (
            f"| {name} | {_p(r['ap'])} | {_p(r['ap50'])} | {_p(pc['person']['ap'])} | "
            f"{_p(pc['car']['ap'])} | {_p(r['boundary_ap']['ap'])} | {r['instances']['mean_iou']:.3f} | "
            f"{r['instances']['mean_boundary_f']:.3f} |"
        )

    lines.append(row("degraded (stride-8 masks)", b))
    for r in res["runs"]:
        lines.append(row(f"refined, {r['setting']}", r))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--keep", metavar="DIR", help="build the fixture and outputs here and keep them")
    a = p.parse_args(argv)
    res = run(Path(a.keep) if a.keep else None)
    print(markdown(res))
    print(f"\nmachine: {res['machine']}")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
