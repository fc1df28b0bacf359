"""Legend of the label space: click a class to hide it, Ctrl+click to isolate it (every label layer)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

TITLE = "Legend"
AREA = "right"
GROUP = "right-tabs"


class LegendPanel(QWidget):
    def __init__(self, session, actions):
        super().__init__()
        self.session = st = session
        self.list = QListWidget()
        self.list.itemClicked.connect(self._clicked)
        hint = QLabel("click: hide / show · Ctrl+click: isolate")
        hint.setStyleSheet("color: #888;")
        hint.setWordWrap(True)
        self.show_all = QPushButton("Show all")
        self.show_all.clicked.connect(st.show_all_classes)
        row = QHBoxLayout()
        row.addWidget(hint, 1)
        row.addWidget(self.show_all)
        lay = QVBoxLayout(self)
        lay.addWidget(self.list)
        lay.addLayout(row)
        self._space = None
        st.events.sample.connect(self._rebuild)
        st.events.hidden.connect(self._sync)
        self._rebuild()

    def _rebuild(self, *_args) -> None:
        if self.session.sample is None:
            return
        space = self.session.sample.space
        if space is self._space:
            self._sync()
            return
        self._space = space
        self.list.clear()
        for i, (name, rgb) in enumerate(zip(space.names, space.colors, strict=True)):
            pm = QPixmap(14, 14)
            pm.fill(QColor(*(int(v) for v in rgb)))
            item = QListWidgetItem(QIcon(pm), name)
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.list.addItem(item)
        self._sync()

    def _clicked(self, item: QListWidgetItem) -> None:
        i = item.data(Qt.ItemDataRole.UserRole)
        mods = QApplication.keyboardModifiers()
        if mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier):
            self.session.isolate_class(i)
        else:
            self.session.toggle_class(i)

    def _sync(self, *_args) -> None:
        hidden = self.session.hidden
        for row in range(self.list.count()):
            item = self.list.item(row)
            off = item.data(Qt.ItemDataRole.UserRole) in hidden
            font = QFont(item.font())
            font.setStrikeOut(off)
            item.setFont(font)
            item.setForeground(QBrush(QColor("#777" if off else "#e8e8e8")))
            item.setToolTip("hidden" if off else "shown")


def create(session, actions) -> QWidget:
    return LegendPanel(session, actions)
