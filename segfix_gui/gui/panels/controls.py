"""Refinement controls: threshold, direction confidence, scale, device, Refine / auto, view mode."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ...core.setting import RANGES
from ...labels import BUILTIN

TITLE = "Refinement"
AREA = "left"
STEPS = 1000  # slider resolution for values in [0, 1]

HARD_TIP = (
    "These offsets are hard (openseg .mat, thresholded when they were saved): the "
    "threshold and direction confidence cannot change them; only the scale applies."
)
THRESHOLD_TIP = "A boundary pixel moves only if its boundary probability is above this."
SPACE_TIP = "Label space of the prediction and ground truth (reloads the sample)"
SPACE_INSTANCES_TIP = "Instance predictions (_pred.txt) name Cityscapes label ids"
DIRECTION_TIP = (
    "A boundary pixel moves only if its most likely direction has at least this "
    "probability (0 = every boundary pixel moves)."
)


class UnitSlider(QWidget):
    """A [0, 1] slider with a spin box beside it; calls ``on_change`` on user edits only."""

    def __init__(self, tip: str, parent=None):
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.slider.setPageStep(50)
        self.spin = QDoubleSpinBox()
        self.spin.setRange(0.0, 1.0)
        self.spin.setDecimals(3)
        self.spin.setSingleStep(0.01)
        self.spin.setKeyboardTracking(False)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.spin)
        self.setToolTip(tip)
        self._callback = None
        self.slider.valueChanged.connect(lambda v: self._user(v / STEPS))
        self.spin.valueChanged.connect(self._user)

    def on_change(self, fn) -> None:
        self._callback = fn

    def _user(self, value: float) -> None:
        self.set_value(value)
        if self._callback is not None:
            self._callback(float(value))

    def set_value(self, value: float) -> None:
        for w, v in ((self.slider, int(round(value * STEPS))), (self.spin, value)):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)

    def value(self) -> float:
        return float(self.spin.value())


class ControlsPanel(QWidget):
    def __init__(self, window):
        super().__init__()
        self.window = window
        self.state = st = window.state

        box = QGroupBox("Offsets → refinement")
        form = QFormLayout(box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # narrow dock: label above
        self.threshold = UnitSlider(THRESHOLD_TIP)
        self.threshold.on_change(lambda v: st.set_setting(threshold=v))
        self.direction = UnitSlider(DIRECTION_TIP)
        self.direction.on_change(lambda v: st.set_setting(min_direction_prob=v))
        self.scale = QDoubleSpinBox()
        low, high, _open = RANGES["scale"]  # the engine's range (the low end is excluded)
        self.scale.setDecimals(2)
        self.scale.setRange(low + 10 ** -self.scale.decimals(), high)
        self.scale.setSingleStep(0.5)
        self.scale.setKeyboardTracking(False)
        self.scale.setToolTip(
            "Pixels per unit direction step: a pixel takes the label from "
            "scale × direction away (2 for semantic, 1 for instances)."
        )
        self.scale.valueChanged.connect(lambda v: st.set_setting(scale=float(v)))
        self.device = QComboBox()
        for d in ("auto", "cpu", "cuda"):
            self.device.addItem(d, d)
        self.device.setToolTip("Where refinement runs; auto = cuda when torch sees a GPU")
        self.device.currentIndexChanged.connect(lambda _i: st.set_setting(device=self.device.currentData()))
        self.machine = QLabel("checking this machine…")
        self.machine.setStyleSheet("color: #888;")
        self.machine.setWordWrap(True)
        self.threshold_label = QLabel("Boundary threshold")
        self.direction_label = QLabel("Direction confidence")
        form.addRow(self.threshold_label, self.threshold)
        form.addRow(self.direction_label, self.direction)
        form.addRow("Offset scale", self.scale)
        form.addRow("Device", self.device)
        form.addRow(self.machine)

        self.refine_btn = QPushButton("Refine")
        self.refine_btn.setToolTip("Refine at the current setting (R)")
        self.refine_btn.clicked.connect(st.request_refine)
        self.auto = QCheckBox("auto")
        self.auto.setToolTip("Refine on every change (A)")
        self.auto.toggled.connect(st.set_auto)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Cancel running work (Esc)")
        self.cancel_btn.clicked.connect(lambda: st.runner.cancel())
        row = QHBoxLayout()
        row.addWidget(self.refine_btn, 1)
        row.addWidget(self.auto)
        row.addWidget(self.cancel_btn)
        form.addRow(row)
        self.predict_btn = QPushButton("Predict offsets")
        self.predict_btn.clicked.connect(window.predict_offsets)
        form.addRow(self.predict_btn)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        form.addRow(self.note)

        view = QGroupBox("View")
        vform = QFormLayout(view)
        vform.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.side = QRadioButton("before | after")
        self.single = QRadioButton("single, swipe")
        group = QButtonGroup(self)
        group.addButton(self.side)
        group.addButton(self.single)
        self.side.toggled.connect(lambda on: on and st.set_view(mode="side"))
        self.single.toggled.connect(lambda on: on and st.set_view(mode="single"))
        mrow = QHBoxLayout()
        mrow.addWidget(self.side)
        mrow.addWidget(self.single)
        vform.addRow("Mode (V)", mrow)
        self.swipe = QSlider(Qt.Orientation.Horizontal)
        self.swipe.setRange(0, STEPS)
        self.swipe.setToolTip("Single view: before left of the line, after right of it (T toggles)")
        self.swipe.valueChanged.connect(lambda v: st.set_view(mode="single", swipe=v / STEPS))
        vform.addRow("Swipe", self.swipe)
        self.after = QComboBox()
        self.after.addItem("refined labels", "refined")
        self.after.addItem("ground truth", "gt")
        self.after.setToolTip("What the 'after' labels show (G)")
        self.after.currentIndexChanged.connect(lambda _i: st.set_view(after_source=self.after.currentData()))
        vform.addRow("After shows", self.after)
        self.space = QComboBox()
        self.space.setEditable(False)
        for name in BUILTIN:
            self.space.addItem(name, name)
        self.space.setToolTip(SPACE_TIP)
        self.space.activated.connect(self._space_chosen)
        vform.addRow("Label space", self.space)

        lay = QVBoxLayout(self)
        lay.addWidget(box)
        lay.addWidget(view)
        lay.addStretch(1)

        st.settingChanged.connect(self.sync)
        st.sampleChanged.connect(self.sync)
        st.resultChanged.connect(self.sync)
        st.viewChanged.connect(self.sync)
        window.machine_info_ready.connect(self._machine)
        self.sync()

    def _space_chosen(self, _i: int) -> None:
        name = self.space.currentData()
        if name != self.state.space_name:
            self.window.change_label_space(name)

    def _machine(self, text: str, has_cuda: bool) -> None:
        self.machine.setText(text)
        self.machine.setToolTip(
            "what torch sees: cuda is "
            + ("available" if has_cuda else "not available (a CPU build of torch, or no GPU)")
        )
        item = self.device.model().item(2)
        item.setEnabled(has_cuda)
        item.setToolTip("" if has_cuda else "torch sees no CUDA GPU on this machine")

    def sync(self) -> None:
        st = self.state
        s = st.setting
        self.threshold.set_value(s.threshold)
        self.direction.set_value(s.min_direction_prob)
        _quiet(self.scale.setValue, self.scale, s.scale)
        _quiet(self.device.setCurrentIndex, self.device, self.device.findData(s.device))
        _quiet(self.auto.setChecked, self.auto, st.auto)
        hard = st.sample is not None and st.sample.field is not None and st.sample.field.is_hard
        ok, why = st.can_predict_offsets()
        self.predict_btn.setEnabled(ok)
        self.predict_btn.setToolTip(f"{why} (Ctrl+Shift+P)")
        for w in (self.threshold, self.direction, self.threshold_label, self.direction_label):
            w.setEnabled(not hard)
            w.setToolTip(
                HARD_TIP if hard else (THRESHOLD_TIP if w in (self.threshold, self.threshold_label) else DIRECTION_TIP)
            )
        _quiet(self.side.setChecked, self.side, st.view_mode == "side")
        _quiet(self.single.setChecked, self.single, st.view_mode == "single")
        _quiet(self.swipe.setValue, self.swipe, int(round(st.swipe * STEPS)))
        has_gt = st.sample is not None and st.sample.gt is not None
        self.after.model().item(1).setEnabled(has_gt)
        _quiet(self.after.setCurrentIndex, self.after, self.after.findData(st.after_source))
        inst = st.sample is not None and st.sample.is_instances
        name = st.sample.space.name if inst else st.space_name
        index = self.space.findData(name)
        if index < 0:  # a JSON spec given by path
            index = self._add_space(name)
        _quiet(self.space.setCurrentIndex, self.space, index)
        self.space.setEnabled(not inst)
        self.space.setToolTip(SPACE_INSTANCES_TIP if inst else SPACE_TIP)
        if st.sample is None:
            self.note.setText("")
        elif st.result is None:
            self.note.setText("refining…")
        elif st.result_is_current():
            r = st.result
            self.note.setText(f"{r.moving:,} pixels move · ran on {r.device}")
        else:
            self.note.setText(
                "<span style='color:#e0a000'>the view shows the last refinement; "
                "press Refine (R) for the current setting</span>"
            )
        self.refine_btn.setDefault(st.sample is not None and not st.result_is_current())

    def _add_space(self, name: str) -> int:
        self.space.addItem(name, name)
        return self.space.count() - 1


def _quiet(setter, widget, value) -> None:
    widget.blockSignals(True)
    setter(value)
    widget.blockSignals(False)


SCROLL = True  # in a scroll area: the dock may be lower than the form (small screens)


def create(window) -> QWidget:
    return ControlsPanel(window)
