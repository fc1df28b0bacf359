"""Recently opened samples and sets, kept in the window's QSettings, and their menu."""

from __future__ import annotations

import json
from collections.abc import Callable

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu

MAX_RECENT = 10


class Recent:
    """The recent entries (``{"kind": "sample", "paths": {...}, "space": ...}`` or
    ``{"kind": "set", "folder": ..., "pred": ..., ...}``), newest first."""

    def __init__(self, settings: QSettings, open_entry: Callable[[dict], None]):
        self.settings = settings
        self.open_entry = open_entry
        self.menu: QMenu | None = None

    def attach(self, menu: QMenu) -> None:
        self.menu = menu
        self._rebuild()

    def entries(self) -> list[dict]:
        raw = self.settings.value("recent", "[]")
        try:
            items = json.loads(raw) if isinstance(raw, str) else []
        except json.JSONDecodeError:
            items = []
        return [i for i in items if isinstance(i, dict)]

    def remember(self, entry: dict) -> None:
        items = [i for i in self.entries() if i != entry]
        items.insert(0, entry)
        self.settings.setValue("recent", json.dumps(items[:MAX_RECENT]))
        self.settings.sync()
        self._rebuild()

    def _rebuild(self) -> None:
        if self.menu is None:
            return
        self.menu.clear()
        items = self.entries()
        for entry in items:
            if entry.get("kind") == "set":
                text = "set: " + str(entry.get("folder") or entry.get("pred"))
            else:
                p = entry.get("paths", {})
                text = str(p.get("pred") or p.get("instances") or p.get("image"))
            act = self.menu.addAction(text)
            act.triggered.connect(lambda _=False, e=entry: self.open_entry(e))
        self.menu.setEnabled(bool(items))
