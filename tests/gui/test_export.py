"""gui.export on its own: what each export writes (refined PNG, offsets, IoU CSV, figure),
checked against the engine and read back with the package's readers; inputs never
overwritten; writes atomic."""

from __future__ import annotations

import csv
import io
import os

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

from PySide6.QtGui import QImage

from segfix_gui.core.metrics import SemanticEvaluator
from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.refine import refine_labels
from segfix_gui.core.setting import Setting
from segfix_gui.core.targets import gt_offset_field
from segfix_gui.errors import InputError
from segfix_gui.gui import export
from segfix_gui.gui.layers import DIFF_COLOURS, diff_lut, label_lut, mark_radius, widen_codes
from segfix_gui.io.images import read_image, read_labels, write_labels, write_png
from segfix_gui.io.offsets import read_offsets, write_offsets
from segfix_gui.io.samples import SamplePaths
from segfix_gui.labels import get_label_space
from segfix_gui.session.compute import ViewSetting, load, refine
from segfix_gui.session.session import LAYERS, LayerOptions

SPACE = get_label_space("camvid")
BASE_RGB = (30, 31, 34)  # the panels' background under the layers


def make_files(folder, *, shape=(32, 40), colour_pred=False, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = shape
    g = np.zeros((h, w), np.uint8)
    g[h // 2 :, :] = 3
    g[4:14, 6:18] = 1
    g[20:28, 22:34] = 8
    g[0:3, 0:4] = 11
    pred = np.roll(np.roll(g, 2, axis=1), 1, axis=0)
    f = gt_offset_field(g, width=3, ignore_ids=SPACE.ignore_ids)
    grade = rng.choice(np.array([0.25, 0.5, 0.75, 1.0], np.float32), size=g.shape)
    field = OffsetField(boundary=f.boundary * grade, direction=f.direction)
    p = SamplePaths(
        image=str(folder / "image.png"),
        pred=str(folder / "pred.png"),
        offsets=str(folder / "off.npz"),
        gt=str(folder / "gt.png"),
        name="tiny",
    )
    if colour_pred:
        write_png(p.pred, SPACE.colorize(pred))
    else:
        write_labels(p.pred, pred)
    write_labels(p.gt, g)
    write_offsets(p.offsets, field)
    write_png(p.image, rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return p


SETTING = ViewSetting(threshold=0.4, scale=2.0, min_direction_prob=0.0, device="cpu")


def opened(paths, setting=SETTING):
    loaded = load(paths, "camvid")
    return loaded.sample, loaded.before, refine(loaded.sample, setting, base=loaded.base)


@pytest.fixture
def tiny(tmp_path, qapp):  # the figure draws text: a QApplication
    paths = make_files(tmp_path / "in")
    sample, before, result = opened(paths)
    return paths, sample, before, result


def engine_refined(paths, setting):
    pred = read_labels(paths.pred, SPACE)
    return refine_labels(pred, read_offsets(paths.offsets).to_offsets(setting.refinement()), device="cpu")


def no_temporaries(folder):
    return [n for n in os.listdir(folder) if ".part" in n]


# --- refined labels --------------------------------------------------------------------------


def test_refined_png_is_the_engines_refinement(tiny, tmp_path):
    paths, sample, _, result = tiny
    out = tmp_path / "out" / "refined.png"
    export.export_refined(out, sample, result)
    from PIL import Image

    with Image.open(out) as im:
        assert im.mode == "L"  # ids, single channel
    got = read_labels(out, SPACE)
    want = engine_refined(paths, SETTING)
    np.testing.assert_array_equal(got, want)
    assert (want != sample.pred).any()


def test_refined_png_keeps_a_colour_prediction_in_colour(tmp_path, qapp):
    paths = make_files(tmp_path / "in", colour_pred=True)
    sample, _, result = opened(paths)
    assert sample.pred_is_colour
    out = tmp_path / "refined.png"
    export.export_refined(out, sample, result)
    rgb = read_image(out)
    np.testing.assert_array_equal(rgb, SPACE.colorize(engine_refined(paths, SETTING)))


# --- offsets ---------------------------------------------------------------------------------


def test_offsets_npz_reads_back_with_the_same_offsets_and_the_setting_recorded(tiny, tmp_path):
    paths, sample, _, _ = tiny
    out = tmp_path / "o.npz"
    at = ViewSetting(threshold=0.6, scale=3.0, min_direction_prob=0.5, device="cpu")
    export.export_offsets(out, sample, at)
    back = read_offsets(out)
    assert not back.is_hard and back.k == sample.field.k
    for s in (at.refinement(), Setting(threshold=0.2, scale=1.0), Setting(threshold=0.9, scale=4)):
        np.testing.assert_array_equal(back.to_offsets(s), sample.field.to_offsets(s))
    assert back.recommended == pytest.approx({"threshold": 0.6, "min_direction_prob": 0.5, "scale": 3.0})
    # stored as float32, read back as the shortest decimal: exactly the setting exported
    assert back.setting() == Setting(threshold=0.6, scale=3.0, min_direction_prob=0.5)
    assert sample.field.recommended == {}  # the open sample's field is not changed


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_offsets_mat_are_the_thresholded_unit_steps(tiny, tmp_path, scale):
    paths, sample, _, _ = tiny
    out = tmp_path / "o.mat"
    at = ViewSetting(threshold=0.6, scale=scale, device="cpu")
    export.export_offsets(out, sample, at)
    back = read_offsets(out)
    assert back.is_hard
    for s in (1.0, 2.0, 3.0):  # unit steps × any whole scale
        np.testing.assert_array_equal(
            back.to_offsets(Setting(scale=s)), sample.field.to_offsets(Setting(threshold=0.6, scale=s))
        )


def test_offsets_refused_for_another_suffix_or_without_a_field(tiny, tmp_path):
    paths, sample, _, _ = tiny
    with pytest.raises(InputError) as err:
        export.export_offsets(tmp_path / "o.txt", sample, SETTING)
    assert "o.txt" in str(err.value) and ".npz" in str(err.value)
    assert not (tmp_path / "o.txt").exists()
    from dataclasses import replace

    bare = replace(sample, field=None)
    with pytest.raises(InputError) as err:
        export.export_offsets(tmp_path / "o.npz", bare, SETTING)
    assert "no offsets" in str(err.value) and not (tmp_path / "o.npz").exists()


# --- IoU CSV ---------------------------------------------------------------------------------


def read_csv(text):
    return list(csv.reader(io.StringIO(text)))


def test_iou_csv_rows_are_the_numbers_with_sample_and_setting(tiny, tmp_path):
    paths, sample, before, result = tiny
    out = tmp_path / "iou.csv"
    export.export_iou_csv(out, sample, before, result.after, setting=result.setting)
    rows = read_csv(out.read_text(encoding="utf-8"))
    assert tuple(rows[0]) == export.CSV_COLUMNS + export.CSV_CONTEXT
    body = rows[1:]
    assert len(body) == SPACE.n_classes + 3
    assert [r[0] for r in body] == list(SPACE.names) + ["mIoU", "pixel accuracy", "boundary F"]
    assert {tuple(r[4:]) for r in body} == {("tiny", "0.4", "0", "2")}
    # the engine's numbers, exactly (repr round-trips a float)
    gt = read_labels(paths.gt, SPACE)
    b = SemanticEvaluator(SPACE, 3).add(gt, sample.pred)
    a = SemanticEvaluator(SPACE, 3).add(gt, engine_refined(paths, SETTING))
    for r, name in zip(body[: SPACE.n_classes], SPACE.names, strict=True):
        wb, wa = b["per_class_iou"][name], a["per_class_iou"][name]
        assert r[1] == ("" if wb is None else repr(float(wb)))
        assert r[2] == ("" if wa is None else repr(float(wa)))
        if wb is None or wa is None:
            assert r[3] == ""
        else:
            assert float(r[3]) == pytest.approx(wa - wb, abs=1e-15)
    assert any(r[1] == "" for r in body[: SPACE.n_classes])  # absent classes are n/a
    summary = {r[0]: r for r in body[SPACE.n_classes :]}
    for key, label in (("miou", "mIoU"), ("pixel_accuracy", "pixel accuracy"), ("boundary_f", "boundary F")):
        assert float(summary[label][1]) == b[key] and float(summary[label][2]) == a[key]
        assert float(summary[label][3]) == pytest.approx(a[key] - b[key], abs=1e-15)
    assert no_temporaries(tmp_path) == []


def test_iou_csv_without_after_and_for_hard_offsets():
    before = {"per_class_iou": {"a": 0.5, "b": None}, "miou": 0.5, "pixel_accuracy": 0.9, "boundary_f": 0.25}
    rows = read_csv(export.iou_csv(before, None, sample_name="n", setting=Setting(0.3, 2.0, 0.1)))
    assert rows[1] == ["a", "0.5", "", "", "n", "0.3", "0.1", "2"]
    assert rows[2] == ["b", "", "", "", "n", "0.3", "0.1", "2"]
    assert rows[3] == ["mIoU", "0.5", "", "", "n", "0.3", "0.1", "2"]
    hard = read_csv(export.iou_csv(before, before, sample_name="n", setting=Setting(0.3, 3.0), hard=True))
    assert {tuple(r[4:]) for r in hard[1:]} == {("n", "", "", "3")}
    assert hard[1][1:4] == ["0.5", "0.5", "0.0"]
    none = read_csv(export.iou_csv(before, None))
    assert {tuple(r[4:]) for r in none[1:]} == {("", "", "", "")}


def test_iou_csv_needs_ground_truth(tiny, tmp_path):
    _, sample, _, result = tiny
    with pytest.raises(InputError) as err:
        export.export_iou_csv(tmp_path / "x.csv", sample, None, None)
    assert "x.csv" in str(err.value) and "ground truth" in str(err.value)
    assert not (tmp_path / "x.csv").exists()


# --- inputs are never overwritten; writes are atomic -----------------------------------------


def test_no_export_writes_onto_an_input(tiny, tmp_path):
    paths, sample, before, result = tiny
    originals = {p: open(p, "rb").read() for p in (paths.image, paths.pred, paths.offsets, paths.gt)}
    calls = [
        lambda p: export.export_refined(p, sample, result),
        lambda p: export.export_offsets(p, sample, SETTING),
        lambda p: export.export_iou_csv(p, sample, before, result.after, SETTING),
        lambda p: export.export_figure(p, sample, result, before),
    ]
    for target in originals:
        # another spelling of the same file is the same file
        folder, name = os.path.split(target)
        spelled = os.path.join(folder, "..", os.path.basename(folder), name)
        for call in calls:
            for t in (target, spelled):
                with pytest.raises(InputError) as err:
                    call(t)
                assert "input" in str(err.value)
    for p, data in originals.items():
        assert open(p, "rb").read() == data
    assert no_temporaries(os.path.dirname(paths.pred)) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tiny, tmp_path, monkeypatch):
    _, sample, before, result = tiny
    out = tmp_path / "refined.png"
    out.write_bytes(b"old")
    from PIL import Image

    def broken_save(self, fp, *a, **k):
        with open(fp, "wb") as f:
            f.write(b"half a png")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(InputError) as err:
        export.export_refined(out, sample, result)
    assert str(out) in str(err.value) and "No space left" in str(err.value)
    assert out.read_bytes() == b"old"
    monkeypatch.undo()
    fig = tmp_path / "fig.png"
    fig.write_bytes(b"old figure")
    monkeypatch.setattr(QImage, "save", lambda self, *a, **k: False)
    with pytest.raises((OSError, InputError)):
        export.export_figure(fig, sample, result, before)
    assert fig.read_bytes() == b"old figure"
    assert no_temporaries(tmp_path) == []


def test_export_onto_a_folder_is_refused(tiny, tmp_path):
    _, sample, _, result = tiny
    (tmp_path / "d.png").mkdir()
    with pytest.raises(InputError) as err:
        export.export_refined(tmp_path / "d.png", sample, result)
    assert "folder" in str(err.value)


# --- figure ----------------------------------------------------------------------------------


def as_rgb(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    h, w = img.height(), img.width()
    return (
        np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * h)
        .reshape(h, img.bytesPerLine())[:, : 3 * w]
        .reshape(h, w, 3)
        .copy()
    )


def find_block(big: np.ndarray, block: np.ndarray) -> list[tuple[int, int]]:
    """Top-left corners where ``block`` (h, w, 3) occurs in ``big``."""
    bh, bw = block.shape[:2]
    H, W = big.shape[:2]
    cand = np.argwhere(np.all(big[: H - bh + 1, : W - bw + 1] == block[0, 0], axis=-1))
    return [(int(y), int(x)) for y, x in cand if np.array_equal(big[y : y + bh, x : x + bw], block)]


def over_base(rgba: np.ndarray) -> np.ndarray:
    """Opaque-or-transparent RGBA over the panels' background."""
    out = np.empty(rgba.shape[:2] + (3,), np.uint8)
    out[:] = BASE_RGB
    on = rgba[..., 3] == 255
    assert np.all(on | (rgba[..., 3] == 0))
    out[on] = rgba[..., :3][on]
    return out


def opaque_labels_only():
    """Layers: no photo (so panels are exact colours), labels fully opaque, no heat map."""
    opts = {n: LayerOptions(False, 1.0) for n in LAYERS}
    opts["labels"] = LayerOptions(True, 1.0)
    return opts


@pytest.mark.parametrize("scale", [1.0, 2.0, 4.0])
def test_figure_panels_are_the_layer_colours_at_the_scale(tiny, scale):
    _, sample, before, result = tiny
    h, w = sample.shape
    hidden = {1}  # building hidden: its pixels show the background
    img = export.render_figure(sample, result, before, scale=scale, layers=opaque_labels_only(), hidden=hidden)
    assert img.format() == QImage.Format.Format_RGB32
    fig = as_rgb(img)
    pw, ph = int(round(w * scale)), int(round(h * scale))
    assert fig.shape[1] > 3 * pw and fig.shape[0] > ph
    up = lambda a: np.repeat(np.repeat(a, int(scale), axis=0), int(scale), axis=1)  # noqa: E731
    lut = label_lut(SPACE, hidden)
    want_before = up(over_base(lut[sample.pred]))
    want_after = up(over_base(lut[result.refined]))
    codes = widen_codes(result.codes, mark_radius(scale))
    want_diff = up(over_base(diff_lut()[codes]))
    at_b, at_a, at_d = (find_block(fig, x) for x in (want_before, want_after, want_diff))
    assert len(at_b) == 1 and len(at_a) == 1 and len(at_d) == 1
    (yb, xb), (ya, xa), (yd, xd) = at_b[0], at_a[0], at_d[0]
    assert yb == ya == yd and xb < xa < xd  # one row: before | after | diff
    assert xa - xb == xd - xa >= pw  # equal panels, side by side
    assert (sample.pred == 1).any()  # the hidden class was there to hide


def test_figure_size_follows_the_scale_and_panels(tiny):
    _, sample, before, result = tiny
    one = export.render_figure(sample, result, before, scale=1.0)
    two = export.render_figure(sample, result, before, scale=2.0)
    two_panels = export.render_figure(sample, result, before, scale=2.0, panels=("before", "after"))
    w = sample.shape[1]
    # three panels grow by 3 × the added panel width; gaps and legend rows come on top
    assert two.width() - one.width() >= 3 * w
    assert two.width() - two_panels.width() >= 2 * w
    # (heights: the panel grows, but a wider figure wraps its legend into fewer rows)
    assert one.height() > sample.shape[0] and two.height() > 2 * sample.shape[0]
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError):
            export.render_figure(sample, result, scale=bad)
    for bad in ((), ("before", "heat")):
        with pytest.raises(ValueError):
            export.render_figure(sample, result, panels=bad)


def test_figure_diff_panel_shows_every_true_mark(tiny):
    _, sample, _, result = tiny
    layers = export.figure_layers(sample, result, mark_radius=0)
    diff = layers["diff"][-1]
    for code, rgb in DIFF_COLOURS.items():
        marked = result.codes == code
        assert np.all(diff[marked][:, :3] == rgb)
    assert np.all(diff[result.codes == 0][:, 3] == 0)
    assert result.counts["fixed"] > 0 and result.counts["broken"] + result.counts["swapped"] > 0


def test_figure_file_is_the_rendered_image(tiny, tmp_path):
    _, sample, before, result = tiny
    out = tmp_path / "fig.png"
    export.export_figure(out, sample, result, before, scale=2.0)
    want = as_rgb(export.render_figure(sample, result, before, scale=2.0))
    np.testing.assert_array_equal(read_image(out), want)
    assert no_temporaries(tmp_path) == []


# --- issue 19: no export lands on any file of the open set --------------------------------------


def test_no_export_writes_onto_another_sample_of_the_set(tmp_path, qapp):
    a = make_files(tmp_path / "a")
    b = make_files(tmp_path / "b", seed=1)
    sample, before, result = opened(a)
    others = [a, b]
    originals = {p: open(p, "rb").read() for p in (b.image, b.pred, b.offsets, b.gt)}
    calls = [
        lambda p: export.export_refined(p, sample, result, others=others),
        lambda p: export.export_offsets(p, sample, SETTING, others=others),
        lambda p: export.export_iou_csv(p, sample, before, result.after, SETTING, others=others),
        lambda p: export.export_figure(p, sample, result, before, others=others),
    ]
    for target in originals:
        for call in calls:
            with pytest.raises(InputError) as err:
                call(target)
            assert str(err.value).startswith(f"{target}: refused: it is the input file")
    for p, data in originals.items():
        assert open(p, "rb").read() == data
    assert no_temporaries(tmp_path / "b") == []


def test_window_exports_refuse_every_file_of_the_open_set(tmp_path, open_window, dialogs, qtbot):
    s = tmp_path / "set"
    for n in ("a", "b"):
        p = make_files(tmp_path / n, seed=ord(n))
        for sub, src, name in (("preds", p.pred, "png"), ("offsets", p.offsets, "npz"), ("gt", p.gt, "png")):
            (s / sub).mkdir(parents=True, exist_ok=True)
            os.replace(src, s / sub / f"{n}.{name}")
    w = open_window()
    assert w.open_set(folder=str(s), space="camvid")
    qtbot.waitUntil(
        lambda: w.session.result is not None and w.session.result_is_current() and not w.runner.busy(), timeout=30000
    )
    assert w.session.sample.paths.pred == str(s / "preds" / "a.png")
    other = {"refined": s / "preds" / "b.png", "offsets": s / "offsets" / "b.npz", "view": s / "gt" / "b.png"}
    before = {p: p.read_bytes() for p in s.rglob("*") if p.is_file()}
    for what, target in other.items():
        assert not w.export(what, str(target))
        assert dialogs[-1].startswith(f"{target}: refused: it is the input file"), dialogs
    assert {p: p.read_bytes() for p in s.rglob("*") if p.is_file()} == before
    assert w.export("refined", str(tmp_path / "fine.png"))  # anywhere else is fine
