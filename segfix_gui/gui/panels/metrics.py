"""Numbers: mIoU / pixel accuracy / boundary F / boundary IoU before and after for the open sample
and for the whole set at the current setting (and the set's upper bound once scored), what refinement
changed, a per-class IoU table with Δ (the sample's or the set's), and a bar chart of the
per-class Δ. Every number is the engine's: the sample's ``SemanticEvaluator`` results, the set's
summed counts (:class:`~segfix_gui.session.sets.SetScores`); boundary IoU the session's
boundary measures (``borders``, ``set_borders``: "…" while they are measured)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...session.compute import table_rows
from ...session.format import pct, sign_of, signed

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
SUMMARY = (
    ("miou", "mIoU"),
    ("pixel_accuracy", "pixel accuracy"),
    ("boundary_f", "boundary F"),
    ("boundary_iou", "boundary IoU"),
)
PENDING = "…"  # a figure being measured
GAIN, LOSS, FLAT = QColor(60, 200, 90), QColor(240, 80, 70), QColor(150, 150, 150)
VALUE_ROLE = Qt.ItemDataRole.UserRole
SCOPES = (("sample", "this sample"), ("set", "the whole set"))
CHANGE_TIP = (
    "Pixels whose label refinement changed: fixed (wrong → right), broken (right → wrong), "
    "swapped (wrong → another wrong), and those on void ground truth (not evaluated); the four add "
    "up to all changed pixels"
)


def change_text(c: dict) -> str:
    """``fixed + broken + swapped + on void = changed`` in the diff layer's colours."""
    return (
        f"<span style='color:rgb(40,200,60)'>fixed {c['fixed']:,}</span> + "
        f"<span style='color:rgb(235,30,30)'>broken {c['broken']:,}</span> + "
        f"<span style='color:rgb(255,176,0)'>swapped {c['swapped']:,}</span> + "
        f"void gt {c['on_void']:,} = {c['changed']:,} changed"
    )


def delta_colour(d) -> QColor:
    """Green for a gain, red for a loss, grey for none — as the gain is shown (a gain that
    rounds to 0.00 is none)."""
    return {1: GAIN, -1: LOSS, 0: FLAT}[sign_of(d)]


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


class SummaryGrid(QWidget):
    """Before / after / Δ of mIoU, pixel accuracy, boundary F and boundary IoU under a heading."""

    def __init__(self, title: str):
        super().__init__()
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 2, 4, 2)
        grid.setVerticalSpacing(1)
        self.title = QLabel(f"<b>{title}</b>")
        self.title.setWordWrap(True)
        grid.addWidget(self.title, 0, 0)
        for col, text in enumerate(("before", "after", "Δ"), start=1):
            h = QLabel(text)
            h.setStyleSheet("color: #999;")
            h.setAlignment(Qt.AlignmentFlag.AlignRight)
            grid.addWidget(h, 0, col)
        self.cells: dict[str, tuple[QLabel, QLabel, QLabel]] = {}
        for row, (key, text) in enumerate(SUMMARY, start=1):
            grid.addWidget(QLabel(text), row, 0)
            cells = tuple(QLabel("–") for _ in range(3))
            for col, lab in enumerate(cells, start=1):
                lab.setAlignment(Qt.AlignmentFlag.AlignRight)
                grid.addWidget(lab, row, col)
            self.cells[key] = cells
        self.note = QLabel("")
        self.note.setWordWrap(True)
        grid.addWidget(self.note, len(SUMMARY) + 1, 0, 1, 4)

    def set_values(self, before: dict | None, after: dict | None) -> None:
        """The figures of ``before`` and ``after`` (dicts as ``segfix evaluate --json``); a key
        one lacks while the other has it is being measured ("…")."""
        for key, _ in SUMMARY:
            b = before.get(key) if before else None
            a = after.get(key) if after else None
            d = None if a is None or b is None else a - b
            pending = before is not None and key not in before
            lb, la, ld = self.cells[key]
            lb.setText(PENDING if pending else pct(b))
            la.setText(PENDING if pending else pct(a))
            ld.setText("" if pending else signed(d))
            style = f"color: {delta_colour(d).name()};"
            if ld.styleSheet() != style:  # a new style sheet re-polishes the label
                ld.setStyleSheet(style)


class MetricsPanel(QWidget):
    def __init__(self, session, actions):
        super().__init__()
        self.session = st = session
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("QLabel { color: #1e1f22; background: #e0a000; padding: 4px; }")
        self.warning.setVisible(False)
        self.sample_grid = SummaryGrid("this sample")
        self.counts = self.sample_grid.note
        self.set_grid = SummaryGrid("the set")
        self.upper_line = QLabel("")
        self.upper_line.setWordWrap(True)
        self.upper_btn = QPushButton("Upper bound of the set")
        self.upper_btn.setToolTip(
            "Refine every sample with offsets made from its ground truth (as segfix gt-offsets), "
            "to compare the network's offsets with perfect ones over the whole set"
        )
        self.upper_btn.clicked.connect(st.score_set_upper_bound)
        up = QHBoxLayout()
        up.setContentsMargins(4, 0, 4, 0)
        up.addWidget(self.upper_line, 1)
        up.addWidget(self.upper_btn)
        self.set_box = QWidget()
        sv = QVBoxLayout(self.set_box)
        sv.setContentsMargins(0, 0, 0, 0)
        sv.setSpacing(0)
        sv.addWidget(self.set_grid)
        sv.addLayout(up)
        self.set_box.setVisible(False)

        self.scope = QComboBox()
        for key, text in SCOPES:
            self.scope.addItem(text, key)
        self.scope.setToolTip("Whose per-class IoU the table and the chart show")
        self.scope.currentIndexChanged.connect(lambda _i: self.refresh_table())
        scope_row = QHBoxLayout()
        scope_row.setContentsMargins(4, 0, 4, 0)
        self.scope_label = QLabel("per class:")
        scope_row.addWidget(self.scope_label)
        scope_row.addWidget(self.scope, 1)

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

        # the figures on top (scrolling when the dock is low: nothing is ever drawn over), then
        # the per-class table and chart; the user moves the splitter's handles
        top = QWidget()
        tv = QVBoxLayout(top)
        tv.setContentsMargins(0, 0, 0, 0)
        tv.setSpacing(2)
        tv.addWidget(self.warning)
        tv.addWidget(self.sample_grid)
        tv.addWidget(self.set_box)
        tv.addLayout(scope_row)
        tv.addStretch(1)
        self.top_scroll = QScrollArea()
        self.top_scroll.setWidget(top)
        self.top_scroll.setWidgetResizable(True)
        self.top_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.top_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.split = split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.top_scroll)
        split.addWidget(self.table)
        split.addWidget(self.chart_scroll)
        split.setChildrenCollapsible(False)
        self.table.setMinimumHeight(fm.height() * 3 + 10)
        self.chart_scroll.setMinimumHeight(80)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split, 1)
        self.rows: list[tuple] = []
        self._names: list[str] | None = None
        self._bar_names: list[str] | None = None  # the classes the bars show
        self._cells: dict[str, tuple] = {}
        ev = st.events
        for e in (ev.sample, ev.result, ev.borders):
            e.connect(self.refresh)
        for e in (ev.scores, ev.upper_scores, ev.set_borders):
            e.connect(self.refresh_set)
        ev.set_samples.connect(self._set_opened)
        ev.space_warning.connect(self._warn)
        self.refresh()
        self._set_opened()

    # --- the sample ----------------------------------------------------------------------------
    def refresh(self, *_args) -> None:
        st = self.session
        before = st.before
        after = st.result.after if st.result is not None and st.sample is not None else None
        title = "this sample"
        self.sample_grid.title.setToolTip(st.sample.name if st.sample is not None else "")
        if st.upper_bound:
            title += " — <span style='color:#ffd54a'>upper bound</span>"
        self.sample_grid.title.setText(f"<b>{title}</b>")
        prof = st.borders
        if before is not None and after is not None:
            before, after = dict(before), dict(after)
            if prof is not None and st.result is not None and prof.setting is st.result.setting:
                before["boundary_iou"], after["boundary_iou"] = prof.boundary_iou()
            else:
                before.pop("boundary_iou", None)
        self.sample_grid.set_values(before, after)
        self._counts()
        if self.scope_key() == "sample":
            self.refresh_table()
        self._refit()

    def _refit(self) -> None:
        """The figures on top grew or shrank (a line wrapped, the set's box appeared): fit again
        (a height the user dragged is kept while the figures' need is unchanged)."""
        if self._fitted and self.top_scroll.widget().sizeHint().height() + 4 != self._fit_need:
            QTimer.singleShot(0, self.fit_figures)

    def _counts(self) -> None:
        st = self.session
        if st.sample is None:
            self.counts.setText(st.sample_error or "")
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
        c = dict(c, on_void=c["changed"] - c["fixed"] - c["broken"] - c["swapped"])
        self.counts.setText(change_text(c) + f" <span style='color:#888'>({st.result.moving:,} moved)</span>")
        self.counts.setToolTip(CHANGE_TIP)

    def _warn(self, text, *_old) -> None:
        self.warning.setText(f"⚠ {text}" if text else "")
        self.warning.setVisible(bool(text))

    # --- the set -------------------------------------------------------------------------------
    def _set_opened(self, *_args) -> None:
        st = self.session
        semantic_set = bool(st.set_samples) and not st.set_is_instances
        self.set_box.setVisible(semantic_set)
        self.scope.setVisible(semantic_set)
        self.scope_label.setVisible(semantic_set)
        self.scope.blockSignals(True)
        self.scope.setCurrentIndex(1 if semantic_set else 0)
        self.scope.blockSignals(False)
        self.refresh_set()
        self.refresh_table()
        QTimer.singleShot(0, self.fit_figures)

    def fit_figures(self) -> None:
        """The splitter gives the figures on top the height they need (up to 60 % of the
        panel), the table and the chart share the rest."""
        total = sum(self.split.sizes())
        if total <= 0:
            return
        need = self.top_scroll.widget().sizeHint().height() + 4
        self._fit_need = need
        top = min(need, int(0.6 * total))
        rest = total - top
        self.split.setSizes([top, rest // 2, rest - rest // 2])

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if not self._fitted:
            self._fitted = True
            QTimer.singleShot(0, self.fit_figures)

    _fitted = False
    _fit_need = 0

    def refresh_set(self, *_args) -> None:
        st = self.session
        sc = st.scores
        if not st.set_samples or st.set_is_instances:
            return
        summary = sc.summary() if sc is not None else None
        n = len(st.set_samples)
        if summary is None:
            self.set_grid.title.setText(f"<b>the set</b> ({n} samples): scoring…")
            self.set_grid.set_values(None, None)
            self.set_grid.note.setText("")
        else:
            hard = st.sample is not None and st.sample.field is not None and st.sample.field.is_hard
            state = ""
            if not sc.done:
                state = f", scoring {sc.n_tried}/{n}"
            elif sc.setting != st.setting:
                state = " <span style='color:#e0a000'>(an older setting: press R)</span>"
            count = f"{n}" if summary["images"] == n else f"{summary['images']} of {n}"
            self.set_grid.title.setText(f"<b>the set</b> ({count}){state}")
            self.set_grid.title.setToolTip(f"{summary['images']} samples scored at {sc.setting.describe(hard=hard)}")
            before, after = dict(summary), dict(summary["refined"])
            sb = st.set_borders
            if sb is not None and sb.done and sb.setting == sc.setting and sb.images == summary["images"]:
                before["boundary_iou"], after["boundary_iou"] = sb.boundary_iou()
            else:
                before.pop("boundary_iou", None)
            self.set_grid.set_values(before, after)
            _b, _a, c = sc.counts()
            self.set_grid.note.setText(change_text(c))
            self.set_grid.note.setToolTip(CHANGE_TIP)
        up = st.upper_scores
        us = up.summary() if up is not None else None
        if us is None:
            self.upper_line.setText("upper bound: scoring…" if up is not None else "")
            self.upper_btn.setVisible(up is None)
        else:
            more = "" if up.done else f", scoring {up.n_tried}/{n}"
            self.upper_line.setText(
                f"<span style='color:#ffd54a'>upper bound</span>: mIoU {pct(us['refined']['miou'])} "
                f"({signed(us['refined']['miou'] - us['miou'])}), boundary F {pct(us['refined']['boundary_f'])}"
                f" <span style='color:#888'>(ground-truth offsets, scale {up.setting.scale:g}{more})</span>"
            )
            self.upper_btn.setVisible(False)
        if self.scope_key() == "set":
            self.refresh_table()
        self._refit()

    # --- the table and chart -------------------------------------------------------------------
    def scope_key(self) -> str:
        """Whose per-class figures the table shows: "set" (a set of label maps is open and
        chosen) or "sample"."""
        st = self.session
        semantic_set = bool(st.set_samples) and not st.set_is_instances
        return "set" if semantic_set and self.scope.currentData() == "set" else "sample"

    def _scope_results(self) -> tuple[dict | None, dict | None]:
        st = self.session
        if self.scope_key() == "set":
            sc = st.scores
            summary = sc.summary() if sc is not None else None
            return (summary, summary["refined"]) if summary else (None, None)
        after = st.result.after if st.result is not None and st.sample is not None else None
        return st.before, after

    def refresh_table(self) -> None:
        before, after = self._scope_results()
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


def create(session, actions) -> QWidget:
    return MetricsPanel(session, actions)
