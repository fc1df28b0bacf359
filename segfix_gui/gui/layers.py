"""Lookup tables and the graphics items of one view's layers (pyqtgraph fast paths).

Label maps are drawn as uint8 ids through a 256-row RGBA lookup table with
``levels=(0, 256)`` and no auto-levels; hiding a class zeroes its row's alpha. A table layer's
opacity scales its table's alpha column (Qt's painter draws a scaled image with an opacity
below 1 on a slow path: at 3840×2160 that was most of a repaint); the photo's is
``setOpacity``. The diff layer is a uint8 code image with its own table; the boundary heat
map is the probability quantised to uint8 once per sample.
Arrows of a view are one ``PlotCurveItem(connect="pairs")``.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

from ..core.metrics import BROKEN, CHANGED, FIXED, SWAPPED
from ..labels import IGNORE, LabelSpace

LEVELS = (0, 256)
DIFF_COLOURS = {FIXED: (40, 200, 60), BROKEN: (235, 30, 30), SWAPPED: (255, 176, 0),
                CHANGED: (230, 40, 230)}
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
    """An ``ImageItem`` whose rendered QImage is kept in the format the raster painter draws
    fastest (premultiplied ARGB32, or RGB32 for an opaque photo).

    pyqtgraph makes an ``Indexed8`` (ids through a colour table) or ``RGB888`` QImage; Qt then
    converts it to ARGB32 on *every* draw, before scaling it — at 3840×2160 that conversion of
    the whole image, per layer, was most of a pan's repaint. Here it is converted once, when
    the image or its table changes (pyqtgraph renders lazily, at the first paint after that).
    """

    _table = None      # the lookup table as given (before the opacity is applied)

    def __init__(self, *args, table: bool = False, **kwargs):
        """``table``: the item shows ids through a lookup table (its opacity goes into the
        table's alpha); else a photo (painter opacity)."""
        self._alpha = 1.0
        self.has_table = table
        super().__init__(*args, **kwargs)

    def setImage(self, image=None, autoLevels=None, **kargs):  # noqa: N802 - pyqtgraph name
        if kargs.get("lut") is not None:
            self._table = kargs["lut"]
            kargs["lut"] = self._scaled()
        super().setImage(image, autoLevels, **kargs)

    def setLookupTable(self, lut, update=True):  # noqa: N802 - pyqtgraph name
        self._table = lut
        super().setLookupTable(self._scaled(), update)

    def layer_opacity(self) -> float:
        return self._alpha

    def set_layer_opacity(self, opacity: float) -> None:
        opacity = float(opacity)
        if not self.has_table:
            self._alpha = opacity
            self.setOpacity(opacity)
            return
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
        if q is None or q.format() in _FAST_FORMATS:
            return
        opaque = q.format() in (QImage.Format.Format_RGB888, QImage.Format.Format_RGBX8888,
                                QImage.Format.Format_Grayscale8)
        self.qimage = q.convertToFormat(QImage.Format.Format_RGB32 if opaque
                                        else QImage.Format.Format_ARGB32_Premultiplied)


_FAST_FORMATS = (QImage.Format.Format_ARGB32_Premultiplied, QImage.Format.Format_RGB32)


def lut_image_item(z: float) -> pg.ImageItem:
    item = FastImageItem(table=True)
    item.setAutoDownsample(False)
    item.setZValue(z)
    return item


def set_lut_image(item: pg.ImageItem, ids: np.ndarray, lut: np.ndarray) -> None:
    item.setImage(ids, autoLevels=False, levels=LEVELS, lut=lut)


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
    """The items of one view, in drawing order (z): image, labels, heat, diff, arrows, link.

    "Before" labels are drawn left of the split column and "after" labels (and the diff)
    right of it: side by side, one view has the split at the right edge and the other at
    the left edge; the single view moves it with the swipe.
    """

    def __init__(self, vb: pg.ViewBox):
        self.vb = vb
        self.image = FastImageItem()
        self.image.setZValue(0)
        self.before_clip = ClipBox()
        self.before_clip.setZValue(1)
        self.labels_before = lut_image_item(0)
        self.labels_before.setParentItem(self.before_clip)
        self.after_clip = ClipBox()
        self.after_clip.setZValue(2)
        self.labels_after = lut_image_item(0)
        self.labels_after.setParentItem(self.after_clip)
        self.heat = lut_image_item(3)
        self.diff_clip = ClipBox()
        self.diff_clip.setZValue(4)
        self.diff = lut_image_item(0)
        self.diff.setParentItem(self.diff_clip)
        self.arrows = pg.PlotCurveItem(pen=pg.mkPen(ARROW_COLOUR, width=1.2), connect="pairs",
                                       antialias=False)
        self.arrows.setZValue(5)
        self.link = pg.PlotCurveItem(pen=pg.mkPen(LINK_COLOUR, width=2.5), antialias=True)
        self.link.setZValue(6)
        self.marks = pg.ScatterPlotItem(pxMode=True, antialias=True)
        self.marks.setZValue(7)
        for item in (self.image, self.before_clip, self.after_clip, self.heat, self.diff_clip,
                     self.arrows, self.link, self.marks):
            vb.addItem(item)

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
        for item in (self.image, self.labels_before, self.labels_after, self.heat, self.diff):
            item.clear()
        self.arrows.setData([], [])
        self.link.setData([], [])
        self.marks.setData([])

    def set_link(self, pixel: tuple[int, int] | None, source: tuple[int, int] | None) -> None:
        """Mark the inspected pixel and draw a line to the pixel it took its label from."""
        if pixel is None:
            self.link.setData([], [])
            self.marks.setData([])
            return
        r, c = pixel
        spots = [{"pos": (c + 0.5, r + 0.5), "symbol": "s", "size": 11, "brush": None,
                  "pen": pg.mkPen(LINK_COLOUR, width=2)}]
        if source is not None and source != pixel:
            sr, sc = source
            self.link.setData([c + 0.5, sc + 0.5], [r + 0.5, sr + 0.5])
            spots.append({"pos": (sc + 0.5, sr + 0.5), "symbol": "o", "size": 9,
                          "brush": pg.mkBrush(LINK_COLOUR), "pen": pg.mkPen(QColor(0, 0, 0), width=1)})
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


