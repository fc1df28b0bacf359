"""The window's whole state, Qt-free and scriptable (see :mod:`segfix_gui.session.session`).

>>> from segfix_gui.session import Session, Setting     # doctest: +SKIP
>>> s = Session(); s.open_folder("SET"); s.wait()       # doctest: +SKIP

Importing this package imports no Qt (an import-linter contract in pyproject.toml says so).
"""

from ..core.setting import Setting
from .compute import ViewSetting
from .session import LAYERS, LayerOptions, Session
from .sets import SetRow, SetScores

__all__ = ["LAYERS", "LayerOptions", "Session", "SetRow", "SetScores", "Setting", "ViewSetting"]
