"""The instance outlines of one view as ONE graphics item (however many instances).

Segments of all instances of a class colour become one ``QPainterPath`` (pyqtgraph's
``arrayToQPath(connect="pairs")``, the numpy fast path); the item paints a dark halo and the
class colours with cosmetic pens (same screen width at any zoom), then the selected instance
on top, thicker and bright. Each colour gets a contrasting halo (light under dark colours such
as Cityscapes' dark blue cars, dark under light ones), so every outline reads on any photo.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen

DARK_HALO = QColor(0, 0, 0, 190)
LIGHT_HALO = QColor(255, 255, 255, 170)
SELECTED = QColor(255, 235, 59)
WIDTH = 2.0  # screen pixels
HALO_WIDTH = 4.0
SELECTED_WIDTH = 3.5
DIMMED_ALPHA = 150  # other outlines while one instance is selected


def _path(segments: list[np.ndarray]) -> QPainterPath:
    if not segments:
        return QPainterPath()
    seg = np.concatenate(segments)
    if len(seg) == 0:
        return QPainterPath()
    x = seg[:, [0, 2]].ravel().astype(np.float64)
    y = seg[:, [1, 3]].ravel().astype(np.float64)
    return pg.arrayToQPath(x, y, connect="pairs", finiteCheck=False)


def halo_for(rgb) -> QColor:
    """A halo that contrasts with ``rgb``: light under dark colours, dark under light ones."""
    r, g, b = rgb
    return LIGHT_HALO if 0.299 * r + 0.587 * g + 0.114 * b < 90 else DARK_HALO


def _pen(colour: QColor, width: float) -> QPen:
    pen = QPen(colour)
    pen.setWidthF(width)
    pen.setCosmetic(True)
    pen.setCapStyle(Qt.PenCapStyle.SquareCap)
    pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
    return pen


class OutlineItem(pg.GraphicsObject):
    """Outlines of N instances in their class colours; one item per view."""

    def __init__(self):
        super().__init__()
        self._groups: list[tuple[QPainterPath, QPen, QPen]] = []  # path, halo, colour
        self._selected = QPainterPath()
        self._rect = QRectF()
        self.count = 0  # instances drawn

    def set_outlines(
        self,
        segments: list[np.ndarray] | None,
        colours: np.ndarray | None = None,
        shown: np.ndarray | None = None,
        selected: int | None = None,
        shape: tuple[int, int] | None = None,
    ) -> None:
        """Draw ``segments[i]`` ((K_i, 4) ``x0, y0, x1, y1``) of the instances where ``shown``,
        in ``colours[i]`` (N, 3); ``selected`` (an index) highlighted. None clears."""
        self.prepareGeometryChange()
        self._groups = []
        self._selected = QPainterPath()
        self.count = 0
        if segments is None or len(segments) == 0:
            self._rect = QRectF()
            self.update()
            return
        n = len(segments)
        shown = np.ones(n, bool) if shown is None else np.asarray(shown, bool)
        keep = [i for i in range(n) if shown[i] and i != selected]
        self.count = len(keep) + int(selected is not None and 0 <= selected < n and shown[selected])
        by_colour: dict[tuple, list[int]] = {}
        for i in keep:
            by_colour.setdefault(tuple(int(v) for v in colours[i]), []).append(i)
        alpha = DIMMED_ALPHA if selected is not None else 255
        for rgb, idx in by_colour.items():
            halo = QColor(halo_for(rgb))
            halo.setAlpha(halo.alpha() * alpha // 255)
            self._groups.append(
                (_path([segments[i] for i in idx]), _pen(halo, HALO_WIDTH), _pen(QColor(*rgb, alpha), WIDTH))
            )
        if selected is not None and 0 <= selected < n and shown[selected]:
            self._selected = _path([segments[selected]])
        if shape is not None:
            self._rect = QRectF(0, 0, shape[1], shape[0])
        else:
            rect = QRectF(self._selected.boundingRect())
            for path, _halo, _colour in self._groups:
                rect = rect.united(path.boundingRect())
            self._rect = rect
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(self._rect)

    def paint(self, painter, *_args) -> None:
        if self.count == 0:
            return
        painter.setRenderHint(painter.RenderHint.Antialiasing, False)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for path, halo, _colour in self._groups:
            painter.setPen(halo)
            painter.drawPath(path)
        for path, _halo, colour in self._groups:
            painter.setPen(colour)
            painter.drawPath(path)
        if not self._selected.isEmpty():
            painter.setPen(_pen(QColor(0, 0, 0, 230), SELECTED_WIDTH + 2.5))
            painter.drawPath(self._selected)
            painter.setPen(_pen(SELECTED, SELECTED_WIDTH))
            painter.drawPath(self._selected)
