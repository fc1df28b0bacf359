"""The inspector window (the only package that imports PySide6 and pyqtgraph).

- ``state``    one QObject holding what is shown; signals, no drawing
- ``compute``  the work, as engine calls (no Qt); ``workers`` runs it off the UI thread
- ``canvas``, ``layers``, ``arrows``  the before | after views and their layers
- ``panels/``  dock panels, one module each, listed in ``panels.PANELS``
- ``window``   the main window (menus, shortcuts, drag-and-drop, export)
- ``app``      ``segfix-gui`` command line (``entry``)
"""
