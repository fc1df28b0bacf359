"""The window's dialogs: open a sample part by part, and the keyboard shortcuts."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..io.samples import PART_NAMES, PARTS, SamplePaths

FILTERS = {
    "image": "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp);;All files (*)",
    "pred": "Label maps (*.png);;All files (*)",
    "gt": "Label maps (*.png);;All files (*)",
    "offsets": "Offset fields (*.npz *.mat);;All files (*)",
    "instances": "Cityscapes instance predictions (*_pred.txt *.txt);;All files (*)",
    "gt_instances": "Instance ids (*instanceIds*.png *.png);;All files (*)",
}


class OpenSampleDialog(QDialog):
    """Choose the four files of a sample (each field also takes a dropped file): image,
    prediction, offsets, ground truth — or, with ``parts=INSTANCE_PARTS``, image, instance
    predictions (``_pred.txt``), offsets, instance ground truth."""

    def __init__(self, window, current: SamplePaths, *, parts=PARTS, title: str = "Open sample"):
        super().__init__(window)
        self.setWindowTitle(title)
        self.window_ = window
        form = QFormLayout()
        self.edits = {}
        for part in parts:
            edit = QLineEdit(getattr(current, part) or "")
            edit.setPlaceholderText(
                "optional"
                if part in ("image", "gt", "gt_instances")
                else "optional: Refine ▸ Predict offsets makes them from the image"
                if part == "offsets" and "pred" in parts
                else "required"
            )
            btn = QToolButton()
            btn.setText("…")
            btn.clicked.connect(lambda _=False, p=part, e=edit: self._browse(p, e))
            row = QWidget()
            lay = QHBoxLayout(row)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(edit, 1)
            lay.addWidget(btn)
            form.addRow(PART_NAMES[part], row)
            self.edits[part] = edit
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        v = QVBoxLayout(self)
        v.addLayout(form)
        v.addWidget(buttons)
        self.resize(640, 180)

    def _browse(self, part: str, edit) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Open {PART_NAMES[part]}", self.window_.last_dir(), FILTERS[part])
        if path:
            edit.setText(path)
            self.window_.set_last_dir(path)

    def paths(self) -> SamplePaths:
        return SamplePaths(**{p: (e.text().strip() or None) for p, e in self.edits.items()})


class HelpDialog(QDialog):
    """Every action with a shortcut."""

    def __init__(self, window, specs):
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        specs = [s for s in specs if s.keys]
        self.table = QTableWidget(len(specs), 3)
        self.table.setHorizontalHeaderLabels(("keys", "action", "menu"))
        self.table.verticalHeader().setVisible(False)
        for r, s in enumerate(specs):
            keys = ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in s.keys)
            for c, text in enumerate((keys, s.text, s.menu)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.resizeColumnToContents(0)
        tips = QLabel(
            "Mouse: drag to pan, wheel to zoom (both views move together); hover to "
            "inspect a pixel; click a legend entry to hide a class, Ctrl+click to isolate it; "
            "drop files or a set folder on the window to open them."
        )
        tips.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        v = QVBoxLayout(self)
        v.addWidget(self.table)
        v.addWidget(tips)
        v.addWidget(buttons)
        self.resize(560, 640)
