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
from ...session.compute import DEVICES
from ..bridge import bind, quietly

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
    """A [0, 1] slider the width of its panel, with a spin box on its label's row; calls
    ``on_change`` on user edits only. ``row`` is the label row (label and spin box)."""

    def __init__(self, label: str, tip: str, parent=None):
        super().__init__(parent)
        self.label = QLabel(label)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.slider.setPageStep(50)
        self.slider.setMinimumWidth(140)  # long enough to tune by mouse (a few pixels ≈ 0.01)
        self.spin = QDoubleSpinBox()
        self.spin.setRange(0.0, 1.0)
        self.spin.setDecimals(3)
        self.spin.setSingleStep(0.01)
        self.spin.setKeyboardTracking(False)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.label, 1)
        head.addWidget(self.spin)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(head)
        lay.addWidget(self.slider)
        self.set_tip(tip)
        self._callback = None
        self.slider.valueChanged.connect(lambda v: self._user(v / STEPS))
        self.spin.valueChanged.connect(self._user)

    def set_tip(self, tip: str) -> None:
        for w in (self, self.label, self.slider, self.spin):
            w.setToolTip(tip)

    def on_change(self, fn) -> None:
        self._callback = fn

    def _user(self, value: float) -> None:
        self.set_value(value)
        if self._callback is not None:
            self._callback(float(value))

    def set_value(self, value: float) -> None:
        for w, v in ((self.slider, int(round(value * STEPS))), (self.spin, value)):
            quietly(w.setValue, w, v)

    def value(self) -> float:
        return float(self.spin.value())


class ControlsPanel(QWidget):
    def __init__(self, session, actions):
        super().__init__()
        self.session = st = session
        self.commands = actions

        box = QGroupBox("Offsets → refinement")
        col = QVBoxLayout(box)
        self.threshold = UnitSlider("Boundary threshold", THRESHOLD_TIP)
        self.threshold.on_change(lambda v: st.set_setting(threshold=v))
        self.direction = UnitSlider("Direction confidence", DIRECTION_TIP)
        self.direction.on_change(lambda v: st.set_setting(min_direction_prob=v))
        # the labels the window's layout code (and tests) name
        self.threshold_label, self.direction_label = self.threshold.label, self.direction.label
        col.addWidget(self.threshold)
        col.addWidget(self.direction)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # narrow dock: label above
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
        for d in DEVICES:
            self.device.addItem(d, d)
        self.device.setToolTip("Where refinement runs; auto = cuda when torch sees a GPU")
        self.device.currentIndexChanged.connect(lambda _i: st.set_setting(device=self.device.currentData()))
        self.machine = QLabel("checking this machine…")
        self.machine.setStyleSheet("color: #888;")
        self.machine.setWordWrap(True)
        form.addRow("Offset scale", self.scale)
        form.addRow("Device", self.device)
        form.addRow(self.machine)
        col.addLayout(form)

        self.refine_btn = QPushButton("Refine")
        self.refine_btn.setToolTip("Refine at the current setting (R)")
        self.refine_btn.clicked.connect(st.refine)
        self.auto = QCheckBox("auto")
        self.auto.setToolTip("Refine on every change (A)")
        self.auto.toggled.connect(st.set_auto)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Cancel running work (Esc)")
        self.cancel_btn.clicked.connect(lambda: st.jobs.cancel())
        row = QHBoxLayout()
        row.addWidget(self.refine_btn, 1)
        row.addWidget(self.auto)
        row.addWidget(self.cancel_btn)
        col.addLayout(row)
        self.predict_btn = QPushButton("Predict offsets")
        self.predict_btn.clicked.connect(lambda: actions["predict_offsets"].trigger())
        col.addWidget(self.predict_btn)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        col.addWidget(self.note)

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

        ev = st.events
        bind(ev.setting, self._show_setting, self.scale, self.device)
        bind(ev.auto, self.auto.setChecked, self.auto)
        bind(ev.view_mode, self._show_mode, self.side, self.single)
        bind(ev.swipe, lambda v: self.swipe.setValue(int(round(v * STEPS))), self.swipe)
        bind(ev.after_source, lambda v: self.after.setCurrentIndex(self.after.findData(v)), self.after)
        bind(ev.space_name, self._show_space, self.space)
        bind(ev.machine, self._machine)
        for e in (ev.sample, ev.result, ev.setting, ev.auto, ev.upper_bound):
            e.connect(self._sync_sample)
        self._show_setting(st.setting)
        self._show_mode(st.view_mode)
        quietly(self.swipe.setValue, self.swipe, int(round(st.swipe * STEPS)))
        quietly(self.auto.setChecked, self.auto, st.auto)
        self._show_space(st.space_name)
        self._sync_sample()

    # --- session -> widgets --------------------------------------------------------------------
    def _show_setting(self, s, *_old) -> None:
        self.threshold.set_value(s.threshold)
        self.direction.set_value(s.min_direction_prob)
        self.scale.setValue(s.scale)
        self.device.setCurrentIndex(self.device.findData(s.device))

    def _show_mode(self, mode, *_old) -> None:
        self.side.setChecked(mode == "side")
        self.single.setChecked(mode == "single")

    def _show_space(self, name, *_old) -> None:
        st = self.session
        inst = st.sample is not None and st.sample.is_instances
        shown = st.sample.space.name if inst else name
        index = self.space.findData(shown)
        if index < 0:  # a JSON spec given by path
            self.space.addItem(shown, shown)
            index = self.space.count() - 1
        self.space.setCurrentIndex(index)

    def _space_chosen(self, _i: int) -> None:
        name = self.space.currentData()
        if name != self.session.space_name:
            self.session.set_label_space(name)

    def _machine(self, info, *_old) -> None:
        if info is None:
            return
        text, has_cuda = info
        self.machine.setText(text)
        self.machine.setToolTip(
            "what torch sees: cuda is "
            + ("available" if has_cuda else "not available (a CPU build of torch, or no GPU)")
        )
        item = self.device.model().item(DEVICES.index("cuda"))
        item.setEnabled(has_cuda)
        item.setToolTip("" if has_cuda else "torch sees no CUDA GPU on this machine")

    def _sync_sample(self, *_args) -> None:
        """What depends on the open sample: hard offsets, predicting, ground truth, the note."""
        st = self.session
        s = st.sample
        hard = s is not None and s.field is not None and s.field.is_hard
        ok, why = st.can_predict_offsets()
        self.predict_btn.setEnabled(ok)
        self.predict_btn.setToolTip(f"{why} (Ctrl+Shift+P)")
        for w, tip in ((self.threshold, THRESHOLD_TIP), (self.direction, DIRECTION_TIP)):
            w.setEnabled(not hard)
            w.set_tip(HARD_TIP if hard else tip)
        self.after.model().item(1).setEnabled(s is not None and s.gt is not None)
        inst = s is not None and s.is_instances
        self.space.setEnabled(not inst)
        self.space.setToolTip(SPACE_INSTANCES_TIP if inst else SPACE_TIP)
        if inst:
            self._show_space(st.space_name)
        if s is None:
            self.note.setText("")
        elif st.result is None:
            self.note.setText("refining…")
        elif st.result_is_current():
            r = st.result
            self.note.setText(f"{r.moving:,} pixels move · ran on {r.device}")
        elif not st.auto:
            self.note.setText(
                "<span style='color:#e0a000'>the view shows the last refinement; "
                "press Refine (R) for the current setting</span>"
            )
        self.refine_btn.setDefault(s is not None and not st.result_is_current())


SCROLL = True  # in a scroll area: the dock may be lower than the form (small screens)


def create(session, actions) -> QWidget:
    return ControlsPanel(session, actions)
