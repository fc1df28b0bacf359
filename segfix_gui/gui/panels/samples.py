"""The samples of an open set, each with its mIoU before / after refinement at the current setting
(filled in as the set is scored); in file order, best gain first or worst loss first."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...session.format import pct, sign_of, signed
from ...session.sets import short_names
from ..bridge import bind
from .metrics import NumItem, delta_colour

TITLE = "Samples"
AREA = "left"
GROUP = "left-tabs"
COLUMNS = ("sample", "before", "after", "Δ")  # mIoU (%), said by the headers' tooltips
COLUMN_TIPS = (
    "sample name: the part that tells it from the others (hover for the full name and its place in the set)",
    "mIoU (%) without refinement",
    "mIoU (%) refined at the current setting",
    "mIoU gain in points (after − before)",
)
SORTS = (("file", "file order"), ("gain", "gain, best first"), ("loss", "loss, worst first"))
INDEX_ROLE = Qt.ItemDataRole.UserRole + 1


class SamplesPanel(QWidget):
    def __init__(self, session, actions):
        super().__init__()
        self.session = st = session
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for c, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(c).setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        # compact rows: a line of text and a little air (more samples in view)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        fm = self.table.fontMetrics()
        for c, widest in ((1, "100.00"), (2, "100.00"), (3, "+10.00")):  # fixed: the name gets the rest
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.Fixed)
            hh.resizeSection(c, fm.horizontalAdvance(widest) + 8)
        hh.setMinimumSectionSize(fm.horizontalAdvance("000") + 8)
        self.table.setTextElideMode(Qt.TextElideMode.ElideLeft)  # the distinguishing end stays
        self.table.setWordWrap(False)
        self.table.cellActivated.connect(self._activated)
        self.table.cellClicked.connect(self._activated)
        self.sort = QComboBox()
        for key, text in SORTS:
            self.sort.addItem(text, key)
        self.sort.setToolTip("The list's order; N / P follow it")
        self.sort.currentIndexChanged.connect(lambda _i: st.set_sort(self.sort.currentData()))
        self.note = QLabel("Open a set: File ▸ Open folder set (N / P: next / previous)")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #888;")
        row = QHBoxLayout()
        row.addWidget(QLabel("sort"))
        row.addWidget(self.sort, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.note)
        self._items: list[tuple] = []  # per sample index: its row's cells
        self._order: list[int] = []
        ev = st.events
        ev.set_samples.connect(self._rebuild)
        for e in (ev.scores, ev.sort):
            e.connect(self.refresh)
        ev.index.connect(self._select)
        for e in (ev.setting, ev.auto):
            e.connect(self._note)
        bind(ev.sort, lambda v: self.sort.setCurrentIndex(self.sort.findData(v)), self.sort)
        self._rebuild()

    def order(self) -> list[int]:
        """Sample indices in the list's order."""
        return list(self._order)

    def _rebuild(self, *_args) -> None:
        """A new set: one row per sample, named by what tells it from the others."""
        st = self.session
        names = [p.title for p in st.set_samples]
        short = short_names(names)
        self._items = []
        self.table.setRowCount(0)
        for i, shown in enumerate(short):
            item = QTableWidgetItem(shown)
            item.setData(INDEX_ROLE, i)
            item.setToolTip(self._tip(i))
            self._items.append((item, NumItem(None, ""), NumItem(None, ""), NumItem(None, "")))
        self._order = []
        self.refresh()

    def refresh(self, *_args) -> None:
        st = self.session
        wait = "–" if st.set_is_instances else "…"  # instance sets are not scored here
        rows = {r.index: r for r in st.scores.rows()} if st.scores is not None else {}
        model = self.table.model()
        blocked = model.blockSignals(True)
        try:
            for i, (name, b, a, d) in enumerate(self._items):
                r = rows.get(i)
                have = r is not None and r.scored
                b.set_shown(r.miou_before if have else None, pct(r.miou_before) if have else wait)
                a.set_shown(r.miou_after if have else None, pct(r.miou_after) if have else wait)
                g = r.gain if have else None
                if d.set_shown(g, signed(g) if have else wait):
                    d.setForeground(QBrush(delta_colour(g)))
                full = self._tip(i)
                if have and r.error:
                    name.setToolTip(f"{full}\n{r.error}")
                    name.setForeground(QBrush(delta_colour(-1)))
                    for c in (b, a, d):
                        c.set_shown(None, "error")
                elif name.toolTip() != full:
                    name.setToolTip(full)
                    name.setForeground(QBrush())
        finally:
            model.blockSignals(blocked)
        order = st.order()
        if order != self._order:
            self._place(order)
        elif self._items:
            model.dataChanged.emit(model.index(0, 1), model.index(len(self._items) - 1, len(COLUMNS) - 1))
        self._note()
        self._select(st.index)

    def _tip(self, i: int) -> str:
        return f"{self.session.set_samples[i].title} (sample {i + 1} of {len(self.session.set_samples)})"

    def _place(self, order: list[int]) -> None:
        """Put the rows in ``order`` (the items move; nothing is made anew)."""
        t = self.table
        for r in range(t.rowCount()):
            for c in range(len(COLUMNS)):
                t.takeItem(r, c)
        t.setRowCount(len(order))
        for r, i in enumerate(order):
            for c, item in enumerate(self._items[i]):
                t.setItem(r, c, item)
        self._order = list(order)

    def _note(self, *_args) -> None:
        st = self.session
        n = len(st.set_samples)
        sc = st.scores
        if not n:
            self.note.setText("Open a set: File ▸ Open folder set (N / P: next / previous)")
        elif st.set_is_instances:
            self.note.setText(
                f"{n} instance samples (_pred.txt) · each one's figures per instance are in the Instances panel"
            )
        elif sc is None:
            self.note.setText(f"{n} samples · scoring…")
        else:
            hard = st.sample is not None and st.sample.field is not None and st.sample.field.is_hard
            text = f"{n} samples · mIoU at {sc.setting.describe(hard=hard)}"
            if not sc.done:
                text += f" · scoring {sc.n_tried}/{n}"
            elif sc.setting != st.setting:
                text += " <span style='color:#e0a000'>(an older setting: press R)</span>"
            gains = [sign_of(r.gain) for r in sc.rows() if r.gain is not None]
            if gains:
                text += f" · {gains.count(1)} gain, {gains.count(-1)} lose"
            self.note.setText(text)

    def _activated(self, row: int, _col: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            idx = int(item.data(INDEX_ROLE))
            if idx != self.session.index:
                self.session.go_to(idx)

    def _select(self, index, *_old) -> None:
        if index is None or index < 0 or index >= len(self._items):
            return
        item = self._items[index][0]
        row = item.row()
        if row < 0:
            return
        self.table.blockSignals(True)
        self.table.selectRow(row)
        self.table.blockSignals(False)
        self.table.scrollToItem(item)


def create(session, actions) -> QWidget:
    return SamplesPanel(session, actions)
