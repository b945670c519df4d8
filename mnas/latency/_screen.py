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
(width, resolution) the first time a pool needs that pair (:class:`mnas.spaces.UnitSums`),
from a handful of probe architectures predicted by the :class:`TablePredictor` itself
(so the keys, resolution-keyed entries, the table
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

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mnas.arch import Arch
from mnas.errors import MissingLatencyKeyError
from mnas.latency._opkey import OpKey, op_keys
from mnas.latency._predictor import TablePredictor
from mnas.spaces import Codes, ParamCodec, SearchSpace, UnitSums, decomposes

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
        self._memo: dict[bytes, float] | None = None if decomposes(space) else {}
        cal = predictor.table.calibration
        self._a = cal.a if cal else 1.0
        self._b = cal.b if cal else 0.0
        self._c = (cal.c if cal else 0.0) / 1e6
        self._w0 = (cal.w0 if cal else 0.0) * 1e6
        # Each unit's calibrated share a * ms + c * weights (with w0 > 0: a * ms, and its
        # weights apart, since c * max(0, weights - w0) is charged on the network's total)
        self._sums = (UnitSums(space, 2 if self._w0 > 0 else 1, self._units, codec=self.codec)
                      if self._memo is None else None)
        self._probes = 0

    @property
    def probes(self) -> int:
        """Probe architectures predicted so far (the one-off cost)."""
        return self._probes + (self._sums.probes if self._sums is not None else 0)

    # ------------------------------------------------------------ tables
    def _units(self, arch: Arch) -> list[tuple[float, ...]]:
        """Every unit's share of the prediction (and its weights, with a ``w0``)."""
        return [self._unit(key, arch.resolution) for key in op_keys(arch)]

    def _unit(self, key: OpKey, resolution: int) -> tuple[float, ...]:
        """A unit's share ``a * ms + c * weights`` of the prediction (``(a * ms, weights)``
        with a ``w0``), inside a network of input ``resolution``; NaN if the table lacks it."""
        try:
            unit = self.predictor._lookup(key, resolution)  # the predictor's own lookup
        except MissingLatencyKeyError:
            return (math.nan, math.nan) if self._w0 > 0 else (math.nan,)
        if self._w0 > 0:
            return self._a * unit.ms, float(unit.weights)
        return (self._a * unit.ms + self._c * unit.weights,)

    def warm(self) -> None:
        """Tabulate every (width, resolution) now (otherwise done on first need)."""
        if self._sums is not None:
            self._sums.warm()

    # ---------------------------------------------------------- predictions
    def predict_codes(self, codes: Codes) -> npt.NDArray[np.float64]:
        """Calibrated latency (ms) of every row of a ``(n, columns)`` code array."""
        codes = np.asarray(codes, dtype=np.int64)
        if self._sums is None:
            return self._predict_memoised(codes)
        if self._w0 <= 0:
            (shares,) = self._sums.sums(codes)
            return self._b + shares
        shares, weights = self._sums.sums(codes)
        return self._b + shares + self._c * np.maximum(weights - self._w0, 0.0)

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
                self._probes += 1
            out[i] = value
        return out

    def predict_many(self, pool: Sequence[Mapping[str, Any]]) -> npt.NDArray[np.float64]:
        """Calibrated latency (ms) of every parameter set in ``pool`` (trial ``params``)."""
        return self.predict_codes(self.codec.encode_many(pool))

    def predict_params(self, params: Mapping[str, Any]) -> float:
        """Calibrated latency (ms) of one parameter set (prefer :meth:`predict_many`)."""
        return float(self.predict_many([params])[0])
