"""The action table: every command of the window with its text, keys and menu, in one place.

:class:`Actions` makes and holds the QActions (panels get it and may add their own); the
shortcuts help lists every one with keys. :func:`build` adds the window's own commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from ..io.samples import PART_NAMES
from ..session.session import LAYERS

MENUS = (("file", "&File"), ("refine", "&Refine"), ("view", "&View"), ("samples", "&Samples"), ("help", "&Help"))


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    keys: tuple[str, ...]
    menu: str


class Actions:
    """The window's QActions by name (``actions["refine"]``), and its menus."""

    def __init__(self, window: QMainWindow):
        self.window = window
        self._actions: dict[str, QAction] = {}
        self.specs: list[ActionSpec] = []
        self._menus: dict[str, QMenu] = {name: window.menuBar().addMenu(title) for name, title in MENUS}

    def menu(self, name: str) -> QMenu:
        if name not in self._menus:
            self._menus[name] = self.window.menuBar().addMenu(name.title())
        return self._menus[name]

    def add(
        self,
        name: str,
        text: str,
        slot: Callable,
        *,
        keys: tuple[str, ...] = (),
        menu: str | None = None,
        checkable: bool = False,
        tip: str = "",
    ) -> QAction:
        """Create an action (listed in the shortcuts help)."""
        act = QAction(text, self.window)
        if keys:
            act.setShortcuts([QKeySequence(k) for k in keys])
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.setCheckable(checkable)
        if tip:
            act.setToolTip(tip)
        act.triggered.connect(slot)
        self.window.addAction(act)
        if menu is not None:
            self.menu(menu).addAction(act)
            self.menu(menu).setToolTipsVisible(True)
        self._actions[name] = act
        self.specs.append(ActionSpec(name, text.replace("&", ""), tuple(keys), menu or ""))
        return act

    def __getitem__(self, name: str) -> QAction:
        return self._actions[name]

    def __contains__(self, name: str) -> bool:
        return name in self._actions

    def get(self, name: str) -> QAction | None:
        return self._actions.get(name)


def build(actions: Actions, window, session) -> None:
    """The window's own commands (``window``: the MainWindow, for dialogs and exports)."""
    a = actions.add
    s = session
    a("open_sample", "&Open sample…", window.open_sample_dialog, keys=("Ctrl+O",), menu="file")
    for part, key in (("image", "Ctrl+1"), ("pred", "Ctrl+2"), ("offsets", "Ctrl+3"), ("gt", "Ctrl+4")):
        a(
            f"open_{part}",
            f"Open {PART_NAMES[part]}…",
            lambda _=False, p=part: window.open_part_dialog(p),
            keys=(key,),
            menu="file",
        )
    actions.menu("file").addSeparator()
    a(
        "open_instances",
        "Open &instance sample…",
        window.open_instances_dialog,
        keys=("Ctrl+I",),
        menu="file",
        tip="Cityscapes instance predictions (_pred.txt) with offsets, an optional image and instance ground truth",
    )
    for part, key in (("instances", "Ctrl+5"), ("gt_instances", "Ctrl+6")):
        a(
            f"open_{part}",
            f"Open {PART_NAMES[part]}…",
            lambda _=False, p=part: window.open_part_dialog(p),
            keys=(key,),
            menu="file",
        )
    actions.menu("file").addSeparator()
    a("open_folder", "Open folder &set…", window.open_folder_dialog, keys=("Ctrl+Shift+O",), menu="file")
    a("open_demo", "Open &demo", window.open_demo, keys=("Ctrl+D",), menu="file")
    window.recent.attach(actions.menu("file").addMenu("Open &recent"))
    actions.menu("file").addSeparator()
    for name, text, keys in (
        ("export_refined", "Export refined labels (PNG)…", ("Ctrl+S",)),
        ("export_offsets", "Export offsets (.npz / .mat)…", ("Ctrl+Shift+S",)),
        ("export_view", "Export current view (PNG)…", ("Ctrl+Alt+S",)),
        ("export_figure", "Export &figure (before | after | diff, legend, setting)…", ("Ctrl+E",)),
        ("export_csv", "Export IoU table (CSV)…", ("Ctrl+Shift+C",)),
        ("export_set_csv", "Export the set's table (CSV: per class and per sample)…", ()),
        ("export_set_figure", "Export the set's figure (per-class Δ, gains per sample)…", ()),
    ):
        what = name.removeprefix("export_")
        a(name, text, lambda _=False, w=what: window.export(w), keys=keys, menu="file")
    actions.menu("file").addSeparator()
    a("quit", "&Quit", window.close, keys=("Ctrl+Q",), menu="file")

    a("refine", "&Refine now", s.refine, keys=("R",), menu="refine")
    auto = a("auto", "&Auto refine on every change", s.set_auto, keys=("A",), menu="refine", checkable=True)
    auto.setChecked(s.auto)
    s.events.auto.connect(lambda on, *_: auto.setChecked(on))
    a("cancel", "Cancel running work", lambda: s.jobs.cancel(), keys=("Escape",), menu="refine")
    a(
        "predict_offsets",
        "&Predict offsets (offset network)",
        lambda: s.predict_offsets(),
        keys=("Ctrl+Shift+P",),
        menu="refine",
        tip="Predict the offsets from the image with the bundled offset network",
    )
    a(
        "predict_offsets_checkpoint",
        "Predict offsets with &checkpoint…",
        window.predict_with_checkpoint,
        menu="refine",
        tip="Predict the offsets with one of openseg's SegFix checkpoints (.pth)",
    )
    upper = a(
        "upper_bound",
        "Offsets: the sample's / the &upper bound (from the ground truth)",
        lambda: s.toggle_upper_bound(),
        keys=("U",),
        menu="refine",
        checkable=True,
        tip="Switch between the sample's offsets and the upper bound: offsets computed from "
        "the ground truth (as segfix gt-offsets), what SegFix gives with perfect offsets",
    )
    upper.setChecked(s.upper_bound)
    a(
        "tune",
        "&Tune: sweep thresholds × scales…",
        lambda: window.show_panel("tune"),
        keys=("Ctrl+T",),
        menu="refine",
        tip="Show the Tune panel (sweep the open set and pick a setting from the curves)",
    )
    a(
        "boundary",
        "&Boundary: errors by distance to the border…",
        lambda: window.show_panel("boundary"),
        keys=("Ctrl+B",),
        menu="refine",
        tip="Show the Boundary panel: the error rate by distance to the nearest border, before and "
        "after, for the sample and the set (hover a bin to see its pixels)",
    )
    actions.menu("refine").addSeparator()
    for name, text, key, delta in (
        ("thr_up", "Threshold +0.05", "]", ("threshold", 0.05)),
        ("thr_down", "Threshold −0.05", "[", ("threshold", -0.05)),
        ("dir_up", "Direction confidence +0.05", "'", ("min_direction_prob", 0.05)),
        ("dir_down", "Direction confidence −0.05", ";", ("min_direction_prob", -0.05)),
        ("scale_up", "Scale +0.5", "S", ("scale", 0.5)),
        ("scale_down", "Scale −0.5", "Shift+S", ("scale", -0.5)),
    ):
        a(name, text, lambda _=False, d=delta: s.nudge(*d), keys=(key,), menu="refine")

    a(
        "mode",
        "Before | after  /  single view",
        lambda: s.set_view(mode="single" if s.view_mode == "side" else "side"),
        keys=("V",),
        menu="view",
    )
    a("toggle", "Single view: toggle before / after", s.toggle_before_after, keys=("T",), menu="view")
    a(
        "after_gt",
        "After shows ground truth / refined",
        lambda: s.set_view(after_source="refined" if s.after_source == "gt" else "gt"),
        keys=("G",),
        menu="view",
    )
    a("fit", "&Fit image", lambda: s.set_camera(None) or window.canvas.fit(), keys=("F", "Home"), menu="view")
    a("zoom_in", "Zoom in", lambda: window.zoom(0.8), keys=("Ctrl+=", "Ctrl++"), menu="view")
    a("zoom_out", "Zoom out", lambda: window.zoom(1.25), keys=("Ctrl+-",), menu="view")
    a("show_all", "Show all classes", s.show_all_classes, keys=("Ctrl+A",), menu="view")
    actions.menu("view").addSeparator()
    for i, name in enumerate(LAYERS):
        a(
            f"layer_{name}",
            f"Toggle layer: {name}",
            lambda _=False, n=name: s.toggle_layer(n),
            keys=(str(i + 1),),
            menu="view",
        )
    a(
        "views_only",
        "Views only: hide / show all panels",
        lambda: window.views_only(),
        keys=("F11", "Ctrl+Shift+F"),
        menu="view",
        tip="The views take the whole window; again brings the panels back as they were",
    )

    a("next", "&Next sample", lambda: s.step(1), keys=("N", "PgDown"), menu="samples")
    a("prev", "&Previous sample", lambda: s.step(-1), keys=("P", "PgUp"), menu="samples")
    a(
        "set_upper",
        "Score the set's upper bound (offsets from the ground truth)",
        s.score_set_upper_bound,
        menu="samples",
        tip="Every sample refined with offsets made from its ground truth, beside the network's (Metrics)",
    )

    a("help", "&Keyboard shortcuts", window.show_help, keys=("F1", "?"), menu="help")
    a("about", "About", window.show_about, menu="help")
