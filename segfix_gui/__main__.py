"""``python -m segfix_gui`` runs the ``segfix`` command line."""

from .cli import entry

entry()
