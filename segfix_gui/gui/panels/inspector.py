"""Pixel inspector: follows the cursor; shows every layer's value there and where the pixel
took its label from (the canvas draws that link)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from ...core.offsets import direction_table
from ...labels import IGNORE

TITLE = "Pixel inspector"
AREA = "left"
GROUP = "left-tabs"
GLYPHS = "→↘↓↙←↖↑↗"  # by angle atan2(d_row, d_col) in steps of 45°, y pointing down
FIELDS = (
    "pixel",
    "image RGB",
    "predicted",
    "refined",
    "true class",
    "boundary prob.",
    "direction",
    "offset",
    "label from",
)


def glyph(d_row: float, d_col: float) -> str:
    if d_row == 0 and d_col == 0:
        return "·"
    return GLYPHS[int(round(math.atan2(d_row, d_col) / (math.pi / 4))) % 8]


def instance_text(space, instances, row: int, col: int) -> str:
    """The instances covering a pixel, highest score first: ``car #4 (0.75)``."""
    from ...session.instances import instance_class_names, instances_at

    hits = instances_at(instances, row, col)
    if not hits:
        return "no instance"
    names = instance_class_names(instances.subset(hits), space)
    return ", ".join(f"{n} #{i + 1} ({instances.scores[i]:.2f})" for n, i in zip(names, hits, strict=True))


def gt_instance_text(space, gt_id: int) -> str:
    """A ground-truth instance id (``labelId * 1000 + index``, or a plain label id)."""
    label = gt_id // 1000 if gt_id >= 1000 else gt_id
    name = next((c.name for c in space.classes if c.id == label), f"id {label}")
    return f"{name}, instance {gt_id}" if gt_id >= 1000 else f"{name} (id {gt_id}, no instance)"


def class_text(space, label_id: int) -> str:
    e = int(space.to_eval(label_id))
    if e == IGNORE:
        name = next((c.name for c in space.classes if c.id == label_id), "not in the space")
        return f"{name} (id {label_id}, ignored)"
    return f"{space.names[e]} (id {label_id})"


class InspectorPanel(QWidget):
    def __init__(self, session, actions):
        super().__init__()
        self.session = st = session
        form = QFormLayout()
        self.values: dict[str, QLabel] = {}
        for name in FIELDS:
            lab = QLabel("–")
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            lab.setWordWrap(True)
            form.addRow(name, lab)
            self.values[name] = lab
        hint = QLabel("Hover over the image. The cyan line joins the pixel to the pixel it takes its label from.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #888;")
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(hint)
        lay.addStretch(1)
        for e in (st.events.cursor, st.events.result, st.events.sample):
            e.connect(self.update_values)

    def text(self, name: str) -> str:
        return self.values[name].text()

    def update_values(self, *_args) -> None:
        for k, v in self.describe().items():
            self.values[k].setText(v)

    def describe(self) -> dict[str, str]:
        """The inspector's lines for the current cursor (``–`` where there is nothing)."""
        st = self.session
        out = dict.fromkeys(FIELDS, "–")
        s, pos = st.sample, st.cursor
        if s is None or pos is None:
            return out
        r, c = pos
        sp = s.space
        out["pixel"] = f"(row {r}, col {c})"
        if s.image is not None:
            out["image RGB"] = "({}, {}, {})".format(*(int(v) for v in s.image[r, c]))
        inst = s.is_instances
        if inst:
            out["predicted"] = instance_text(sp, s.instances, r, c)
            out["true class"] = (
                gt_instance_text(sp, int(s.gt_instances[r, c])) if s.gt_instances is not None else "no ground truth"
            )
        else:
            out["predicted"] = class_text(sp, int(s.pred[r, c]))
            out["true class"] = class_text(sp, int(s.gt[r, c])) if s.gt is not None else "no ground truth"
        f = s.field
        if f is None:
            out["boundary prob."] = "no offsets yet"
            out["direction"] = "–"
        elif f.is_hard:
            out["boundary prob."] = f"{float(f.boundary[r, c]):.3f}"
            dr, dc = (int(v) for v in f.hard[:, r, c])
            out["direction"] = f"{glyph(dr, dc)} ({dr:+d}, {dc:+d}) hard offset"
        else:
            out["boundary prob."] = f"{float(f.boundary[r, c]):.3f}"
            b = int(f.bins()[r, c])
            dr, dc = (int(v) for v in direction_table(f.k)[b])
            conf = float(f.direction_confidence()[r, c])
            out["direction"] = f"bin {b} {glyph(dr, dc)} ({dr:+d}, {dc:+d}), p = {conf:.2f}"
        res = st.result
        if res is not None:
            if inst:
                out["refined"] = instance_text(sp, res.instances.after, r, c) if res.instances is not None else "–"
            else:
                out["refined"] = class_text(sp, int(res.refined[r, c]))
            o_r, o_c = (int(v) for v in res.offsets[:, r, c])
            out["offset"] = f"({o_r:+d}, {o_c:+d}) at this setting"
            src = res.source_of(r, c)
            if src is None:
                out["label from"] = "itself (does not move)"
            else:
                what = instance_text(sp, s.instances, *src) if inst else class_text(sp, int(s.pred[src]))
                out["label from"] = f"(row {src[0]}, col {src[1]}): {what}"
        return out


SCROLL = True  # in a scroll area: the dock may be lower than the form (small screens)


def create(session, actions) -> QWidget:
    return InspectorPanel(session, actions)
