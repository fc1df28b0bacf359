"""Direction bins and the offset field.

An :class:`OffsetField` keeps what the offset network said: ``boundary`` ``(H, W)``
probabilities and ``direction`` ``(K, H, W)`` probabilities over K direction bins.
Turning it into integer offsets is a pure function of a :class:`~.setting.Setting`::

    mask    = (boundary > threshold) & (max(direction) >= min_direction_prob)
    step    = DIRECTIONS[K][argmax(direction)]
    offsets = round(step * scale) * mask          # (2, H, W) = (d_row, d_col)

Hard offsets (openseg's ``.mat`` files, already thresholded) load as a field with
``hard`` unit steps; the threshold then has no effect and only ``scale`` applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .setting import DEFAULT_SCALE, Setting

# index -> (d_row, d_col); the tables of openseg's offset helper.
DIRECTIONS: dict[int, np.ndarray] = {
    4: np.array([(-1, -1), (-1, 1), (1, 1), (1, -1)], np.int64),
    8: np.array([(0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1)], np.int64),
    16: np.array(
        [
            (0, -2),
            (-1, -2),
            (-2, -2),
            (-2, -1),
            (-2, 0),
            (-2, 1),
            (-2, 2),
            (-1, 2),
            (0, 2),
            (1, 2),
            (2, 2),
            (2, 1),
            (2, 0),
            (2, -1),
            (2, -2),
            (1, -2),
        ],
        np.int64,
    ),
}


def direction_table(k: int) -> np.ndarray:
    """``(K, 2)`` int table of (d_row, d_col) steps for K in {4, 8, 16}."""
    try:
        return DIRECTIONS[k]
    except KeyError:
        raise ValueError(f"K must be 4, 8 or 16 direction bins, not {k}") from None


def angles_to_bins(d_row: np.ndarray, d_col: np.ndarray, k: int) -> np.ndarray:
    """Quantise vectors ``(d_row, d_col)`` to the nearest of the K bin directions (uint8)."""
    table = direction_table(k).astype(np.float64)
    bin_angle = np.arctan2(table[:, 0], table[:, 1])  # angles of bins, increasing with index
    theta = np.arctan2(d_row, d_col)
    start = bin_angle[0]
    step = 2 * np.pi / k
    idx = np.floor(((theta - start) / step) + 0.5).astype(np.int64) % k
    return idx.astype(np.uint8)


def flip_bins(k: int, axis: str) -> np.ndarray:
    """Permutation ``p`` so that after flipping an image, new bin = ``p[old bin]``.

    ``axis`` is ``"horizontal"`` (columns reversed, d_col negated) or ``"vertical"``.
    """
    table = direction_table(k)
    flipped = table * (np.array([1, -1]) if axis == "horizontal" else np.array([-1, 1]))
    lookup = {tuple(v): i for i, v in enumerate(table.tolist())}
    return np.array([lookup[tuple(v)] for v in flipped.tolist()], np.int64)


PROBABILITY_DTYPE = np.dtype(np.float16)
"""The one precision of predicted probabilities: the ``.npz`` format stores them so and the
predictors return them so, so a field refines the same whether it was just predicted (the
window) or written and read back (``segfix predict-offsets``). float16 keeps 11 significant
bits: near 1 a step of 2**-11, far finer than any threshold a user sets."""


def as_stored(a: np.ndarray) -> np.ndarray:
    """``a`` at :data:`PROBABILITY_DTYPE` (rounded to nearest; no copy when it is already)."""
    return np.asarray(a).astype(PROBABILITY_DTYPE, copy=False)


_F16_INF = np.uint16(0x7C00)


def above(a: np.ndarray, t: float) -> np.ndarray:
    """``a > t`` for a Python float ``t``, exactly as NumPy compares them (for a float16
    array: in float16, ``t`` rounded to the nearest float16), computed for float16 arrays
    on their bit patterns: float16 comparisons are not vectorised (10 ms on a 1024×2048 map,
    against 1 ms here). Non-negative float16 numbers order as their unsigned bit patterns;
    negative ones, -0 and NaN are never above a threshold ``t >= 0``."""
    t = float(t)
    if a.dtype != np.float16 or not t >= 0:
        return a > t
    with np.errstate(over="ignore"):
        bits = np.float16(t).view(np.uint16)  # overflows to inf: nothing is above it
    u = a.view(np.uint16)
    out = u > bits
    out &= u <= _F16_INF
    return out


@dataclass(eq=False)
class OffsetField:
    """Boundary and direction probabilities, or hard offsets, for one image.

    Parameters
    ----------
    boundary : ndarray of shape (H, W), float in [0, 1]
    direction : ndarray of shape (K, H, W), float probabilities, or None for hard offsets
    hard : ndarray of shape (2, H, W), int unit steps (d_row, d_col), or None
    recommended : dict, optional settings the producer of the field recommends
        (keys among ``threshold``, ``min_direction_prob``, ``scale``), e.g. the defaults
        chosen on validation data for the network that predicted it
    summary : ``(bins, confidence, K)`` in place of ``direction``: the most likely bin
        ``(H, W)`` uint8 and its probability, all that refinement reads. Made by
        :meth:`summarized`; such a field refines exactly as the full one but cannot be
        written as probabilities.
    """

    boundary: np.ndarray
    direction: np.ndarray | None = None
    hard: np.ndarray | None = None
    recommended: dict = field(default_factory=dict)
    summary: tuple | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        if sum(x is not None for x in (self.direction, self.hard, self.summary)) != 1:
            raise ValueError("an OffsetField has either direction probabilities or hard offsets")
        if self.direction is not None:
            direction_table(self.direction.shape[0])
        if self.summary is not None:
            bins, conf, k = self.summary
            direction_table(k)
            if bins.shape != self.boundary.shape or conf.shape != self.boundary.shape:
                raise ValueError("a summary's bins and confidence must have the boundary's shape")
            self._cache["bins"], self._cache["conf"] = bins, conf

    def nonfinite(self) -> str | None:
        """The name of the first array holding NaN or an infinity (``"boundary"``,
        ``"direction"``), or None. A network with unusable weights gives such a field; it is
        never written (a reader refuses it) nor shown."""
        for name in ("boundary", "direction"):
            a = getattr(self, name)
            if a is not None and a.size and np.issubdtype(a.dtype, np.floating):
                lo, hi = a.min(), a.max()  # NaN propagates: no full-size temporary
                if not (np.isfinite(lo) and np.isfinite(hi)):
                    return name
        return None

    def summarized(self) -> OffsetField:
        """The same field without the ``(K, H, W)`` direction probabilities: boundary, most
        likely bin and its probability, which is all refinement and the sweep read (a float16
        4096×8192 field: 604 MB → 134 MB). Hard fields come back as they are."""
        if self.direction is None:
            return self
        return OffsetField(
            boundary=self.boundary,
            recommended=dict(self.recommended),
            summary=(self.bins(), self.direction_confidence(), self.k),
        )

    @classmethod
    def one_hot(cls, boundary: np.ndarray, bins: np.ndarray, k: int, *, recommended: dict | None = None) -> OffsetField:
        """A field whose direction is certain: probability 1 in bin ``bins`` ``(H, W)`` (uint8,
        0..K-1) of each pixel, 0 in the others (``(K, H, W)`` float16: exact for 0 and 1, half
        the memory of float32). Ground-truth fields are made so (``core.targets``, openseg's
        target files). The bins are kept: they are the argmax of these directions.

        >>> f = OffsetField.one_hot(np.ones((1, 2), np.float32), np.array([[2, 6]], np.uint8), 8)
        >>> f.to_offsets(Setting(threshold=0.5, scale=1))[:, 0].tolist()   # up, down
        [[-1, 1], [0, 0]]
        """
        bins = np.asarray(bins, np.uint8)
        direction_table(k)
        if bins.shape != np.shape(boundary):
            raise ValueError(f"bins {bins.shape} and boundary {np.shape(boundary)} must have one shape")
        if bins.size and int(bins.max()) >= k:
            raise ValueError(f"bins must be below K = {k}, found {int(bins.max())}")
        direction = np.empty((k,) + bins.shape, np.float16)
        for b in range(k):  # one plane at a time: no (K, H, W) index temporaries
            np.equal(bins, b, out=direction[b], casting="unsafe")
        field = cls(boundary=boundary, direction=direction, recommended=dict(recommended or {}))
        field._cache["bins"] = bins
        return field

    @classmethod
    def from_hard(cls, offsets: np.ndarray) -> OffsetField:
        """Field from ``(2, H, W)`` integer unit steps (boundary = 1 where non-zero)."""
        offsets = np.asarray(offsets)
        boundary = (offsets != 0).any(axis=0).astype(np.float32)
        # astype keeps the memory order: column-major planes from MATLAB files stay so
        return cls(boundary=boundary, hard=offsets.astype(np.int16, copy=False))

    @property
    def shape(self) -> tuple[int, int]:
        h, w = self.boundary.shape
        return int(h), int(w)

    @property
    def is_hard(self) -> bool:
        return self.hard is not None

    @property
    def k(self) -> int | None:
        """Number of direction bins K (None for hard offsets)."""
        if self.summary is not None:
            return int(self.summary[2])
        return None if self.direction is None else int(self.direction.shape[0])

    def _k(self) -> int:
        k = self.k
        if k is None:
            raise ValueError("hard offsets have no direction bins")
        return k

    def setting(
        self,
        *,
        threshold: float | None = None,
        scale: float | None = None,
        min_direction_prob: float | None = None,
        default_scale: float = DEFAULT_SCALE,
    ) -> Setting:
        """The :class:`Setting` to use: explicit values, else the field's recommendation,
        else the defaults (``default_scale`` for the scale)."""
        return Setting.resolve(
            self.recommended,
            threshold=threshold,
            scale=scale,
            min_direction_prob=min_direction_prob,
            default_scale=default_scale,
        )

    def bins(self) -> np.ndarray:
        """``(H, W)`` uint8 most likely direction bin (computed once)."""
        if "bins" not in self._cache:
            if self.hard is not None:
                self._cache["bins"] = angles_to_bins(self.hard[0], self.hard[1], 8)
            elif not self._summarize_f16():
                self._cache["bins"] = self._by_rows(np.argmax, np.uint8)
        return self._cache["bins"]

    def direction_confidence(self) -> np.ndarray:
        """``(H, W)`` probability of the most likely direction (computed once; 1 for hard
        offsets). float32, or float16 for a float16 field (the same values: a maximum of
        float16 numbers is one of them)."""
        if "conf" not in self._cache:
            if self.direction is None:  # hard offsets (a summary fills the cache when made)
                self._cache["conf"] = np.ones(self.shape, np.float32)
            elif not self._summarize_f16():
                dt = np.float16 if self.direction.dtype == np.float16 else np.float32
                self._cache["conf"] = self._by_rows(np.max, dt)
        return self._cache["conf"]

    def _summarize_f16(self) -> bool:
        """Most likely bin and its probability of a float16 field in one pass over its K
        planes, compared as unsigned bit patterns (float16 comparisons and reductions are not
        vectorised: 5× quicker than ``argmax`` and ``max``). Exact where it applies: for
        non-negative float16 numbers without NaN the bit patterns order as the numbers, and a
        strictly greater plane alone takes a pixel, so ties go to the first bin as ``argmax``'s
        do. False (nothing done) for other fields: the general path serves them."""
        d = self.direction
        if d is None or d.dtype != np.float16 or not d.size:
            return False
        u = d.view(np.uint16)
        if int(u.max()) > int(_F16_INF):  # a negative number, -0 or NaN
            return False
        best = u[0].copy()
        bins = np.zeros(best.shape, np.uint8)
        for b in range(1, d.shape[0]):
            more = u[b] > best
            np.copyto(best, u[b], where=more)
            bins[more] = b
        self._cache["bins"], self._cache["conf"] = bins, best.view(np.float16)
        return True

    def _by_rows(self, reduce, dtype, rows: int = 256) -> np.ndarray:
        """``reduce(direction, axis=0)`` in blocks of rows: argmax's int64 temporaries stay
        small on big maps (a 4096×8192 field would otherwise take 268 MB of int64 at once)."""
        direction = self.direction
        assert direction is not None  # only fields with probabilities reach here
        h, w = self.shape
        out = np.empty((h, w), dtype)
        for r in range(0, h, rows):
            out[r : r + rows] = reduce(direction[:, r : r + rows], axis=0)
        return out

    def moving_mask(self, setting: Setting) -> np.ndarray:
        """``(H, W)`` bool: the pixels that move at ``setting`` (any scale)."""
        if self.hard is not None:
            return np.asarray((self.hard != 0).any(axis=0))
        mask = above(self.boundary, setting.threshold)
        if setting.min_direction_prob > 0:
            # compared in float32 whatever the confidence's dtype, as it always was
            mask &= self.direction_confidence() >= np.float32(setting.min_direction_prob)
        return mask

    def to_offsets(self, setting: Setting) -> np.ndarray:
        """Integer offsets ``(2, H, W)`` int16 (d_row, d_col) at ``setting``.

        ``threshold`` and ``min_direction_prob`` do not apply to hard offsets.
        """
        if not isinstance(setting, Setting):
            raise TypeError(f"to_offsets takes a Setting, not {type(setting).__name__}")
        scale = setting.scale
        if self.hard is not None:
            if float(scale).is_integer():  # hard is int16 already; keeps its memory order
                return self.hard * np.int16(scale)
            return np.rint(self.hard * scale).astype(np.int16)
        idx = np.flatnonzero(self.moving_mask(setting))  # one scan of the mask, then indices
        steps = np.rint(direction_table(self._k()) * scale).astype(np.int16)  # (K, 2)
        out = np.zeros((2,) + self.shape, np.int16)
        b = self.bins().ravel()[idx]
        out[0].ravel()[idx] = steps[b, 0]
        out[1].ravel()[idx] = steps[b, 1]
        return out
