"""A dark Fusion palette, so panels match the canvas (applied once per application)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

_APPLIED = "_segfix_theme"


def apply_dark(app: QApplication | None = None) -> None:
    app = app or QApplication.instance()
    if app is None or app.property(_APPLIED):
        return
    app.setStyle("Fusion")
    p = QPalette()
    R = QPalette.ColorRole
    for role, colour in (
        (R.Window, "#2b2d31"),
        (R.WindowText, "#e3e3e3"),
        (R.Base, "#1e1f22"),
        (R.AlternateBase, "#26282c"),
        (R.ToolTipBase, "#1e1f22"),
        (R.ToolTipText, "#e3e3e3"),
        (R.Text, "#e3e3e3"),
        (R.Button, "#33363b"),
        (R.ButtonText, "#e3e3e3"),
        (R.BrightText, "#ff6060"),
        (R.Link, "#6ab0ff"),
        (R.Highlight, "#3d6fb6"),
        (R.HighlightedText, "#ffffff"),
        (R.PlaceholderText, "#8a8a8a"),
    ):
        p.setColor(role, QColor(colour))
    for role in (R.WindowText, R.Text, R.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6e6e6e"))
    app.setPalette(p)
    app.setProperty(_APPLIED, True)
