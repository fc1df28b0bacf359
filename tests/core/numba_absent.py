"""``numba_absent()``: the engine as where numba is not installed, inside one process.

``import numba`` fails inside the block; the modules that compile with it (core.gather,
core.evaluator_kernel, core.distance_kernel) are imported anew and fail too, and the caches
that hold them are emptied, so that refine, the evaluator and the boundary measures take their
NumPy paths. Everything is put back after the block.
"""

from __future__ import annotations

import contextlib
import sys

KERNELS = ("segfix_gui.core.gather", "segfix_gui.core.evaluator_kernel", "segfix_gui.core.distance_kernel")


def _caches():
    from segfix_gui.core import distance, evaluator, refine

    return refine._compiled_gather, evaluator._compiled_relabel, distance._compiled


@contextlib.contextmanager
def numba_absent():
    saved = {k: sys.modules.pop(k) for k in ("numba", *KERNELS) if k in sys.modules}
    sys.modules["numba"] = None  # import numba raises ImportError
    for cache in _caches():
        cache.cache_clear()
    try:
        yield
    finally:
        del sys.modules["numba"]
        for k in KERNELS:
            sys.modules.pop(k, None)
        sys.modules.update(saved)
        for cache in _caches():
            cache.cache_clear()
