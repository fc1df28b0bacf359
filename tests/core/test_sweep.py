"""Sweeps over threshold and scale: engine (segfix_gui.core.sweep) and ``segfix sweep``.

The fast sweep must give exactly what refine_labels + SemanticEvaluator (and ``segfix refine``
+ ``segfix evaluate``) give at each setting.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segfix_gui.cli import main
from segfix_gui.core.degrade import degrade
from segfix_gui.core.metrics import SemanticEvaluator, change_codes, change_counts
from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.refine import refine_labels
from segfix_gui.core.setting import Setting
from segfix_gui.core.sweep import SweepGrid, SweepSample, sweep, sweep_image
from segfix_gui.io.images import read_labels, write_labels
from segfix_gui.io.offsets import write_offsets
from segfix_gui.io.samples import sweep_jobs
from segfix_gui.labels import get_label_space

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CAMVID_VAL = DATA / "camvid" / "val" / "labels"
SPACE = get_label_space("camvid")  # ids 0..10 evaluated, 11 void


# --------------------------------------------------------------------------- helpers


def scene(rng, h, w, *, void=True) -> np.ndarray:
    """A label map of Voronoi cells with CamVid ids (11 = void in a few cells)."""
    k = 9
    pts = rng.uniform((0, 0), (h, w), (k, 2))
    ids = rng.integers(0, 11, k)
    if void:
        ids[0] = 11
    rr, cc = np.mgrid[:h, :w]
    d = (rr[..., None] - pts[:, 0]) ** 2 + (cc[..., None] - pts[:, 1]) ** 2
    return ids[d.argmin(-1)].astype(np.uint8)


def soft_field(rng, h, w, *, k=8, dtype=np.float32) -> OffsetField:
    boundary = rng.random((h, w)).astype(dtype)
    direction = rng.dirichlet(np.full(k, 0.7), size=(h, w)).transpose(2, 0, 1).astype(dtype)
    return OffsetField(boundary=boundary, direction=direction)


def naive(gt, pred, field, grid, *, tol=3):
    """The straightforward path at every setting: {(i, j, k): (conf, bcounts, change)}."""
    out = {}
    for i, t in enumerate(grid.thresholds):
        for j, s in enumerate(grid.scales):
            for k, m in enumerate(grid.min_direction_probs):
                offsets = field.to_offsets(Setting(threshold=t, scale=s, min_direction_prob=m))
                refined = refine_labels(pred, offsets, device="cpu")
                ev = SemanticEvaluator(SPACE, tol)
                ev.add(gt, refined)
                c = change_counts(change_codes(pred, refined, gt, SPACE))
                out[i, j, k] = (ev.conf, ev.bcounts, [c["fixed"], c["broken"], c["swapped"]])
    return out


def assert_same(res, ref):
    for idx, (conf, bcounts, change) in ref.items():
        np.testing.assert_array_equal(res.conf[idx], conf, err_msg=f"confusion at {idx}")
        np.testing.assert_array_equal(res.bcounts[idx], bcounts, err_msg=f"boundary at {idx}")
        np.testing.assert_array_equal(res.change[idx], change, err_msg=f"changes at {idx}")


GRID = SweepGrid(thresholds=(0, 0.2, 0.5, 0.8, 1.0), scales=(0.5, 1, 2, 3), min_direction_probs=(0, 0.3))


# --------------------------------------------------------------------------- engine exactness


@pytest.mark.parametrize("seed", range(8))
def test_fast_path_equals_refine_and_evaluate(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(12, 48, 2)
    gt = scene(rng, h, w)
    pred = degrade(gt, SPACE, stride=int(rng.choice([2, 4, 8])))
    noise = rng.random((h, w)) < 0.05
    pred[noise] = rng.integers(0, 12, noise.sum())  # some void predictions too
    k = (4, 8, 16)[seed % 3]
    field = soft_field(rng, h, w, k=k, dtype=np.float16 if seed % 2 else np.float32)
    tol = (3, 1, 2.5, 5)[seed % 4]
    res = sweep_image(gt, pred, field, SPACE, GRID, boundary_tol=tol)
    assert_same(res, naive(gt, pred, field, GRID, tol=tol))


def test_fast_path_hard_offsets():
    rng = np.random.default_rng(11)
    gt = scene(rng, 30, 40)
    pred = degrade(gt, SPACE, stride=4)
    field = OffsetField.from_hard(rng.integers(-1, 2, (2, 30, 40)))
    res = sweep_image(gt, pred, field, SPACE, GRID)
    assert res.hard
    assert_same(res, naive(gt, pred, field, GRID))
    # the threshold has no effect on hard offsets
    assert (res.conf == res.conf[:1]).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 14), w=st.integers(1, 14), tol=st.sampled_from([0.5, 1, 2, 3]))
def test_fast_path_property(seed, h, w, tol):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, 12, (h, w)).astype(np.uint8)
    pred = rng.integers(0, 12, (h, w)).astype(np.uint8)
    field = soft_field(rng, h, w)
    grid = SweepGrid(thresholds=(0.1, 0.5, 0.9), scales=(1, 2), min_direction_probs=(0, 0.2))
    res = sweep_image(gt, pred, field, SPACE, grid, boundary_tol=tol)
    assert_same(res, naive(gt, pred, field, grid, tol=tol))


@pytest.mark.skipif(not CAMVID_VAL.is_dir(), reason=f"CamVid data not found at {CAMVID_VAL}")
def test_fast_path_on_camvid_with_random_soft_offsets():
    rng = np.random.default_rng(3)
    grid = SweepGrid(thresholds=(0.3, 0.6, 0.9), scales=(1, 2, 3))
    for path in sorted(CAMVID_VAL.glob("*.png"))[:2]:
        gt = read_labels(path, SPACE)[100:260, 100:340]
        pred = degrade(gt, SPACE, stride=8)
        field = soft_field(rng, *gt.shape, dtype=np.float16)
        res = sweep_image(gt, pred, field, SPACE, grid)
        assert_same(res, naive(gt, pred, field, grid))


@pytest.mark.parametrize("hard", [False, True])
def test_boundary_iou_sweep_equals_refine_then_border_counts(hard):
    """``dilation_ratio=``: the boundary IoU counts at every setting are those of the refined map."""
    from segfix_gui.core.metrics import BorderOptions, border_counts, boundary_iou_counts, gt_borders

    rng = np.random.default_rng(21)
    gt = scene(rng, 36, 44)
    pred = degrade(gt, SPACE, stride=4)
    field = OffsetField.from_hard(rng.integers(-1, 2, (2, 36, 44))) if hard else soft_field(rng, 36, 44)
    ratio = 0.05
    res = sweep_image(gt, pred, field, SPACE, GRID, dilation_ratio=ratio)
    borders = gt_borders(gt, SPACE, options=BorderOptions(dilation_ratio=ratio))
    np.testing.assert_array_equal(res.base_biou, border_counts(borders, pred, SPACE).biou)
    for i, j, k in np.ndindex(GRID.shape):
        setting = Setting(
            threshold=GRID.thresholds[i], scale=GRID.scales[j], min_direction_prob=GRID.min_direction_probs[k]
        )
        refined = refine_labels(pred, field.to_offsets(setting), device="cpu")
        want = boundary_iou_counts(gt, refined, SPACE, dilation_ratio=ratio)
        np.testing.assert_array_equal(res.biou[i, j, k], want, err_msg=f"boundary IoU at {(i, j, k)}")
        np.testing.assert_array_equal(want, border_counts(borders, refined, SPACE).biou)
    # without the ratio: no boundary IoU, as before
    plain = sweep_image(gt, pred, field, SPACE, GRID)
    assert plain.biou is None and plain.base_biou is None
    np.testing.assert_array_equal(plain.conf, res.conf)


def test_sweep_ranks_by_boundary_iou():
    rng = np.random.default_rng(4)
    samples = []
    for i in range(3):
        gt = scene(rng, 30, 40)
        samples.append(SweepSample(f"im{i}", gt, degrade(gt, SPACE, stride=8), soft_field(rng, 30, 40)))
    grid = SweepGrid(thresholds=(0.2, 0.6, 0.95), scales=(1, 2))
    res = sweep(samples, SPACE, grid, dilation_ratio=0.01)
    plain = sweep(samples, SPACE, grid)
    with pytest.raises(ValueError, match="without boundary IoU"):
        plain.best("boundary_iou")
    assert "boundary_iou" not in plain.rows()[0] and "boundary_iou" not in plain.base
    best = res.best("boundary_iou")
    assert best["boundary_iou"] == np.nanmax(res.boundary_iou)
    assert best["boundary_iou_gain"] == pytest.approx(best["boundary_iou"] - res.base["boundary_iou"])
    # the folder's figure is the one of the summed counts
    from segfix_gui.core.sweep import _biou_score

    assert res.boundary_iou[1, 0, 0] == _biou_score(res.biou[1, 0, 0])
    gains = res.image_gains(Setting(threshold=0.6, scale=1), metric="boundary_iou")
    assert set(gains) == {"im0", "im1", "im2"}
    for k in ("miou", "boundary_f", "pixel_accuracy"):
        assert res.best(k) == {**plain.best(k), **{x: res.best(k)[x] for x in ("boundary_iou", "boundary_iou_gain")}}


def test_threshold_one_changes_nothing():
    rng = np.random.default_rng(5)
    gt = scene(rng, 40, 50)
    pred = degrade(gt, SPACE, stride=8)
    field = soft_field(rng, 40, 50)
    field.boundary[:] = 1.0  # every pixel at the top of the range: still not > 1.0
    res = sweep([SweepSample("a", gt, pred, field)], SPACE, SweepGrid(thresholds=(1.0,), scales=(1, 2, 3)))
    for j in range(3):
        row = res.at(Setting(1.0, res.grid.scales[j]))
        assert row["miou"] == res.base["miou"]
        assert row["boundary_f"] == res.base["boundary_f"]
        assert (row["fixed"], row["broken"], row["swapped"]) == (0, 0, 0)
    assert (res.conf == res.base_conf).all()


# --------------------------------------------------------------------------- engine API


def test_sweep_api_progress_cancel_gains_best():
    rng = np.random.default_rng(7)
    samples = []
    for k in range(3):
        gt = scene(rng, 32, 40)
        samples.append(SweepSample(f"img{k}", gt, degrade(gt, SPACE, stride=8), soft_field(rng, 32, 40)))
    grid = SweepGrid(thresholds=(0.2, 0.5), scales=(1, 2))
    calls = []
    res = sweep(samples, SPACE, grid, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    assert res.keys == ["img0", "img1", "img2"] and not res.cancelled
    assert res.miou.shape == (2, 2, 1)

    # folder figures are the sum of the images, as SemanticEvaluator.add_counts would give
    ev = SemanticEvaluator(SPACE)
    for s in samples:
        ev.add(s.gt, refine_labels(s.pred, s.field.to_offsets(Setting(threshold=0.5, scale=2)), device="cpu"))
    assert res.at(Setting(0.5, 2))["miou"] == ev.result()["miou"]
    assert res.at(Setting(0.5, 2))["per_class_iou"] == ev.result()["per_class_iou"]

    # per-image gains, for sorting the image list
    gains = res.image_gains(Setting(0.5, 2))
    assert list(gains) == res.keys
    own = SemanticEvaluator(SPACE)
    s = samples[1]
    base = own.add(s.gt, s.pred)["miou"]
    after = SemanticEvaluator(SPACE).add(
        s.gt, refine_labels(s.pred, s.field.to_offsets(Setting(threshold=0.5, scale=2)), device="cpu")
    )["miou"]
    assert gains["img1"] == pytest.approx(after - base, abs=1e-12)
    net = res.image_gains(Setting(0.5, 2), metric="net")
    assert sum(net.values()) == res.at(Setting(0.5, 2))["fixed"] - res.at(Setting(0.5, 2))["broken"]

    best = res.best()
    assert best["miou"] == np.nanmax(res.miou)
    with pytest.raises(ValueError, match="not in the sweep"):
        res.at(Setting(0.7, 2))

    # cancel after the first image: the result covers that image only
    stop = iter([False, True, True])
    part = sweep(samples, SPACE, grid, should_stop=lambda: next(stop))
    assert part.cancelled and part.keys == ["img0"]


def test_grid_validation():
    with pytest.raises(ValueError, match="empty"):
        SweepGrid(thresholds=(), scales=(1,))
    with pytest.raises(ValueError, match="outside"):
        SweepGrid(thresholds=(0.5,), scales=(0,))
    with pytest.raises(ValueError, match="outside"):
        SweepGrid(thresholds=(1.5,), scales=(1,))
    g = SweepGrid(thresholds=(0.5, 0.1, 0.5), scales=(2, 1))
    assert g.thresholds == (0.1, 0.5) and g.scales == (1.0, 2.0) and g.shape == (2, 2, 1)


# --------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three scenes: gt/, pred/ (coarse), off/ (.npz soft fields), mat/ (hard .mat)."""
    root = tmp_path_factory.mktemp("sweep")
    rng = np.random.default_rng(1)
    for d in ("gt", "pred", "off", "mat"):
        (root / d).mkdir()
    for k in range(3):
        h, w = 48, 64
        gt = scene(rng, h, w)
        write_labels(root / "gt" / f"s{k}.png", gt)
        write_labels(root / "pred" / f"s{k}.png", degrade(gt, SPACE, stride=8))
        field = soft_field(rng, h, w)
        write_offsets(root / "off" / f"s{k}.npz", field)
        write_offsets(root / "mat" / f"s{k}.mat", field, setting=Setting(threshold=0.5))
    return root


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_cli_equals_refine_then_evaluate(folder, tmp_path, capsys):
    out_csv = tmp_path / "sweep.csv"
    args = [
        "sweep",
        "--gt",
        str(folder / "gt"),
        "--pred",
        str(folder / "pred"),
        "--offsets",
        str(folder / "off"),
        "--thresholds",
        "0.3:0.7:0.4",
        "--scales",
        "1,2",
        "--min-direction-probs",
        "0,0.25",
        "--boundary-iou",
        "--csv",
        str(out_csv),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "best mIoU: threshold" in printed and "without refinement: mIoU" in printed
    assert "best boundary IoU: threshold" in printed and "b. IoU" in printed
    rows = read_csv(out_csv)
    assert len(rows) == 2 * 2 * 2
    for row in rows:
        t, s, m = row["threshold"], row["scale"], row["min_direction_prob"]
        refined = tmp_path / f"ref_{t}_{s}_{m}"
        assert (
            main(
                [
                    "refine",
                    "--input",
                    str(folder / "pred"),
                    "--offset",
                    str(folder / "off"),
                    "--out",
                    str(refined),
                    "--threshold",
                    t,
                    "--scale",
                    s,
                    "--min-direction-prob",
                    m,
                    "--device",
                    "cpu",
                ]
            )
            == 0
        )
        js = tmp_path / f"ev_{t}_{s}_{m}.json"
        assert (
            main(
                [
                    "evaluate",
                    "--gt",
                    str(folder / "gt"),
                    "--pred",
                    str(folder / "pred"),
                    "--refined",
                    str(refined),
                    "--json",
                    str(js),
                ]
            )
            == 0
        )
        ev = json.loads(js.read_text())
        for key in ("miou", "boundary_f", "pixel_accuracy", "boundary_iou"):
            assert float(row[key]) == ev["refined"][key], (row, key)
            assert float(row[f"base_{key}"]) == ev[key]
        for key in ("fixed", "broken", "swapped"):
            assert int(row[key]) == ev["change"][key]
    capsys.readouterr()


def test_cli_hard_offsets_sweep_scale_only(folder, tmp_path, capsys):
    out_csv = tmp_path / "hard.csv"
    assert (
        main(
            [
                "sweep",
                "--gt",
                str(folder / "gt"),
                "--pred",
                str(folder / "pred"),
                "--offsets",
                str(folder / "mat"),
                "--thresholds",
                "0.2,0.8",
                "--scales",
                "2",
                "--csv",
                str(out_csv),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "threshold and min direction prob have no effect" in out
    rows = read_csv(out_csv)
    assert rows[0]["miou"] == rows[1]["miou"] and rows[0]["fixed"] == rows[1]["fixed"]
    # and the .mat (thresholded at 0.5) equals the probabilities at threshold 0.5
    soft = tmp_path / "soft.csv"
    assert (
        main(
            [
                "sweep",
                "--gt",
                str(folder / "gt"),
                "--pred",
                str(folder / "pred"),
                "--offsets",
                str(folder / "off"),
                "--thresholds",
                "0.5",
                "--scales",
                "2",
                "--csv",
                str(soft),
            ]
        )
        == 0
    )
    assert read_csv(soft)[0]["miou"] == rows[0]["miou"]


def test_cli_plot_and_workers(folder, tmp_path, capsys):
    from PIL import Image

    png = tmp_path / "plot.png"
    c1, c2 = tmp_path / "w1.csv", tmp_path / "w2.csv"
    base = [
        "sweep",
        "--gt",
        str(folder / "gt"),
        "--pred",
        str(folder / "pred"),
        "--offsets",
        str(folder / "off"),
        "--thresholds",
        "0.2:0.8:0.3",
        "--scales",
        "1,2,3",
    ]
    assert main(base + ["--csv", str(c1), "--plot", str(png)]) == 0
    assert main(base + ["--csv", str(c2), "--workers", "2"]) == 0
    assert c1.read_text() == c2.read_text()
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size == (1500, 665)  # 15 × 6.65 in at 100 dpi: one legend row
        # curves were drawn: more than a handful of colours
        assert len(im.convert("RGB").getcolors(1 << 20)) > 20
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    capsys.readouterr()


def test_the_plot_shows_the_gains_of_the_table(folder):
    """What the figure holds: per panel its title, axes and one curve per scale whose points are
    the table's gains in points, the best setting circled; the legend; the base in the title."""
    from segfix_gui.cli.sweep import render_plot
    from segfix_gui.io.samples import iter_sweep_samples

    space = get_label_space("camvid")
    jobs, _ = sweep_jobs(folder / "gt", folder / "pred", folder / "off")
    grid = SweepGrid(thresholds=(0.2, 0.5, 0.8), scales=(1, 2, 3))
    res = sweep(list(iter_sweep_samples(jobs, space, [])), space, grid)
    fig = render_plot(res)
    assert fig.get_size_inches() * fig.dpi == pytest.approx((1500, 665))
    assert f"without refinement mIoU {100 * res.base['miou']:.2f}" in fig.get_suptitle()
    for ax, metric, name in zip(fig.axes, ("miou", "boundary_f"), ("mIoU", "boundary F"), strict=True):
        assert ax.get_title() == f"{name} gain over the folder"
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("boundary threshold", f"{name} gain (points)")
        curves = [ln for ln in ax.get_lines() if ln.get_label() and not ln.get_label().startswith("_")]
        assert [ln.get_label() for ln in curves] == ["scale 1", "scale 2", "scale 3"]
        gains = 100 * (getattr(res, metric) - res.base[metric])
        for j, ln in enumerate(curves):
            np.testing.assert_allclose(ln.get_xdata(), grid.thresholds)
            np.testing.assert_allclose(ln.get_ydata(), gains[:, j, 0])
        best = res.best(metric)
        (circle,) = [ln for ln in ax.get_lines() if ln.get_markersize() == 18]
        assert (circle.get_xdata()[0], circle.get_ydata()[0]) == pytest.approx(
            (best["threshold"], 100 * best[f"{metric}_gain"])
        )
        assert any(t.get_text().startswith(f"best: t {best['threshold']:g}") for t in ax.texts)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["scale 1", "scale 2", "scale 3"]


@pytest.mark.parametrize("what", ["csv", "plot"])
def test_outputs_are_atomic(folder, tmp_path, monkeypatch, capsys, what):
    """A failure while writing leaves neither a partial file nor a temporary one, and an
    existing file as it was."""
    import segfix_gui.cli.sweep as cli_sweep

    target = tmp_path / ("out.csv" if what == "csv" else "out.png")
    target.write_bytes(b"old contents")
    if what == "csv":
        real = cli_sweep._csv_line
        calls = {"n": 0}

        def failing(values):
            calls["n"] += 1
            if calls["n"] == 3:  # after the header and one row were written
                raise RuntimeError("disk on fire")
            return real(values)

        monkeypatch.setattr(cli_sweep, "_csv_line", failing)
    else:
        from matplotlib.figure import Figure

        def failing_save(self, fp, *a, **k):
            Path(fp).write_bytes(b"\x89PNG partial")
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(Figure, "savefig", failing_save)
    with pytest.raises(RuntimeError, match="disk on fire"):
        main(
            [
                "sweep",
                "--gt",
                str(folder / "gt"),
                "--pred",
                str(folder / "pred"),
                "--offsets",
                str(folder / "off"),
                "--thresholds",
                "0.5",
                "--scales",
                "1,2",
                f"--{what}",
                str(target),
            ]
        )
    assert target.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
    capsys.readouterr()


@pytest.mark.parametrize(
    "option,value,needle",
    [
        ("--thresholds", "0.9:0.1:0.1", "start 0.9 is above stop 0.1"),
        ("--thresholds", "", "empty"),
        ("--thresholds", "0.1,,0.5", "empty item"),
        ("--thresholds", "0.1:0.9", "START:STOP:STEP"),
        ("--thresholds", "0.1:0.9:0", "step must be positive"),
        ("--thresholds", "abc", "not a number"),
        ("--thresholds", "nan", "not a finite number"),
        ("--thresholds", "1.5", "outside [0, 1]"),
        ("--scales", "0", "outside (0, 64]"),
        ("--scales", "-1,2", "outside (0, 64]"),
        ("--scales", "", "empty"),
        ("--scales", "two", "not a number"),
        ("--min-direction-probs", "0:2:1", "outside [0, 1]"),
    ],
)
def test_bad_ranges_give_one_line_and_exit_2(folder, capsys, option, value, needle):
    code = main(
        [
            "sweep",
            "--gt",
            str(folder / "gt"),
            "--pred",
            str(folder / "pred"),
            "--offsets",
            str(folder / "off"),
            f"{option}={value}",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("segfix: error: ") and option in err and needle in err


def test_missing_offsets_are_reported_and_exit_2(folder, tmp_path, capsys):
    off = tmp_path / "off"
    off.mkdir()
    for p in sorted((folder / "off").iterdir())[:2]:
        (off / p.name).write_bytes(p.read_bytes())
    code = main(
        [
            "sweep",
            "--gt",
            str(folder / "gt"),
            "--pred",
            str(folder / "pred"),
            "--offsets",
            str(off),
            "--thresholds",
            "0.5",
            "--scales",
            "2",
        ]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert "s2.png: no offsets file for this prediction" in captured.err
    assert captured.out.startswith("2 images")
    jobs, errors = sweep_jobs(folder / "gt", folder / "pred", off)
    assert [j.key for j in jobs] == ["s0", "s1"] and len(errors) == 1


def test_plot_must_be_png_and_not_an_input(folder, tmp_path, capsys):
    base = [
        "sweep",
        "--gt",
        str(folder / "gt"),
        "--pred",
        str(folder / "pred"),
        "--offsets",
        str(folder / "off"),
        "--thresholds",
        "0.5",
        "--scales",
        "2",
    ]
    assert main(base + ["--plot", str(tmp_path / "p.jpg")]) == 2
    assert "--plot must name a .png file" in capsys.readouterr().err
    victim = folder / "pred" / "s0.png"
    before = victim.read_bytes()
    assert main(base + ["--plot", str(victim)]) == 2
    assert "refused: it is the input file" in capsys.readouterr().err
    assert victim.read_bytes() == before
    assert not os.listdir(tmp_path)
