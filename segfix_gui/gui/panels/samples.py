"""The samples of an open set, with mIoU before / after refinement; sortable by gain or loss."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .metrics import NumItem, delta_colour, pct, signed

TITLE = "Samples"
AREA = "left"
GROUP = "left-tabs"
COLUMNS = ("#", "sample", "before", "after", "Δ")  # mIoU (%), said by the headers' tooltips
COLUMN_TIPS = (
    "position in the set's file order",
    "sample name (hover for the full name)",
    "mIoU (%) without refinement",
    "mIoU (%) refined at the setting below",
    "mIoU gain in points (after − before)",
)
INDEX_ROLE = Qt.ItemDataRole.UserRole + 1


class SamplesPanel(QWidget):
    def __init__(self, window):
        super().__init__()
        self.state = st = window.state
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
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        fm = self.table.fontMetrics()
        for c, widest in ((2, "100.00"), (3, "100.00"), (4, "+10.00")):  # fixed: the name gets the rest
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.Fixed)
            hh.resizeSection(c, fm.horizontalAdvance(widest) + 12)
        hh.setMinimumSectionSize(fm.horizontalAdvance("000") + 8)
        self.table.setSortingEnabled(True)
        # names of a set share a prefix (every CamVid frame starts 0016E5_): cut in the middle
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        self.table.cellActivated.connect(self._activated)
        self.table.cellClicked.connect(self._activated)
        self.sort = QComboBox()
        self.sort.addItem("file order", (0, Qt.SortOrder.AscendingOrder))
        self.sort.addItem("gain, best first", (4, Qt.SortOrder.DescendingOrder))
        self.sort.addItem("loss, worst first", (4, Qt.SortOrder.AscendingOrder))
        self.sort.currentIndexChanged.connect(self._sort)
        self.evaluate = QPushButton("Evaluate set")
        self.evaluate.setToolTip(
            "Recompute every sample's mIoU before and after at the current threshold, scale and direction confidence"
        )
        self.evaluate.clicked.connect(st.evaluate_set)
        self.note = QLabel("Open a set: File ▸ Open folder set (N / P: next / previous)")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #888;")
        row = QHBoxLayout()
        row.addWidget(QLabel("sort"))
        row.addWidget(self.sort, 1)
        row.addWidget(self.evaluate)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.note)
        st.setChanged.connect(self.rebuild)
        st.indexChanged.connect(self._select)
        window.next_prev_order = self.order

    def order(self) -> list[int]:
        """Sample indices in the table's current (sorted) order."""
        out = []
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is not None:
                out.append(int(item.data(INDEX_ROLE)))
        return out

    def rebuild(self) -> None:
        st = self.state
        rows = {r.index: r for r in st.set_rows}
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(st.set_samples))
        wait = "–" if st.set_is_instances else "…"  # instance sets are not evaluated here
        self.evaluate.setEnabled(not st.set_is_instances)
        for i, paths in enumerate(st.set_samples):
            r = rows.get(i)
            num = NumItem(i, str(i + 1))
            num.setData(INDEX_ROLE, i)
            name = QTableWidgetItem(paths.title)
            b = r.miou_before if r else None
            a = r.miou_after if r else None
            g = r.gain if r else None
            name.setToolTip(paths.title)  # the full name (the cell may elide it)
            if r is not None and r.error:
                name.setToolTip(f"{paths.title}: {r.error}")
                name.setForeground(QBrush(delta_colour(-1)))
            cells = (
                num,
                name,
                NumItem(b, pct(b) if r else wait),
                NumItem(a, pct(a) if r else wait),
                NumItem(g, signed(g) if r else wait),
            )
            cells[4].setForeground(QBrush(delta_colour(g)))
            for c, item in enumerate(cells):
                self.table.setItem(i, c, item)
        self.table.setSortingEnabled(True)
        self._sort()
        if st.set_is_instances:
            self.note.setText(
                f"{len(st.set_samples)} instance samples (_pred.txt) · each "
                "one's figures per instance are in the Instances panel"
            )
        elif st.set_rows_setting is not None:
            hard = st.sample is not None and st.sample.field is not None and st.sample.field.is_hard
            self.note.setText(f"{len(st.set_samples)} samples · mIoU at {st.set_rows_setting.describe(hard=hard)}")
        elif st.set_samples:
            self.note.setText(f"{len(st.set_samples)} samples · evaluating…")
        self._select(st.index)

    def _sort(self, *_args) -> None:
        col, order = self.sort.currentData()
        self.table.sortItems(col, order)

    def _activated(self, row: int, _col: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            idx = int(item.data(INDEX_ROLE))
            if idx != self.state.index:
                self.state.go_to(idx)

    def _select(self, index: int) -> None:
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is not None and int(item.data(INDEX_ROLE)) == index:
                self.table.blockSignals(True)
                self.table.selectRow(r)
                self.table.blockSignals(False)
                self.table.scrollToItem(item)
                return


def create(window) -> QWidget:
    return SamplesPanel(window)
