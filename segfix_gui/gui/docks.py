"""The window's docks: one per panel (``panels.PANELS``), their default arrangement as shares of
the window, "views only" (every panel hidden and back), and a fix for Qt's stale tab bars."""

from __future__ import annotations

import importlib
import importlib.util

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QTabBar, QTabWidget, QWidget

from .panels import PANELS

AREAS = {
    "left": Qt.DockWidgetArea.LeftDockWidgetArea,
    "right": Qt.DockWidgetArea.RightDockWidgetArea,
    "bottom": Qt.DockWidgetArea.BottomDockWidgetArea,
}
# the default arrangement, as fractions of the window: the views keep most of it
SIDE_FRACTION = {"left": (0.18, 285, 340), "right": (0.2, 280, 360)}  # share, min, max px
TUNE_FRACTION = (0.27, 200, 300)


class Docks:
    """Builds the panels' docks on ``window`` and keeps their arrangement.

    ``panels`` and ``docks`` map a panel's name to its widget and its dock. Each panel module
    has ``create(session, actions) -> QWidget`` (see :mod:`segfix_gui.gui.panels`).
    """

    def __init__(self, window: QMainWindow, session, actions, *, layout_version: int):
        self.window = window
        self.layout_version = layout_version
        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        self.collapsed = None  # the arrangement "views only" hid (saveState)
        self._tab_check = QTimer(window)  # see hide_stale_tab_bars
        self._tab_check.setSingleShot(True)
        self._tab_check.setInterval(0)
        self._tab_check.timeout.connect(self.hide_stale_tab_bars)
        self.menu = actions.menu("view").addMenu("Panels")
        self._build(session, actions)

    def _build(self, session, actions) -> None:
        w = self.window
        w.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        # tabs of docks that share an area sit on top, as headers of what they switch between
        w.setTabPosition(Qt.DockWidgetArea.AllDockWidgetAreas, QTabWidget.TabPosition.North)
        groups: dict[str, QDockWidget] = {}
        package = __package__ + ".panels"
        for name in PANELS:
            modname = f"{package}.{name}"
            if importlib.util.find_spec(modname) is None:
                continue
            mod = importlib.import_module(modname)
            widget = mod.create(session, actions)
            dock = QDockWidget(mod.TITLE, w)
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
                w.tabifyDockWidget(first, dock)
            else:
                w.addDockWidget(AREAS.get(getattr(mod, "AREA", "right"), AREAS["right"]), dock)
                if group:
                    groups[group] = dock
            self.panels[name] = widget
            self.docks[name] = dock
            self.menu.addAction(dock.toggleViewAction())
            if getattr(mod, "START_HIDDEN", False):
                dock.hide()
        for first in groups.values():
            first.raise_()
        # the side columns run the full height (more sample rows); Tune sits under the views only
        w.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        w.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        w.setCorner(Qt.Corner.TopLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        w.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

    # --- the default arrangement ---------------------------------------------------------------
    def sizes(self) -> dict[str, int]:
        """Default widths of the side columns and height of Tune for the window's size."""
        w, h = max(self.window.width(), 800), max(self.window.height(), 500)

        def clamp(share, lo, hi, total):
            return int(min(max(share * total, lo), hi))

        return {
            "left": clamp(*SIDE_FRACTION["left"], w),
            "right": clamp(*SIDE_FRACTION["right"], w),
            "tune": clamp(*TUNE_FRACTION, h),
        }

    def apply_default_sizes(self) -> None:
        """Size the docks to the default arrangement for the window's current size."""
        win, d, size = self.window, self.docks, self.sizes()
        left = [d[n] for n in ("controls", "inspector") if n in d and not d[n].isHidden()]
        right = [d[n] for n in ("metrics", "legend") if n in d and not d[n].isHidden()]
        if left:
            win.resizeDocks(left[:1], [size["left"]], Qt.Orientation.Horizontal)
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
                top = min(max(need, inner.sizeHint().height()) + 64, int(win.height() * 0.55))
                win.resizeDocks(left, [top, max(win.height() - top, 200)], Qt.Orientation.Vertical)
        if right:
            win.resizeDocks(right[:1], [size["right"]], Qt.Orientation.Horizontal)
            win.resizeDocks(
                right, [int(win.height() * 0.62), int(win.height() * 0.3)][: len(right)], Qt.Orientation.Vertical
            )
        if "tune" in d and not d["tune"].isHidden() and not d["tune"].isFloating():
            win.resizeDocks([d["tune"]], [size["tune"]], Qt.Orientation.Vertical)

    def show_panel(self, name: str) -> None:
        """Show a panel's dock (if closed or hidden) and bring it to the front."""
        dock = self.docks.get(name)
        if dock is None:
            return
        if self.collapsed is not None:  # out of "views only", then this panel
            self.views_only(False)
        first = dock.isHidden()
        dock.show()
        dock.raise_()
        if first and name in ("tune", "boundary") and not dock.isFloating():
            # opened at its default height, a share of the window, never most of it
            self.window.resizeDocks([dock], [self.sizes()["tune"]], Qt.Orientation.Vertical)

    def views_only(self, on: bool | None = None) -> str:
        """Hide every panel so the views take the whole window (``on`` None: toggle); the
        panels come back as they were. Returns a status line."""
        shown = [dk for dk in self.docks.values() if dk.isVisible()]
        if on is None:
            on = bool(shown)
        if on and shown:
            self.collapsed = self.window.saveState(self.layout_version)
            for dk in shown:
                dk.hide()
            return "panels hidden: F11 (or Ctrl+Shift+F) brings them back"
        if not on and self.collapsed is not None:
            self.window.restoreState(self.collapsed, self.layout_version)
            self.collapsed = None
        return ""

    # --- Qt's stale tab bars -------------------------------------------------------------------
    def schedule_tab_check(self) -> None:
        self._tab_check.start()

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
        for bar in self.window.findChildren(QTabBar):
            if bar.parent() is not self.window or bar.isHidden():
                continue
            g = bar.geometry()
            if not any(g.x() == d.x() and g.width() == d.width() and abs(g.bottom() + 1 - d.y()) <= 1 for d in docks):
                bar.hide()
                stale.append(bar)
        return stale


def _tab_headed(dock: QDockWidget) -> None:
    """A dock of a tab group shows no title bar while docked (its tab names it), and the
    usual one (move, dock back, close) while floating."""

    def follow(floating: bool) -> None:
        dock.setTitleBarWidget(None if floating else QWidget(dock))

    follow(False)
    dock.topLevelChanged.connect(follow)
