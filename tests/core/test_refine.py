"""core.refine: the integer gather's contracts, against a plain per-pixel reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numba_absent import numba_absent

from segfix_gui.core.offsets import OffsetField
from segfix_gui.core.refine import refine_labels, source_indices
from segfix_gui.core.setting import Setting
from segfix_gui.io.offsets import read_offsets, write_offsets

DTYPES = [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint32, np.int64, bool]


def reference(labels, offsets):
    """Plain loop: out[..., r, c] = labels[..., clamp(r + dr), clamp(c + dc)]."""
    h, w = offsets.shape[1:]
    out = np.array(labels, copy=True)
    for r in range(h):
        for c in range(w):
            dr, dc = int(offsets[0, r, c]), int(offsets[1, r, c])
            out[..., r, c] = labels[..., min(max(r + dr, 0), h - 1), min(max(c + dc, 0), w - 1)]
    return out


def column_major(offsets):
    """``(2, H, W)`` with each plane column-major, as ``read_offsets`` gives a ``.mat``."""
    return np.moveaxis(np.asfortranarray(np.moveaxis(offsets, 0, 2)), 2, 0)


@st.composite
def cases(draw, stack=False):
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    dtype = draw(st.sampled_from(DTYPES))
    shape = ((draw(st.integers(1, 3)),) if stack else ()) + (h, w)
    if dtype is bool:
        labels = draw(hnp.arrays(bool, shape))
    else:
        labels = draw(
            hnp.arrays(dtype, shape, elements=st.sampled_from([0, 1, 7, 19, 33, 100, int(np.iinfo(dtype).max)]))
        )
    # steps up to 12: most moving pixels near a border of these small maps clamp; any integer
    # dtype (to_offsets gives int16, a caller may pass wider ones)
    off_dtype = draw(st.sampled_from([np.int16, np.int8, np.int32, np.int64]))
    offsets = draw(hnp.arrays(off_dtype, (2, h, w), elements=st.integers(-12, 12)))
    still = draw(hnp.arrays(bool, (h, w)))
    offsets[:, still] = 0
    return labels, offsets


@settings(max_examples=150, deadline=None)
@given(cases(), st.booleans())
def test_equals_reference_gather(case, colmajor):
    labels, offsets = case
    off = column_major(offsets) if colmajor else offsets
    out = refine_labels(labels, off, device="cpu")
    assert out.dtype == labels.dtype and out.shape == labels.shape
    assert np.array_equal(out, reference(labels, offsets))
    assert np.isin(out, labels).all()  # only ids the input has


@settings(max_examples=100, deadline=None)
@given(cases(), st.booleans())
def test_without_numba_numpys_path_refines_alike(case, colmajor):
    """numba is optional: without it label maps take NumPy's path, to the same result."""
    from segfix_gui.core import refine

    labels, offsets = case
    off = column_major(offsets) if colmajor else offsets
    with numba_absent():
        assert refine._compiled_gather() is None
        out = refine_labels(labels, off, device="cpu")
    assert refine._compiled_gather() is not None  # back as it was
    assert out.dtype == labels.dtype and np.array_equal(out, reference(labels, offsets))


@settings(max_examples=60, deadline=None)
@given(cases(stack=True), st.booleans())
def test_stack_moves_every_plane_alike(case, colmajor):
    masks, offsets = case
    off = column_major(offsets) if colmajor else offsets
    out = refine_labels(masks, off, device="cpu")
    assert out.dtype == masks.dtype and out.shape == masks.shape
    assert np.array_equal(out, reference(masks, offsets))
    for i in range(masks.shape[0]):
        assert np.array_equal(out[i], refine_labels(masks[i], offsets, device="cpu"))


@settings(max_examples=100, deadline=None)
@given(cases(), st.booleans())
def test_source_indices(case, colmajor):
    labels, offsets = case
    off = column_major(offsets) if colmajor else offsets
    h, w = offsets.shape[1:]
    dst, src = source_indices(off)
    moving = (offsets != 0).any(0)
    assert sorted(dst.tolist()) == np.flatnonzero(moving).tolist()
    pairs = dict(zip(dst.tolist(), src.tolist(), strict=True))
    for r in range(h):
        for c in range(w):
            if moving[r, c]:
                want = (min(max(r + int(offsets[0, r, c]), 0), h - 1), min(max(c + int(offsets[1, r, c]), 0), w - 1))
                assert divmod(pairs[r * w + c], w) == want


def test_strided_views_are_refined_as_copies_would_be():
    """Labels and offsets that are views with other strides (a transposed or sliced array)."""
    rng = np.random.default_rng(4)
    base = rng.integers(0, 9, (14, 10)).astype(np.uint16)
    labels = base.T[:, ::2]  # (10, 7), neither C nor F contiguous
    offsets = rng.integers(-3, 4, (2, 10, 14)).astype(np.int32)[:, :, ::2]
    offsets[:, rng.random((10, 7)) < 0.4] = 0
    out = refine_labels(labels, offsets, device="cpu")
    assert np.array_equal(out, reference(np.ascontiguousarray(labels), np.ascontiguousarray(offsets)))


def test_border_clamps_far_offsets():
    labels = np.arange(12, dtype=np.int32).reshape(3, 4)
    off = np.zeros((2, 3, 4), np.int16)
    off[:, 1, 1] = (-100, -100)  # far up-left -> corner (0, 0)
    off[:, 1, 2] = (100, 100)  # far down-right -> corner (2, 3)
    off[:, 0, 3] = (0, 5)  # right, clamped at the last column: itself
    off[:, 2, 0] = (-1, -7)  # up one row, column clamped to 0
    out = refine_labels(labels, off, device="cpu")
    want = labels.copy()
    want[1, 1], want[1, 2], want[0, 3], want[2, 0] = labels[0, 0], labels[2, 3], labels[0, 3], labels[1, 0]
    assert np.array_equal(out, want)


def test_read_only_inputs_are_left_alone():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, (6, 7)).astype(np.uint8)
    offsets = rng.integers(-2, 3, (2, 6, 7)).astype(np.int16)
    want = reference(labels, offsets)
    for off in (offsets.copy(), column_major(offsets)):
        lab = labels.copy()
        lab.flags.writeable = False
        off.flags.writeable = False
        out = refine_labels(lab, off, device="cpu")
        assert np.array_equal(out, want) and out.flags.writeable
        assert np.array_equal(lab, labels) and np.array_equal(off, offsets)


def _offsets_at(field, scale):
    return field.to_offsets(Setting(scale=scale))


def test_mat_file_offsets_at_scale_2(tmp_path):
    """Offsets as the window and the command line get them: openseg .mat, column-major."""
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 19, (40, 56)).astype(np.uint8)
    steps = rng.integers(-1, 2, (2, 40, 56)).astype(np.int16)
    steps[:, rng.random((40, 56)) < 0.7] = 0
    write_offsets(tmp_path / "o.mat", OffsetField.from_hard(steps))
    off = _offsets_at(read_offsets(tmp_path / "o.mat"), 2)
    assert off[0].T.flags.c_contiguous  # the column-major path is the one under test
    assert np.array_equal(off, steps * 2)
    assert np.array_equal(refine_labels(labels, off, device="cpu"), reference(labels, steps * 2))


def test_bad_shapes():
    with pytest.raises(ValueError, match="offsets are 3×3 but the labels are 4×4"):
        refine_labels(np.zeros((4, 4), np.uint8), np.zeros((2, 3, 3), np.int16))
    with pytest.raises(ValueError, match="must be \\(2, H, W\\)"):
        source_indices(np.zeros((3, 4, 4), np.int16))
    with pytest.raises(ValueError, match="labels must be"):
        refine_labels(np.zeros(4, np.uint8), np.zeros((2, 4, 4), np.int16))


cuda = pytest.importorskip("torch").cuda.is_available()


@pytest.mark.skipif(not cuda, reason="no CUDA device on this machine")
@settings(max_examples=60, deadline=None)
@given(st.one_of(cases(), cases(stack=True)), st.booleans())
def test_cuda_equals_cpu(case, colmajor):  # pragma: no cover - needs a GPU
    labels, offsets = case
    off = column_major(offsets) if colmajor else offsets
    a = refine_labels(labels, off, device="cpu")
    b = refine_labels(labels, off, device="cuda")
    assert a.dtype == b.dtype and np.array_equal(a, b)


def _fresh(code: str) -> str:
    """``code`` run in a fresh interpreter (nothing imported yet); its stdout."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_without_a_gpu_driver_auto_is_the_cpu_and_torch_is_not_imported():
    """No GPU driver (its files made absent here): ``auto`` is the CPU, known without torch's
    second of import, and ``cuda`` is refused in one line."""
    out = _fresh(
        "import sys; import segfix_gui.core.refine as r; r.GPU_DRIVER_FILES = ('/nonexistent/nvidiactl',)\n"
        "print(r.may_have_gpu(), r.resolve_device('auto'), 'torch' in sys.modules)\n"
        "try:\n    r.resolve_device('cuda')\nexcept ValueError as e:\n    print(e)"
    )
    assert out.splitlines() == ["False cpu False", "device 'cuda' was asked for but this machine has no GPU driver"]


def test_with_a_gpu_driver_torch_is_asked(tmp_path):
    """Where a driver's file exists, torch decides (here: its own answer, whatever it is)."""
    (tmp_path / "nvidiactl").touch()
    out = _fresh(
        f"import sys; import segfix_gui.core.refine as r; r.GPU_DRIVER_FILES = ({str(tmp_path / 'nvidiactl')!r},)\n"
        "d = r.resolve_device('auto'); import torch\n"
        "print(r.may_have_gpu(), d == ('cuda' if torch.cuda.is_available() else 'cpu'))"
    )
    assert out == "True True"
