"""The inspector window (the only package that imports PySide6 and pyqtgraph).

- ``state``    one QObject holding what is shown; signals, no drawing
- ``compute``  the work, as engine calls (no Qt); ``workers`` runs it off the UI thread
  (and imports torch once, in one thread)
- ``instances``  instance mode's work (no Qt): refined masks and figures from
  ``core.instances``, outline geometry; ``outlines`` draws them (one item per view)
- ``canvas``, ``layers``, ``arrows``  the before | after views and their layers
- ``panels/``  dock panels, one module each, listed in ``panels.PANELS``
- ``window``   the main window (menus, shortcuts, drag-and-drop, export)
- ``app``      ``segfix-gui`` command line (``entry``)
"""
