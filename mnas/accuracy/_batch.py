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
from mnas.accuracy._stages import LEVELS, StageEncoding, level_of_stride

if TYPE_CHECKING:
    from mnas.accuracy._model import AccuracyModel
    from mnas.arch import Arch
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


#: Per-level sums of the stages encoding, in the order of :func:`stage_units`' columns.
_PER_LEVEL = ("blocks", "width", "se", "swish", "kernel", "expansion", "macs")
_N_LEVELS = len(LEVELS)


def stage_units(arch: Arch) -> list[list[float]]:
    """Per unit of ``arch`` (stem, every block, head), the quantities whose sums and ratios
    are the stages encoding: params, MACs, log resolution (the stem's), per level the
    :data:`_PER_LEVEL` sums, then MobileNetV1-type blocks, blocks with choices, and the
    efficient head (the head's)."""
    from mnas.arch import block_costs, conv_out_size, head_costs, stem_costs

    width = 3 + len(_PER_LEVEL) * _N_LEVELS + 3
    stem = stem_costs(arch.stem, arch.resolution)
    first = [0.0] * width
    first[:3] = [float(stem.params), float(stem.macs), float(np.log(arch.resolution))]
    units = [first]
    stride = arch.stem.stride
    size = conv_out_size(arch.resolution, arch.stem.kernel, arch.stem.stride)
    for cost in block_costs(arch):
        block = cost.block
        stride *= block.stride
        size = cost.out_size
        unit = [0.0] * width
        unit[0], unit[1] = float(cost.params), float(cost.macs)
        base = 3 + level_of_stride(stride)
        unit[base + 6 * _N_LEVELS] = float(cost.macs)
        if block.type != "cn":
            w = float(block.out_channels)
            values = (1.0, w, w * block.has_se, w * (block.act in ("hswish", "swish")),
                      w * (block.kernel - 3) / 2,
                      w * float(np.log(block.mid_channels / block.in_channels)))
            for k, value in enumerate(values):
                unit[base + k * _N_LEVELS] = value
            unit[-3] = float(block.type == "dsa")
            unit[-2] = 1.0
        units.append(unit)
    head = head_costs(arch.head, in_channels=arch.feature_channels, in_size=size,
                      num_classes=arch.num_classes)
    last = [0.0] * width
    last[0], last[1] = float(head.params), float(head.macs)
    last[-1] = float(arch.head.type == "pool_conv_act")
    units.append(last)
    return units


def _stage_scorer(model: AccuracyModel, encoding: StageEncoding, space: SearchSpace
                  ) -> BatchScorer:
    """The stages encoding of code rows from per-unit sums, then the model (exact: the
    same sums and ratios :meth:`StageEncoding.encode` computes, in numpy)."""
    from mnas.spaces import UnitSums

    sums = UnitSums(space, 3 + len(_PER_LEVEL) * _N_LEVELS + 3, stage_units)
    knots = {k: np.log(np.asarray(v)) for k, v in encoding.knots.items()}

    def score(codes: npt.NDArray[np.int64], /
              ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        totals = sums.sums(np.asarray(codes, dtype=np.int64))
        params, macs, log_res = totals[0], totals[1], totals[2]
        level = {name: np.stack(totals[3 + k * _N_LEVELS: 3 + (k + 1) * _N_LEVELS], axis=1)
                 for k, name in enumerate(_PER_LEVEL)}
        dsa, blocks, head = totals[-3], totals[-2], totals[-1]
        log_macs = np.log(np.maximum(macs, 1.0))[:, None]
        log_params = np.log(np.maximum(params, 1.0))[:, None]
        width = np.maximum(level["width"], 1.0)
        block_macs = level["macs"]
        columns = [log_macs, np.minimum(log_macs, knots["macs"]),
                   log_params, np.minimum(log_params, knots["params"]), log_res[:, None],
                   *(level[c] / width for c in ("se", "swish", "kernel", "expansion")),
                   np.log1p(level["blocks"]),
                   block_macs / np.maximum(block_macs.sum(axis=1, keepdims=True), 1.0),
                   (dsa / np.maximum(blocks, 1.0))[:, None], head[:, None]]
        mean, spread = model.regressor.predict(np.hstack(columns))
        return np.asarray(mean, dtype=np.float64), np.asarray(spread, dtype=np.float64)

    return score
