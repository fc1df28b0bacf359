"""Lookup tables and the graphics items of one view's layers (pyqtgraph fast paths).

The photo and the label layer are drawn as *one* opaque image per side (:class:`Composite`):
the labels blended over the photo (itself at its opacity over the views' background) in
numpy, into RGB32 pixels that Qt draws without blending. Blending a 1024×2048 label layer
in Qt's painter at every repaint was most of a 3840×2160 repaint; here it happens once per
sample, style change (opacity, visibility, hidden classes) or — for the pixels whose label
changed only — once per refinement. Label ids go through a 256-row RGBA lookup table; hiding
a class zeroes its row's alpha.

The diff layer is a uint8 code image with its own table and the boundary heat map the
probability quantised to uint8 once per sample, both drawn by :class:`FastImageItem`; a table
layer's opacity scales its table's alpha column (Qt draws a scaled image with a painter
opacity below 1 on a slow path). Arrows of a view are one ``PlotCurveItem(connect="pairs")``.
"""

from __future__ import annotations

import sys

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

from ..core.metrics import BROKEN, CHANGED, FIXED, SWAPPED
from ..labels import IGNORE, LabelSpace

LEVELS = (0, 256)
BACKGROUND = (0x1E, 0x1F, 0x22)  # the views' background: what shows through a hidden photo
DIFF_COLOURS = {FIXED: (40, 200, 60), BROKEN: (235, 30, 30), SWAPPED: (255, 176, 0), CHANGED: (230, 40, 230)}
ARROW_COLOUR = (255, 255, 255, 215)
LINK_COLOUR = (0, 255, 255)


def label_lut(space: LabelSpace, hidden=frozenset(), *, by_eval: bool = False) -> np.ndarray:
    """``(256, 4)`` uint8 table for label ids (or evaluation indices with ``by_eval``)."""
    if not by_eval:
        return space.lut_rgba(alpha=255, hidden=set(hidden))
    lut = np.zeros((256, 4), np.uint8)
    n = space.n_classes
    lut[:n, :3] = space.colors
    lut[:n, 3] = 255
    for i in hidden:
        if 0 <= i < n:
            lut[i, 3] = 0
    lut[IGNORE, 3] = 0
    return lut


def display_ids(labels: np.ndarray, space: LabelSpace) -> tuple[np.ndarray, bool]:
    """``(ids as uint8, by_eval)``: ids below 256 are drawn as they are; wider ids through
    the space's evaluation indices."""
    if labels.dtype == np.uint8:
        return labels, False
    if labels.size == 0 or int(labels.max()) < 256:
        return labels.astype(np.uint8), False
    return space.to_eval(labels), True


def diff_lut() -> np.ndarray:
    lut = np.zeros((256, 4), np.uint8)
    for code, rgb in DIFF_COLOURS.items():
        lut[code, :3] = rgb
        lut[code, 3] = 255
    return lut


DIFF_PRIORITY = (BROKEN, FIXED, SWAPPED, CHANGED)  # where widened marks meet, the first wins
MIN_MARK_PX = 3.0  # diff marks are drawn at least this many screen pixels wide


def mark_radius(pixels_per_image_pixel: float, *, min_px: float = MIN_MARK_PX) -> int:
    """How many image pixels to widen each diff mark by (each side) so that a single changed
    pixel covers at least ``min_px`` screen pixels: 0 when zoomed in."""
    if not pixels_per_image_pixel > 0:
        return 0
    need = min_px / pixels_per_image_pixel  # image pixels across
    return max(0, int(np.ceil((need - 1) / 2)))


def _priority(codes: np.ndarray) -> np.ndarray:
    """Codes → ranks ordered as DIFF_PRIORITY (UNCHANGED 0, then CHANGED < SWAPPED < FIXED <
    BROKEN), by uint8 arithmetic: ``((13 c + 2) mod 16) xor 2`` (a table lookup costs 12 ms
    on a 1024×2048 map, this well under 1 ms)."""
    r = codes * np.uint8(13)
    r += np.uint8(2)
    r &= np.uint8(15)
    r ^= np.uint8(2)
    return r


def _from_priority(r: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_priority`, in place: ``c = 5 (r xor 2 − 2) mod 16``."""
    r ^= np.uint8(2)
    r -= np.uint8(2)
    r *= np.uint8(5)
    r &= np.uint8(15)
    return r


def widen_codes(codes: np.ndarray, radius: int) -> np.ndarray:
    """Change codes for *display*: each marked pixel widened to a ``(2r+1)²`` square
    (a max filter over priorities), true marks kept where they are. The numbers always come
    from the true codes."""
    if radius <= 0 or not codes.any():
        return codes
    r = _priority(codes)
    out = r.copy()
    for d in range(1, radius + 1):  # separable max filter: rows, then columns
        np.maximum(out[d:], r[:-d], out=out[d:])
        np.maximum(out[:-d], r[d:], out=out[:-d])
    r[...] = out
    for d in range(1, radius + 1):
        np.maximum(out[:, d:], r[:, :-d], out=out[:, d:])
        np.maximum(out[:, :-d], r[:, d:], out=out[:, :-d])
    # true marks stay: a marked pixel's own rank, raised by 16, beats any neighbour's (a
    # masked copy would cost 8 ms here), and the low 4 bits are the rank again
    own = (codes != 0).view(np.uint8)
    own <<= 4
    own |= _priority(codes)
    np.maximum(out, own, out=out)
    out &= np.uint8(15)
    return _from_priority(out)


def heat_lut() -> np.ndarray:
    """Inferno colours; alpha rises with the probability so low values stay see-through."""
    lut = np.zeros((256, 4), np.uint8)
    lut[:, :3] = pg.colormap.get("inferno").getLookupTable(nPts=256, alpha=False)[:, :3]
    lut[:, 3] = np.clip(np.linspace(0, 255 * 1.6, 256), 0, 255).astype(np.uint8)
    lut[0, 3] = 0
    return lut


def heat_image(boundary: np.ndarray) -> np.ndarray:
    """Boundary probabilities ``(H, W)`` float -> uint8 0..255."""
    return np.clip(np.rint(np.asarray(boundary, np.float32) * 255), 0, 255).astype(np.uint8)


class FastImageItem(pg.ImageItem):
    """An ``ImageItem`` of ids drawn through a lookup table (the heat map, the diff marks), its
    rendered QImage kept in the format the raster painter draws fastest (premultiplied ARGB32),
    its opacity in the table's alpha column.

    pyqtgraph makes an ``Indexed8`` QImage (ids through a colour table); Qt then converts it to
    ARGB32 on *every* draw, before scaling it — at 3840×2160 that conversion of the whole image,
    per layer, was most of a pan's repaint. Here it is converted once, when the image or its
    table changes (pyqtgraph renders lazily, at the first paint after that). A painter opacity
    below 1 would put a scaled image on Qt's slow path: the opacity scales the table instead.
    """

    _table = None  # the lookup table as given (before the opacity is applied)

    def __init__(self, *args, **kwargs):
        self._alpha = 1.0
        super().__init__(*args, **kwargs)

    def setImage(self, image=None, autoLevels=None, **kargs):  # noqa: N803 - pyqtgraph names
        if kargs.get("lut") is not None:
            self._table = kargs["lut"]
            kargs["lut"] = self._scaled()
        super().setImage(image, autoLevels, **kargs)

    def setLookupTable(self, lut, update=True):
        self._table = lut
        super().setLookupTable(self._scaled(), update)

    def layer_opacity(self) -> float:
        return self._alpha

    def set_layer_opacity(self, opacity: float) -> None:
        opacity = float(opacity)
        self.setOpacity(1.0)
        if opacity != self._alpha:
            self._alpha = opacity
            if self._table is not None:
                super().setLookupTable(self._scaled())

    def _scaled(self):
        t = self._table
        if t is None or self._alpha >= 1.0 or not isinstance(t, np.ndarray) or t.shape[-1] != 4:
            return t
        t = t.copy()
        t[:, 3] = np.rint(t[:, 3] * self._alpha).astype(np.uint8)
        return t

    def render(self) -> None:
        super().render()
        q = self.qimage
        if q is not None and q.format() != QImage.Format.Format_ARGB32_Premultiplied:
            self.qimage = q.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)


def lut_image_item(z: float) -> pg.ImageItem:
    item = FastImageItem()
    item.setAutoDownsample(False)
    item.setZValue(z)
    return item


def set_lut_image(item: pg.ImageItem, ids: np.ndarray, lut: np.ndarray) -> None:
    item.setImage(ids, autoLevels=False, levels=LEVELS, lut=lut)


# --- the photo and the labels as one opaque image ----------------------------------------------


def rgb_view(pixels: np.ndarray) -> np.ndarray:
    """The writable ``(..., 3)`` R, G, B view of ``(..., 4)`` uint8 pixels laid out as Qt's
    ``Format_RGB32`` (one native-endian 0xffRRGGBB word per pixel)."""
    return pixels[..., 2::-1] if sys.byteorder == "little" else pixels[..., 1:]


def blend_tables(lut: np.ndarray, opacity: float) -> tuple[np.ndarray, np.ndarray]:
    """``(keep, add)`` for :func:`blend`: per id, the weight left to what lies under it
    (``255 − alpha``) and its colour times its alpha (uint16); alpha is the table's alpha
    column times ``opacity``, rounded to 0..255."""
    a = np.rint(lut[:, 3].astype(np.float64) * float(opacity)).clip(0, 255).astype(np.uint16)
    return (255 - a).astype(np.uint16), lut[:, :3].astype(np.uint16) * a[:, None]


def blend(under: np.ndarray, ids: np.ndarray, keep: np.ndarray, add: np.ndarray) -> np.ndarray:
    """``(N, 3)`` uint8: the colours of ``ids`` (N,) over ``under`` (N, 3) uint8, rounded:
    ``round((under · keep[id] + add[id]) / 255)``, computed in uint16 (at most 255 · 255), one
    channel at a time (contiguous 1-D passes: twice as fast as on the (N, 3) array)."""
    k = keep[ids]
    out = np.empty((len(ids), 3), np.uint8)
    for ch in range(3):
        x = under[:, ch].astype(np.uint16)
        x *= k
        x += add[:, ch][ids]
        x += np.uint16(128)  # round(x / 255) = (t + (t >> 8)) >> 8 with t = x + 128, exact here
        x += x >> 8
        x >>= 8
        out[:, ch] = x
    return out


def photo_under(image: np.ndarray | None, shape: tuple[int, int], *, visible: bool, opacity: float) -> np.ndarray:
    """``(H·W, 3)`` uint8: what the labels are blended over — the photo at ``opacity`` over
    the views' background, or the background alone (no photo, or hidden)."""
    h, w = shape
    bg = np.array(BACKGROUND, np.float32)
    if image is None or not visible or opacity <= 0:
        return np.broadcast_to(np.array(BACKGROUND, np.uint8), (h * w, 3))
    rgb = image.reshape(h * w, -1)[:, :3]
    if opacity >= 1:
        return np.ascontiguousarray(rgb, np.uint8)
    out = rgb.astype(np.float32)
    out *= np.float32(opacity)
    out += bg * np.float32(1 - opacity)
    return np.rint(out).astype(np.uint8)


class Composite:
    """The photo and the label layer of one sample, blended into opaque RGB32 pixels: the
    ``before`` image (prediction) and the ``after`` image (refined labels, or any other ids).

    ``after`` differs from ``before`` only where its ids do: :meth:`set_after` with the flat
    indices of those pixels restores the previous ones from ``before`` and blends the new —
    a threshold move touches the pixels whose label changed, nothing else. ``qimages()``
    wrap the buffers themselves (no copy): after a change, the items showing them need an
    ``update()``.
    """

    def __init__(
        self,
        ids: np.ndarray,
        lut: np.ndarray,
        image: np.ndarray | None = None,
        *,
        labels: tuple[bool, float] = (True, 1.0),
        photo: tuple[bool, float] = (True, 1.0),
    ):
        """``ids`` (H, W) uint8: the prediction's ids through the table ``lut`` (256, 4);
        ``image`` (H, W, 3) uint8 or None; ``labels`` and ``photo``: each layer's
        ``(visible, opacity)``."""
        self.shape = tuple(ids.shape)
        h, w = self.shape
        self.image = image
        self.before = np.empty((h, w, 4), np.uint8)
        self.before[..., 3 if sys.byteorder == "little" else 0] = 255  # RGB32's unused byte: 0xff
        self._before_ids = np.ascontiguousarray(ids, np.uint8).ravel()
        self._after_ids = self._before_ids
        self._changed: np.ndarray | None = np.zeros(0, np.intp)  # None: every pixel
        self._labels = (np.asarray(lut, np.uint8), bool(labels[0]), float(labels[1]))
        self._tables = blend_tables(self._labels[0], self._labels[2] if self._labels[1] else 0.0)
        self._photo = (bool(photo[0]), float(photo[1]))
        self._under = photo_under(image, self.shape, visible=self._photo[0], opacity=self._photo[1])
        self._blend_all(self.before, self._before_ids)
        self.after = self.before.copy()
        self._q = (
            pg.functions.ndarray_to_qimage(self.before, QImage.Format.Format_RGB32),
            pg.functions.ndarray_to_qimage(self.after, QImage.Format.Format_RGB32),
        )

    def qimages(self) -> tuple[QImage, QImage]:
        """``(before, after)`` QImages over the buffers."""
        return self._q

    def set_style(
        self,
        *,
        lut: np.ndarray | None = None,
        labels: tuple[bool, float] | None = None,
        photo: tuple[bool, float] | None = None,
    ) -> None:
        """New label table, label layer ``(visible, opacity)`` or photo ``(visible, opacity)``:
        both images are blended anew."""
        t, vis, op = self._labels
        if lut is not None:
            t = np.asarray(lut, np.uint8)
        if labels is not None:
            vis, op = labels
        self._labels = (t, bool(vis), float(op))
        self._tables = blend_tables(t, op if vis else 0.0)
        if photo is not None and tuple(photo) != self._photo:
            self._photo = (bool(photo[0]), float(photo[1]))
            self._under = photo_under(self.image, self.shape, visible=self._photo[0], opacity=self._photo[1])
        self._blend_all(self.before, self._before_ids)
        self._redo_after()

    def set_after(self, ids: np.ndarray, changed: np.ndarray | None = None) -> None:
        """The after side's ids ``(H, W)``; ``changed``: flat indices of every pixel where they
        differ from the prediction's (a superset is fine), or None to blend them all."""
        old = self._changed
        self._after_ids = np.ascontiguousarray(ids, np.uint8).ravel()
        self._changed = None if changed is None else np.asarray(changed, np.intp)
        if self._changed is None:
            self._blend_all(self.after, self._after_ids)
            return
        flat_after, flat_before = self.after.reshape(-1, 4), self.before.reshape(-1, 4)
        if old is None:
            self.after[...] = self.before
        else:
            flat_after[old] = flat_before[old]
        self._blend_at(flat_after, self._changed)

    def _redo_after(self) -> None:
        if self._changed is None:
            self._blend_all(self.after, self._after_ids)
        else:
            self.after[...] = self.before
            self._blend_at(self.after.reshape(-1, 4), self._changed)

    def _blend_all(self, out: np.ndarray, ids: np.ndarray) -> None:
        rgb = rgb_view(out.reshape(-1, 4))
        if not self._labels[1] or not self._labels[2] > 0:
            rgb[...] = self._under
            return
        rows = 1 << 16  # in blocks: uint16 temporaries that stay in the cache
        for i in range(0, ids.size, rows):
            rgb[i : i + rows] = blend(self._under[i : i + rows], ids[i : i + rows], *self._tables)

    def _blend_at(self, flat: np.ndarray, idx: np.ndarray) -> None:
        if idx.size:
            rgb_view(flat)[idx] = blend(self._under[idx], self._after_ids[idx], *self._tables)


class PixelsItem(pg.GraphicsObject):
    """Draws a QImage over image coordinates ``[0, W) × [0, H)`` as it is: for the
    :class:`Composite` buffers, which change in place (call ``update()`` after)."""

    def __init__(self):
        super().__init__()
        self._qimage: QImage | None = None

    def set_qimage(self, qimage: QImage | None) -> None:
        self.prepareGeometryChange()
        self._qimage = qimage
        self.update()

    def boundingRect(self) -> QRectF:
        q = self._qimage
        return QRectF() if q is None else QRectF(0, 0, q.width(), q.height())

    def paint(self, painter, *_args) -> None:
        if self._qimage is not None:
            painter.drawImage(self.boundingRect(), self._qimage)


class ClipBox(QGraphicsRectItem):
    """An invisible rectangle whose children are drawn only inside it (the swipe)."""

    def __init__(self):
        super().__init__()
        self.setPen(pg.mkPen(None))
        self.setBrush(pg.mkBrush(None))
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape, True)

    def set_cols(self, c0: float, c1: float, h: int) -> None:
        self.setRect(QRectF(c0, 0, max(c1 - c0, 0.0), h))


class ViewLayers:
    """The items of one view, in drawing order (z): photo and labels (one opaque image per
    side, see :class:`Composite`), heat, diff, arrows, link.

    "Before" pixels are drawn left of the split column and "after" pixels (and the diff)
    right of it: side by side, one view has the split at the right edge and the other at
    the left edge; the single view moves it with the swipe.
    """

    def __init__(self, vb: pg.ViewBox):
        self.vb = vb
        self.before_clip = ClipBox()
        self.before_clip.setZValue(1)
        self.pixels_before = PixelsItem()
        self.pixels_before.setParentItem(self.before_clip)
        self.after_clip = ClipBox()
        self.after_clip.setZValue(2)
        self.pixels_after = PixelsItem()
        self.pixels_after.setParentItem(self.after_clip)
        self.heat = lut_image_item(3)
        self.diff_clip = ClipBox()
        self.diff_clip.setZValue(4)
        self.diff = lut_image_item(0)
        self.diff.setParentItem(self.diff_clip)
        self.arrows = pg.PlotCurveItem(pen=pg.mkPen(ARROW_COLOUR, width=1.2), connect="pairs", antialias=False)
        self.arrows.setZValue(5)
        self.link = pg.PlotCurveItem(pen=pg.mkPen(LINK_COLOUR, width=2.5), antialias=True)
        self.link.setZValue(6)
        self.marks = pg.ScatterPlotItem(pxMode=True, antialias=True)
        self.marks.setZValue(7)
        self._link_shown = (None, None)  # what set_link drew last
        for item in (self.before_clip, self.after_clip, self.heat, self.diff_clip, self.arrows, self.link, self.marks):
            vb.addItem(item)

    def show_composite(self, composite: Composite | None) -> None:
        """Draw ``composite`` 's before and after images (None: nothing)."""
        before, after = composite.qimages() if composite is not None else (None, None)
        self.pixels_before.set_qimage(before)
        self.pixels_after.set_qimage(after)

    def composite_changed(self) -> None:
        """The composite's pixels changed in place: repaint them."""
        self.pixels_before.update()
        self.pixels_after.update()

    def set_split(self, col: float, shape: tuple[int, int]) -> None:
        """Before labels on columns ``[0, col)``, after labels and diff on ``[col, W)``."""
        h, w = shape
        col = min(max(col, 0.0), float(w))
        self.before_clip.set_cols(0, col, h)
        self.after_clip.set_cols(col, w, h)
        self.diff_clip.set_cols(col, w, h)
        # an empty side is hidden, so its (clipped-away) image is never drawn at all
        self.before_clip.setVisible(col > 0)
        self.after_clip.setVisible(col < w)
        self.diff_clip.setVisible(col < w)

    def clear(self) -> None:
        self.show_composite(None)
        for item in (self.heat, self.diff):
            item.clear()
        self.arrows.setData([], [])
        self.link.setData([], [])
        self.marks.setData([])
        self._link_shown = (None, None)

    def set_link(self, pixel: tuple[int, int] | None, source: tuple[int, int] | None) -> None:
        """Mark the inspected pixel and draw a line to the pixel it took its label from."""
        if (pixel, source) == self._link_shown:
            return
        self._link_shown = (pixel, source)
        if pixel is None:
            self.link.setData([], [])
            self.marks.setData([])
            return
        r, c = pixel
        spots = [
            {"pos": (c + 0.5, r + 0.5), "symbol": "s", "size": 11, "brush": None, "pen": pg.mkPen(LINK_COLOUR, width=2)}
        ]
        if source is not None and source != pixel:
            sr, sc = source
            self.link.setData([c + 0.5, sc + 0.5], [r + 0.5, sr + 0.5])
            spots.append(
                {
                    "pos": (sc + 0.5, sr + 0.5),
                    "symbol": "o",
                    "size": 9,
                    "brush": pg.mkBrush(LINK_COLOUR),
                    "pen": pg.mkPen(QColor(0, 0, 0), width=1),
                }
            )
        else:
            self.link.setData([], [])
        self.marks.setData(spots)


def apply_opacity(items, visible: bool, opacity: float) -> None:
    for item in items:
        item.setVisible(visible)
        if isinstance(item, FastImageItem):
            item.set_layer_opacity(opacity)
        else:
            item.setOpacity(opacity)
