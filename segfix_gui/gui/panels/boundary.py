"""Boundary: where the errors are — the error rate by distance to the nearest border, before and
after refinement at the current setting, for the open sample and for the whole set.

Every pixel whose ground truth is not void is binned by its distance to the nearest pixel of
another ground-truth label (1 px, 2 px, … 20 px, then beyond); a bin's error rate is the share of
its pixels the prediction gets wrong. SegFix's premise is that this falls off with distance:
interior labels are reliable, borders are not. The curves come from the session
(:attr:`~segfix_gui.session.Session.borders` and ``set_borders``: the numbers ``segfix evaluate
--json`` writes as ``error_profile``); the header states boundary IoU before → after.

Click a class in the legend to see its profile alone (its ground-truth pixels), again for all
classes. Hovering a bin highlights the open sample's pixels of that bin in the views.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QSplitter, QVBoxLayout, QWidget

from ...session.format import pct

TITLE = "Boundary"
AREA = "bottom"
START_HIDDEN = True  # opened on demand (Refine ▸ Boundary, Ctrl+B), under the views like Tune
BACKGROUND = "#1e1f22"
BEFORE, AFTER = "#e8606a", "#5ad17a"
ALL = -1  # the legend's "all classes" row


class PlotWidget(pg.PlotWidget):
    """A plot that says when the mouse leaves it (the views' highlight goes)."""

    def __init__(self, on_leave, **kw):
        super().__init__(**kw)
        self._on_leave = on_leave

    def leaveEvent(self, ev) -> None:
        self._on_leave()
        super().leaveEvent(ev)


class BoundaryPanel(QWidget):
    def __init__(self, session, actions):
        super().__init__()
        self.session = st = session
        self.head = QLabel("")
        self.head.setWordWrap(True)
        self.head.setTextFormat(Qt.TextFormat.RichText)
        self.hover = QLabel("")
        self.hover.setStyleSheet("color: #bbb;")
        self.legend = QListWidget()
        self.legend.setToolTip("Click a class to see its profile alone; click it again for all classes")
        self.legend.itemClicked.connect(self._clicked)
        self.legend.setMinimumWidth(120)
        self.plot = PlotWidget(lambda: st.hover_border_bin(None), background=BACKGROUND)
        self.plot.setMinimumHeight(140)
        p = self.plot.getPlotItem()
        p.showGrid(x=True, y=True, alpha=0.25)
        p.setLabel("left", "error rate (%)")
        p.setLabel("bottom", "distance to the nearest border (px)")
        p.setMenuEnabled(False)
        p.getViewBox().setMouseEnabled(x=False, y=False)
        self.key = p.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.band = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 220, 0, 50), pen=pg.mkPen(None))
        self.band.setZValue(-10)
        self.band.hide()
        p.addItem(self.band, ignoreBounds=True)
        dash = Qt.PenStyle.DashLine
        self.curves = {  # the set's solid, the sample's dashed; the key lists those drawn
            ("set", "before"): p.plot([], pen=pg.mkPen(BEFORE, width=2)),
            ("set", "after"): p.plot([], pen=pg.mkPen(AFTER, width=2)),
            ("sample", "before"): p.plot([], pen=pg.mkPen(BEFORE, width=1.5, style=dash)),
            ("sample", "after"): p.plot([], pen=pg.mkPen(AFTER, width=1.5, style=dash)),
        }
        self.key.clear()
        self.plot.scene().sigMouseMoved.connect(self._moved)
        right = QWidget()
        col = QVBoxLayout(right)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.head)
        col.addWidget(self.plot, 1)
        col.addWidget(self.hover)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.legend)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([150, 600])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split)
        self._space = None
        self._bins: int | None = None
        for e in (st.events.borders, st.events.set_borders, st.events.border_class, st.events.setting):
            e.connect(self.refresh)
        st.events.border_bin.connect(self._show_band)
        st.events.sample.connect(self._rebuild_legend)
        self._rebuild_legend()
        self.refresh()

    # --- the legend ------------------------------------------------------------------------------
    def _rebuild_legend(self, *_args) -> None:
        sample = self.session.sample
        if sample is None or sample.space is self._space:
            return
        self._space = space = sample.space
        self.legend.clear()
        self.legend.addItem(_item("all classes", None, ALL))
        for i, (name, rgb) in enumerate(zip(space.names, space.colors, strict=True)):
            self.legend.addItem(_item(name, rgb, i))
        self._select()

    def _clicked(self, item: QListWidgetItem) -> None:
        i = item.data(Qt.ItemDataRole.UserRole)
        st = self.session
        st.set_border_class(None if i == ALL or i == st.border_class else i)

    def _select(self) -> None:
        want = ALL if self.session.border_class is None else self.session.border_class
        for row in range(self.legend.count()):
            item = self.legend.item(row)
            item.setSelected(item.data(Qt.ItemDataRole.UserRole) == want)

    # --- the curves -----------------------------------------------------------------------------
    def profiles(self) -> dict[str, object]:
        """The profiles drawn: the open sample's and the set's, each only at the current setting."""
        st = self.session
        out = {}
        for scope, prof in (("sample", st.borders), ("set", st.set_borders)):
            if prof is not None and prof.setting.refinement() == st.setting.refinement():
                out[scope] = prof
        return out

    def refresh(self, *_args) -> None:
        st = self.session
        self._select()
        shown = self.profiles()
        cls = st.border_class
        bins = None
        self.key.clear()
        for (scope, which), curve in self.curves.items():
            prof = shown.get(scope)
            if prof is None:
                curve.setData([], [])
                continue
            self.key.addItem(curve, f"{scope}, {'prediction' if which == 'before' else 'refined'}")
            _pixels, before, after = prof.curve(cls)
            y = 100 * (before if which == "before" else after)
            x = np.arange(1, len(y) + 1)
            ok = ~np.isnan(y)
            curve.setData(x[ok], y[ok])
            bins = len(y)
        if bins is not None and bins != self._bins:
            self._bins = bins
            ticks = [(b, str(b)) for b in range(1, bins)] + [(bins, f">{bins - 1}")]
            self.plot.getPlotItem().getAxis("bottom").setTicks([ticks[::2] + ticks[-1:], ticks])
            self.plot.getPlotItem().setXRange(0.5, bins + 0.5, padding=0)
        self.head.setText(self._head_html(shown))

    def _head_html(self, shown) -> str:
        st = self.session
        if not shown:
            if st.sample is not None and (st.sample.gt is None or st.sample.is_instances):
                return "The profile needs ground truth (label maps): this sample has none."
            return "Open a sample with ground truth: its profile appears once it is refined."
        parts = []
        for scope in ("sample", "set"):
            prof = shown.get(scope)
            if prof is None:
                continue
            b, a = prof.boundary_iou()
            what = "sample" if scope == "sample" else f"set ({prof.images} of {prof.total} images)"
            if scope == "set" and not prof.done:
                what += ", filling in…"
            parts.append(f"<b>{what}</b>: boundary IoU {pct(b)} → {pct(a)}")
        cls = st.border_class
        name = "all classes" if cls is None or self._space is None else self._space.names[cls]
        return f"Error rate by distance to the border — {name}<br>" + " · ".join(parts)

    # --- hovering ---------------------------------------------------------------------------------
    def _moved(self, pos) -> None:
        vb = self.plot.getPlotItem().getViewBox()
        if self._bins is None or not vb.sceneBoundingRect().contains(pos):
            self.session.hover_border_bin(None)
            return
        b = int(round(vb.mapSceneToView(pos).x()))
        self.session.hover_border_bin(b if 1 <= b <= self._bins else None)

    def _show_band(self, *_args) -> None:
        st = self.session
        b = st.border_bin
        if b is None:
            self.band.hide()
            self.hover.setText("")
            return
        self.band.setRegion((b - 0.5, b + 0.5))
        self.band.show()
        self.hover.setText(self._hover_text(b))

    def _hover_text(self, b: int) -> str:
        bins = self._bins or 0
        label = f">{bins - 1} px" if b == bins else f"{b}–{b + 1} px"
        out = [f"{label} from a border (highlighted in the views)"]
        for scope, prof in self.profiles().items():
            pixels, before, after = prof.curve(self.session.border_class)
            i = b - 1
            out.append(f"{scope}: {int(pixels[i]):,} px, errors {pct(_num(before[i]))} → {pct(_num(after[i]))} %")
        return " · ".join(out)


def _num(v) -> float | None:
    return None if np.isnan(v) else float(v)


def _item(name: str, rgb, data: int) -> QListWidgetItem:
    if rgb is None:
        item = QListWidgetItem(name)
    else:
        pm = QPixmap(14, 14)
        pm.fill(QColor(*(int(v) for v in rgb)))
        item = QListWidgetItem(QIcon(pm), name)
    item.setData(Qt.ItemDataRole.UserRole, data)
    return item


def create(session, actions) -> QWidget:
    return BoundaryPanel(session, actions)
