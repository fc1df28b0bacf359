"""The Boundary panel and boundary IoU in Metrics, through the real window (pytest-qt, offscreen).

Every curve point and figure is compared with the engine's boundary measures for the same maps
(``SemanticEvaluator`` with ``BorderOptions``: what ``segfix evaluate --json`` writes)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, QPointF, Qt

from segfix_gui.core.metrics import BorderOptions, SemanticEvaluator
from segfix_gui.session.format import pct, signed


def ready(w) -> bool:
    s = w.session
    return (
        s.result is not None
        and s.result_is_current()
        and s.borders is not None
        and s.borders.setting is s.result.setting
        and not w.runner.busy()
    )


def test_boundary_panel_shows_the_engines_profile_and_highlights_a_bin(open_window, qtbot):
    w = open_window(1400, 900)
    w.open_demo()
    qtbot.waitUntil(lambda: ready(w), timeout=60000)
    s = w.session
    space = s.sample.space
    want_b = SemanticEvaluator(space, 3, BorderOptions()).add(s.sample.gt, s.sample.pred)
    want_a = SemanticEvaluator(space, 3, BorderOptions()).add(s.sample.gt, s.result.refined)

    # Metrics: boundary IoU before / after / Δ of the sample, as the engine gives them
    cells = [c.text() for c in w.panels["metrics"].sample_grid.cells["boundary_iou"]]
    b, a = want_b["boundary_iou"], want_a["boundary_iou"]
    assert cells == [pct(b), pct(a), signed(a - b)]

    # the panel (Ctrl+B): the sample's curves are the engine's error rates, in percent
    qtbot.keyClick(w, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: w.docks["boundary"].isVisible(), timeout=5000)
    panel = w.panels["boundary"]
    for which, want in (("before", want_b), ("after", want_a)):
        x, y = panel.curves[("sample", which)].getData()
        rates = want["error_profile"]["error_rate"] + [want["error_profile"]["error_rate_beyond"]]
        expect = [(i + 1, 100 * r) for i, r in enumerate(rates) if r is not None]
        assert list(x) == [e[0] for e in expect]
        np.testing.assert_allclose(y, [e[1] for e in expect], rtol=1e-12)
    assert (
        panel.curves[("set", "before")].getData()[0] is None or len(panel.curves[("set", "before")].getData()[0]) == 0
    )
    assert "boundary IoU " + pct(b) + " → " + pct(a) in panel.head.text()

    # hovering bin 1 marks exactly that bin's pixels in both views, and its band in the plot
    vb = panel.plot.getPlotItem().getViewBox()
    pos = vb.mapViewToScene(QPointF(1.0, 10.0))
    panel._moved(pos)
    assert s.border_bin == 1
    mask = s.border_mask()
    assert mask.sum() == want_b["error_profile"]["pixels"][0] > 0
    for item in w.canvas.border_marks:
        img = item.image
        assert item.isVisible() and img.shape[:2] == mask.shape
        np.testing.assert_array_equal(img[..., 3] > 0, mask)
    assert panel.band.isVisible() and panel.band.getRegion() == (0.5, 1.5)
    assert f"{int(want_b['error_profile']['pixels'][0]):,} px" in panel.hover.text()

    # a class in the legend: that class's profile; clicking it again shows all classes
    road = space.names.index("road")
    item = next(panel.legend.item(i) for i in range(panel.legend.count()) if panel.legend.item(i).text() == "road")
    panel._clicked(item)
    assert s.border_class == road
    x, y = panel.curves[("sample", "before")].getData()
    pixels, errors = s.borders.before.profile(road)
    ok = pixels > 0
    np.testing.assert_allclose(y, 100 * errors[ok] / pixels[ok], rtol=1e-12)
    assert (s.border_mask() <= mask).all() and s.border_mask().sum() < mask.sum()
    panel._clicked(item)
    assert s.border_class is None

    # the mouse leaves the plot: nothing is highlighted
    panel.plot.leaveEvent(QEvent(QEvent.Type.Leave))
    assert s.border_bin is None and not any(item.isVisible() for item in w.canvas.border_marks)
