"""The main window: canvas in the middle, panels in docks, menus, shortcuts, drag-and-drop,
recent files, exports. Bad input shows the engine's one-line message in a dialog and the
window keeps the sample it had."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTabBar,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..errors import InputError
from ..io.atomic import atomic_path
from ..io.samples import INSTANCE_PARTS, PART_NAMES, PARTS, SamplePaths, demo_paths
from . import export, opening
from .canvas import Canvas
from .panels import PANELS
from .state import LAYERS, ViewerState
from .theme import apply_dark

ORG = "segfix-gui"
APP = "segfix-gui"
MAX_RECENT = 10
BUSY_DELAY_MS = 250
LAYOUT_VERSION = 3  # bump when the default arrangement of panels changes
AREAS = {
    "left": Qt.DockWidgetArea.LeftDockWidgetArea,
    "right": Qt.DockWidgetArea.RightDockWidgetArea,
    "bottom": Qt.DockWidgetArea.BottomDockWidgetArea,
}
FILTERS = {
    "image": "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp);;All files (*)",
    "pred": "Label maps (*.png);;All files (*)",
    "gt": "Label maps (*.png);;All files (*)",
    "offsets": "Offset fields (*.npz *.mat);;All files (*)",
    "instances": "Cityscapes instance predictions (*_pred.txt *.txt);;All files (*)",
    "gt_instances": "Instance ids (*instanceIds*.png *.png);;All files (*)",
}


def configure_pyqtgraph() -> None:
    """Row-major images (``(H, W)`` arrays as they are) — before any item is made."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


def default_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG, APP)


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    keys: tuple[str, ...]
    menu: str


class MainWindow(QMainWindow):
    """The inspector window. ``state`` holds what is shown; panels are built from ``PANELS``."""

    machine_info_ready = Signal(str, bool)
    loaded = Signal()

    def __init__(self, *, settings: QSettings | None = None, parent=None):
        configure_pyqtgraph()
        apply_dark()
        super().__init__(parent)
        self.settings = settings if settings is not None else default_settings()
        self.state = ViewerState(self)
        self.runner = self.state.runner
        self.setWindowTitle("segfix-gui")
        self.resize(1600, 1000)
        self.setAcceptDrops(True)
        self._restored = False
        self.actions_by_name: dict[str, QAction] = {}
        self.action_specs: list[ActionSpec] = []
        self.next_prev_order: Callable[[], list[int]] | None = None
        self.set_source: opening.SetSource | None = None  # where the open set came from
        self.canvas = Canvas(self.state)
        self.setCentralWidget(self.canvas)
        self.menus = {
            name: self.menuBar().addMenu(title)
            for name, title in (
                ("file", "&File"),
                ("refine", "&Refine"),
                ("view", "&View"),
                ("samples", "&Samples"),
                ("help", "&Help"),
            )
        }
        self._build_actions()
        self.panels: dict[str, object] = {}
        self.docks: dict[str, QDockWidget] = {}
        self._tab_check = QTimer(self)  # see hide_stale_tab_bars
        self._tab_check.setSingleShot(True)
        self._tab_check.setInterval(0)
        self._tab_check.timeout.connect(self.hide_stale_tab_bars)
        self._build_docks()
        self._build_status()
        self.state.failed.connect(self.show_error)
        self.state.notice.connect(lambda text: self.status_text.setText(text))
        self.state.sampleChanged.connect(self._on_sample)
        self.state.sampleChanged.connect(self._sync_predict)
        self.state.sampleChanged.connect(self._sync_exports)
        for sig in (
            self.state.sampleChanged,
            self.state.sampleInfoChanged,
            self.state.setChanged,
            self.state.indexChanged,
        ):
            sig.connect(lambda *_: self._sync_upper())
        self._sync_predict()
        self._sync_exports()
        self._start_probe()

    def closeEvent(self, ev) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.sync()
        self.runner.shutdown()
        super().closeEvent(ev)

    def event(self, ev) -> bool:
        if ev.type() in (QEvent.Type.Show, QEvent.Type.Resize, QEvent.Type.LayoutRequest):
            self._tab_check.start()
        return super().event(ev)

    def hide_stale_tab_bars(self) -> list[QTabBar]:
        """Hide dock tab bars that no dock uses (returns them).

        Qt (seen with PySide6 6.11) leaves a second, stale tab bar visible when two tab groups
        share a dock area: after a resize it is drawn where the group used to be (the stray
        "Legend | Layers" bar). A tab bar in use sits right on top of the front dock of its
        group (tabs are at the north), as wide as it; any other visible one is stale. Qt shows
        a bar again if it reuses it.
        """
        docks = [d for d in self.docks.values() if d.isVisible() and not d.isFloating()]
        stale = []
        for bar in self.findChildren(QTabBar):
            if bar.parent() is not self or bar.isHidden():
                continue
            g = bar.geometry()
            if not any(g.x() == d.x() and g.width() == d.width() and abs(g.bottom() + 1 - d.y()) <= 1 for d in docks):
                bar.hide()
                stale.append(bar)
        return stale

    def restore_layout(self) -> bool:
        """The panels' arrangement and the window's size as the user left them."""
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        ok = False
        if geometry is not None:
            ok = self.restoreGeometry(geometry)
        if state is not None:
            ok = self.restoreState(state, LAYOUT_VERSION) and ok
        self._restored = ok
        return ok

    # --- construction -------------------------------------------------------------------------
    def add_action(
        self, name: str, text: str, slot, *, keys=(), menu: str | None = None, checkable: bool = False, tip: str = ""
    ) -> QAction:
        """Create an action (listed in the shortcuts help); panels may add their own."""
        act = QAction(text, self)
        if keys:
            act.setShortcuts([QKeySequence(k) for k in keys])
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.setCheckable(checkable)
        if tip:
            act.setToolTip(tip)
        act.triggered.connect(slot)
        self.addAction(act)
        if menu is not None:
            if menu not in self.menus:
                self.menus[menu] = self.menuBar().addMenu(menu.title())
            self.menus[menu].addAction(act)
        self.actions_by_name[name] = act
        self.action_specs.append(ActionSpec(name, text.replace("&", ""), tuple(keys), menu or ""))
        return act

    def _build_actions(self) -> None:
        st = self.state
        a = self.add_action
        a("open_sample", "&Open sample…", self.open_sample_dialog, keys=("Ctrl+O",), menu="file")
        for part, key in (("image", "Ctrl+1"), ("pred", "Ctrl+2"), ("offsets", "Ctrl+3"), ("gt", "Ctrl+4")):
            a(
                f"open_{part}",
                f"Open {PART_NAMES[part]}…",
                lambda _=False, p=part: self.open_part_dialog(p),
                keys=(key,),
                menu="file",
            )
        self.menus["file"].addSeparator()
        a(
            "open_instances",
            "Open &instance sample…",
            self.open_instances_dialog,
            keys=("Ctrl+I",),
            menu="file",
            tip="Cityscapes instance predictions (_pred.txt) with offsets, an optional image and instance ground truth",
        )
        for part, key in (("instances", "Ctrl+5"), ("gt_instances", "Ctrl+6")):
            a(
                f"open_{part}",
                f"Open {PART_NAMES[part]}…",
                lambda _=False, p=part: self.open_part_dialog(p),
                keys=(key,),
                menu="file",
            )
        self.menus["file"].addSeparator()
        a("open_folder", "Open folder &set…", self.open_folder_dialog, keys=("Ctrl+Shift+O",), menu="file")
        a("open_demo", "Open &demo", self.open_demo, keys=("Ctrl+D",), menu="file")
        self.recent_menu = self.menus["file"].addMenu("Open &recent")
        self._rebuild_recent()
        self.menus["file"].addSeparator()
        a(
            "export_refined",
            "Export refined labels (PNG)…",
            lambda: self.export("refined"),
            keys=("Ctrl+S",),
            menu="file",
        )
        a(
            "export_offsets",
            "Export offsets (.npz / .mat)…",
            lambda: self.export("offsets"),
            keys=("Ctrl+Shift+S",),
            menu="file",
        )
        a("export_view", "Export current view (PNG)…", lambda: self.export("view"), keys=("Ctrl+Alt+S",), menu="file")
        a(
            "export_figure",
            "Export &figure (before | after | diff, legend, setting)…",
            lambda: self.export("figure"),
            keys=("Ctrl+E",),
            menu="file",
        )
        a("export_csv", "Export IoU table (CSV)…", lambda: self.export("csv"), keys=("Ctrl+Shift+C",), menu="file")
        self.menus["file"].addSeparator()
        a("quit", "&Quit", self.close, keys=("Ctrl+Q",), menu="file")

        a("refine", "&Refine now", st.request_refine, keys=("R",), menu="refine")
        self.auto_action = a(
            "auto", "&Auto refine on every change", st.set_auto, keys=("A",), menu="refine", checkable=True
        )
        self.auto_action.setChecked(st.auto)
        st.settingChanged.connect(lambda: self.auto_action.setChecked(st.auto))
        a("cancel", "Cancel running work", lambda: st.runner.cancel(), keys=("Escape",), menu="refine")
        self.predict_action = a(
            "predict_offsets",
            "&Predict offsets (offset network)",
            self.predict_offsets,
            keys=("Ctrl+Shift+P",),
            menu="refine",
            tip="Predict the offsets from the image with the bundled offset network",
        )
        self.predict_ckpt_action = a(
            "predict_offsets_checkpoint",
            "Predict offsets with &checkpoint…",
            self.predict_with_checkpoint,
            menu="refine",
            tip="Predict the offsets with one of openseg's SegFix checkpoints (.pth)",
        )
        self.upper_action = a(
            "upper_bound",
            "Offsets: the sample's / the &upper bound (from the ground truth)",
            lambda: st.toggle_upper_bound(),
            keys=("U",),
            menu="refine",
            tip="Switch between the sample's offsets and the upper bound: offsets computed from "
            "the ground truth (as segfix gt-offsets), what SegFix gives with perfect offsets",
        )
        self.upper_action.setCheckable(True)
        self.menus["refine"].setToolTipsVisible(True)
        a(
            "tune",
            "&Tune: sweep thresholds × scales…",
            lambda: self.show_panel("tune"),
            keys=("Ctrl+T",),
            menu="refine",
            tip="Show the Tune panel (sweep the open set and pick a setting from the curves)",
        )
        self.menus["refine"].addSeparator()
        a("thr_up", "Threshold +0.05", lambda: self._nudge("threshold", 0.05), keys=("]",), menu="refine")
        a("thr_down", "Threshold −0.05", lambda: self._nudge("threshold", -0.05), keys=("[",), menu="refine")
        a(
            "dir_up",
            "Direction confidence +0.05",
            lambda: self._nudge("min_direction_prob", 0.05),
            keys=("'",),
            menu="refine",
        )
        a(
            "dir_down",
            "Direction confidence −0.05",
            lambda: self._nudge("min_direction_prob", -0.05),
            keys=(";",),
            menu="refine",
        )
        a("scale_up", "Scale +0.5", lambda: self._nudge("scale", 0.5), keys=("S",), menu="refine")
        a("scale_down", "Scale −0.5", lambda: self._nudge("scale", -0.5), keys=("Shift+S",), menu="refine")

        a(
            "mode",
            "Before | after  /  single view",
            lambda: st.set_view(mode="single" if st.view_mode == "side" else "side"),
            keys=("V",),
            menu="view",
        )
        a("toggle", "Single view: toggle before / after", st.toggle_before_after, keys=("T",), menu="view")
        a(
            "after_gt",
            "After shows ground truth / refined",
            lambda: (
                st.set_view(after_source="refined" if st.after_source == "gt" else "gt")
                if st.sample is not None and st.sample.gt is not None
                else None
            ),
            keys=("G",),
            menu="view",
        )
        a("fit", "&Fit image", self.canvas.fit, keys=("F", "Home"), menu="view")
        a("zoom_in", "Zoom in", lambda: self._zoom(0.8), keys=("Ctrl+=", "Ctrl++"), menu="view")
        a("zoom_out", "Zoom out", lambda: self._zoom(1.25), keys=("Ctrl+-",), menu="view")
        a("show_all", "Show all classes", st.show_all_classes, keys=("Ctrl+A",), menu="view")
        self.menus["view"].addSeparator()
        for i, name in enumerate(LAYERS):
            a(
                f"layer_{name}",
                f"Toggle layer: {name}",
                lambda _=False, n=name: st.toggle_layer(n),
                keys=(str(i + 1),),
                menu="view",
            )
        a(
            "views_only",
            "Views only: hide / show all panels",
            lambda: self.views_only(),
            keys=("F11", "Ctrl+Shift+F"),
            menu="view",
            tip="The views take the whole window; again brings the panels back as they were",
        )
        self.panels_menu = self.menus["view"].addMenu("Panels")

        a("next", "&Next sample", lambda: self.step(1), keys=("N", "PgDown"), menu="samples")
        a("prev", "&Previous sample", lambda: self.step(-1), keys=("P", "PgUp"), menu="samples")
        a("eval_set", "Evaluate the set at the current setting", st.evaluate_set, menu="samples")

        a("help", "&Keyboard shortcuts", self.show_help, keys=("F1", "?"), menu="help")
        a("about", "About", self.show_about, menu="help")

    def _build_docks(self) -> None:
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        # tabs of docks that share an area sit on top, as headers of what they switch between
        self.setTabPosition(Qt.DockWidgetArea.AllDockWidgetAreas, QTabWidget.TabPosition.North)
        groups: dict[str, QDockWidget] = {}
        for name in PANELS:
            modname = f"{__package__}.panels.{name}"
            if importlib.util.find_spec(modname) is None:
                continue
            mod = importlib.import_module(modname)
            widget = mod.create(self)
            dock = QDockWidget(mod.TITLE, self)
            dock.setObjectName(f"dock_{name}")
            if getattr(mod, "SCROLL", False):  # a form that may be taller than its dock
                scroll = QScrollArea()
                scroll.setWidget(widget)
                scroll.setWidgetResizable(True)
                scroll.setFrameShape(QFrame.Shape.NoFrame)
                scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
                dock.setWidget(scroll)
            else:
                dock.setWidget(widget)
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                | QDockWidget.DockWidgetFeature.DockWidgetClosable
            )
            group = getattr(mod, "GROUP", None)
            if group:  # its tab is its header: no second title under it while docked
                _tab_headed(dock)
            first = groups.get(group) if group else None
            if first is not None:
                self.tabifyDockWidget(first, dock)
            else:
                self.addDockWidget(AREAS.get(getattr(mod, "AREA", "right"), AREAS["right"]), dock)
                if group:
                    groups[group] = dock
            self.panels[name] = widget
            self.docks[name] = dock
            self.panels_menu.addAction(dock.toggleViewAction())
            if getattr(mod, "START_HIDDEN", False):
                dock.hide()
        for first in groups.values():
            first.raise_()
        # the side columns run the full height (more sample rows); Tune sits under the views only
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.TopLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self._sized = False  # the default dock sizes are applied at the first show
        self._collapsed = None  # the dock arrangement "views only" hid (saveState)
        self.apply_default_sizes()

    # the default arrangement, as fractions of the window: the views keep most of it
    SIDE_FRACTION = {"left": (0.16, 300, 330), "right": (0.19, 290, 360)}  # share, min, max px
    TUNE_FRACTION = (0.27, 200, 300)

    def dock_sizes(self) -> dict[str, int]:
        """Default widths of the side columns and height of Tune for the window's size."""
        w, h = max(self.width(), 800), max(self.height(), 500)

        def clamp(share, lo, hi, total):
            return int(min(max(share * total, lo), hi))

        return {
            "left": clamp(*self.SIDE_FRACTION["left"], w),
            "right": clamp(*self.SIDE_FRACTION["right"], w),
            "tune": clamp(*self.TUNE_FRACTION, h),
        }

    def apply_default_sizes(self) -> None:
        """Size the docks to the default arrangement for the window's current size."""
        d, size = self.docks, self.dock_sizes()
        left = [d[n] for n in ("controls", "inspector") if n in d and not d[n].isHidden()]
        right = [d[n] for n in ("metrics", "legend") if n in d and not d[n].isHidden()]
        if left:
            self.resizeDocks(left[:1], [size["left"]], Qt.Orientation.Horizontal)
            if len(left) > 1:  # the refinement controls at their height, the rest to the list
                inner = left[0].widget()
                inner = inner.widget() if isinstance(inner, QScrollArea) else inner
                width = size["left"] - 16  # its rows wrap at the dock's width: ask for that height
                lay = inner.layout()
                need = (
                    lay.totalHeightForWidth(width)
                    if lay is not None and lay.hasHeightForWidth()
                    else inner.sizeHint().height()
                )
                top = min(max(need, inner.sizeHint().height()) + 64, int(self.height() * 0.55))
                self.resizeDocks(left, [top, max(self.height() - top, 200)], Qt.Orientation.Vertical)
        if right:
            self.resizeDocks(right[:1], [size["right"]], Qt.Orientation.Horizontal)
            self.resizeDocks(
                right, [int(self.height() * 0.62), int(self.height() * 0.3)][: len(right)], Qt.Orientation.Vertical
            )
        if "tune" in d and not d["tune"].isHidden() and not d["tune"].isFloating():
            self.resizeDocks([d["tune"]], [size["tune"]], Qt.Orientation.Vertical)

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if not self._sized:  # after a restored layout the user's sizes stand
            self._sized = True
            if not self._restored:
                QTimer.singleShot(0, self.apply_default_sizes)

    def views_only(self, on: bool | None = None) -> None:
        """Hide every panel so the views take the whole window (``on`` None: toggle); the
        panels come back as they were."""
        shown = [dk for dk in self.docks.values() if dk.isVisible()]
        if on is None:
            on = bool(shown)
        if on and shown:
            self._collapsed = self.saveState(LAYOUT_VERSION)
            for dk in shown:
                dk.hide()
            self.status_text.setText("panels hidden: F11 (or Ctrl+Shift+F) brings them back")
        elif not on and self._collapsed is not None:
            self.restoreState(self._collapsed, LAYOUT_VERSION)
            self._collapsed = None
            self.status_text.setText("")

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.status_text = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(lambda: self.runner.cancel())
        sb.addWidget(self.status_text, 1)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)
        self._busy: dict[str, str] = {}
        self._busy_shown = False
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(BUSY_DELAY_MS)
        self._busy_timer.timeout.connect(self._show_busy)
        self.runner.busyChanged.connect(self._on_busy)
        self.runner.progress.connect(self._on_progress)

    def _on_busy(self, kind: str, busy: bool, label: str) -> None:
        """Work in progress shows in the status bar only once it has run for BUSY_DELAY_MS:
        quick refinements (a slider drag) never relayout or repaint the window."""
        if kind == "probe":
            return
        if busy:
            self._busy[kind] = label
            if not self._busy_shown:
                self._busy_timer.start()
        else:
            self._busy.pop(kind, None)
        if not self._busy:
            self._busy_timer.stop()
            if self._busy_shown:
                self._busy_shown = False
                self.progress.setVisible(False)
                self.cancel_button.setVisible(False)
                self.status_text.setText("ready")
        elif self._busy_shown:
            self.status_text.setText(", ".join(self._busy.values()))

    def _show_busy(self) -> None:
        if self._busy:
            self._busy_shown = True
            self.progress.setRange(0, 0)
            self.progress.setVisible(True)
            self.cancel_button.setVisible(True)
            self.status_text.setText(", ".join(self._busy.values()))

    def _on_progress(self, kind: str, done: int, total: int, text: str) -> None:
        if kind == "probe" or not self._busy_shown:
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{text} %p%")

    def _start_probe(self) -> None:
        def probe(_job):
            import torch

            if torch.cuda.is_available():
                return f"this machine: CUDA, {torch.cuda.get_device_name(0)}", True
            return f"this machine: CPU only ({os.cpu_count()} cores, no CUDA GPU)", False

        def warm(_job):
            """The CPU kernel (numba) loads, or compiles, at its first call: here, in the
            background after the probe, rather than on a refinement."""
            import numpy as np

            from ..core.refine import refine_labels

            refine_labels(np.zeros((2, 2), np.uint8), np.zeros((2, 2, 2), np.int16), device="cpu")

        def probed(info):
            self.machine_info_ready.emit(*info)
            self.runner.submit("probe", warm, needs_torch=False)

        self.runner.submit("probe", probe, on_done=probed)

    # --- opening ------------------------------------------------------------------------------
    def _on_sample(self) -> None:
        s = self.state.sample
        self.setWindowTitle(f"{s.name} — segfix-gui")
        front = "instances" if s.is_instances else "metrics"
        if front in self.docks and not self.docks[front].isHidden():
            self.docks[front].raise_()
        self.loaded.emit()

    def _sync_predict(self) -> None:
        ok, why = self.state.can_predict_offsets()
        self.predict_action.setEnabled(ok)
        self.predict_action.setToolTip(why)
        self.predict_ckpt_action.setEnabled(ok)

    def _sync_upper(self) -> None:
        ok, why = self.state.can_show_upper_bound()
        self.upper_action.setEnabled(ok)
        self.upper_action.setChecked(self.state.upper_bound)
        self.upper_action.setToolTip(why)

    EXPORT_TEXT = {False: "Export refined labels (PNG)…", True: "Export refined instances (_pred.txt + masks)…"}

    def _sync_exports(self) -> None:
        """The File menu's exports for what is open: Ctrl+S writes refined label maps, or in
        instance mode the refined instances (as ``segfix refine-instances``); the IoU table and
        the figure are for label maps and are disabled in instance mode; nothing without a
        sample."""
        s = self.state.sample
        inst = s is not None and s.is_instances
        acts = self.actions_by_name
        acts["export_refined"].setText(self.EXPORT_TEXT[inst])
        acts["export_refined"].setToolTip(
            "The refined masks as a Cityscapes _pred.txt with one PNG per instance (unchanged "
            "ones copied), as segfix refine-instances writes them"
            if inst
            else "The refined label map as a PNG"
        )
        for name in ("export_refined", "export_offsets", "export_view"):
            acts[name].setEnabled(s is not None)
        for name in ("export_figure", "export_csv"):
            acts[name].setEnabled(s is not None and not inst)
            acts[name].setToolTip("Label maps only (not in instance mode)" if inst else "")
        self.menus["file"].setToolTipsVisible(True)

    def predict_offsets(self) -> None:
        """Refine ▸ Predict offsets: the bundled network, in the background (progress and
        cancel in the status bar); the field is installed and refined at its recommended
        setting. Missing or broken weights give a dialog with the one-line error."""
        ok, why = self.state.can_predict_offsets()
        if not ok:
            self.status_text.setText(why)
            return
        self.state.predict_offsets()

    def predict_with_checkpoint(self) -> None:
        """Refine ▸ Predict offsets with checkpoint…: asks for an openseg SegFix checkpoint
        and predicts in the background like Predict offsets."""
        ok, why = self.state.can_predict_offsets()
        if not ok:
            self.status_text.setText(why)
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "openseg SegFix checkpoint", self._last_dir(), "PyTorch checkpoints (*.pth *.pt);;All files (*)"
        )
        if path:
            self.state.predict_offsets(checkpoint=path)

    def show_panel(self, name: str) -> None:
        """Show a panel's dock (if closed or hidden) and bring it to the front."""
        dock = self.docks.get(name)
        if dock is not None:
            if self._collapsed is not None:  # out of "views only", then this panel
                self.views_only(False)
            first = dock.isHidden()
            dock.show()
            dock.raise_()
            if first and name == "tune" and not dock.isFloating():
                # opened at its default height, a share of the window, never most of it
                self.resizeDocks([dock], [self.dock_sizes()["tune"]], Qt.Orientation.Vertical)

    def open_paths(
        self,
        paths: SamplePaths,
        space: str | None = None,
        *,
        remember: bool = True,
        keep_setting: bool = False,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Open one sample (in the background); on success it is added to the recent list."""
        waiting = opening.waiting_text(paths)
        if waiting:
            self.state.pending = paths
            self.status_text.setText(waiting)
            return

        def done(_loaded):
            if remember:
                self.remember({"kind": "sample", "paths": json.loads(paths.to_json()), "space": self.state.space_name})
            if then is not None:
                then()

        self.state.open(paths, space, on_loaded=done, keep_setting=keep_setting)

    def open_parts(self, parts: dict[str, str], space: str | None = None) -> None:
        """Replace some parts of the current (or pending) sample and open it.

        Instance files (``instances``, ``gt_instances``) turn it into an instance sample (the
        image and offsets stay); a label map (``pred``, ``gt``) turns it back.
        """
        current = self.state.sample.paths if self.state.sample is not None else self.state.pending
        paths, keep = opening.merge_parts(current, parts)
        self.open_paths(paths, space, keep_setting=keep)

    def open_demo(self) -> None:
        try:
            paths, space = demo_paths()
        except InputError as err:
            self.show_error(str(err))
            return
        self.open_paths(paths, space, remember=False, then=lambda: self.state.prepare_upper_bound())

    def open_set(
        self,
        *,
        folder: str | None = None,
        image=None,
        pred=None,
        offsets=None,
        gt=None,
        space: str | None = None,
        remember: bool = True,
    ) -> bool:
        """Open a set of samples from a folder (sub-folders by role) or from role folders."""
        source = opening.SetSource(folder, image, pred, offsets, gt)
        try:
            samples = source.samples()
        except InputError as err:
            self.show_error(str(err))
            return False
        self.set_source = source
        if remember:
            self.remember(source.resolved().recent_entry(space or self.state.space_name))
        self.state.open_set(samples, space)
        if "samples" in self.docks:
            self.docks["samples"].raise_()
        return True

    def open_sample_dialog(self) -> None:
        dlg = OpenSampleDialog(self, self.state.sample.paths if self.state.sample else self.state.pending)
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.open_paths(dlg.paths())

    def open_instances_dialog(self) -> None:
        current = self.state.sample.paths if self.state.sample else self.state.pending
        dlg = OpenSampleDialog(self, current, parts=INSTANCE_PARTS, title="Open instance sample")
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.open_paths(dlg.paths())

    def open_part_dialog(self, part: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Open {PART_NAMES[part]}", self._last_dir(), FILTERS[part])
        if path:
            self._set_last_dir(path)
            self.open_parts({part: path})

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self,
            "Open a set folder (with preds/, offsets/, and optional images/, gt/; preds/ may "
            "hold instance predictions, *_pred.txt)",
            self._near_open() or self._last_dir(),
        )
        if path:
            self._set_last_dir(path + "/")
            self.open_set(folder=path)

    def change_label_space(self, name: str) -> None:
        """Reload the sample (and re-evaluate the set) in another label space."""
        st = self.state
        if st.sample is None:
            st.space_name = name
            return

        def loaded(_loaded):
            if st.set_samples:
                st.evaluate_set()

        st.open(st.sample.paths, name, on_loaded=loaded, keep_setting=True)

    def step(self, delta: int) -> None:
        order = self.next_prev_order() if self.next_prev_order else None
        self.state.step(delta, order)

    # --- drag and drop ------------------------------------------------------------------------
    def dragEnterEvent(self, ev) -> None:
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        self.open_dropped(paths)
        ev.acceptProposedAction()

    def open_dropped(self, paths: list[str]) -> None:
        """Files dropped on the window: a folder opens as a set; files replace the parts of
        the sample they are (see ``gui.opening.dropped``)."""
        what, arg = opening.dropped(paths)
        if what == "set":
            self.open_set(folder=arg.folder)
        elif what == "parts":
            self.open_parts(arg)
        else:
            self.show_error(arg)

    # --- recent files -------------------------------------------------------------------------
    def recent(self) -> list[dict]:
        raw = self.settings.value("recent", "[]")
        try:
            items = json.loads(raw) if isinstance(raw, str) else []
        except json.JSONDecodeError:
            items = []
        return [i for i in items if isinstance(i, dict)]

    def remember(self, entry: dict) -> None:
        items = [i for i in self.recent() if i != entry]
        items.insert(0, entry)
        self.settings.setValue("recent", json.dumps(items[:MAX_RECENT]))
        self.settings.sync()
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        items = self.recent()
        for entry in items:
            if entry.get("kind") == "set":
                text = "set: " + str(entry.get("folder") or entry.get("pred"))
            else:
                p = entry.get("paths", {})
                text = str(p.get("pred") or p.get("instances") or p.get("image"))
            act = self.recent_menu.addAction(text)
            act.triggered.connect(lambda _=False, e=entry: self.open_recent(e))
        self.recent_menu.setEnabled(bool(items))

    def open_recent(self, entry: dict) -> None:
        space = entry.get("space")
        if entry.get("kind") == "set":
            self.open_set(
                folder=entry.get("folder"),
                image=entry.get("image"),
                pred=entry.get("pred"),
                offsets=entry.get("offsets"),
                gt=entry.get("gt"),
                space=space,
            )
        else:
            self.open_paths(SamplePaths.from_dict(entry.get("paths", {})), space)

    def _last_dir(self) -> str:
        """Where file dialogs start: the folder last used, else near what is open, else home."""
        saved = self.settings.value("last_dir")
        if saved and Path(str(saved)).is_dir():
            return str(saved)
        return self._near_open() or str(Path.home())

    def _near_open(self) -> str | None:
        """The folder that holds the open set (its set folder's parent, so the set and its
        neighbours show), else the folder of the open sample's files; None when nothing is open."""
        src = self.set_source
        if self.state.set_samples and src is not None:
            top = src.folder or next((f for f in (src.pred, src.offsets, src.image, src.gt) if f), None)
            if top:
                return str(Path(top).resolve().parent)
        s = self.state.sample
        if s is not None:
            p = s.paths
            first = next((f for f in (p.pred, p.instances, p.image, p.offsets) if f), None)
            if first:
                return str(Path(first).resolve().parent)
        return None

    def _set_last_dir(self, path: str) -> None:
        self.settings.setValue("last_dir", str(Path(path).parent))

    # --- actions ------------------------------------------------------------------------------
    def _nudge(self, key: str, delta: float) -> None:
        st = self.state
        v = getattr(st.setting, key) + delta
        v = max(0.0, v) if key == "scale" else min(max(v, 0.0), 1.0)
        st.set_setting(**{key: round(v, 6)})

    def _zoom(self, factor: float) -> None:
        self.canvas.left.vb.scaleBy((factor, factor))

    def show_error(self, message: str) -> None:
        self.status_text.setText(message)
        QMessageBox.warning(self, "segfix-gui", message)

    def show_help(self) -> None:
        HelpDialog(self).exec()

    def show_about(self) -> None:
        from .. import __version__

        QMessageBox.about(
            self, "About segfix-gui", f"segfix-gui {__version__}: see, tune and apply SegFix boundary refinement."
        )

    # --- export -------------------------------------------------------------------------------
    EXPORTS = {
        "refined": ("Export refined labels", "PNG (*.png)", "_refined.png"),
        "instances": (
            "Export refined instances (a _pred.txt; its masks are written beside it)",
            "Cityscapes instance predictions (*_pred.txt)",
            "_pred.txt",
        ),
        "offsets": ("Export offsets", "SegFix offsets (*.npz);;openseg offsets (*.mat)", "_offsets.npz"),
        "view": ("Export current view", "PNG (*.png)", "_view.png"),
        "figure": ("Export figure", "PNG (*.png)", "_figure.png"),
        "csv": ("Export IoU table", "CSV (*.csv)", "_iou.csv"),
    }

    def export(self, what: str, path: str | None = None, **options) -> bool:
        """Export ``what`` (refined / offsets / view / csv / figure) to ``path`` (asks when
        None; the figure's ``options`` go to ``export.render_figure``, asked when None)."""
        st = self.state
        if st.sample is None:
            self.show_error("nothing to export: open a sample first")
            return False
        if what == "refined" and st.sample.is_instances:
            what = "instances"
        if what in ("csv", "figure") and st.sample.is_instances:
            self.show_error(
                "instance mode: the IoU table and the figure are for label maps; Ctrl+S exports the refined instances"
            )
            return False
        if what in ("refined", "instances", "csv", "figure") and not st.result_is_current():
            self.show_error("the refinement is not up to date with the current setting: press Refine (R) first")
            return False
        if what == "figure" and path is None and not options:
            options = export.FigureDialog.ask(self, st.sample.shape)
            if options is None:
                return False
        if path is None:
            title, filt, suffix = self.EXPORTS[what]
            if what == "instances":  # the input's name, in the last folder written to
                start = str(Path(self._last_dir()) / Path(st.sample.paths.instances).name)
            else:
                stem = Path(st.sample.paths.pred or st.sample.paths.instances or "sample").stem
                start = str(Path(self._last_dir()) / f"{stem}{suffix}")
            path, _ = QFileDialog.getSaveFileName(self, title, start, filt)
            if not path:
                return False
            self._set_last_dir(path)
        try:
            if what == "instances":
                written = export.export_instances(path, st.sample, st.result, others=st.set_samples)
                self.status_text.setText(f"wrote {path} and {len(written) - 1} mask PNGs")
                return True
            if what == "refined":
                export.export_refined(path, st.sample, st.result, others=st.set_samples)
            elif what == "offsets":
                export.export_offsets(path, st.sample, st.setting, others=st.set_samples)
            elif what == "csv":
                export.export_iou_csv(
                    path, st.sample, st.before, st.result.after, st.result.setting, others=st.set_samples
                )
            elif what == "figure":
                export.export_figure(
                    path,
                    st.sample,
                    st.result,
                    st.before,
                    layers=st.layers,
                    hidden=st.hidden,
                    after_source=st.after_source,
                    others=st.set_samples,
                    **options,
                )
            elif what == "view":
                with export.output_guard(st.sample, st.set_samples).active():
                    self.save_view(path)
            else:
                raise ValueError(f"unknown export {what!r}")
        except InputError as err:
            self.show_error(str(err))
            return False
        except OSError as err:
            self.show_error(f"{path}: cannot write: {err.strerror or err}")
            return False
        self.status_text.setText(f"wrote {path}")
        return True

    def save_view(self, path) -> None:
        """The canvas as shown (both views, or the single one) as a PNG, atomically."""
        with atomic_path(path) as tmp:
            if not self.canvas.grab().save(tmp, "PNG"):
                raise OSError(f"Qt could not write {tmp}")

    def save_screenshot(self, path) -> None:
        """The whole window as a PNG, atomically."""
        with atomic_path(path) as tmp:
            if not self.grab().save(tmp, "PNG"):
                raise OSError(f"Qt could not write {tmp}")


def _tab_headed(dock: QDockWidget) -> None:
    """A dock of a tab group shows no title bar while docked (its tab names it), and the
    usual one (move, dock back, close) while floating."""

    def follow(floating: bool) -> None:
        dock.setTitleBarWidget(None if floating else QWidget(dock))

    follow(False)
    dock.topLevelChanged.connect(follow)


class OpenSampleDialog(QDialog):
    """Choose the four files of a sample (each field also takes a dropped file): image,
    prediction, offsets, ground truth — or, with ``parts=INSTANCE_PARTS``, image, instance
    predictions (``_pred.txt``), offsets, instance ground truth."""

    def __init__(self, window: MainWindow, current: SamplePaths, *, parts=PARTS, title: str = "Open sample"):
        super().__init__(window)
        from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLineEdit, QToolButton, QWidget

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
        path, _ = QFileDialog.getOpenFileName(self, f"Open {PART_NAMES[part]}", self.window_._last_dir(), FILTERS[part])
        if path:
            edit.setText(path)
            self.window_._set_last_dir(path)

    def paths(self) -> SamplePaths:
        return SamplePaths(**{p: (e.text().strip() or None) for p, e in self.edits.items()})


class HelpDialog(QDialog):
    """Every action with a shortcut."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        specs = [s for s in window.action_specs if s.keys]
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
