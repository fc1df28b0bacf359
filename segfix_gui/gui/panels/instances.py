"""Instances (instance mode): every predicted instance with its class, score, and mask IoU /
boundary F-score to its matched ground-truth instance before → after refinement; a score
threshold that hides instances; selecting one zooms the views to it and highlights it.

The canvas draws the outlines (:class:`~segfix_gui.gui.outlines.OutlineItem`, in each
instance's class colour); selecting an instance here sets the session's selection and camera.
Every figure is ``segfix_gui.core.instances.compare_instances``'s (held by the session).
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QTableWidget, QVBoxLayout, QWidget

from ...session.instances import instance_class_names, instance_colours
from .controls import UnitSlider
from .metrics import FLAT, NumItem, delta_colour

TITLE = "Instances"
AREA = "right"
GROUP = "right-numbers"
COLUMNS = ("class", "score", "mask IoU", "boundary F")
CLASS, SCORE, IOU, BF = range(4)
INDEX_ROLE = Qt.ItemDataRole.UserRole + 1
BEFORE_ROLE = Qt.ItemDataRole.UserRole + 2
AFTER_ROLE = Qt.ItemDataRole.UserRole + 3
ZOOM_MARGIN = 0.35  # of the instance's larger side, around it when it is selected
MIN_MARGIN = 12  # pixels
SCORE_TIP = "Instances scored below this are hidden (in the list and the views)"


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def change_text(before, after) -> str:
    """``"81.2→88.1"`` (percent), ``"81.2"`` without an "after", ``"no match"`` without a
    match."""
    b, a = _num(before), _num(after)
    if b is None:
        return "no match"
    if a is None:
        return f"{100 * b:.1f}"
    return f"{100 * b:.1f}→{100 * a:.1f}"


class InstancesPanel(QWidget):
    def __init__(self, session, actions):
        super().__init__()
        self.session = st = session
        self.summary = QLabel(
            "Open instance predictions: File ▸ Open instance sample (Ctrl+I), "
            "or segfix-gui --image F --instances F_pred.txt --offsets F"
        )
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.score = UnitSlider("Hide under score", SCORE_TIP)
        self.score.on_change(st.set_min_score)
        srow = QHBoxLayout()
        srow.addWidget(self.score, 1)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(CLASS, QHeaderView.ResizeMode.Stretch)
        fm = self.table.fontMetrics()  # fixed number columns: the class name gets the rest
        for c, widest in ((SCORE, "score ▲"), (IOU, "100.0→100.0"), (BF, "100.0→100.0")):
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.Fixed)
            hh.resizeSection(c, fm.horizontalAdvance(widest) + 10)
        # the class name stays readable: a narrow dock scrolls the table sideways instead
        hh.setMinimumSectionSize(fm.horizontalAdvance("0.00") + 10)
        self.table.setMinimumWidth(0)
        self._class_min = fm.horizontalAdvance("motorcycle") + 28  # the longest Cityscapes thing, and a swatch
        self.table.verticalHeader().setDefaultSectionSize(fm.height() + 6)
        for c, tip in (
            (IOU, "Mask IoU (%) to the matched ground-truth instance, before → after refinement; sorts by the change"),
            (BF, "Boundary F-score (%) to the matched ground-truth instance, before → after; sorts by the change"),
        ):
            self.table.horizontalHeaderItem(c).setToolTip(tip)
        self.table.setSortingEnabled(True)
        self.table.sortItems(SCORE, Qt.SortOrder.DescendingOrder)
        self.table.itemSelectionChanged.connect(self._picked)
        self.hint = QLabel(
            "Select an instance to zoom to it. Ground truth is matched on the "
            "predicted masks (same label, highest IoU, by descending score)."
        )
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #888;")
        lay = QVBoxLayout(self)
        lay.addWidget(self.summary)
        lay.addLayout(srow)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.hint)

        self._colours = None
        self._names: list[str] = []
        self._zoomed: int | None = None
        ev = st.events
        ev.sample.connect(self._on_sample)
        ev.result.connect(self._on_result)
        for e in (ev.min_score, ev.selected, ev.hidden):
            e.connect(self._on_view)
        ev.setting.connect(self._summary)
        self.score.set_value(st.min_score)
        self._on_sample()

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        # the numbers keep their width; below that, the table scrolls rather than cut the names
        hh = self.table.horizontalHeader()
        fixed = sum(hh.sectionSize(c) for c in (SCORE, IOU, BF))
        stretch = self.table.viewport().width() - fixed >= self._class_min
        mode = QHeaderView.ResizeMode.Stretch if stretch else QHeaderView.ResizeMode.Interactive
        if hh.sectionResizeMode(CLASS) != mode:
            hh.setSectionResizeMode(CLASS, mode)
            if not stretch:
                hh.resizeSection(CLASS, self._class_min)

    # --- helpers tests and other panels read --------------------------------------------------
    def active(self) -> bool:
        s = self.session.sample
        return s is not None and s.is_instances

    def comparison(self):
        """The figures shown: the current result's comparison, else the masks' alone."""
        st = self.session
        if st.result is not None and st.result.instances is not None:
            return st.result.instances.comparison
        return st.inst_base.comparison if st.inst_base is not None else None

    def row_of(self, index: int) -> int | None:
        for r in range(self.table.rowCount()):
            if self.index_at(r) == index:
                return r
        return None

    def index_at(self, row: int) -> int | None:
        item = self.table.item(row, CLASS)
        return None if item is None else int(item.data(INDEX_ROLE))

    def visible_indices(self) -> list[int]:
        return [self.index_at(r) for r in range(self.table.rowCount()) if not self.table.isRowHidden(r)]

    # --- state -> widgets ---------------------------------------------------------------------
    def _on_sample(self, *_args) -> None:
        st = self.session
        self.table.setSortingEnabled(False)
        self.table.clearContents()
        if not self.active():
            self.table.setRowCount(0)
            self.table.setSortingEnabled(True)
            self._colours = None
            self._summary()
            return
        inst = st.sample.instances
        self._colours = instance_colours(inst, st.sample.space)
        self._names = instance_class_names(inst, st.sample.space)
        self.table.setRowCount(len(inst))
        for i in range(len(inst)):
            name = NumItem(self._names[i], self._names[i])
            name.setData(INDEX_ROLE, i)
            name.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            r, g, b = (int(v) for v in self._colours[i])
            name.setData(Qt.ItemDataRole.DecorationRole, _swatch(r, g, b))
            mask = f"mask {inst.names[i]}, " if inst.names else ""
            name.setToolTip(f"instance {i + 1} of the _pred.txt: {mask}label id {int(inst.label_ids[i])}")
            score = NumItem(float(inst.scores[i]), f"{inst.scores[i]:.3g}")
            cells = (name, score, NumItem(None, ""), NumItem(None, ""))
            for c, item in enumerate(cells):
                self.table.setItem(i, c, item)
        self._fill_figures()
        self.table.setSortingEnabled(True)
        self._zoomed = None
        self._on_view()

    def _on_result(self, *_args) -> None:
        if not self.active():
            return
        self.table.setSortingEnabled(False)
        self._fill_figures()
        self.table.setSortingEnabled(True)
        self._summary()

    def _fill_figures(self) -> None:
        """The IoU and boundary F cells, from the comparison (before → after)."""
        cmp = self.comparison()
        if cmp is None:
            columns = ((IOU, None, None, ""), (BF, None, None, ""))
        else:
            columns = (
                (IOU, cmp.iou_before, cmp.iou_after, "mask IoU"),
                (BF, cmp.bf_before, cmp.bf_after, f"boundary F ({cmp.tol:g} px)"),
            )
        for r in range(self.table.rowCount()):
            i = self.index_at(r)
            for c, before, after, what in columns:
                item = self.table.item(r, c)
                b = None if before is None else _num(before[i])
                a = None if after is None else _num(after[i])
                d = None if a is None or b is None else a - b
                item.setData(BEFORE_ROLE, b)
                item.setData(AFTER_ROLE, a)
                item.setData(Qt.ItemDataRole.UserRole, d)  # sorts by the change
                item.setForeground(QBrush(FLAT if d is None else delta_colour(d)))
                if cmp is None:
                    item.setText("–")
                    item.setToolTip("no ground truth: open an instanceIds PNG for the figures")
                elif b is None:
                    item.setText("no match")
                    item.setToolTip("no ground-truth instance of this class overlaps it")
                else:
                    item.setText(change_text(b, a))
                    tip = f"{what} to ground-truth instance {int(cmp.matched_gt[i])}: {100 * b:.2f}"
                    if a is not None:
                        tip += f" → {100 * a:.2f} ({100 * d:+.2f})"
                    item.setToolTip(tip)

    def _on_view(self, *_args) -> None:
        """Score threshold, hidden classes or selection changed."""
        if not self.active():
            return
        st = self.session
        shown = st.shown_instances()
        for r in range(self.table.rowCount()):
            self.table.setRowHidden(r, not shown[self.index_at(r)])
        self.score.set_value(st.min_score)
        self.table.blockSignals(True)
        self.table.clearSelection()
        row = self.row_of(st.selected) if st.selected is not None else None
        if row is not None:
            self.table.selectRow(row)
            self.table.scrollToItem(self.table.item(row, CLASS))
        self.table.blockSignals(False)
        self._summary()
        if st.selected is not None and st.selected != self._zoomed:
            self.zoom_to(st.selected)
        self._zoomed = st.selected

    def _summary(self, *_args) -> None:
        st = self.session
        if not self.active():
            if st.sample is not None:
                self.summary.setText(
                    "<span style='color:#999'>The open sample is a label map. "
                    "Instance predictions: File ▸ Open instance sample "
                    "(Ctrl+I).</span>"
                )
            return
        inst = st.sample.instances
        n = len(inst)
        shown = int(st.shown_instances().sum())
        parts = [f"<b>{n}</b> instance{'s' if n != 1 else ''}, {shown} shown"]
        cmp = self.comparison()
        if cmp is None:
            parts.append("no ground truth")
        else:
            parts.append(f"{int(np.count_nonzero(cmp.matched_gt))} matched to ground truth")
        res = st.result.instances if st.result is not None else None
        if res is not None:
            when = st.result.setting.describe(hard=st.sample.field.is_hard)
            stale = (
                "" if st.result_is_current() else (" <span style='color:#e0a000'>(an older setting: press R)</span>")
            )
            parts.append(f"{int(res.changed.sum())} masks changed at {when}{stale}")
        else:
            parts.append("refining…")
        self.summary.setText(" · ".join(parts))

    # --- widgets -> state ---------------------------------------------------------------------
    def _picked(self) -> None:
        rows = {i.row() for i in self.table.selectedItems()}
        if not rows:
            self.session.select_instance(None)
            return
        self.session.select_instance(self.index_at(min(rows)))

    def select(self, index: int) -> None:
        """Select instance ``index`` as a click on its row would."""
        row = self.row_of(index)
        if row is not None:
            self.table.selectRow(row)

    def box_of(self, index: int) -> tuple[int, int, int, int] | None:
        """``(row0, col0, row1, col1)``: the instance's mask box before, and after refinement
        when there is a result (``core.instances.mask_bbox``), together."""
        st = self.session
        boxes = [st.inst_base.outlines.boxes[index]]
        if st.result is not None and st.result.instances is not None:
            boxes.append(st.result.instances.outlines.boxes[index])
        boxes = [b for b in boxes if b is not None]
        if not boxes:
            return None
        b = np.array(boxes)
        return int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max())

    def zoom_to(self, index: int) -> None:
        box = self.box_of(index)
        if box is None:
            return
        r0, c0, r1, c1 = box
        m = max(MIN_MARGIN, ZOOM_MARGIN * max(r1 - r0, c1 - c0))
        self.session.set_camera((r0 - m, c0 - m, r1 + m, c1 + m))


def _swatch(r: int, g: int, b: int):
    from PySide6.QtGui import QColor, QIcon, QPixmap

    pm = QPixmap(12, 12)
    pm.fill(QColor(r, g, b))
    return QIcon(pm)


def create(session, actions) -> QWidget:
    return InstancesPanel(session, actions)
