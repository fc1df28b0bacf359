"""Numbers: mIoU / pixel accuracy / boundary F before and after, change counts, a sortable
per-class IoU table with Δ, and a bar chart of the per-class Δ. All from the engine's
``SemanticEvaluator`` results held by the state."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..compute import table_rows

TITLE = "Metrics"
AREA = "right"
GROUP = "right-numbers"  # with Instances (instance mode)
COLUMNS = ("class", "before", "after", "Δ")  # IoU (%), said by the headers' tooltips
COLUMN_TIPS = (
    "class (click a header to sort)",
    "IoU (%) of the labels before refinement",
    "IoU (%) after refinement",
    "IoU change in points (after − before)",
)
SUMMARY = (("miou", "mIoU"), ("pixel_accuracy", "pixel accuracy"), ("boundary_f", "boundary F"))
GAIN, LOSS, FLAT = QColor(60, 200, 90), QColor(240, 80, 70), QColor(150, 150, 150)
VALUE_ROLE = Qt.ItemDataRole.UserRole


def pct(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f}"


def signed(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:+.2f}"


def delta_colour(d) -> QColor:
    if d is None or (isinstance(d, float) and math.isnan(d)) or abs(d) < 5e-7:
        return FLAT
    return GAIN if d > 0 else LOSS


class NumItem(QTableWidgetItem):
    """A cell that sorts by its number; "n/a" (None) sorts below every number."""

    def __init__(self, value, text: str):
        super().__init__(text)
        self.setData(VALUE_ROLE, value)
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._shown = (value, text)

    def set_shown(self, value, text: str) -> bool:
        """Set the number and its text; False (and no Qt call) when they are unchanged. A
        threshold move changes only the "after" and "Δ" cells: skipping the others halves
        the table's update."""
        if self._shown == (value, text):
            return False
        self._shown = (value, text)
        self.setData(VALUE_ROLE, value)
        self.setText(text)
        return True

    def __lt__(self, other):
        a, b = self.data(VALUE_ROLE), other.data(VALUE_ROLE)
        if isinstance(a, str) or isinstance(b, str):
            return str(a) < str(b)
        a = -math.inf if a is None else a
        b = -math.inf if b is None else b
        return a < b


class MetricsPanel(QWidget):
    def __init__(self, window):
        super().__init__()
        self.state = st = window.state
        top = QWidget()
        grid = QGridLayout(top)
        grid.setContentsMargins(4, 4, 4, 4)
        for col, text in enumerate(("", "before", "after", "Δ")):
            h = QLabel(f"<b>{text}</b>")
            h.setAlignment(Qt.AlignmentFlag.AlignRight)
            grid.addWidget(h, 0, col)
        self.summary: dict[str, tuple[QLabel, QLabel, QLabel]] = {}
        for row, (key, text) in enumerate(SUMMARY, start=1):
            grid.addWidget(QLabel(text), row, 0)
            cells = tuple(QLabel("–") for _ in range(3))
            for col, lab in enumerate(cells, start=1):
                lab.setAlignment(Qt.AlignmentFlag.AlignRight)
                grid.addWidget(lab, row, col)
            self.summary[key] = cells
        self.counts = QLabel("")
        self.counts.setWordWrap(True)
        grid.addWidget(self.counts, len(SUMMARY) + 1, 0, 1, 4)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        fm = self.table.fontMetrics()
        for c, widest in ((1, "100.00"), (2, "100.00"), (3, "+100.00")):  # the name gets the rest
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.Fixed)
            hh.resizeSection(c, fm.horizontalAdvance(widest) + 12)
        for c, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(c).setToolTip(tip)
        self.table.verticalHeader().setDefaultSectionSize(fm.height() + 6)
        self.table.setSortingEnabled(True)
        self.table.sortItems(0, Qt.SortOrder.AscendingOrder)
        self.table.setToolTip(
            "Per-class IoU (%). Click a header to sort; n/a = class absent from both ground truth and labels."
        )

        # one row per class present, ROW_PX high at least, in a scroll area: the names stay
        # readable for 11 CamVid, 19 Cityscapes or 150 ADE20K classes
        self.chart = pg.PlotWidget(background="#1e1f22")
        self.chart.setMenuEnabled(False)
        self.chart.setMouseEnabled(x=False, y=False)
        self.chart.hideButtons()
        self.chart.setTitle("per-class IoU Δ (points)", color="#ccc", size="9pt")
        self.chart.getPlotItem().getViewBox().invertY(True)
        self.chart.addLine(x=0, pen=pg.mkPen("#888"))
        self.tick_font = QFont()
        self.tick_font.setPointSizeF(8)
        for side in ("left", "bottom"):
            self.chart.getPlotItem().getAxis(side).setStyle(tickFont=self.tick_font)
        self.chart.getPlotItem().getAxis("left").setStyle(tickTextOffset=4, autoExpandTextSpace=True)
        self.bars = None
        self.chart_scroll = QScrollArea()
        self.chart_scroll.setWidget(self.chart)
        self.chart_scroll.setWidgetResizable(True)
        self.chart_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.chart_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.chart_scroll)
        split.setSizes([260, 260])
        self.chart_scroll.setMinimumHeight(120)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(top)
        lay.addWidget(split, 1)
        self.rows: list[tuple] = []
        self._names: list[str] | None = None
        self._bar_names: list[str] | None = None  # the classes the bars show
        self._cells: dict[str, tuple] = {}
        st.sampleChanged.connect(self.refresh)
        st.resultChanged.connect(self.refresh)

    # what tests and exports read: the rows as numbers, and the summary
    def refresh(self) -> None:
        st = self.state
        before = st.before
        after = st.result.after if st.result is not None and st.sample is not None else None
        for key, _ in SUMMARY:
            b = before[key] if before else None
            a = after[key] if after else None
            d = None if a is None or b is None else a - b
            lb, la, ld = self.summary[key]
            lb.setText(pct(b))
            la.setText(pct(a))
            ld.setText(signed(d))
            style = f"color: {delta_colour(d).name()};"
            if ld.styleSheet() != style:  # a new style sheet re-polishes the label
                ld.setStyleSheet(style)
        self._counts()
        self.table.setSortingEnabled(False)
        if before is None:
            self.rows = []
            self._names = None
            self.table.setRowCount(0)
            self._chart([])
            self.table.setSortingEnabled(True)
            return
        self.rows = table_rows(before, after)
        names = [r[0] for r in self.rows]
        if names != self._names:  # a new label space: new cells (else they are updated in place)
            self._names = names
            self.table.setRowCount(len(names))
            self._cells = {}
            for r, name in enumerate(names):
                name_item = NumItem(r, name)  # sorts in the label space's order
                name_item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, 0, name_item)
                cells = tuple(NumItem(None, "") for _ in range(3))
                for c, item in enumerate(cells, start=1):
                    self.table.setItem(r, c, item)
                self._cells[name] = cells
        # one dataChanged for the whole update: each cell's own signal makes the header
        # re-measure every ResizeToContents column (0.4 ms a cell, 20 ms a threshold move)
        model = self.table.model()
        blocked = model.blockSignals(True)
        try:
            for name, b, a, d in self.rows:
                cb, ca, cd = self._cells[name]
                cb.set_shown(b, pct(b))
                ca.set_shown(a, pct(a))
                if cd.set_shown(d, signed(d)):
                    cd.setForeground(QBrush(delta_colour(d)))
        finally:
            model.blockSignals(blocked)
        model.dataChanged.emit(model.index(0, 1), model.index(len(self.rows) - 1, len(COLUMNS) - 1))
        self.table.setSortingEnabled(True)
        self._chart(self.rows)

    def _counts(self) -> None:
        st = self.state
        if st.sample is None:
            self.counts.setText("")
            return
        if st.result is None:
            self.counts.setText("refining…")
            return
        c = st.result.counts
        if st.sample.is_instances:
            self.counts.setText(
                f"instance mode: the figures per instance are in the Instances "
                f"panel ({st.result.moving:,} pixels moved)"
            )
            return
        if st.sample.gt is None:
            self.counts.setText(f"no ground truth: {c['changed']:,} pixels changed ({st.result.moving:,} moved)")
            return
        self.counts.setText(
            f"<span style='color:rgb(40,200,60)'>fixed {c['fixed']:,}</span> · "
            f"<span style='color:rgb(235,30,30)'>broken {c['broken']:,}</span> · "
            f"<span style='color:rgb(255,176,0)'>swapped {c['swapped']:,}</span> pixels "
            f"<span style='color:#888'>({c['changed']:,} changed, {st.result.moving:,} moved)</span>"
        )

    def chart_rows(self, rows) -> list[tuple]:
        """The rows the chart draws: classes with a Δ (present in the ground truth or in either
        labelling), in the label space's order."""
        return [r for r in rows if r[3] is not None]

    def row_px(self) -> int:
        """Height of one bar's row: the tick font's line height and some air."""
        return QFontMetrics(self.tick_font).height() + 4

    def _chart(self, rows) -> None:
        pi = self.chart.getPlotItem()
        rows = self.chart_rows(rows)
        names = [r[0] for r in rows]
        if self.bars is None or names != self._bar_names:  # new classes: new bars and ticks
            if self.bars is not None:
                pi.removeItem(self.bars)
                self.bars = None
            self._bar_names = names
            n = max(len(rows), 1)
            # title, bottom axis and margins take about 60 px; each row gets its line
            self.chart.setMinimumHeight(60 + n * self.row_px())
            self.chart.setToolTip(
                f"IoU Δ (points) of the {len(rows)} classes present (in the "
                "ground truth or either labelling), in the label space's order"
            )
            if not rows:
                pi.getAxis("left").setTicks([[]])
                return
            self.bars = pg.BarGraphItem(
                x0=np.zeros(len(rows)),
                y=np.arange(len(rows)),
                width=np.zeros(len(rows)),
                height=0.7,
                pens=[pg.mkPen(None)] * len(rows),
            )
            pi.addItem(self.bars)
            pi.getAxis("left").setTicks([list(enumerate(names))])
            pi.setYRange(-0.6, len(rows) - 0.4, padding=0)
        # the same classes (a threshold move): new lengths and colours, nothing re-laid out
        d = np.array([100 * r[3] for r in rows])
        self.bars.setOpts(x0=np.minimum(d, 0), width=np.abs(d), brushes=[pg.mkBrush(delta_colour(r[3])) for r in rows])
        lim = max(float(np.abs(d).max()), 0.5) * 1.1
        pi.setXRange(-lim, lim, padding=0)


def create(window) -> QWidget:
    return MetricsPanel(window)
