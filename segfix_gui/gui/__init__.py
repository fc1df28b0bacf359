"""The inspector window (the only package that imports PySide6 and pyqtgraph).

The window's state is the Qt-free :class:`segfix_gui.session.Session`; this package draws it
and binds widgets to its fields.

- ``window``   the main window: assembles the canvas, the docks, the actions, the status bar
- ``actions``  the action table (menus, shortcuts); ``docks`` the panels' docks and layout;
  ``recent`` recent files; ``status`` the status bar; ``dialogs`` open / shortcuts dialogs
- ``bridge``   the session's results on the Qt event loop; widgets bound to session fields
- ``canvas``, ``layers``, ``outlines``  the before | after views and their layers
- ``panels/``  dock panels, one module each, listed in ``panels.PANELS``
- ``export``, ``saving``  File ▸ Export (the figure drawn offscreen)
- ``app``      ``segfix-gui`` command line (``entry``)
"""
