"""The canvas: before | after views with linked pan/zoom, or one view with a swipe.

Views listen to the :class:`~segfix_gui.session.Session` and draw; what they write back is the
inspected pixel (mouse hover), the swipe position (dragging its line) and the camera (what the
views show after a pan or zoom); a camera set in the session (a script, the instance list)
moves the views. A sample that failed to open shows its error in place of the views.
A new panel or mode draws its own items on every view with :meth:`Canvas.add_overlay`.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from ..core.metrics import BROKEN, CHANGED, FIXED, SWAPPED
from ..session.arrows import arrow_points, choose_stride, visible_box
from ..session.instances import instance_colours
from ..session.session import Session
from .layers import (
    BACKGROUND,
    DIFF_COLOURS,
    Composite,
    ViewLayers,
    apply_opacity,
    diff_lut,
    display_ids,
    heat_image,
    heat_lut,
    label_lut,
    mark_radius,
    set_lut_image,
    widen_codes,
)
from .outlines import OutlineItem

ARROW_DELAY_MS = 30  # pan/zoom: arrows are recomputed at most this often
FIT_TOL = 0.02  # a view counts as fitted if the whole image shows and fills 98 % of one axis
CAMERA_DELAY_MS = 60  # pan/zoom: the session's camera follows at most this often


class TitleItem(pg.LabelItem):
    """A view's title that never widens the view: a long title (the single view's) is clipped,
    not given a minimum width, so the ViewBox always fits the widget."""

    def setText(self, text, **args) -> None:
        if text != getattr(self, "text", None) or args:  # the same title: no re-layout
            super().setText(text, **args)

    def updateMin(self) -> None:
        super().updateMin()
        self.setMinimumWidth(0)
        self._sizeHint[Qt.SizeHint.MinimumSize] = (0, self._sizeHint[Qt.SizeHint.MinimumSize][1])
        self._sizeHint[Qt.SizeHint.PreferredSize] = (0, self._sizeHint[Qt.SizeHint.PreferredSize][1])
        self.updateGeometry()


class ImageView(pg.GraphicsLayoutWidget):
    """One view: a title and a ViewBox (y down, square pixels) holding a :class:`ViewLayers`."""

    hovered = Signal(object)  # (row, col) or None

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground(BACKGROUND)
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.title = TitleItem("", color="#e8e8e8", size="10pt")
        self.addItem(self.title, row=0, col=0)
        self.vb = self.addViewBox(row=1, col=0, lockAspect=True, invertY=True, enableMenu=False)
        self.vb.setDefaultPadding(0.01)
        self.layers = ViewLayers(self.vb)
        self.shape: tuple[int, int] | None = None
        # side by side, both views get the same width whatever their contents' size hints say
        pol = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        pol.setHorizontalStretch(1)
        self.setSizePolicy(pol)
        self.scene().sigMouseMoved.connect(self._moved)

    def _moved(self, pos) -> None:
        if self.shape is None or not self.vb.sceneBoundingRect().contains(pos):
            self.hovered.emit(None)
            return
        p = self.vb.mapSceneToView(pos)
        r, c = int(np.floor(p.y())), int(np.floor(p.x()))
        h, w = self.shape
        self.hovered.emit((r, c) if 0 <= r < h and 0 <= c < w else None)

    def leaveEvent(self, ev) -> None:
        self.hovered.emit(None)
        super().leaveEvent(ev)

    def fit(self) -> None:
        if self.shape is not None:
            h, w = self.shape
            self.vb.setRange(xRange=(0, w), yRange=(0, h), padding=0.01)

    def is_fitted(self) -> bool:
        """The whole image is visible and fills (nearly) the view's width or height."""
        if self.shape is None:
            return False
        h, w = self.shape
        (x0, x1), (y0, y1) = self.vb.viewRange()
        pad = FIT_TOL * max(h, w) + 1
        inside = x0 <= pad and x1 >= w - pad and y0 <= pad and y1 >= h - pad
        return inside and ((x1 - x0) <= w * (1 + 2 * FIT_TOL) + 2 or (y1 - y0) <= h * (1 + 2 * FIT_TOL) + 2)

    def zoom_state(self) -> tuple[float, float, float] | None:
        """(centre x, centre y, screen pixels per image pixel) of what is shown."""
        (x0, x1), (y0, y1) = self.vb.viewRange()
        if self.vb.width() < 2 or x1 <= x0:
            return None
        return (x0 + x1) / 2, (y0 + y1) / 2, self.vb.width() / (x1 - x0)

    def set_zoom_state(self, zs: tuple[float, float, float]) -> None:
        cx, cy, ppx = zs
        hw, hh = self.vb.width() / ppx / 2, self.vb.height() / ppx / 2
        self.vb.setRange(xRange=(cx - hw, cx + hw), yRange=(cy - hh, cy + hh), padding=0)


DIFF_KEY = (
    (FIXED, "fixed", "wrong → right"),
    (BROKEN, "broken", "right → wrong"),
    (SWAPPED, "swapped", "wrong → other wrong"),
)
CHANGED_KEY = ((CHANGED, "changed", "no ground truth to judge"),)


def diff_key(has_gt: bool):
    """``(code, name, meaning)`` of the diff colours shown for a sample (one list for the
    view key, the Layers panel and the figure export)."""
    return DIFF_KEY if has_gt else CHANGED_KEY


def heat_bar(width: int = 120, height: int = 10) -> QImage:
    """The boundary heat map's colour scale, 0 → 1 left to right, from the layer's own table
    (premultiplied over the canvas background)."""
    lut = heat_lut().astype(np.float32)
    idx = np.linspace(0, 255, width).round().astype(int)
    a = lut[idx, 3:4] / 255
    bg = np.array([0x1E, 0x1F, 0x22], np.float32)
    rgb = (lut[idx, :3] * a + bg * (1 - a)).round().astype(np.uint8)
    row = np.repeat(rgb[None], height, axis=0)
    img = QImage(np.ascontiguousarray(row).data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return img.copy()


class ViewKey(QWidget):
    """The key under the views: what the diff colours mean (with the counts) and, while the
    boundary layer shows, the heat map's colour scale."""

    def __init__(self, session: Session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setStyleSheet("QLabel { color: #d0d0d0; }")
        self.setAutoFillBackground(False)
        self.diff = QLabel()
        self.diff.setTextFormat(Qt.TextFormat.RichText)
        self.heat_title = QLabel("boundary probability  0")
        self.heat = QLabel()
        self.heat.setPixmap(QPixmap.fromImage(heat_bar()))
        self.heat_end = QLabel("1")
        self.radius = 0
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        row.setSpacing(6)
        row.addWidget(self.diff)
        row.addStretch(1)
        for w in (self.heat_title, self.heat, self.heat_end):
            row.addWidget(w)
        for ev in (session.events.result, session.events.sample, session.events.layers):
            ev.connect(lambda *_: self.refresh())
        self.refresh()

    def refresh(self, radius: int | None = None) -> None:
        if radius is not None:
            self.radius = radius
        st = self.session
        s = st.sample
        show_heat = s is not None and st.layers["boundary"].visible and s.field is not None
        for w in (self.heat_title, self.heat, self.heat_end):
            w.setVisible(show_heat)
        if s is None or s.is_instances:
            self.diff.setText("")
            return
        counts = st.result.counts if st.result is not None else {}
        parts = []
        for code, name, what in diff_key(s.gt is not None):
            r, g, b = DIFF_COLOURS[code]
            n = counts.get(name)
            parts.append(
                f"<span style='background: rgb({r},{g},{b});'>&nbsp;&nbsp;&nbsp;</span>"
                f"&nbsp;<span title='{what}'>{name}</span>"
                + (f" <span style='color:#999'>{n:,}</span>" if n is not None else "")
            )
        text = "diff: " + " &nbsp; ".join(parts)
        if not st.layers["diff"].visible:
            text += " <span style='color:#888'>(layer hidden: 5)</span>"
        elif self.radius:
            text += " <span style='color:#888'>(marks widened to stay visible at this zoom)</span>"
        self.diff.setText(text)
        self.diff.setToolTip(
            "<br>".join(f"<b>{n}</b>: {w}" for _c, n, w in diff_key(s.gt is not None))
            + "<br>Zoomed out, each mark is drawn a few pixels wide; the "
            "counts and the inspector use the true pixels."
        )


class Canvas(QWidget):
    """The sample's info line above one or two :class:`ImageView` s (or the error of a sample
    that failed to open)."""

    def __init__(self, session: Session, parent=None):
        super().__init__(parent)
        self.session = session
        self.info = QLabel("Open a sample: File ▸ Open, drop files here, or run segfix-gui --demo")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setStyleSheet("QLabel { padding: 4px 6px; color: #d0d0d0; background: #2b2d31; }")
        self.left = ImageView()
        self.right = ImageView()
        self.right.vb.setXLink(self.left.vb)
        self.right.vb.setYLink(self.left.vb)
        self.views = (self.left, self.right)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(3)
        row.addWidget(self.left, 1)
        row.addWidget(self.right, 1)
        views = QWidget()
        views.setLayout(row)
        # a sample that failed to open: its error where the views were (never the previous sample)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet(f"QLabel {{ background: {BACKGROUND}; color: #f07070; padding: 24px; }}")
        self.stack = QStackedWidget()
        self.stack.addWidget(views)
        self.stack.addWidget(self.error)
        # one click between the sample's own offsets and the upper bound (from its ground truth)
        self.upper_switch = QPushButton("")
        self.upper_switch.setCheckable(True)
        self.upper_switch.setVisible(False)
        self.upper_switch.clicked.connect(lambda on: session.show_upper_bound(on))
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 4, 0)
        head.setSpacing(4)
        head.addWidget(self.info, 1)
        head.addWidget(self.upper_switch, 0, Qt.AlignmentFlag.AlignVCenter)
        header = QWidget()
        header.setLayout(head)
        header.setStyleSheet("background: #2b2d31;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(header)
        lay.addWidget(self.stack, 1)
        self.key = ViewKey(session)
        lay.addWidget(self.key)

        self.swipe_line = pg.InfiniteLine(
            angle=90, movable=True, pen=pg.mkPen((255, 255, 255), width=2), hoverPen=pg.mkPen((255, 220, 0), width=3)
        )
        self.swipe_line.setZValue(20)
        self.left.vb.addItem(self.swipe_line, ignoreBounds=True)
        self.swipe_line.sigPositionChanged.connect(self._swipe_dragged)

        self._diff_lut = diff_lut()
        self._heat_lut = heat_lut()
        self._label_lut = None
        self._by_eval = False
        self._shown_sample = None  # the sample the views were last drawn for
        self.composite: Composite | None = None  # the photo and the labels, blended (see layers)
        self._after_shown = None  # the labels array the composite's after side shows
        self._arrow_stride = None
        self.arrow_count = 0
        self._mark_radius = None  # how far the shown diff marks are widened (see layers.widen_codes)
        self._arrow_timer = QTimer(self)
        self._arrow_timer.setSingleShot(True)
        self._arrow_timer.setInterval(ARROW_DELAY_MS)
        self._arrow_timer.timeout.connect(self.update_arrows)
        self.left.vb.sigRangeChanged.connect(lambda *_: self._arrow_timer.start())
        self.left.vb.sigResized.connect(lambda *_: self._arrow_timer.start())
        self._camera_timer = QTimer(self)
        self._camera_timer.setSingleShot(True)
        self._camera_timer.setInterval(CAMERA_DELAY_MS)
        self._camera_timer.timeout.connect(self._write_camera)
        self.left.vb.sigRangeChanged.connect(lambda *_: self._camera_timer.start())
        # what the view showed before its size changed (fitted, or centre and zoom), kept across
        # resizes: toggling before | after ↔ single view or hiding docks never shrinks the image
        self._view_memo: tuple[bool, tuple | None] | None = None
        self._view_size = None
        self._keeping = False
        self._keep_timer = QTimer(self)
        self._keep_timer.setSingleShot(True)
        self._keep_timer.setInterval(0)
        self._keep_timer.timeout.connect(self._keep_view)
        self.left.vb.sigRangeChanged.connect(self._remember_view)
        self.left.vb.sigResized.connect(self._resized)
        self._mode = session.view_mode
        for v in self.views:
            v.hovered.connect(self.session.set_cursor)

        ev = session.events
        ev.sample.connect(self._on_sample)
        for e in (ev.sample, ev.upper_ready, ev.upper_bound):
            e.connect(self._sync_upper)
        for e in (ev.sample_note, ev.space_warning, ev.sample_error):
            e.connect(self._update_info)
        ev.result.connect(self._on_result)
        ev.hidden.connect(self._on_classes)
        ev.layers.connect(self._on_layers)
        for e in (ev.view_mode, ev.swipe, ev.after_source):
            e.connect(self._on_view)
        ev.cursor.connect(self._on_cursor)
        ev.camera.connect(self._on_camera)
        for e in (ev.setting, ev.auto):
            e.connect(self._update_titles)
        # instance mode: the predicted masks' outlines on the before side, the refined on the after
        self.outlines_before = self.add_overlay(lambda _v: OutlineItem(), side="before")
        self.outlines_after = self.add_overlay(lambda _v: OutlineItem(), side="after")
        self._outline_colours = None
        for e in (ev.result, ev.min_score, ev.selected, ev.hidden):
            e.connect(self._draw_outlines)
        # Boundary panel: the pixels of the hovered distance bin, on both views
        self.border_marks = self.add_overlay(lambda _v: pg.ImageItem(), z=16)
        for e in (ev.border_bin, ev.border_class, ev.borders):
            e.connect(self._draw_border_marks)
        self._layers_shown = dict(session.layers)
        self._on_view()
        for name in session.layers:
            self._on_layer(name)
        if session.sample is not None:
            self._on_sample()

    # --- session -> drawing -------------------------------------------------------------------
    def _on_sample(self, *_args) -> None:
        s = self.session.sample
        if s is None:
            self._shown_sample = None
            self.composite, self._after_shown = None, None
            for v in self.views:
                v.shape = None
                v.layers.clear()
            self._draw_outlines()
            if self.session.sample_error:
                self.stack.setCurrentIndex(1)
            self._update_info()
            return
        self.stack.setCurrentIndex(0)
        new_image = self._shown_sample is None or self._shown_sample.shape != s.shape
        self._shown_sample = s
        for v in self.views:
            v.shape = s.shape
            v.layers.clear()
        ids, self._by_eval = display_ids(s.pred, s.space)
        self._label_lut = label_lut(s.space, self.session.hidden, by_eval=self._by_eval)
        opt = self.session.layers
        comp = Composite(
            ids,
            self._label_lut,
            s.image,
            labels=(opt["labels"].visible, opt["labels"].opacity),
            photo=(opt["image"].visible, opt["image"].opacity),
        )
        self.composite, self._after_shown = comp, None
        heat = heat_image(s.field.boundary if s.field is not None else np.zeros(s.shape, np.float32))
        for v in self.views:
            v.layers.show_composite(comp)
            set_lut_image(v.layers.heat, heat, self._heat_lut)
        self._update_info()
        self._on_view()
        if self.session.camera is None or new_image:
            self.fit()
        else:
            self._on_camera()
        self._update_titles()
        self._outline_colours = instance_colours(s.instances, s.space) if s.is_instances else None
        self._draw_outlines()

    def _draw_outlines(self, *_args) -> None:
        """Instance mode: each instance's outline in its class colour (hidden classes and
        instances under the score threshold left out; the selected one highlighted)."""
        st = self.session
        s = st.sample
        if s is None or not s.is_instances or st.inst_base is None:
            for item in self.outlines_before + self.outlines_after:
                item.set_outlines(None)
            return
        shown = st.shown_instances()
        for item in self.outlines_before:
            item.set_outlines(st.inst_base.outlines.segments, self._outline_colours, shown, st.selected, s.shape)
        res = st.result.instances if st.result is not None else None
        for item in self.outlines_after:
            if res is None:
                item.set_outlines(None)
            else:
                item.set_outlines(res.outlines.segments, self._outline_colours, shown, st.selected, s.shape)

    def _draw_border_marks(self, *_args) -> None:
        """The open sample's pixels of the profile bin hovered in the Boundary panel (of its
        chosen class), in yellow over the labels; nothing when no bin is hovered."""
        mask = self.session.border_mask()
        for item in self.border_marks:
            if mask is None:
                item.clear()
                item.hide()
                continue
            rgba = np.zeros((*mask.shape, 4), np.uint8)
            rgba[mask] = (255, 220, 0, 170)
            item.setImage(rgba, levels=None, autoLevels=False)
            item.show()

    def _update_info(self, *_args) -> None:
        st = self.session
        s = st.sample
        if s is None:
            if st.sample_error:
                self.error.setText(f"This sample could not be opened:\n\n{st.sample_error}")
                self.info.setText(f"<span style='color:#f07070'>{_esc(st.sample_error)}</span>")
                self.info.setToolTip(st.sample_error)
            return
        self.info.setText(self._info_html())
        tip = "<br>".join(f"<b>{_esc(k)}</b>: {_esc(v)}" for k, v in s.info_lines())
        for note in (st.sample_note, st.space_warning):
            if note:
                tip += f"<br><b>note</b>: {_esc(note)}"
        self.info.setToolTip(tip)

    UPPER_TEXT = {False: "Show the upper bound", True: "Back to the sample's offsets"}

    def _sync_upper(self, *_args) -> None:
        """The header's switch: shown where the sample has ground truth; it says what a click
        shows (the header says what is shown)."""
        st = self.session
        ok, why = st.can_show_upper_bound()
        self.upper_switch.setVisible(ok)
        self.upper_switch.setChecked(st.upper_bound)
        self.upper_switch.setText(self.UPPER_TEXT[st.upper_bound])
        self.upper_switch.setToolTip(why + " (U)")
        self.upper_switch.setStyleSheet(
            "QPushButton { background: #5a4a10; color: #ffe08a; padding: 3px 8px; }"
            if st.upper_bound
            else "QPushButton { padding: 3px 8px; }"
        )
        if st.sample is not None:
            self.info.setText(self._info_html())

    def _info_html(self) -> str:
        st = self.session
        s = st.sample
        parts = [f"<b>{_esc(s.name)}</b>"]
        upper = st.upper_bound
        parts += [
            f"<span style='color:#9ab'>{_esc(k)}:</span> "
            + (f"<span style='color:#ffd54a'>{_esc(v)}</span>" if upper and k == "offsets" else _esc(v))
            for k, v in s.info_lines(short=True)
        ]
        text = " &nbsp;·&nbsp; ".join(parts)
        for note in (st.space_warning, st.sample_note):
            if note:
                text += f"<br><span style='color:#e0a000'>⚠ {_esc(note)}</span>"
        return text

    def _on_result(self, *_args) -> None:
        self._set_after_labels()
        self._mark_radius = None
        self._update_marks()
        self.update_arrows()
        self._on_cursor()
        self._update_titles()

    def _set_after_labels(self) -> None:
        """The after side shows the refined labels (or the ground truth): only the pixels whose
        label changed are blended anew."""
        st = self.session
        s, r, comp = st.sample, st.result, self.composite
        if s is None or comp is None:
            return
        gt = st.after_shows_gt()
        src = s.gt if gt else (r.refined if r is not None else None)
        if src is None or src is self._after_shown:
            return
        ids, _ = display_ids(src, s.space) if not self._by_eval else (s.space.to_eval(src), True)
        comp.set_after(ids, None if gt else r.changed)
        self._after_shown = src
        self._composite_changed()

    def _composite_changed(self) -> None:
        for v in self.views:
            v.layers.composite_changed()

    def _on_classes(self, *_args) -> None:
        if self.session.sample is None or self.composite is None:
            return
        lut = label_lut(self.session.sample.space, self.session.hidden, by_eval=self._by_eval)
        if np.array_equal(lut, self._label_lut):  # e.g. a new sample: blended with it already
            return
        self._label_lut = lut
        self.composite.set_style(lut=lut)
        self._composite_changed()

    def _on_layers(self, layers, *_args) -> None:
        changed = [n for n, opt in layers.items() if self._layers_shown.get(n) != opt]
        self._layers_shown = dict(layers)
        for name in changed:
            self._on_layer(name)

    def _on_layer(self, name: str) -> None:
        opt = self.session.layers[name]
        if name in ("image", "labels"):  # one opaque image per side (layers.Composite)
            if self.composite is not None:
                self.composite.set_style(**{"photo" if name == "image" else "labels": (opt.visible, opt.opacity)})
                self._composite_changed()
            return
        for v in self.views:
            L = v.layers
            items = {"boundary": (L.heat,), "arrows": (L.arrows,), "diff": (L.diff,)}[name]
            apply_opacity(items, opt.visible, opt.opacity)
        if name == "arrows":
            self.update_arrows()

    def _on_view(self, *_args) -> None:
        st = self.session
        single = st.view_mode == "single"
        if st.view_mode != self._mode:
            self._mode = st.view_mode
            self._remember_view()
        self.right.setVisible(not single)
        self.swipe_line.setVisible(single)
        if st.sample is not None:
            h, w = st.sample.shape
            if single:
                self.left.layers.set_split(st.swipe * w, (h, w))
                self.swipe_line.blockSignals(True)
                self.swipe_line.setValue(st.swipe * w)
                self.swipe_line.blockSignals(False)
            else:
                self.left.layers.set_split(w, (h, w))
            self.right.layers.set_split(0, (h, w))
            self._set_after_labels()
        self._update_titles()
        self.update_arrows()

    def _swipe_dragged(self) -> None:
        if self.session.sample is not None:
            self.session.set_view(swipe=self.swipe_line.value() / self.session.sample.shape[1])

    def _on_cursor(self, *_args) -> None:
        st = self.session
        src = None
        if st.cursor is not None and st.result is not None:
            src = st.result.source_of(*st.cursor)
        for v in self.views:
            v.layers.set_link(st.cursor, src)

    # --- the camera ---------------------------------------------------------------------------
    def view_box(self) -> tuple[float, float, float, float]:
        """(r0, c0, r1, c1) the left view shows."""
        (x0, x1), (y0, y1) = self.left.vb.viewRange()
        return (y0, x0, y1, x1)

    def _write_camera(self) -> None:
        """The session's camera follows a pan or zoom (None while the image is fitted)."""
        if self.session.sample is None or self._keeping:
            return
        box = None if self.left.is_fitted() else tuple(round(v, 3) for v in self.view_box())
        if box != self.session.camera:
            self.session.set_camera(box)

    def _on_camera(self, *_args) -> None:
        """A camera set in the session (a script, the instance list): the views show it."""
        cam = self.session.camera
        if self.session.sample is None:
            return
        if cam is None:
            if not self.left.is_fitted():
                self.fit()
            return
        if all(abs(a - b) < 0.01 for a, b in zip(cam, self.view_box(), strict=True)):
            return
        r0, c0, r1, c1 = cam
        self.left.vb.setRange(xRange=(c0, c1), yRange=(r0, r1), padding=0)

    def _update_titles(self, *_args) -> None:
        st = self.session
        inst = st.sample is not None and st.sample.is_instances
        after = "ground truth" if st.after_shows_gt() else ("refined instances" if inst else "refined")
        if (
            st.result is not None and after.startswith("refined") and not st.result_is_current() and not st.auto
        ):  # with auto refine, the new result is already on its way
            after += " (at an older setting: press R)"
        before = "predicted instances" if inst else "prediction"
        if st.view_mode == "single":
            self.left.title.setText(
                f"◀ before: {before} &nbsp;|&nbsp; after: {after} ▶ &nbsp;(drag the line, T toggles)"
            )
        else:
            self.left.title.setText(f"before: {before}")
            self.right.title.setText(f"after: {after}")

    # --- diff marks ---------------------------------------------------------------------------
    def pixels_per_image_pixel(self) -> float:
        (x0, x1), _ = self.left.vb.viewRange()
        return max(self.left.vb.width(), 1.0) / max(x1 - x0, 1e-6)

    def _update_marks(self) -> None:
        """The diff layer: the true codes zoomed in; widened marks zoomed out, so a single
        changed pixel stays visible at any zoom."""
        r = self.session.result
        if r is None:
            return
        radius = mark_radius(self.pixels_per_image_pixel())
        if radius == self._mark_radius:
            return
        self._mark_radius = radius
        self.key.refresh(radius)
        shown = widen_codes(r.codes, radius)
        for v in self.views:
            set_lut_image(v.layers.diff, shown, self._diff_lut)

    @property
    def mark_radius(self) -> int:
        return self._mark_radius or 0

    # --- arrows -------------------------------------------------------------------------------
    def update_arrows(self) -> None:
        """Recompute the arrows (and the diff marks' width) for the visible rectangle and zoom
        (one curve per view)."""
        self._update_marks()
        st = self.session
        views = [self.left]  # the "before" view (or the single one): arrows say what will move
        if st.result is None or st.sample is None or not st.layers["arrows"].visible:
            for v in self.views:
                v.layers.arrows.setData([], [])
            self.arrow_count = 0
            return
        vb = self.left.vb
        (x0, x1), (y0, y1) = vb.viewRange()
        box = visible_box(x0, x1, y0, y1, st.sample.shape)
        if box is None:
            x = y = np.zeros(0, np.float32)
            stride = 1
        else:
            width_px = max(vb.width(), 1.0)
            x, y, stride = arrow_points(st.result.offsets, box, choose_stride(width_px / max(x1 - x0, 1e-6)))
        self._arrow_stride = stride
        self.arrow_count = len(x) // 6
        for v in self.views:
            if v in views:
                v.layers.arrows.setData(x, y)
            else:
                v.layers.arrows.setData([], [])

    def fit(self) -> None:
        self.left.fit()
        self._remember_view()

    # --- keeping the view across resizes -------------------------------------------------------
    def _remember_view(self, *_args) -> None:
        """Note what the left view shows, unless the change came from a resize (then
        :meth:`_resized` restores what was noted before it)."""
        if self._keeping or self._keep_timer.isActive() or self.session.sample is None:
            return
        size = (self.left.vb.width(), self.left.vb.height())
        if self._view_size is not None and size != self._view_size:
            return
        self._view_size = size
        self._view_memo = (self.left.is_fitted(), self.left.zoom_state())

    def _resized(self, *_args) -> None:
        self._keep_view()
        self._keep_timer.start()  # once more when the layout has settled (linked views follow)

    def _keep_view(self) -> None:
        if self._view_memo is None or self.session.sample is None:
            self._view_size = (self.left.vb.width(), self.left.vb.height())
            return
        fitted, zs = self._view_memo
        self._keeping = True
        try:
            if fitted:
                self.left.fit()
            elif zs is not None:
                self.left.set_zoom_state(zs)
        finally:
            self._keeping = False
        self._view_size = (self.left.vb.width(), self.left.vb.height())

    def add_overlay(self, make, *, z: float = 8, side: str | None = None) -> list:
        """Draw something new on every view (for a new panel or mode, e.g. instance outlines).

        ``make(view)`` returns a graphics item for that :class:`ImageView` (image coordinates:
        x = col, y = row); it is added above the layers. Returns the items, one per view.

        ``side="before"`` / ``"after"``: the item belongs to what that side shows, so it is
        clipped like the labels — drawn where the view shows "before" (the left view side by
        side, left of the swipe line in the single view) or "after". It is then drawn above
        that side's labels, below the heat map, diff and arrows.
        """
        if side not in (None, "before", "after"):
            raise ValueError(f"side must be None, 'before' or 'after', not {side!r}")
        items = []
        for v in self.views:
            item = make(v)
            item.setZValue(z)
            if side is None:
                v.vb.addItem(item)
            else:
                clip = v.layers.before_clip if side == "before" else v.layers.after_clip
                item.setParentItem(clip)
            items.append(item)
        return items


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
