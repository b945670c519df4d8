"""Screening: the latency of many *new* architectures of a space, from their flat parameters.

:meth:`TablePredictor.predict_ms` builds an :class:`~mnas.arch.Arch` and the operator
keys of its units; for pools of candidates (evolution, predictor-guided search) that
is the bottleneck. But once the width multiplier and the resolution are fixed, a
unit's key depends only on its own choices: a stage's first block on (previous
stage's channels, own channels, kernel, expansion, SE, activation), a later block on
(own channels, its choices), the stem and the blocks before the stages on nothing,
and the blocks after them and the head on the last stage's channels (strides are
fixed, so input sizes are too; the residual flag follows from stride and channels).
This is the same decomposition that finds a space's fastest architecture exactly
(:func:`mnas.search.fastest_arch`).

:class:`ScreeningPredictor` tabulates those unit latencies (and weight counts) per
(width, resolution) the first time a pool needs that pair, from a handful of probe
architectures predicted by the :class:`TablePredictor` itself (so the keys, the table
entries, the device model for missing keys and the calibration are the ones
``predict_ms`` uses), and then predicts a pool as numpy gathers over a
``(n, columns)`` code array (:class:`mnas.spaces.ParamCodec`). It returns the same
number as ``predict_ms`` up to float summation order (relative difference ~1e-15).
Where the table lacks a key (and has no device model), the candidates using it
predict NaN (never within a budget) instead of raising as ``predict_ms`` does.

A space with whole-layer operation choices (``ops:``, NAS-Bench-Macro) does not
decompose that way (a skipped layer changes its neighbours' inputs), but such spaces
are small: each distinct network is predicted once with ``predict_ms`` and memoised
by its canonical code row.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mnas.errors import MissingLatencyKeyError
from mnas.latency._opkey import OpKey, op_keys
from mnas.latency._predictor import TablePredictor
from mnas.spaces import SearchSpace
from mnas.spaces._codec import Codes, ParamCodec

__all__ = ["ScreeningPredictor"]


class ScreeningPredictor:
    """Vectorised, exact latency prediction of a space's architectures from code rows.

    Args:
        space: The search space.
        predictor: The target's table predictor (its numbers are reproduced exactly).
    """

    def __init__(self, space: SearchSpace, predictor: TablePredictor) -> None:
        self.space = space
        self.predictor = predictor
        self.codec = ParamCodec(space)
        self._memo: dict[bytes, float] | None = (
            {} if any(stage.ops for stage in space.stages) else None)
        cal = predictor.table.calibration
        self._a = cal.a if cal else 1.0
        self._b = cal.b if cal else 0.0
        self._c = (cal.c if cal else 0.0) / 1e6
        self._w0 = (cal.w0 if cal else 0.0) * 1e6
        stages = space.stages if self._memo is None else ()
        n_w, n_r = len(space.widths), len(space.resolutions)
        self._combos = [list(itertools.product(
            st.kernel, st.expansion if st.type == "ir" else (1.0,), st.se, st.act))
            for st in stages]
        self._radix = [(len(st.expansion) if st.type == "ir" else 1, len(st.se), len(st.act))
                       for st in stages]
        chans = [len(st.channels) for st in stages]
        prev = [1, *chans[:-1]][:len(chans)]
        # Each unit's calibrated share a * ms + c * weights (with w0 > 0: a * ms, and its
        # weights apart, since c * max(0, weights - w0) is charged on the network's total)
        self._ms = _UnitTables(n_w, n_r, prev, chans, self._combos)
        self._wt = (_UnitTables(n_w, n_r, prev, chans, self._combos) if self._w0 > 0
                    else None)
        self._shape = [(p, c, len(k)) for p, c, k in zip(prev, chans, self._combos, strict=True)]
        self._built = np.zeros((n_w, n_r), dtype=bool)
        self.probes = 0  #: probe architectures predicted so far (the one-off cost)

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
                shares, weights = zip(*(self._unit(key)
                                        for key in op_keys(space.replay(params))), strict=True)
                self.probes += 1
                for tables, units in ((self._ms, shares), (self._wt, weights)):
                    if tables is None:
                        continue
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

    def _unit(self, key: OpKey) -> tuple[float, float]:
        """A unit's share ``a * ms + c * weights`` of the prediction (``a * ms`` with a
        ``w0``) and its weights; NaN if the table lacks it."""
        try:
            unit = self.predictor._lookup(key)  # the predictor's own lookup
        except MissingLatencyKeyError:
            return math.nan, math.nan
        if self._wt is not None:
            return self._a * unit.ms, float(unit.weights)
        return self._a * unit.ms + self._c * unit.weights, float(unit.weights)

    def warm(self) -> None:
        """Tabulate every (width, resolution) now (otherwise done on first need)."""
        if self._memo is not None:
            return
        for wi, ri in itertools.product(range(len(self.space.widths)),
                                        range(len(self.space.resolutions))):
            if not self._built[wi, ri]:
                self._build(wi, ri)

    # ---------------------------------------------------------- predictions
    def predict_codes(self, codes: Codes) -> npt.NDArray[np.float64]:
        """Calibrated latency (ms) of every row of a ``(n, columns)`` code array."""
        codec = self.codec
        codes = np.asarray(codes, dtype=np.int64)
        if self._memo is not None:
            return self._predict_memoised(codes)
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
        if self._wt is None:
            (shares,) = self._gather((self._ms,), col, depths, base, n)
            return self._b + shares
        shares, weights = self._gather((self._ms, self._wt), col, depths, base, n)
        return self._b + shares + self._c * np.maximum(weights - self._w0, 0.0)

    def _gather(self, tables: Sequence[_UnitTables],
                col: Callable[[int | None], npt.NDArray[np.int64]], depths: Any,
                base: npt.NDArray[np.int64], n: int) -> list[npt.NDArray[np.float64]]:
        """Per set of unit tables, the sum over each row's units (the indices into the
        tables are computed once for all sets)."""
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

    def _predict_memoised(self, codes: Codes) -> npt.NDArray[np.float64]:
        """Latency of each row, one ``predict_ms`` per distinct network (``ops`` spaces)."""
        assert self._memo is not None
        canon = np.ascontiguousarray(self.codec.canonical(codes))
        out = np.empty(len(codes))
        for i, row in enumerate(canon):
            key = row.tobytes()
            value = self._memo.get(key)
            if value is None:
                arch = self.space.replay(self.codec.decode(row))
                try:
                    value = self.predictor.predict_ms(arch)
                except MissingLatencyKeyError:
                    value = math.nan
                self._memo[key] = value
                self.probes += 1
            out[i] = value
        return out

    def predict_many(self, pool: Sequence[Mapping[str, Any]]) -> npt.NDArray[np.float64]:
        """Calibrated latency (ms) of every parameter set in ``pool`` (trial ``params``)."""
        return self.predict_codes(self.codec.encode_many(pool))

    def predict_params(self, params: Mapping[str, Any]) -> float:
        """Calibrated latency (ms) of one parameter set (prefer :meth:`predict_many`)."""
        return float(self.predict_many([params])[0])


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
