"""The main window: it assembles the canvas, the panels' docks, the action table, the status
bar and the recent-files menu around one :class:`~segfix_gui.session.Session`.

The window holds no state of its own beyond its layout: what is shown lives in the session,
which panels and the canvas bind to. Bad input shows the engine's one-line message in a dialog
and the window keeps running.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSettings, QTimer
from PySide6.QtWidgets import QDialog, QFileDialog, QMainWindow, QMessageBox

from ..errors import InputError
from ..io.atomic import atomic_path
from ..io.samples import INSTANCE_PARTS, PART_NAMES, SamplePaths
from ..session import Session
from ..session.opening import SetSource, dropped
from . import actions as actions_mod
from . import saving
from .bridge import attach_runner
from .canvas import Canvas
from .dialogs import FILTERS, HelpDialog, OpenSampleDialog
from .docks import Docks
from .recent import Recent
from .status import StatusBar
from .theme import apply_dark

ORG = "segfix-gui"
APP = "segfix-gui"
LAYOUT_VERSION = 5  # bump when the default arrangement of panels changes


def configure_pyqtgraph() -> None:
    """Row-major images (``(H, W)`` arrays as they are) — before any item is made."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


def default_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG, APP)


class MainWindow(QMainWindow):
    """The inspector window over ``session`` (a new one unless given)."""

    def __init__(self, *, session: Session | None = None, settings: QSettings | None = None, parent=None):
        configure_pyqtgraph()
        apply_dark()
        super().__init__(parent)
        self.settings = settings if settings is not None else default_settings()
        self.session = session if session is not None else Session()
        self.runner = self.session.jobs
        self._bridge = attach_runner(self.runner, self)
        self.setWindowTitle("segfix-gui")
        self.resize(1600, 1000)
        self.setAcceptDrops(True)
        self._restored = False
        self._sized = False  # the default dock sizes are applied at the first show
        self.canvas = Canvas(self.session)
        self.setCentralWidget(self.canvas)
        self.recent = Recent(self.settings, self.open_recent)
        self.commands = actions_mod.Actions(self)
        actions_mod.build(self.commands, self, self.session)
        self.docks_ = Docks(self, self.session, self.commands, layout_version=LAYOUT_VERSION)
        self.panels, self.docks = self.docks_.panels, self.docks_.docks
        self.status = StatusBar(self, self.session)
        self.docks_.apply_default_sizes()

        s, ev = self.session, self.session.events
        s.failed.connect(self.show_error)
        ev.sample.connect(self._on_sample)
        for e in (ev.sample, ev.upper_bound, ev.upper_ready, ev.set_samples, ev.index):
            e.connect(self._sync_actions)
        self._sync_actions()
        self.session.controller.probe()

    # --- lifetime and layout -------------------------------------------------------------------
    def closeEvent(self, ev) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.sync()
        self._bridge.detach()
        self.runner.shutdown()
        super().closeEvent(ev)

    def event(self, ev) -> bool:
        # not on LayoutRequest: hiding a bar requests a layout, and Qt shows a bar of a group with
        # a closed dock again, so checking on it looped for good (a core busy in an idle window)
        if ev.type() in (QEvent.Type.Show, QEvent.Type.Resize):
            docks = getattr(self, "docks_", None)
            if docks is not None:
                docks.schedule_tab_check()
        return super().event(ev)

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if not self._sized:  # after a restored layout the user's sizes stand
            self._sized = True
            if not self._restored:
                QTimer.singleShot(0, self.docks_.apply_default_sizes)

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

    def fit_to_screen(self, width: int = 1600, height: int = 1000) -> None:
        """A first window: ``width`` × ``height`` at most, and never larger than the screen it
        opens on (nothing off-screen at 1366×768)."""
        screen = self.screen()
        if screen is not None:
            geo = screen.availableGeometry()
            frame = 40  # title bar and borders drawn by the window manager
            width, height = min(width, geo.width()), min(height, geo.height() - frame)
            self.resize(width, height)
            self.move(geo.x() + (geo.width() - width) // 2, geo.y() + max((geo.height() - height - frame) // 2, 0))
        else:
            self.resize(width, height)

    def hide_stale_tab_bars(self):
        return self.docks_.hide_stale_tab_bars()

    def dock_sizes(self) -> dict[str, int]:
        return self.docks_.sizes()

    def apply_default_sizes(self) -> None:
        self.docks_.apply_default_sizes()

    def show_panel(self, name: str) -> None:
        self.docks_.show_panel(name)

    def views_only(self, on: bool | None = None) -> None:
        self.status.set_text(self.docks_.views_only(on))

    @property
    def actions_by_name(self) -> actions_mod.Actions:
        return self.commands

    @property
    def action_specs(self):
        return self.commands.specs

    # --- following the session -----------------------------------------------------------------
    def _on_sample(self, *_args) -> None:
        s = self.session.sample
        if s is None:
            return
        self.setWindowTitle(f"{s.name} — segfix-gui")
        front = "instances" if s.is_instances else "metrics"
        if front in self.docks and not self.docks[front].isHidden():
            self.docks[front].raise_()

    EXPORT_TEXT = {False: "Export refined labels (PNG)…", True: "Export refined instances (_pred.txt + masks)…"}

    def _sync_actions(self, *_args) -> None:
        """What applies to what is open: predict offsets, the upper bound, the exports."""
        s = self.session
        acts = self.commands
        ok, why = s.can_predict_offsets()
        for name in ("predict_offsets", "predict_offsets_checkpoint"):
            acts[name].setEnabled(ok)
            acts[name].setToolTip(why)
        ok, why = s.can_show_upper_bound()
        acts["upper_bound"].setEnabled(ok)
        acts["upper_bound"].setChecked(s.upper_bound)
        acts["upper_bound"].setToolTip(why)
        sample = s.sample
        inst = sample is not None and sample.is_instances
        acts["export_refined"].setText(self.EXPORT_TEXT[inst])
        acts["export_refined"].setToolTip(
            "The refined masks as a Cityscapes _pred.txt with one PNG per instance (unchanged "
            "ones copied), as segfix refine-instances writes them"
            if inst
            else "The refined label map as a PNG"
        )
        for name in ("export_refined", "export_offsets", "export_view"):
            acts[name].setEnabled(sample is not None)
        for name in ("export_figure", "export_csv"):
            acts[name].setEnabled(sample is not None and not inst)
            acts[name].setToolTip("Label maps only (not in instance mode)" if inst else "")
        semantic_set = bool(s.set_samples) and not s.set_is_instances
        for name in ("export_set_csv", "export_set_figure", "set_upper"):
            acts[name].setEnabled(semantic_set)

    # --- opening -------------------------------------------------------------------------------
    def open_paths(
        self, paths: SamplePaths, space: str | None = None, *, remember: bool = True, keep_setting: bool = False
    ) -> None:
        """Open one sample (in the background); on success it joins the recent list."""
        self.session.open_sample(
            paths, space, keep_setting=keep_setting, then=self._remember_sample if remember else None
        )

    def open_parts(self, parts: dict[str, str], space: str | None = None) -> None:
        """Replace some parts of the open sample (files dropped or chosen one by one)."""
        self.session.open_parts(parts, space, then=self._remember_sample)

    def _remember_sample(self) -> None:
        s = self.session
        own = s._own_sample()
        if own is not None:
            entry = {"kind": "sample", "paths": json.loads(own.paths.to_json()), "space": s.space_name}
            self.recent.remember(entry)

    def open_demo(self) -> None:
        self.session.open_demo()

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
        source = SetSource(folder, image, pred, offsets, gt)
        if not self.session.open_set(source, space):
            return False
        if remember:
            self.recent.remember(source.resolved().recent_entry(space or self.session.space_name))
        if "samples" in self.docks:
            self.docks["samples"].raise_()
        return True

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

    def open_dropped(self, paths: list[str]) -> None:
        """Files dropped on the window: a folder opens as a set; files replace the parts of
        the sample they are (see ``session.opening.dropped``)."""
        what, arg = dropped(paths)
        if what == "set":
            self.open_set(folder=arg.folder)
        elif what == "parts":
            self.open_parts(arg)
        else:
            self.show_error(arg)

    def dragEnterEvent(self, ev) -> None:
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        self.open_dropped(paths)
        ev.acceptProposedAction()

    def _current_paths(self) -> SamplePaths:
        s = self.session
        own = s._own_sample()
        return own.paths if own is not None else s.pending

    def open_sample_dialog(self) -> None:
        dlg = OpenSampleDialog(self, self._current_paths())
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.open_paths(dlg.paths())

    def open_instances_dialog(self) -> None:
        dlg = OpenSampleDialog(self, self._current_paths(), parts=INSTANCE_PARTS, title="Open instance sample")
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.open_paths(dlg.paths())

    def open_part_dialog(self, part: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Open {PART_NAMES[part]}", self.last_dir(), FILTERS[part])
        if path:
            self.set_last_dir(path)
            self.open_parts({part: path})

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self,
            "Open a set folder (with preds/, offsets/, and optional images/, gt/; preds/ may "
            "hold instance predictions, *_pred.txt)",
            self.near_open() or self.last_dir(),
        )
        if path:
            self.set_last_dir(path + "/")
            self.open_set(folder=path)

    def predict_with_checkpoint(self) -> None:
        """Refine ▸ Predict offsets with checkpoint…: asks for an openseg SegFix checkpoint
        and predicts in the background like Predict offsets."""
        ok, why = self.session.can_predict_offsets()
        if not ok:
            self.status.set_text(why)
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "openseg SegFix checkpoint", self.last_dir(), "PyTorch checkpoints (*.pth *.pt);;All files (*)"
        )
        if path:
            self.session.predict_offsets(checkpoint=path)

    def last_dir(self) -> str:
        """Where file dialogs start: the folder last used, else near what is open, else home."""
        saved = self.settings.value("last_dir")
        if saved and Path(str(saved)).is_dir():
            return str(saved)
        return self.near_open() or str(Path.home())

    def near_open(self) -> str | None:
        """The folder that holds the open set (its set folder's parent, so the set and its
        neighbours show), else the folder of the open sample's files; None when nothing is open."""
        s = self.session
        src = s.set_source
        if s.set_samples and src is not None:
            top = src.folder or next((f for f in (src.pred, src.offsets, src.image, src.gt) if f), None)
            if top:
                return str(Path(top).resolve().parent)
        own = s._own_sample()
        if own is not None:
            p = own.paths
            first = next((f for f in (p.pred, p.instances, p.image, p.offsets) if f), None)
            if first:
                return str(Path(first).resolve().parent)
        return None

    def set_last_dir(self, path: str) -> None:
        self.settings.setValue("last_dir", str(Path(path).parent))

    # --- small commands ------------------------------------------------------------------------
    def zoom(self, factor: float) -> None:
        self.canvas.left.vb.scaleBy((factor, factor))

    def show_error(self, message: str) -> None:
        self.status.set_text(message)
        QMessageBox.warning(self, "segfix-gui", message)

    def show_help(self) -> None:
        HelpDialog(self, self.commands.specs).exec()

    def show_about(self) -> None:
        from .. import __version__

        QMessageBox.about(
            self, "About segfix-gui", f"segfix-gui {__version__}: see, tune and apply SegFix boundary refinement."
        )

    # --- saving --------------------------------------------------------------------------------
    def export(self, what: str, path: str | None = None, **options) -> bool:
        """Export ``what`` (refined / offsets / view / figure / csv / set_csv / set_figure) to
        ``path`` (asked when None); see :mod:`segfix_gui.gui.saving`."""
        try:
            written = saving.export(self, what, path, **options)
        except InputError as err:
            self.show_error(str(err))
            return False
        except OSError as err:
            self.show_error(f"{path}: cannot write: {err.strerror or err}")
            return False
        if written:
            self.status.set_text(written)
        return bool(written)

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
