"""segfix_gui: see, tune and apply SegFix boundary refinement.

Public API::

    from segfix_gui import read_offsets, refine_labels, Setting
    field = read_offsets("x.npz")                                 # or openseg's x.mat
    offsets = field.to_offsets(Setting(threshold=0.5, scale=2))   # (2, H, W) int16 (d_row, d_col)
    refined = refine_labels(labels, offsets)                      # (H, W) ids, same dtype
"""

from .core.metrics import SemanticEvaluator, change_codes, confusion_matrix, evaluate_pair
from .core.offsets import DIRECTIONS, OffsetField
from .core.refine import refine_labels, refine_masks
from .core.setting import Setting
from .core.targets import boundary_targets, gt_offset_field
from .errors import InputError
from .io.offsets import read_offsets, write_offsets
from .labels import LabelSpace, get_label_space

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)

__all__ = [
    "DIRECTIONS",
    "InputError",
    "LabelSpace",
    "OffsetField",
    "SemanticEvaluator",
    "Setting",
    "boundary_targets",
    "change_codes",
    "confusion_matrix",
    "evaluate_pair",
    "get_label_space",
    "gt_offset_field",
    "read_offsets",
    "refine_labels",
    "refine_masks",
    "write_offsets",
    "__version__",
]
