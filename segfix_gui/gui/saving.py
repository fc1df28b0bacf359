"""File ▸ Export …: ask for a file (unless given), check what is open allows it, write it.

The writers are :mod:`segfix_gui.gui.export` (the sample: refined labels, offsets, IoU table,
figure) and :mod:`segfix_gui.session.report` (the set: its table and figure); every write is
atomic and never lands on an input file.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ..errors import InputError
from ..session import report
from ..session.guard import check_not_input, output_guard
from . import export as ex

EXPORTS = {
    "refined": ("Export refined labels", "PNG (*.png)", "_refined.png"),
    "instances": (
        "Export refined instances (a _pred.txt; its masks are written beside it)",
        "Cityscapes instance predictions (*_pred.txt)",
        "_pred.txt",
    ),
    "offsets": ("Export offsets", "SegFix offsets (*.npz);;openseg offsets (*.mat)", "_offsets.npz"),
    "view": ("Export current view", "PNG (*.png)", "_view.png"),
    "figure": ("Export figure", "PNG (*.png)", "_figure.png"),
    "csv": ("Export IoU table", "CSV (*.csv)", "_iou.csv"),
    "set_csv": ("Export the set's table", "CSV (*.csv)", "set_iou.csv"),
    "set_figure": ("Export the set's figure", "PNG (*.png)", "set_figure.png"),
}


def export(window, what: str, path: str | None = None, **options) -> str | None:
    """Export ``what`` to ``path`` (asks when None); the status line, or None when nothing was
    written (cancelled). InputError (one line) when it cannot be done."""
    st = window.session
    if what in ("set_csv", "set_figure"):
        return _export_set(window, what, path)
    if st.sample is None:
        raise InputError(None, "nothing to export: open a sample first")
    if what == "refined" and st.sample.is_instances:
        what = "instances"
    if what in ("csv", "figure") and st.sample.is_instances:
        raise InputError(
            None, "instance mode: the IoU table and the figure are for label maps; Ctrl+S exports the refined instances"
        )
    if what in ("refined", "instances", "csv", "figure") and not st.result_is_current():
        raise InputError(None, "the refinement is not up to date with the current setting: press Refine (R) first")
    if what == "figure" and path is None and not options:
        options = ex.FigureDialog.ask(window, st.sample.shape)
        if options is None:
            return None
    if path is None:
        title, filt, suffix = EXPORTS[what]
        if what == "instances":  # the input's name, in the last folder written to
            start = str(Path(window.last_dir()) / Path(st.sample.paths.instances).name)
        else:
            stem = Path(st.sample.paths.pred or st.sample.paths.instances or "sample").stem
            start = str(Path(window.last_dir()) / f"{stem}{suffix}")
        path, _ = QFileDialog.getSaveFileName(window, title, start, filt)
        if not path:
            return None
        window.set_last_dir(path)
    others = st.set_samples  # no file of any sample of the open set is written either
    if what == "instances":
        written = ex.export_instances(path, st.sample, st.result, others=others)
        return f"wrote {path} and {len(written) - 1} mask PNGs"
    if what == "refined":
        ex.export_refined(path, st.sample, st.result, others=others)
    elif what == "offsets":
        ex.export_offsets(path, st.sample, st.setting, others=others)
    elif what == "csv":
        ex.export_iou_csv(path, st.sample, st.before, st.result.after, st.result.setting, others=others)
    elif what == "figure":
        ex.export_figure(
            path,
            st.sample,
            st.result,
            st.before,
            layers=st.layers,
            hidden=st.hidden,
            after_source=st.after_source,
            others=others,
            **options,
        )
    elif what == "view":
        with output_guard(st.sample, others).active():
            window.save_view(path)
    else:
        raise ValueError(f"unknown export {what!r}")
    return f"wrote {path}"


def _export_set(window, what: str, path: str | None) -> str | None:
    st = window.session
    scores = st.scores
    if not st.set_samples or st.set_is_instances or scores is None or scores.n_scored == 0:
        raise InputError(None, "nothing to export: open a folder set with ground truth (the set's figures)")
    if scores.setting != st.setting or not scores.done:
        raise InputError(None, "the set is still being scored at the current setting: wait for it, then export")
    if path is None:
        title, filt, name = EXPORTS[what]
        path, _ = QFileDialog.getSaveFileName(window, title, str(Path(window.last_dir()) / name), filt)
        if not path:
            return None
        window.set_last_dir(path)
    check_not_input(path, None, st.set_samples)
    upper = st.upper_scores if st.upper_scores is not None and st.upper_scores.done else None
    hard = st.sample is not None and st.sample.field is not None and st.sample.field.is_hard
    if what == "set_csv":
        report.write_set_csv(path, scores, upper=upper, hard=hard)
    else:
        report.write_set_figure(path, scores, upper=upper, hard=hard)
    return f"wrote {path}"
