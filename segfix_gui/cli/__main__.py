"""``python -m segfix_gui.cli`` runs the ``segfix`` command line."""

from . import entry

entry()
