"""Vectorised scoring of code rows by a fitted accuracy model.

A batched search scores its candidates as code rows (:class:`mnas.spaces.ParamCodec`)
without building an ``Arch`` each (the ``AccuracyProxy.batch_scorer`` hook):

* a :class:`~mnas.accuracy.SpaceEncoding` model reads a one-hot of the flat parameters
  plus log MACs and log params: the one-hot is a scatter of the canonical rows and the
  counts come from per-unit tables (:class:`mnas.spaces.UnitSums`);
* a :class:`~mnas.accuracy._stages.StageEncoding` model (the default ``imagenet``) reads
  sums over the network's units and ratios of them (per level: blocks, output channels,
  channel-weighted SE, activation, kernel and expansion, MACs), so per-unit tables of
  those sums give its features exactly for any space that decomposes into units.

Models of the ``arch`` encoding, and spaces with whole-layer op choices, return None: the
search then scores ``Arch`` values with ``score_many``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from mnas.accuracy._encoding import SpaceEncoding
from mnas.accuracy._stages import UNIT_QUANTITIES, StageEncoding

if TYPE_CHECKING:
    from mnas.accuracy._model import AccuracyModel
    from mnas.proxies import BatchScorer
    from mnas.spaces import SearchSpace

__all__ = ["model_batch_scorer"]


def _same_space(a: SearchSpace, b: SearchSpace) -> bool:
    """Whether two spaces are the same skeleton and choices (their names aside)."""
    return (dataclasses.replace(a, name="", description="")
            == dataclasses.replace(b, name="", description=""))


def model_batch_scorer(model: AccuracyModel, space: SearchSpace) -> BatchScorer | None:
    """``(mean, ensemble spread)`` of code rows of ``space`` by ``model``, or None when the
    model's encoding is not the one-hot of this very space (or the space has whole-layer
    op choices, whose counts need an ``Arch`` each)."""
    from mnas.proxies._count_scorer import unit_costs
    from mnas.spaces import ParamCodec, UnitSums, decomposes

    encoding = model.encoding
    if isinstance(encoding, StageEncoding) and decomposes(space):
        return _stage_scorer(model, encoding, space)
    if (not isinstance(encoding, SpaceEncoding) or not decomposes(space)
            or not _same_space(encoding.space, space)):
        return None
    codec = ParamCodec(space)
    names = encoding.names
    index = {name: i for i, name in enumerate(names)}
    # feature column of (code column c, choice j)
    lookup = [np.array([index[f"{name}={value}"] for value in choices], dtype=np.int64)
              for name, choices in zip(codec.names, codec.choices, strict=True)]
    sums = UnitSums(space, 2, unit_costs, codec=codec)
    width = len(names)

    def score(codes: npt.NDArray[np.int64], /
              ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        codes = np.asarray(codes, dtype=np.int64)
        n = len(codes)
        canon = codec.canonical(codes)
        active = codec.active(codes)
        x = np.zeros((n, width))
        rows = np.arange(n)
        for c, columns in enumerate(lookup):
            x[rows, columns[canon[:, c]]] = active[:, c]
        params, macs = sums.sums(codes)
        x[:, -2] = np.log(np.maximum(macs, 1.0))
        x[:, -1] = np.log(np.maximum(params, 1.0))
        mean, spread = model.regressor.predict(x)
        return np.asarray(mean, dtype=np.float64), np.asarray(spread, dtype=np.float64)

    return score



def _stage_scorer(model: AccuracyModel, encoding: StageEncoding, space: SearchSpace
                  ) -> BatchScorer:
    """The stages encoding of code rows (:meth:`StageEncoding.from_sums` of per-unit sums
    tabulated from :meth:`StageEncoding.units`: the very formulas of ``encode``), then the
    model."""
    from mnas.spaces import UnitSums

    sums = UnitSums(space, UNIT_QUANTITIES, lambda arch: encoding.units(arch).tolist())

    def score(codes: npt.NDArray[np.int64], /
              ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        totals = np.stack(sums.sums(np.asarray(codes, dtype=np.int64)), axis=1)
        mean, spread = model.regressor.predict(encoding.from_sums(totals))
        return np.asarray(mean, dtype=np.float64), np.asarray(spread, dtype=np.float64)

    return score
