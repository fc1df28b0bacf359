"""Tune: sweep the open folder set over thresholds × scales and pick a setting from the curves.

The sweep is the engine's (:func:`segfix_gui.core.sweep.sweep`, the one ``segfix sweep``
runs), run by the session (:meth:`~segfix_gui.session.Session.run_sweep`, job kind
``"sweep"``): off the UI thread, with progress, and cancelled by the panel's Cancel, the status
bar's Cancel or Esc. A cancelled sweep shows nothing; the last complete one is the session's
``sweep``.

Two plots: mIoU gain and boundary-F gain (points, against no refinement) over the threshold,
one curve per scale; a ring marks the current setting, a star the best one. Clicking near a
point applies its threshold / scale / direction confidence through the session, so the
controls, the refined view, the set's figures and the samples list follow (sort the list "loss,
worst first" to find where refinement hurts).

Without a folder set the open sample is swept alone (if it has ground truth). Hard offsets
(openseg ``.mat``) are already thresholded: the threshold has no effect, so the curve runs over
the scale instead, and the panel says so.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...errors import InputError
from ...io.ranges import check_grid_counts, parse_grid
from ...labels import get_label_space
from ...session import tune as td
from ...session.format import signed

TITLE = "Tune"
AREA = "bottom"
START_HIDDEN = True  # wide and tall: opened on demand (Refine ▸ Tune, Ctrl+T), not in the default layout
KIND = "sweep"  # the runner's job kind
COLOURS = ("#4e9cff", "#ffb000", "#5ad17a", "#e8606a", "#b48cff", "#4fd1d9", "#f080c8", "#c8c8c8")
PICK_PX = 30  # a click within this many pixels of a point picks it
BACKGROUND = "#1e1f22"
FIELD_TIPS = {
    "thresholds": "Boundary thresholds in [0, 1]: START:STOP:STEP (STOP included) or a comma list",
    "scales": "Offset scales (pixels per direction step), > 0: START:STOP:STEP or a comma list",
    "directions": "Direction confidences in [0, 1] (a pixel moves only if its direction is this "
    "likely): START:STOP:STEP or a comma list; 0 = every boundary pixel moves",
}


class TunePanel(QWidget):
    """The Tune dock. ``result`` is the last *complete* sweep for the open set (or None)."""

    def __init__(self, session, actions):
        super().__init__()
        self.session = st = session
        self.runner = st.jobs
        self._edited: set[str] = set()  # grid fields the user has typed in
        self._cancelled = False
        self._direction = 0  # which direction confidence the curves show
        self.series: dict[str, list[td.Series]] = {m: [] for m in td.METRIC_TITLES}
        self.curves: dict[str, list[pg.PlotDataItem]] = {m: [] for m in td.METRIC_TITLES}
        self._build_controls()
        self._build_plots()
        scroll = QScrollArea()  # the text never gets clipped in a low dock
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(250)
        # the curves' key sits above the plots, never over a curve's end or the best point's star
        self.key = QLabel("")
        self.key.setTextFormat(Qt.TextFormat.RichText)
        self.key.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.key.setStyleSheet("color: #ddd; padding: 1px;")
        plot_split = QSplitter(Qt.Orientation.Horizontal)
        for m in td.METRIC_TITLES:
            plot_split.addWidget(self.plots[m])
        plots = QWidget()
        pv = QVBoxLayout(plots)
        pv.setContentsMargins(0, 0, 0, 0)
        pv.setSpacing(0)
        pv.addWidget(self.key)
        pv.addWidget(plot_split, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(plots)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([270, 1200])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(split, 1)

        ev = st.events
        ev.sample.connect(self._follow_sample)
        for e in (ev.sample, ev.set_samples):
            e.connect(self._scope_text)
        ev.sweep.connect(self._on_sweep)
        ev.setting.connect(self._mark_current)
        self.runner.busy_changed.connect(self._busy)
        self.runner.progress.connect(self._progress)
        self._validate()
        self._scope_text()
        self._on_sweep(st.sweep)

    @property
    def result(self):
        """The shown sweep's result (the session's last complete sweep), or None."""
        sw = self.session.sweep
        return None if sw is None else sw.result

    @property
    def plan(self):
        sw = self.session.sweep
        return None if sw is None else sw.plan

    def sizeHint(self) -> QSize:
        return QSize(1100, 300)

    # --- construction -------------------------------------------------------------------------
    def _build_controls(self) -> None:
        self.controls = box = QWidget()
        form = QFormLayout()
        form.setContentsMargins(4, 4, 4, 0)
        self.fields: dict[str, QLineEdit] = {}
        for key, text in (("thresholds", "Thresholds"), ("scales", "Scales"), ("directions", "Direction conf.")):
            edit = QLineEdit(td.DEFAULTS[key])
            edit.setToolTip(FIELD_TIPS[key])
            edit.textEdited.connect(lambda _t, k=key: self._edited.add(k))
            edit.textChanged.connect(self._validate)
            edit.returnPressed.connect(self.run)
            form.addRow(text, edit)
            self.fields[key] = edit
        self.size_label = QLabel("")
        self.size_label.setWordWrap(True)
        form.addRow(self.size_label)
        self.run_btn = QPushButton("Run sweep")
        self.run_btn.setToolTip(
            "Refine and evaluate every sample at every setting (the numbers of segfix sweep), off the UI thread"
        )
        self.run_btn.clicked.connect(self.run)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.addWidget(self.run_btn, 1)
        row.addWidget(self.cancel_btn)
        form.addRow(row)
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        form.addRow(self.progress_bar)
        self.scope = QLabel("")
        self.scope.setWordWrap(True)
        self.scope.setStyleSheet("color: #999;")
        form.addRow(self.scope)
        self.direction_box = QComboBox()
        self.direction_box.setToolTip("Which direction confidence the curves show")
        self.direction_box.currentIndexChanged.connect(self._direction_chosen)
        self.direction_row = QLabel("Curves at")
        form.addRow(self.direction_row, self.direction_box)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        form.addRow(self.summary)
        self.best_btn = QPushButton("Apply best mIoU")
        self.best_btn.setToolTip("Apply the setting with the highest mIoU over the swept samples")
        self.best_btn.clicked.connect(lambda: self.apply_best("miou"))
        self.worst_btn = QPushButton("Samples: worst first")
        self.worst_btn.setToolTip("Sort the samples list with the biggest loss at the current setting first")
        self.worst_btn.clicked.connect(self.show_worst_first)
        row2 = QHBoxLayout()
        row2.addWidget(self.best_btn)
        row2.addWidget(self.worst_btn)
        form.addRow(row2)
        self.hover = QLabel("")
        self.hover.setStyleSheet("color: #bbb;")
        form.addRow(self.hover)
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 0, 0)
        v.addLayout(form)
        v.addStretch(1)

    def _build_plots(self) -> None:
        self.plots: dict[str, pg.PlotWidget] = {}
        self.vlines: dict[str, pg.InfiniteLine] = {}
        self.markers: dict[str, pg.ScatterPlotItem] = {}
        self.stars: dict[str, pg.ScatterPlotItem] = {}
        for m, title in td.METRIC_TITLES.items():
            pw = pg.PlotWidget(background=BACKGROUND)
            pw.setMenuEnabled(False)
            pw.setMinimumWidth(210)
            pw.setMinimumHeight(180)
            pi = pw.getPlotItem()
            pi.setTitle(title, color="#ddd", size="10pt")
            pi.showGrid(x=True, y=True, alpha=0.15)
            pi.setLabel("left", "points over no refinement", color="#bbb")
            pi.setLabel("bottom", "boundary threshold", color="#bbb")
            for axis in ("left", "bottom"):
                pi.getAxis(axis).enableAutoSIPrefix(False)
            pi.addLine(y=0, pen=pg.mkPen("#777", width=1, style=Qt.PenStyle.DashLine))
            vline = pg.InfiniteLine(angle=90, pen=pg.mkPen("#e0e0e0", width=1, style=Qt.PenStyle.DotLine))
            vline.setVisible(False)
            vline.setZValue(5)
            pi.addItem(vline, ignoreBounds=True)
            star = pg.ScatterPlotItem(
                size=18, symbol="star", brush=pg.mkBrush("#ffd54a"), pen=pg.mkPen("#222", width=1)
            )
            star.setZValue(15)
            pi.addItem(star)
            marker = pg.ScatterPlotItem(size=20, symbol="o", brush=pg.mkBrush(None), pen=pg.mkPen("#ffffff", width=2.5))
            marker.setZValue(20)
            pi.addItem(marker)
            pw.scene().sigMouseClicked.connect(lambda ev, m=m: self._clicked(m, ev))
            pw.scene().sigMouseMoved.connect(lambda pos, m=m: self._hovered(m, pos))
            pw.setToolTip("Click a point to apply its setting to the view")
            self.plots[m], self.vlines[m], self.markers[m], self.stars[m] = pw, vline, marker, star

    # --- what would be swept ------------------------------------------------------------------
    def _follow_sample(self, *_args) -> None:
        """Until the user types a direction confidence, sweep at the open sample's (its
        offsets' recommendation: the bundled network's is what makes it help)."""
        if "directions" not in self._edited and self.session.sample is not None:
            self.fields["directions"].setText(f"{self.session.setting.min_direction_prob:g}")

    def _current_plan(self):
        return self.session.controller.plan()

    def _scope_text(self, *_args) -> None:
        plan = self._current_plan()
        tip = ""
        if plan is None:
            text = (
                "Needs a folder set (File ▸ Open folder set, with gt/), or an open sample with "
                "ground truth (swept alone)."
            )
        elif self.session.set_is_instances or (
            plan.single and self.session.sample is not None and self.session.sample.is_instances
        ):
            text = (
                "Instance mode: the sweep measures label maps (mIoU, boundary F). Open a folder set with gt/ to tune."
            )
        elif plan.single:
            reason = plan.skipped.get(0)
            text = (
                "No folder set: sweeps the open sample alone."
                if plan.items
                else f"The open sample cannot be swept: {reason.split(': ', 1)[-1]}."
                if reason
                else "The open sample has no ground truth: nothing to measure. Open a folder set with gt/."
            )
        else:
            n, total = len(plan.items), len(plan.names)
            text = f"Sweeps {n} of the set's {total} samples"
            no_gt = sum(1 for v in plan.skipped.values() if v is None)
            other = len(plan.skipped) - no_gt
            parts = ([f"{no_gt} without ground truth"] if no_gt else []) + (
                [f"{other} without offsets"] if other else []
            )
            text += f" ({', '.join(parts)})." if parts else "."
            tip = "\n".join(f"{plan.names[i]}: {v or 'no ground truth'}" for i, v in sorted(plan.skipped.items()))
        self.scope.setText(text)
        self.scope.setToolTip(tip)
        self.run_btn.setEnabled(
            plan is not None
            and bool(plan.items)
            and not isinstance(self._grid(), InputError)
            and not self.runner.busy(KIND)
        )

    def _grid(self):
        try:
            grid = parse_grid(*(self.fields[k].text() for k in ("thresholds", "scales", "directions")))
            try:
                n_classes = get_label_space(self.session.space_name).n_classes
            except ValueError:  # the space's own error is shown where it is chosen
                return grid
            check_grid_counts(grid, n_classes)
            return grid
        except ValueError as err:  # InputError from the fields' syntax, ValueError from the grid
            return err if isinstance(err, InputError) else InputError(None, str(err))

    def _validate(self, *_args) -> None:
        g = self._grid()
        if isinstance(g, InputError):
            self.size_label.setText(f"<span style='color:#f07070'>{err_text(g)}</span>")
            self.run_btn.setEnabled(False)
            return
        T, S, M = g.shape
        text = f"{T} thresholds × {S} scales" + (f" × {M} direction conf." if M > 1 else "")
        self.size_label.setText(f"<span style='color:#999'>{text} = {g.size} settings</span>")
        plan = self._current_plan()
        self.run_btn.setEnabled(plan is not None and bool(plan.items) and not self.runner.busy(KIND))

    # --- running ------------------------------------------------------------------------------
    def run(self) -> None:
        """Start a sweep of the open set (or sample) over the grid in the fields."""
        grid = self._grid()
        if isinstance(grid, InputError):
            self.size_label.setText(f"<span style='color:#f07070'>{err_text(grid)}</span>")
            return
        self._cancelled = False
        self._had_result = False
        if not self.session.run_sweep(grid):
            self._scope_text()
            return
        self._clear("sweeping…")

    def cancel(self) -> None:
        self._cancelled = True
        self.session.cancel_sweep()

    def _busy(self, kind: str, busy: bool, _label: str) -> None:
        if kind != KIND:
            return
        self.progress_bar.setVisible(busy)
        self.cancel_btn.setEnabled(busy)
        if busy:
            self.progress_bar.setRange(0, 0)
            self.run_btn.setEnabled(False)
        else:
            self._validate()
            if self._cancelled and self.result is None:
                self.summary.setText(
                    "<span style='color:#e0a000'>sweep cancelled: no result (a partial sweep is not shown)</span>"
                )

    def _progress(self, kind: str, done: int, total: int, text: str) -> None:
        if kind == KIND:
            self.progress_bar.setRange(0, max(total, 1))
            self.progress_bar.setValue(done)
            self.progress_bar.setFormat(f"{done}/{total} images")

    # --- showing ------------------------------------------------------------------------------
    def _on_sweep(self, sweep, *_old) -> None:
        if sweep is None:
            self._clear("the samples changed since the sweep: run it again" if self._had_result else "")
            self._had_result = False
            self._scope_text()
            return
        self._had_result = True
        self._show(sweep.result)

    _had_result = False

    def _clear(self, text: str = "") -> None:
        for m in td.METRIC_TITLES:
            for c in self.curves[m]:
                self.plots[m].getPlotItem().removeItem(c)
            self.curves[m] = []
            self.series[m] = []
            self.markers[m].setData([], [])
            self.stars[m].setData([], [])
            self.vlines[m].setVisible(False)
        self.summary.setText(f"<span style='color:#999'>{text}</span>" if text else "")
        self.key.setText("")
        self.hover.setText("")
        self.direction_row.setVisible(False)
        self.direction_box.setVisible(False)
        self.best_btn.setEnabled(False)
        self.worst_btn.setEnabled(False)

    def _show(self, res) -> None:
        grid = res.grid
        mdp = self.session.setting.min_direction_prob
        hits = [k for k, v in enumerate(grid.min_direction_probs) if abs(v - mdp) <= 1e-6]
        self._direction = hits[0] if hits else 0
        many = td.against_threshold(res) and len(grid.min_direction_probs) > 1
        self.direction_box.blockSignals(True)
        self.direction_box.clear()
        for v in grid.min_direction_probs:
            self.direction_box.addItem(f"direction ≥ {v:g}", v)
        self.direction_box.setCurrentIndex(self._direction)
        self.direction_box.blockSignals(False)
        self.direction_row.setVisible(many)
        self.direction_box.setVisible(many)
        self.best_btn.setEnabled(res.best("miou") is not None)
        self.worst_btn.setEnabled(not self.plan.single)
        self._draw()

    def _direction_chosen(self, index: int) -> None:
        if self.result is not None and index >= 0:
            self._direction = index
            self._draw()

    def _draw(self) -> None:
        res = self.result
        x_label = (
            "boundary threshold"
            if td.against_threshold(res)
            else "offset scale  (hard offsets: the threshold has no effect)"
        )
        for m in td.METRIC_TITLES:
            pi = self.plots[m].getPlotItem()
            for c in self.curves[m]:
                pi.removeItem(c)
            self.series[m] = td.series(res, m, direction_index=self._direction)
            self.curves[m] = []
            for n, s in enumerate(self.series[m]):
                colour = COLOURS[n % len(COLOURS)]
                item = pg.PlotDataItem(
                    s.x,
                    s.y,
                    pen=pg.mkPen(colour, width=2),
                    symbol="o",
                    symbolSize=7,
                    symbolBrush=pg.mkBrush(colour),
                    symbolPen=pg.mkPen(None),
                    name=s.label,
                    connect="finite",
                )  # named; the key above shows them
                pi.addItem(item)
                self.curves[m].append(item)
            pi.setLabel("bottom", x_label, color="#bbb")
            b = td.best_index(res, m)
            if b is not None and (b[2] == self._direction or not td.against_threshold(res)):
                x = res.grid.thresholds[b[0]] if td.against_threshold(res) else res.grid.scales[b[1]]
                self.stars[m].setData([x], [td.gains(res, m)[b]])
            else:
                self.stars[m].setData([], [])
            self._fit(m)
        self._key_text()
        self._mark_current()

    def _key_text(self) -> None:
        """The curves' key (one entry per curve, the plots share it), plus the marks."""
        series = next(iter(self.series.values()), [])
        parts = []
        if len(series) > 1:  # one curve (hard offsets): the axis says what it is
            parts = [
                f"<span style='color:{COLOURS[n % len(COLOURS)]}'>━●</span>&nbsp;{s.label}"
                for n, s in enumerate(series)
            ]
        parts += ["<span style='color:#ffd54a'>★</span>&nbsp;best", "<span style='color:#fff'>○</span>&nbsp;current"]
        self.key.setText(" &nbsp;&nbsp; ".join(parts))

    def _fit(self, metric: str) -> None:
        """Both axes to the data (and the zero line), with room above for the star."""
        pi = self.plots[metric].getPlotItem()
        xs = np.concatenate([s.x for s in self.series[metric]])
        ys = np.concatenate([s.y for s in self.series[metric]] + [np.zeros(1)])
        ys = ys[np.isfinite(ys)]
        lo, hi = float(ys.min()), float(ys.max())
        span = max(hi - lo, 1e-3)
        pi.setYRange(lo - 0.08 * span, hi + 0.12 * span, padding=0)
        x0, x1 = float(xs.min()), float(xs.max())
        pad = 0.05 * max(x1 - x0, 0.1)
        pi.setXRange(x0 - pad, x1 + pad, padding=0)

    def current_index(self):
        """Grid index of the session's setting in the shown result, or None."""
        if self.result is None:
            return None
        s = self.session.setting
        return td.index_of(self.result, threshold=s.threshold, scale=s.scale, min_direction_prob=s.min_direction_prob)

    def _mark_current(self, *_args) -> None:
        res = self.result
        if res is None:
            return
        s = self.session.setting
        idx = self.current_index()
        x = s.threshold if td.against_threshold(res) else s.scale
        for m in td.METRIC_TITLES:
            self.vlines[m].setPos(x)
            self.vlines[m].setVisible(True)
            if idx is not None and (idx[2] == self._direction or not td.against_threshold(res)):
                px = res.grid.thresholds[idx[0]] if td.against_threshold(res) else res.grid.scales[idx[1]]
                self.markers[m].setData([px], [td.gains(res, m)[idx]])
            else:
                self.markers[m].setData([], [])
        self._summary(idx)

    def _summary(self, idx) -> None:
        res = self.result
        b = res.base
        lines = [
            f"<b>{res.n_images} image{'s' if res.n_images != 1 else ''}</b>, unrefined: "
            f"mIoU {100 * b['miou']:.2f}, boundary F {100 * b['boundary_f']:.2f}"
        ]
        hard = int(np.count_nonzero(res.hard))
        if not td.against_threshold(res):
            lines.append(
                "<span style='color:#e0a000'>hard offsets (.mat): the threshold has no "
                "effect, so the curves run over the scale</span>"
            )
        elif hard:
            lines.append(
                f"<span style='color:#e0a000'>{hard} of {res.n_images} offset files are "
                "hard: the threshold does not change those images</span>"
            )
        best = td.best_index(res, "miou")
        if best is not None:
            lines.append(
                f"best mIoU: {td.describe(res, best)} → "
                f"{_signed(td.gains(res, 'miou')[best])} (boundary F "
                f"{_signed(td.gains(res, 'boundary_f')[best])})"
            )
        s = self.session.setting
        if idx is None:
            now = f"threshold {s.threshold:g}, scale {s.scale:g}" if td.against_threshold(res) else f"scale {s.scale:g}"
            lines.append(f"current setting ({now}) is not on the sweep grid: click a point")
        else:
            t = td.tally(res, idx, "miou", plan=self.plan)
            text = (
                f"<b>current</b> ({td.describe(res, idx)}): mIoU "
                f"{_signed(td.gains(res, 'miou')[idx])}, boundary F "
                f"{_signed(td.gains(res, 'boundary_f')[idx])}"
            )
            if res.n_images > 1:
                text += f"; {t['gain']} images gain, {t['loss']} lose"
                if t["worst"] is not None and t["worst"][1] < 0:
                    text += f" (worst {t['worst'][0]}: {_signed(t['worst'][1])})"
            lines.append(text)
        if res.errors:
            lines.append(f"<span style='color:#f07070'>{len(res.errors)} sample(s) skipped: {res.errors[0]}</span>")
            self.summary.setToolTip("\n".join(res.errors))
        else:
            self.summary.setToolTip("")
        self.summary.setText("<br>".join(lines))

    # --- picking ------------------------------------------------------------------------------
    def _nearest(self, metric: str, scene_pos) -> tuple | None:
        """Grid index of the point nearest ``scene_pos`` (within ``PICK_PX``), or None."""
        vb = self.plots[metric].getPlotItem().getViewBox()
        best, best_d = None, float(PICK_PX)
        for s in self.series[metric]:
            for x, y, idx in zip(s.x, s.y, s.index, strict=True):
                if not np.isfinite(y):
                    continue
                p = vb.mapViewToScene(QPointF(float(x), float(y)))
                d = float(np.hypot(p.x() - scene_pos.x(), p.y() - scene_pos.y()))
                if d <= best_d:
                    best, best_d = idx, d
        return best

    def _clicked(self, metric: str, ev) -> None:
        if self.result is None or ev.button() != Qt.MouseButton.LeftButton:
            return
        idx = self._nearest(metric, ev.scenePos())
        if idx is not None:
            self.apply(idx)

    def _hovered(self, metric: str, pos) -> None:
        if self.result is None:
            return
        idx = self._nearest(metric, pos)
        if idx is None:
            self.hover.setText("")
            return
        res = self.result
        self.hover.setText(
            f"{td.describe(res, idx)}: mIoU {_signed(td.gains(res, 'miou')[idx])}, "
            f"boundary F {_signed(td.gains(res, 'boundary_f')[idx])}"
        )

    def apply(self, idx) -> None:
        """Apply the setting of grid index ``idx`` (through the session: the view, the set's
        figures and the samples list follow)."""
        res = self.result
        if res is None:
            return
        self.session.set_setting(**td.setting_at(res, tuple(idx)))
        self._mark_current()

    def apply_best(self, metric: str = "miou") -> None:
        if self.result is not None:
            idx = td.best_index(self.result, metric)
            if idx is not None:
                self.apply(idx)

    def show_worst_first(self) -> None:
        """The samples list sorted with the biggest loss at the current setting first."""
        self.session.set_sort("loss")


def _signed(points: float) -> str:
    """Points (not a fraction) as the window shows gains (0.00 rather than −0.00)."""
    return "n/a" if not np.isfinite(points) else signed(points / 100)


def err_text(err: InputError) -> str:
    return str(err)  # the problem alone when no file is named; one line either way


def create(session, actions) -> QWidget:
    return TunePanel(session, actions)
