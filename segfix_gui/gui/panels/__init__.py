"""Dock panels of the main window, one module each (a registry, like the CLI's commands).

A panel module defines:

- ``TITLE``: the dock's title;
- ``AREA``: ``"left"``, ``"right"`` or ``"bottom"``;
- ``GROUP`` (optional): panels with the same group share one dock area as tabs (the first
  one listed in ``PANELS`` is in front);
- ``START_HIDDEN`` (optional, default False): the dock starts closed (View ▸ Panels shows it);
- ``create(session, actions) -> QWidget``: builds the panel over the
  :class:`~segfix_gui.session.Session` (each widget bound to one session field, written
  through the session's methods) and the window's action table
  (:class:`~segfix_gui.gui.actions.Actions`: run one with ``actions["name"].trigger()``, add
  one with ``actions.add(...)``, which the shortcuts help then lists). A panel never gets the
  window.

To add a panel (e.g. an instance list or a sweep "Tune" panel), write its module in this
package and add its name to ``PANELS``; the window makes a dock for it and lists it under
View ▸ Panels. A module that is not there yet is skipped.
"""

PANELS = ("controls", "inspector", "samples", "metrics", "instances", "legend", "layers", "tune", "boundary")
