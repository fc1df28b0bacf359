"""Layer visibility and opacity, and the diff layer's colour key with its counts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QSlider, QVBoxLayout, QWidget

from ...session.session import LAYER_TITLES, LAYERS
from ..canvas import diff_key
from ..layers import DIFF_COLOURS

TITLE = "Layers"
AREA = "right"
GROUP = "right-tabs"
KEYS = {name: str(i + 1) for i, name in enumerate(LAYERS)}


class LayersPanel(QWidget):
    def __init__(self, session, actions):
        super().__init__()
        self.session = st = session
        grid = QGridLayout()
        self.checks: dict[str, QCheckBox] = {}
        self.sliders: dict[str, QSlider] = {}
        for row, name in enumerate(LAYERS):
            cb = QCheckBox(f"{LAYER_TITLES[name]}  ({KEYS[name]})")
            cb.toggled.connect(lambda on, n=name: st.set_layer(n, visible=on))
            sl = QSlider(Qt.Orientation.Horizontal)
            sl.setRange(0, 100)
            sl.setMaximumWidth(110)
            sl.setToolTip("opacity")
            sl.valueChanged.connect(lambda v, n=name: st.set_layer(n, opacity=v / 100))
            grid.addWidget(cb, row, 0)
            grid.addWidget(sl, row, 1)
            self.checks[name], self.sliders[name] = cb, sl
        self.key = QLabel()
        self.key.setWordWrap(True)
        self.key.setTextFormat(Qt.TextFormat.RichText)
        lay = QVBoxLayout(self)
        lay.addLayout(grid)
        lay.addWidget(self.key)
        lay.addStretch(1)
        st.events.layers.connect(lambda *_: [self.sync(n) for n in LAYERS])
        st.events.result.connect(self._key)
        st.events.sample.connect(self._key)
        for n in LAYERS:
            self.sync(n)
        self._key()

    def sync(self, name: str) -> None:
        opt = self.session.layers[name]
        for w, setter, v in (
            (self.checks[name], QCheckBox.setChecked, opt.visible),
            (self.sliders[name], QSlider.setValue, int(round(opt.opacity * 100))),
        ):
            w.blockSignals(True)
            setter(w, v)
            w.blockSignals(False)

    def _key(self, *_args) -> None:
        st = self.session
        counts = st.result.counts if st.result is not None else {}
        has_gt = st.sample is not None and st.sample.gt is not None
        rows = []
        for code, name, what in diff_key(has_gt):
            r, g, b = DIFF_COLOURS[code]
            n = counts.get(name)
            rows.append(
                f"<tr><td><span style='background: rgb({r},{g},{b});'>&nbsp;&nbsp;&nbsp;"
                f"</span></td><td>{name}</td><td align='right'>"
                f"{'' if n is None else f'{n:,}'}</td><td style='color:#888'>{what}</td></tr>"
            )
        self.key.setText("<b>Diff</b><table cellspacing='4'>" + "".join(rows) + "</table>")


def create(session, actions) -> QWidget:
    return LayersPanel(session, actions)
