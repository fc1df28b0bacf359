"""Exports: refined labels (PNG), offsets (.npz / .mat), the IoU table (CSV) and a figure
(before | after | diff with a legend and the setting, drawn offscreen from the layers' own
colour tables). All atomic; no file of the open sample or of its set is ever written: every
export goes through one :class:`~segfix_gui.io.atomic.OutputGuard`
(:func:`segfix_gui.session.guard.output_guard`), which the window's screen grabs go through too."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter

from ..core.offsets import OffsetField
from ..core.setting import Setting
from ..errors import InputError
from ..io.atomic import atomic_path, write_text
from ..io.offsets import write_offsets
from ..io.samples import Sample, SamplePaths, write_prediction
from ..session.compute import Result, table_rows
from ..session.guard import output_guard
from ..session.report import setting_text

CSV_COLUMNS = ("class", "iou_before", "iou_after", "delta")
CSV_CONTEXT = ("sample", "threshold", "direction_confidence", "scale")


def export_refined(path, sample: Sample, result: Result, *, others: Sequence[SamplePaths] = ()) -> None:
    """The refined labels as a single-channel PNG of ids (colours if the prediction was colour).
    ``others``: the open set's samples, whose files are refused as the sample's own are."""
    with output_guard(sample, others).active():
        write_prediction(path, result.refined, sample.space, colour=sample.pred_is_colour)


def export_instances(path, sample: Sample, result: Result, *, others: Sequence[SamplePaths] = ()) -> list[Path]:
    """An instance sample's refined masks as a Cityscapes ``_pred.txt`` at ``path`` with one
    mask PNG per instance at the relative path its input line names (beside ``path``), as
    ``segfix refine-instances`` writes them: unchanged masks and the ``.txt`` are copied byte
    for byte, all files renamed into place only once all are written. Returns the files
    written; refuses to write onto any file of the sample or of its set (``others``)."""
    from ..io.instances import mask_files, write_refined_instances

    if sample.instances is None or sample.paths.instances is None or result is None or result.instances is None:
        raise InputError(os.fspath(path), "no refined instances to export")
    path = Path(path)
    if path.suffix.lower() != ".txt":
        raise InputError(path, "refined instances are written as a _pred.txt file (with its masks)")
    before, after = sample.instances, result.instances.after
    targets = [path] + (mask_files(path, before) if before.names else [])
    guard = output_guard(sample, others)
    for t in targets:  # all refused before any is written
        guard.check(t)
    try:
        with guard.active():
            write_refined_instances(
                path, before, after, source=sample.paths.instances, root=path.parent, changed=result.instances.changed
            )
    except InputError:
        raise
    except ValueError as err:  # a mask path leading out of the chosen folder
        raise InputError(path, str(err)) from None
    return targets


def export_offsets(path, sample: Sample, setting: Setting, *, others: Sequence[SamplePaths] = ()) -> None:
    """The offset field, by suffix: ``.npz`` keeps the probabilities (with the current setting
    recorded as its recommendation), ``.mat`` writes openseg's thresholded unit steps."""
    guard = output_guard(sample, others)
    guard.check(path)
    suffix = Path(path).suffix.lower()
    if suffix not in (".npz", ".mat"):
        raise InputError(path, "offsets are written as .npz or .mat")
    f = sample.field
    if f is None:
        raise InputError(path, "this sample has no offsets yet (Refine ▸ Predict offsets first)")
    rec = dict(f.recommended)
    if not f.is_hard:
        rec.update(threshold=setting.threshold, min_direction_prob=setting.min_direction_prob, scale=setting.scale)
    out = OffsetField(boundary=f.boundary, direction=f.direction, hard=f.hard, recommended=rec)
    with guard.active():
        write_offsets(path, out, setting=setting)


def setting_cells(setting, *, hard: bool = False) -> tuple[str, str, str]:
    """(threshold, direction confidence, scale) as CSV cells; hard offsets have no threshold."""
    if setting is None:
        return "", "", ""
    if hard:
        return "", "", f"{setting.scale:g}"
    return f"{setting.threshold:g}", f"{setting.min_direction_prob:g}", f"{setting.scale:g}"


def iou_csv(before: dict, after: dict | None, *, sample_name: str = "", setting=None, hard: bool = False) -> str:
    """CSV text: one row per class (IoU as fractions; empty = n/a), then mIoU, pixel accuracy
    and boundary F rows. Every row also names the sample and the setting it was refined at
    (so tables of several samples can be concatenated)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS + CSV_CONTEXT)
    context = (sample_name, *setting_cells(setting, hard=hard))

    def cell(v):
        return "" if v is None else repr(float(v))

    for name, b, a, d in table_rows(before, after):
        w.writerow((name, cell(b), cell(a), cell(d)) + context)
    for key, label in (("miou", "mIoU"), ("pixel_accuracy", "pixel accuracy"), ("boundary_f", "boundary F")):
        b = before[key]
        a = after[key] if after else None
        w.writerow((label, cell(b), cell(a), cell(None if a is None else a - b)) + context)
    return buf.getvalue()


def export_iou_csv(
    path, sample: Sample, before: dict | None, after: dict | None, setting=None, *, others: Sequence[SamplePaths] = ()
) -> None:
    guard = output_guard(sample, others)
    guard.check(path)
    if before is None:
        raise InputError(os.fspath(path), "no IoU table: the sample has no ground truth")
    hard = sample.field is not None and sample.field.is_hard
    with guard.active():
        write_text(path, iou_csv(before, after, sample_name=sample.name, setting=setting, hard=hard))


# --- figure ---------------------------------------------------------------------------------
FIGURE_PANELS = ("before", "after", "diff")
FIG_BG = QColor("#ffffff")
FIG_TEXT = QColor("#111111")
FIG_MUTED = QColor("#555555")


def _qimage(rgba: np.ndarray) -> QImage:
    h, w = rgba.shape[:2]
    img = QImage(np.ascontiguousarray(rgba).data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
    return img.copy()  # own its pixels


def _lut_rgba(ids: np.ndarray, lut: np.ndarray, opacity: float = 1.0) -> np.ndarray:
    out = lut[ids]
    if opacity < 1.0:
        out = out.copy()
        out[..., 3] = np.rint(out[..., 3] * opacity).astype(np.uint8)
    return out


def figure_layers(
    sample: Sample,
    result: Result,
    *,
    layers=None,
    hidden=frozenset(),
    after_source: str = "refined",
    mark_radius: int = 0,
) -> dict[str, list[np.ndarray]]:
    """The RGBA images (image resolution) drawn in each panel, bottom to top, from the same
    tables the window's layers use (``gui.layers``): before = photo + predicted labels,
    after = photo + refined labels (or ground truth), diff = dimmed photo + change codes.
    ``layers``: the state's ``{name: LayerOptions}`` (visibility and opacity); None = the
    defaults. ``mark_radius``: diff marks widened as in the window (``layers.widen_codes``)."""
    from ..session.session import DEFAULT_OPACITY, DEFAULT_VISIBLE
    from .layers import diff_lut, display_ids, heat_image, heat_lut, label_lut, widen_codes

    def opt(name):
        if layers is None:
            return DEFAULT_VISIBLE[name], DEFAULT_OPACITY[name]
        o = layers[name]
        return o.visible, o.opacity

    h, w = sample.shape
    space = sample.space
    ids_b, by_eval = display_ids(sample.pred, space)
    lut = label_lut(space, hidden, by_eval=by_eval)
    src = sample.gt if (after_source == "gt" and sample.gt is not None) else result.refined
    ids_a = space.to_eval(src) if by_eval else display_ids(src, space)[0]
    photo = None
    if sample.image is not None:
        photo = np.concatenate([sample.image, np.full((h, w, 1), 255, np.uint8)], axis=2)
        vis, op = opt("image")
        if not vis:
            photo = None
        elif op < 1:
            photo[..., 3] = int(round(255 * op))
    base = [np.full((h, w, 4), (30, 31, 34, 255), np.uint8)]
    if photo is not None:
        base.append(photo)
    panels = {"before": list(base), "after": list(base)}
    vis, op = opt("labels")
    if vis:
        panels["before"].append(_lut_rgba(ids_b, lut, op))
        panels["after"].append(_lut_rgba(ids_a, lut, op))
    vis, op = opt("boundary")
    if vis and sample.field is not None:
        heat = _lut_rgba(heat_image(sample.field.boundary), heat_lut(), op)
        panels["before"].append(heat)
        panels["after"].append(heat)
    dim = list(base)
    if photo is not None:
        dim.append(np.concatenate([np.zeros((h, w, 3), np.uint8), np.full((h, w, 1), 150, np.uint8)], axis=2))
    dim.append(_lut_rgba(widen_codes(result.codes, mark_radius), diff_lut()))
    panels["diff"] = dim
    return panels


def _setting_text(sample: Sample, setting) -> str:
    """The setting to three decimals, as every exported figure states it."""
    return setting_text(setting, hard=sample.field is not None and sample.field.is_hard)


def render_figure(
    sample: Sample,
    result: Result,
    before: dict | None = None,
    *,
    scale: float = 1.0,
    panels=FIGURE_PANELS,
    layers=None,
    hidden=frozenset(),
    after_source: str = "refined",
) -> QImage:
    """The figure as a QImage (offscreen, no screen grab): a header with the sample's name, the
    setting and (with ground truth) mIoU / boundary F before → after; one panel per entry of
    ``panels`` at ``scale`` × the image's own resolution (nearest neighbour: pixels stay
    pixels); a legend of the classes shown and of the diff colours with their counts."""
    from .canvas import diff_key
    from .layers import DIFF_COLOURS, mark_radius

    if not scale > 0:
        raise ValueError(f"scale must be > 0, not {scale!r}")
    unknown = [p for p in panels if p not in FIGURE_PANELS]
    if unknown or not panels:
        raise ValueError(f"panels must be some of {', '.join(FIGURE_PANELS)}, not {panels!r}")
    radius = mark_radius(scale)
    layer_images = figure_layers(
        sample, result, layers=layers, hidden=hidden, after_source=after_source, mark_radius=radius
    )
    h, w = sample.shape
    pw, ph = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    n = len(panels)
    font_px = int(min(max(round(min(pw, 1600) / 32), 12), 40))
    gap = max(8, font_px)
    font = QFont()
    font.setPixelSize(font_px)
    small = QFont(font)
    small.setPixelSize(max(10, int(font_px * 0.85)))
    bold = QFont(font)
    bold.setBold(True)
    fm, fs = QFontMetricsF(font), QFontMetricsF(small)
    line, sline = fm.height() * 1.25, fs.height() * 1.3
    width = n * pw + (n + 1) * gap

    header = [f"{sample.name}", _setting_text(sample, result.setting)]
    after = result.after
    if before is not None and after is not None:
        header.append(
            "mIoU {:.2f} → {:.2f} ({:+.2f}) · boundary F {:.2f} → {:.2f} ({:+.2f})".format(
                100 * before["miou"],
                100 * after["miou"],
                100 * (after["miou"] - before["miou"]),
                100 * before["boundary_f"],
                100 * after["boundary_f"],
                100 * (after["boundary_f"] - before["boundary_f"]),
            )
        )
    after_title = "after: ground truth" if (after_source == "gt" and sample.gt is not None) else "after: refined"
    titles = {
        "before": "before: prediction",
        "after": after_title,
        "diff": "diff (changed pixels" + (", marks widened)" if radius else ")"),
    }

    # legend entries: classes present in what the panels show, then the diff key
    space = sample.space
    present = set()
    for lab in (sample.pred, result.refined):
        ev = space.to_eval(lab)
        present |= {int(i) for i in np.unique(ev) if i < space.n_classes}
    entries = [(tuple(int(v) for v in space.colors[i]), space.names[i]) for i in sorted(present) if i not in hidden]
    counts = result.counts
    diff_entries = [
        (DIFF_COLOURS[c], f"{name} {counts.get(name, 0):,}") for c, name, _what in diff_key(sample.gt is not None)
    ]
    sw = fs.height() * 0.8

    def rows_of(items):
        rows, row, x = [], [], gap
        for colour, text in items:
            iw = sw + 6 + fs.horizontalAdvance(text) + 2 * gap
            if row and x + iw > width - gap:
                rows.append(row)
                row, x = [], gap
            row.append((colour, text, x))
            x += iw
        if row:
            rows.append(row)
        return rows

    class_rows = rows_of(entries)
    diff_rows = rows_of(diff_entries) if "diff" in panels else []
    head_h = gap + line * len(header)
    title_h = line
    legend_h = gap + sline * (len(class_rows) + len(diff_rows)) + gap
    height = int(head_h + title_h + ph + legend_h + gap)

    img = QImage(width, height, QImage.Format.Format_RGB32)
    img.fill(FIG_BG)
    p = QPainter(img)
    try:
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        p.setPen(FIG_TEXT)
        y = gap
        for i, text in enumerate(header):
            p.setFont(bold if i == 0 else font)
            p.drawText(
                QRectF(gap, y, width - 2 * gap, line), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text
            )
            y += line
        p.setFont(font)
        for k, name in enumerate(panels):
            x = gap + k * (pw + gap)
            p.setPen(FIG_TEXT)
            p.drawText(QRectF(x, y, pw, title_h), Qt.AlignmentFlag.AlignCenter, titles[name])
            target = QRectF(x, y + title_h, pw, ph)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            for layer in layer_images[name]:
                p.drawImage(target, _qimage(layer))
        y += title_h + ph + gap
        p.setFont(small)
        for row in class_rows + diff_rows:
            for colour, text, x in row:
                p.fillRect(QRectF(x, y + (sline - sw) / 2, sw, sw), QColor(*colour[:3]))
                p.setPen(FIG_TEXT)
                p.drawText(
                    QRectF(x + sw + 6, y, width, sline),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    text,
                )
            y += sline
    finally:
        p.end()
    return img


def export_figure(
    path, sample: Sample, result: Result, before: dict | None = None, *, others: Sequence[SamplePaths] = (), **options
) -> None:
    """:func:`render_figure` written as a PNG, atomically (``others``: as for :func:`export_refined`)."""
    guard = output_guard(sample, others)
    guard.check(path)
    if sample.is_instances:
        raise InputError(
            path, "instance mode: the figure export draws label maps; export the view (screen grab) instead"
        )
    img = render_figure(sample, result, before, **options)
    with guard.active(), atomic_path(path) as tmp:
        if not img.save(os.fspath(tmp), "PNG"):
            raise OSError(f"Qt could not write {tmp}")


class FigureDialog:
    """Asks the figure's scale and panels (a small modal dialog)."""

    @staticmethod
    def ask(parent, shape: tuple[int, int]) -> dict | None:
        from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel

        dlg = QDialog(parent)
        dlg.setWindowTitle("Export figure")
        form = QFormLayout(dlg)
        spin = QDoubleSpinBox()
        spin.setRange(0.1, 8.0)
        spin.setSingleStep(0.5)
        spin.setValue(1.0)
        spin.setSuffix(" × image size")
        size = QLabel()

        def show_size(v):
            size.setText(f"each panel {int(round(shape[1] * v))} × {int(round(shape[0] * v))} px")

        spin.valueChanged.connect(show_size)
        show_size(1.0)
        diff = QCheckBox("diff panel (fixed / broken / swapped)")
        diff.setChecked(True)
        form.addRow("Scale", spin)
        form.addRow("", size)
        form.addRow("", diff)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dlg.accept)
        buttons.rejected.connect(dlg.reject)
        form.addRow(buttons)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return None
        return {"scale": spin.value(), "panels": FIGURE_PANELS if diff.isChecked() else FIGURE_PANELS[:2]}
