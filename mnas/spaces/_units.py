"""Sums of per-unit quantities (latency, weights, MACs, parameters) over many code rows at once.

A network of a search space is a stem, fixed blocks, the searched blocks, more fixed
blocks and a head. Once the width multiplier and the resolution are fixed, what a unit
costs depends only on its own choices: a stage's first block on (the previous stage's
channels, its own channels, kernel, expansion, SE, activation), a later block on (its own
channels, its choices), the stem and the blocks before the stages on nothing, and the
blocks after them and the head on the last stage's channels (strides are fixed, so input
sizes are too; the residual flag follows from stride and channels).

:class:`UnitSums` tabulates such per-unit quantities per (width, resolution) the first
time a row needs that pair, from a handful of probe architectures (``space.replay`` of
chosen parameters) measured by a caller's function, and then sums them for a
``(n, columns)`` code array (:class:`ParamCodec`) with numpy gathers. The latency screen
(:class:`mnas.latency.ScreeningPredictor`) and the count scorers of the ``params`` and
``flops`` proxies are built on it. Spaces with whole-layer operation choices (``ops:``)
do not decompose that way (:func:`decomposes`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mnas.arch import Arch
from mnas.spaces._codec import Codes, ParamCodec
from mnas.spaces._space import SearchSpace

__all__ = ["UnitFn", "UnitSums", "decomposes"]

UnitFn = Callable[[Arch], Sequence[Sequence[float]]]
"""``units(arch)``: per unit of ``arch`` in execution order (stem, every block, head), one
value per quantity (the same number of quantities for every unit)."""


def decomposes(space: SearchSpace) -> bool:
    """Whether per-unit tables describe ``space`` (no stage with whole-layer op choices)."""
    return not any(stage.ops for stage in space.stages)


class UnitSums:
    """Per-row sums of per-unit quantities over a space's code rows.

    Args:
        space: The search space (one that :func:`decomposes`).
        quantities: Values per unit that ``units`` returns.
        units: The per-unit quantities of a probe architecture (NaN where unknown: the
            rows using that unit sum to NaN).
        codec: The space's codec (default: a new one).

    Raises:
        ValueError: ``space`` does not decompose into units.
    """

    def __init__(self, space: SearchSpace, quantities: int, units: UnitFn, *,
                 codec: ParamCodec | None = None) -> None:
        if not decomposes(space):
            raise ValueError(f"space {space.name!r} has whole-layer op choices: its units "
                             "depend on their neighbours, per-unit tables cannot describe it")
        self.space = space
        self.codec = codec if codec is not None else ParamCodec(space)
        self.quantities = quantities
        self._units = units
        stages = space.stages
        n_w, n_r = len(space.widths), len(space.resolutions)
        self._combos = [list(itertools.product(
            st.kernel, st.expansion if st.type == "ir" else (1.0,), st.se, st.act))
            for st in stages]
        self._radix = [(len(st.expansion) if st.type == "ir" else 1, len(st.se), len(st.act))
                       for st in stages]
        chans = [len(st.channels) for st in stages]
        prev = [1, *chans[:-1]][:len(chans)]
        self._tables = [_UnitTables(n_w, n_r, prev, chans, self._combos)
                        for _ in range(quantities)]
        self._shape = [(p, c, len(k)) for p, c, k in zip(prev, chans, self._combos, strict=True)]
        self._built = np.zeros((n_w, n_r), dtype=bool)
        self.probes = 0  #: probe architectures measured so far (the one-off cost)

    # ------------------------------------------------------------ tables
    def _build(self, wi: int, ri: int) -> None:
        """Tabulate every unit at (width ``wi``, resolution ``ri``) from probe architectures."""
        space, stages = self.space, self.space.stages
        n_chan = max(len(st.channels) for st in stages)
        n_combo = max(len(c) for c in self._combos)
        # a later block's unit is the same at every position >= 2: the shallowest probe that
        # has one is enough (fewer units to build and look up)
        depth = [min((d for d in st.depth if d >= 2), default=max(st.depth)) for st in stages]
        n_before = len(space.before)
        n_after = len(space.after)
        for i, j in itertools.product(range(n_chan), repeat=2):
            ci = [(i if s % 2 == 0 else j) % len(st.channels) for s, st in enumerate(stages)]
            for k in range(n_combo):
                picks = [k % len(c) for c in self._combos]
                params: dict[str, Any] = {"width": space.widths[wi],
                                          "resolution": space.resolutions[ri]}
                for s, st in enumerate(stages, start=1):
                    kernel, expansion, se, act = self._combos[s - 1][picks[s - 1]]
                    params[f"s{s}_channels"] = st.channels[ci[s - 1]]
                    params[f"s{s}_depth"] = depth[s - 1]
                    prefixes = ([f"s{s}"] if st.share
                                else [f"s{s}_b{b}" for b in range(1, depth[s - 1] + 1)])
                    for prefix in prefixes:
                        params.update({f"{prefix}_kernel": kernel, f"{prefix}_expansion": expansion,
                                       f"{prefix}_se": se, f"{prefix}_act": act})
                values = list(zip(*self._units(space.replay(params)), strict=True))
                self.probes += 1
                for tables, units in zip(self._tables, values, strict=True):
                    pos = 1 + n_before
                    for s in range(len(stages)):
                        p = ci[s - 1] if s > 0 else 0
                        tables.first[s][wi, ri, p, ci[s], picks[s]] = units[pos]
                        if depth[s] > 1:
                            tables.later[s][wi, ri, ci[s], picks[s]] = units[pos + 1]
                        pos += depth[s]
                    fixed = [*units[:1 + n_before], *units[len(units) - 1 - n_after:]]
                    tables.fixed[wi, ri, ci[-1]] = sum(fixed)
        self._built[wi, ri] = True

    def warm(self) -> None:
        """Tabulate every (width, resolution) now (otherwise done on first need)."""
        for wi, ri in itertools.product(range(len(self.space.widths)),
                                        range(len(self.space.resolutions))):
            if not self._built[wi, ri]:
                self._build(wi, ri)

    # ---------------------------------------------------------------- sums
    def sums(self, codes: Codes) -> list[npt.NDArray[np.float64]]:
        """Per quantity, the sum over each row's units (``(n,)`` arrays)."""
        codec = self.codec
        codes = np.asarray(codes, dtype=np.int64)
        n = len(codes)
        zeros = np.zeros(n, dtype=np.int64)
        columns = np.ascontiguousarray(codes.T)  # one contiguous array per parameter

        def col(index: int | None) -> npt.NDArray[np.int64]:
            return zeros if index is None else columns[index]

        wi, ri = col(codec.width_col), col(codec.resolution_col)
        if n and not self._built.all():
            n_r = len(self.space.resolutions)
            for pair in np.unique(wi * n_r + ri):
                if not self._built[pair // n_r, pair % n_r]:
                    self._build(int(pair // n_r), int(pair % n_r))
        depths = codec.depths(codes)
        base = wi * len(self.space.resolutions) + ri
        return self._gather(col, depths, base, n)

    def _gather(self, col: Callable[[int | None], npt.NDArray[np.int64]], depths: Any,
                base: npt.NDArray[np.int64], n: int) -> list[npt.NDArray[np.float64]]:
        """Per quantity, the sum over each row's units (the indices into the tables are
        computed once for all quantities)."""
        tables = self._tables
        prev = np.zeros(n, dtype=np.int64)
        totals = [np.zeros(n) for _ in tables]
        for s, (stage, cols) in enumerate(zip(self.space.stages, self.codec.stages,
                                              strict=True)):
            own = col(cols.channels)
            n_prev, n_own, n_combo = self._shape[s]
            n_e, n_se, n_a = self._radix[s]
            combos = [((col(k) * n_e + col(e)) * n_se + col(se)) * n_a + col(a)
                      for k, e, se, a in cols.slots]
            first = ((base * n_prev + prev) * n_own + own) * n_combo + combos[0]
            for total, unit in zip(totals, tables, strict=True):
                total += unit.first_flat[s].take(first)
            if max(stage.depth) > 1:
                later = (base * n_own + own) * n_combo
                if stage.share:
                    deep = depths[s] > 1  # (0 * NaN would be NaN: a missing unused key)
                    for total, unit in zip(totals, tables, strict=True):
                        total += np.where(deep, (depths[s] - 1)
                                          * unit.later_flat[s].take(later + combos[0]), 0.0)
                else:
                    off = len(tables[0].later_flat[s]) - 1  # the trailing 0: beyond the depth
                    for b in range(1, max(stage.depth)):
                        index = np.where(depths[s] > b, later + combos[b], off)
                        for total, unit in zip(totals, tables, strict=True):
                            total += unit.later_flat[s].take(index)
            prev = own
        for total, unit in zip(totals, tables, strict=True):
            total += unit.fixed_flat.take(base * unit.fixed.shape[2] + prev)
        return totals


class _UnitTables:
    """Per (width, resolution) unit values: a stage's first block, its later blocks and
    the fixed units (stem, blocks outside the stages, head), as flat buffers for
    ``np.take`` with one trailing 0 that an inactive block indexes, and N-d views."""

    def __init__(self, n_w: int, n_r: int, prev: list[int], chans: list[int],
                 combos: list[list[Any]]) -> None:
        self.first_flat = [np.zeros(n_w * n_r * p * c * len(k) + 1) for p, c, k in
                           zip(prev, chans, combos, strict=True)]
        self.first = [f[:-1].reshape(n_w, n_r, p, c, len(k)) for f, p, c, k in
                      zip(self.first_flat, prev, chans, combos, strict=True)]
        self.later_flat = [np.zeros(n_w * n_r * c * len(k) + 1) for c, k in
                           zip(chans, combos, strict=True)]
        self.later = [f[:-1].reshape(n_w, n_r, c, len(k)) for f, c, k in
                      zip(self.later_flat, chans, combos, strict=True)]
        self.fixed_flat = np.zeros(n_w * n_r * (chans[-1] if chans else 1))
        self.fixed = self.fixed_flat.reshape(n_w, n_r, -1)
