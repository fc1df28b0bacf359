"""gui.layers on its own: the lookup tables, the heat map, the diff marks' widening (against a
slow reference written here), FastImageItem's rendered pixels (heat map and diff marks) and the
photo + labels Composite (against a float reference written here)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

import pyqtgraph as pg
from PySide6.QtGui import QImage

from segfix_gui.core.metrics import BROKEN, CHANGED, FIXED, SWAPPED, UNCHANGED
from segfix_gui.gui.layers import (
    BACKGROUND,
    DIFF_COLOURS,
    DIFF_PRIORITY,
    LEVELS,
    MIN_MARK_PX,
    Composite,
    FastImageItem,
    PixelsItem,
    blend,
    blend_tables,
    diff_lut,
    display_ids,
    heat_image,
    heat_lut,
    label_lut,
    lut_image_item,
    mark_radius,
    set_lut_image,
    widen_codes,
)
from segfix_gui.labels import IGNORE, get_label_space

CAMVID = get_label_space("camvid")
CITY = get_label_space("cityscapes")


@pytest.fixture(autouse=True)
def row_major():
    """Images are (rows, cols), as the window configures pyqtgraph."""
    old = pg.getConfigOption("imageAxisOrder")
    pg.setConfigOptions(imageAxisOrder="row-major")
    yield
    pg.setConfigOptions(imageAxisOrder=old)


# --- tables ----------------------------------------------------------------------------------


def test_label_lut_colours_and_hidden_rows():
    lut = label_lut(CAMVID)
    assert lut.shape == (256, 4) and lut.dtype == np.uint8
    for c in CAMVID.classes:
        assert tuple(lut[c.id, :3]) == c.color
        assert lut[c.id, 3] == (0 if c.train_id == IGNORE else 255)
    assert not lut[12:].any()  # ids not in the space: transparent black
    hidden = label_lut(CAMVID, {2, 5})
    assert hidden[2, 3] == 0 and hidden[5, 3] == 0
    np.testing.assert_array_equal(hidden[:, :3], lut[:, :3])  # colours kept
    np.testing.assert_array_equal(np.delete(hidden, [2, 5], 0), np.delete(lut, [2, 5], 0))


def test_label_lut_hides_by_evaluation_index_not_by_id():
    road = next(c for c in CITY.classes if c.name == "road")
    assert road.id != road.train_id  # cityscapes ids are not evaluation indices
    lut = label_lut(CITY, {road.train_id})
    assert lut[road.id, 3] == 0
    assert all(
        lut[c.id, 3] == (0 if c.train_id in (IGNORE, road.train_id) else 255) for c in CITY.classes if c.id < 256
    )
    ev = label_lut(CITY, {road.train_id}, by_eval=True)
    n = CITY.n_classes
    np.testing.assert_array_equal(ev[:n, :3], CITY.colors)
    assert ev[road.train_id, 3] == 0
    assert all(ev[i, 3] == 255 for i in range(n) if i != road.train_id)
    assert ev[IGNORE, 3] == 0 and not ev[n:].any()


def test_display_ids(tmp_path):
    small = np.array([[0, 3], [11, 7]], np.uint8)
    ids, by_eval = display_ids(small, CAMVID)
    assert ids is small and by_eval is False
    wide = small.astype(np.uint16)
    ids, by_eval = display_ids(wide, CAMVID)
    assert ids.dtype == np.uint8 and by_eval is False
    np.testing.assert_array_equal(ids, small)
    # ids past 255 are drawn through evaluation indices
    spec = {
        "name": "wide",
        "classes": [
            {"id": 0, "name": "a", "color": [1, 2, 3]},
            {"id": 300, "name": "b", "color": [4, 5, 6]},
            {"id": 1000, "name": "c", "color": [7, 8, 9]},
        ],
    }
    (tmp_path / "wide.json").write_text(json.dumps(spec))
    space = get_label_space(tmp_path / "wide.json")
    labels = np.array([[0, 300], [1000, 300]], np.uint16)
    ids, by_eval = display_ids(labels, space)
    assert by_eval is True
    np.testing.assert_array_equal(ids, [[0, 1], [2, 1]])
    lut = label_lut(space, by_eval=True)
    np.testing.assert_array_equal(lut[ids][..., :3], space.colorize(labels))


def test_diff_lut():
    lut = diff_lut()
    for code in (FIXED, BROKEN, SWAPPED, CHANGED):
        assert tuple(lut[code]) == DIFF_COLOURS[code] + (255,)
    assert lut[UNCHANGED, 3] == 0 and not lut[5:].any()
    assert len({DIFF_COLOURS[c] for c in DIFF_COLOURS}) == 4  # four distinct colours


def test_heat_image_and_table():
    b = np.array([[0.0, 1.0, 0.5], [-0.3, 1.7, 0.2]], np.float32)
    h = heat_image(b)
    assert h.dtype == np.uint8 and h.shape == b.shape
    np.testing.assert_array_equal(h, [[0, 255, 128], [0, 255, 51]])
    np.testing.assert_array_equal(heat_image(b.astype(np.float16)), h)
    x = np.linspace(0, 1, 1001)
    assert np.all(np.diff(heat_image(x).astype(int)) >= 0)  # monotonic
    lut = heat_lut()
    assert lut.shape == (256, 4) and lut[0, 3] == 0 and lut[255, 3] == 255
    assert np.all(np.diff(lut[:, 3].astype(int)) >= 0)  # more probable, more opaque


# --- diff marks --------------------------------------------------------------------------------


@pytest.mark.parametrize("ppx", [0.05, 0.1, 0.25, 0.3, 0.5, 0.75, 0.99, 1.0, 1.5, 2.0, 2.9, 3.0, 4.0, 8.0, 40.0])
def test_mark_radius_is_the_smallest_that_shows_min_px(ppx):
    r = mark_radius(ppx)
    assert (2 * r + 1) * ppx >= MIN_MARK_PX - 1e-9
    if r > 0:
        assert (2 * (r - 1) + 1) * ppx < MIN_MARK_PX


def test_mark_radius_examples_and_degenerate_zooms():
    assert [mark_radius(z) for z in (8.0, 3.0, 2.0, 1.0, 0.5, 0.25)] == [0, 0, 1, 1, 3, 6]
    assert mark_radius(0.5, min_px=1.0) == 1
    for z in (0.0, -1.0, float("nan")):
        assert mark_radius(z) == 0


RANK = {UNCHANGED: 0, **{c: len(DIFF_PRIORITY) - i for i, c in enumerate(DIFF_PRIORITY)}}


def widen_slow(codes: np.ndarray, radius: int) -> np.ndarray:
    """Reference: a marked pixel keeps its code; an unmarked one takes the highest-priority
    code within the (2r+1)² square around it (clipped at the edges)."""
    h, w = codes.shape
    out = codes.copy()
    for y in range(h):
        for x in range(w):
            if codes[y, x]:
                continue
            win = codes[max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1]
            out[y, x] = max(win.ravel(), key=lambda c: RANK[int(c)])
    return out


def test_priority_order_is_broken_fixed_swapped_changed():
    assert DIFF_PRIORITY == (BROKEN, FIXED, SWAPPED, CHANGED)
    for hi, lo in [(BROKEN, FIXED), (FIXED, SWAPPED), (SWAPPED, CHANGED), (BROKEN, CHANGED)]:
        codes = np.zeros((1, 5), np.uint8)
        codes[0, 0], codes[0, 4] = lo, hi
        out = widen_codes(codes, 2)
        assert list(out[0]) == [lo, lo, hi, hi, hi]  # where the halos meet, the higher wins
        codes[0, 0], codes[0, 4] = hi, lo
        assert list(widen_codes(codes, 2)[0]) == [hi, hi, hi, lo, lo]


@pytest.mark.parametrize("radius", [1, 2, 3, 4])
@pytest.mark.parametrize("density", [0.02, 0.15, 0.5])
def test_widen_codes_equals_the_slow_reference(radius, density):
    rng = np.random.default_rng(radius * 100 + int(density * 100))
    for shape in ((23, 31), (1, 17), (9, 1), (6, 6)):
        codes = np.where(rng.random(shape) < density, rng.integers(1, 5, shape), 0).astype(np.uint8)
        if not codes.any():
            codes[0, 0] = CHANGED
        keep = codes.copy()
        out = widen_codes(codes, radius)
        np.testing.assert_array_equal(codes, keep)  # the true codes are not touched
        assert out.dtype == np.uint8 and out.shape == codes.shape
        np.testing.assert_array_equal(out, widen_slow(codes, radius))
        np.testing.assert_array_equal(out[codes != 0], codes[codes != 0])  # true marks kept


def test_widen_codes_nothing_to_do():
    codes = np.zeros((5, 6), np.uint8)
    assert widen_codes(codes, 3) is codes
    codes[2, 2] = FIXED
    assert widen_codes(codes, 0) is codes


# --- FastImageItem -----------------------------------------------------------------------------


def argb(item) -> np.ndarray:
    """The rendered image's (H, W, 4) bytes as stored (B, G, R, A on little-endian)."""
    q = item.qimage
    h, w = q.height(), q.width()
    a = np.frombuffer(q.constBits(), np.uint8, count=q.bytesPerLine() * h)
    return a.reshape(h, q.bytesPerLine())[:, : 4 * w].reshape(h, w, 4).copy()


def test_lut_item_renders_premultiplied_with_the_table_colours(qapp):
    ids = np.array([[0, 1, 2, 3], [8, 11, 4, 0], [5, 6, 7, 9]], np.uint8)
    lut = label_lut(CAMVID, {4})
    item = lut_image_item(1)
    set_lut_image(item, ids, lut)
    item.render()
    assert item.qimage.format() == QImage.Format.Format_ARGB32_Premultiplied
    px = argb(item)
    want = lut[ids]
    np.testing.assert_array_equal(px[..., 3], want[..., 3])  # 255, or 0 for 11 and 4
    np.testing.assert_array_equal(
        px[..., 2::-1][want[..., 3] == 255],  # B,G,R -> R,G,B
        want[..., :3][want[..., 3] == 255],
    )
    assert not px[want[..., 3] == 0].any()  # premultiplied: all 0
    assert item.levels is not None and tuple(item.levels) == LEVELS


def test_lut_item_opacity_goes_into_the_table_alpha(qapp):
    ids = np.array([[1, 3], [11, 8]], np.uint8)
    lut = label_lut(CAMVID)
    item = FastImageItem()
    set_lut_image(item, ids, lut)
    for op in (0.5, 0.25, 1.0, 0.5):  # each from the table as given, never compounded
        item.set_layer_opacity(op)
        item.render()
        assert item.opacity() == 1.0 and item.layer_opacity() == op
        a = argb(item)[..., 3]
        want = np.rint(lut[ids][..., 3] * op).astype(np.uint8)
        np.testing.assert_array_equal(a, want)
        rgb = argb(item)[0, 0, 2::-1].astype(int)  # premultiplied R, G, B of id 1
        np.testing.assert_allclose(rgb, np.array(lut[1, :3], float) * want[0, 0] / 255, atol=1)
    np.testing.assert_array_equal(lut, label_lut(CAMVID))  # the caller's table untouched
    # a new table set at an opacity below 1 is scaled too
    item.setLookupTable(label_lut(CAMVID, {1}))
    item.render()
    assert argb(item)[0, 0, 3] == 0 and argb(item)[0, 1, 3] == 128


# --- Composite: the photo and the labels as one opaque image ------------------------------------


def reference(image, ids, lut, *, labels=(True, 1.0), photo=(True, 1.0)) -> np.ndarray:
    """(H, W, 3) uint8 R, G, B, in float64: the photo at its opacity over the background, the
    labels' colours at their table alpha × opacity over that, each step rounded."""
    h, w = ids.shape
    bg = np.array(BACKGROUND, np.float64)
    if image is None or not photo[0]:
        under = np.broadcast_to(bg, (h, w, 3))
    else:
        under = np.rint(image * photo[1] + bg * (1 - photo[1]))
    alpha = np.rint(lut[ids, 3] * (labels[1] if labels[0] else 0.0))[..., None] / 255
    return np.rint(under * (1 - alpha) + lut[ids, :3] * alpha).astype(np.uint8)


def drawn(q: QImage) -> np.ndarray:
    """A QImage's (H, W, 3) R, G, B as Qt reads them."""
    rgba = q.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w = rgba.height(), rgba.width()
    a = np.frombuffer(rgba.constBits(), np.uint8, count=rgba.bytesPerLine() * h)
    return a.reshape(h, rgba.bytesPerLine())[:, : 4 * w].reshape(h, w, 4)[..., :3].copy()


def test_blend_is_the_rounded_float_blend_for_every_value():
    under = np.repeat(np.arange(256, dtype=np.uint8), 256)[:, None].repeat(3, 1)  # every under
    lut = np.zeros((256, 4), np.uint8)
    lut[:, 0], lut[:, 1], lut[:, 2], lut[:, 3] = 255, 0, 77, np.arange(256)  # every alpha
    ids = np.tile(np.arange(256, dtype=np.uint8), 256)
    got = blend(under, ids, *blend_tables(lut, 1.0))
    a = lut[ids, 3][:, None] / 255
    want = np.rint(under * (1 - a) + lut[ids, :3] * a).astype(np.uint8)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "labels,photo",
    [
        ((True, 0.55), (True, 1.0)),
        ((True, 1.0), (True, 0.4)),
        ((False, 0.55), (True, 1.0)),
        ((True, 0.3), (False, 1.0)),
        ((True, 0.0), (True, 0.0)),
    ],
)
def test_composite_equals_the_reference_and_qt_draws_it_as_is(qapp, labels, photo):
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)
    ids = rng.integers(0, 12, (6, 9)).astype(np.uint8)
    lut = label_lut(CAMVID, {3})
    comp = Composite(ids, lut, image, labels=labels, photo=photo)
    want = reference(image, ids, lut, labels=labels, photo=photo)
    before, after = comp.qimages()
    assert before.format() == after.format() == QImage.Format.Format_RGB32
    np.testing.assert_array_equal(drawn(before), want)
    np.testing.assert_array_equal(drawn(after), want)  # nothing refined yet
    hidden = ids == 3  # a hidden class shows what lies under it
    np.testing.assert_array_equal(drawn(before)[hidden], reference(image, ids, lut * 0, photo=photo)[hidden])


def test_composite_without_a_photo_blends_over_the_background(qapp):
    ids = np.array([[1, 2], [11, 0]], np.uint8)
    lut = label_lut(CAMVID)
    comp = Composite(ids, lut, None, labels=(True, 0.5))
    np.testing.assert_array_equal(drawn(comp.qimages()[0]), reference(None, ids, lut, labels=(True, 0.5)))


def test_composite_after_follows_changes_and_styles(qapp):
    """After any sequence of refinements (changed pixels only, or whole maps) and style
    changes, both images equal the reference of what they show, and the buffers are the
    QImages' own memory (an item's update() is all a change needs)."""
    rng = np.random.default_rng(11)
    h, w = 17, 23
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    pred = rng.integers(0, 12, (h, w)).astype(np.uint8)
    lut = label_lut(CAMVID)
    labels, photo = (True, 0.55), (True, 1.0)
    comp = Composite(pred, lut, image, labels=labels, photo=photo)
    q_before, q_after = comp.qimages()
    shown = pred
    for _step in range(40):
        kind = rng.integers(0, 5)
        if kind <= 1:  # a refinement: some pixels change
            shown = pred.copy()
            idx = rng.choice(h * w, rng.integers(0, 60), replace=False)
            shown.ravel()[idx] = rng.integers(0, 12, idx.size)
            changed = np.flatnonzero(shown != pred)
            if kind == 1:  # a superset, in any order
                changed = rng.permutation(np.union1d(changed, rng.choice(h * w, 5)))
            comp.set_after(shown, changed)
        elif kind == 2:  # whole other ids (the ground truth)
            shown = rng.integers(0, 12, (h, w)).astype(np.uint8)
            comp.set_after(shown, None)
        elif kind == 3:
            lut = label_lut(CAMVID, set(rng.choice(12, rng.integers(0, 4)).tolist()))
            labels = (bool(rng.integers(0, 4)), float(rng.choice([0.2, 0.55, 1.0])))
            comp.set_style(lut=lut, labels=labels)
        else:
            photo = (bool(rng.integers(0, 4)), float(rng.choice([0.0, 0.5, 1.0])))
            comp.set_style(photo=photo)
        assert comp.qimages()[0] is q_before and comp.qimages()[1] is q_after  # updated in place
        np.testing.assert_array_equal(drawn(q_before), reference(image, pred, lut, labels=labels, photo=photo))
        np.testing.assert_array_equal(drawn(q_after), reference(image, shown, lut, labels=labels, photo=photo))


def test_pixels_item_covers_the_image(qapp):
    ids = np.zeros((4, 6), np.uint8)
    comp = Composite(ids, label_lut(CAMVID))
    item = PixelsItem()
    assert item.boundingRect().isEmpty()
    item.set_qimage(comp.qimages()[1])
    r = item.boundingRect()
    assert (r.x(), r.y(), r.width(), r.height()) == (0, 0, 6, 4)
