"""The ``stages`` encoding: size and resolution, and every choice where it sits.

An accuracy model of the whole MobileNet family has to see each choice a search makes
*where* it is made: MobileNetV3 put h-swish in the deep half and SE where resolution is
low (Howard et al., ICCV 2019, Sec. 5.2-5.3) because there they pay for their cost. So
the features are grouped by the output stride of each block (*levels* /2, /4, /8, /16,
/32; deeper ones join /32):

* the **anchor**: log MACs and log params, each as a monotone concave piecewise-linear
  basis (``x`` and ``min(x, knot)`` for a few knots; with non-negative weights the fitted
  curve rises and flattens, as accuracy does with size), and log resolution;
* per level, the **corrections**: the share of the level's blocks with SE, and with a
  swish-type activation (``hswish``, ``swish``); the mean kernel as ``(k - 3) / 2`` and
  the mean log expansion ``log(mid / in)``; ``log(1 + blocks)``; and the share of the
  network's block MACs spent at the level. Shares and means weigh each block by its
  output channels, so two networks that place SE in different stages of one level (a
  80- or a 112-wide block at /16) can score differently. (Weighing by compute instead
  ties the shares to the expansion choices and validated worse: mean within-recipe and
  in-band tau 0.775 against 0.800 for channels and 0.803 for plain block counts,
  benchmarks/RESULTS-accuracy.md.)
* two global corrections: the share of MobileNetV1-type blocks (``dsa``: no residual, an
  activation after the 1x1) and whether the head pools before its last convs
  (MobileNetV3's efficient head).

Shares and means do not grow with depth (a count of SE blocks would), so depth reaches
the model only through its own features. ``cn`` blocks (plain convs) count in MACs only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mnas.arch import Arch, block_costs
from mnas.arch._costs import head_costs, stem_costs
from mnas.errors import MnasInputError

__all__ = ["CHOICES", "LEVELS", "UNIT_QUANTITIES", "StageEncoding", "level_of_stride"]

#: Output strides of the levels (a block's level is the stride of its output).
LEVELS = ("/2", "/4", "/8", "/16", "/32")
#: Per-level correction groups, in column order.
CHOICES = ("se", "swish", "kernel", "expansion", "depth", "macs_share")
_GLOBALS = ("dsa_share", "efficient_head")
_N_LEVELS = len(LEVELS)
#: Per-level sums of :meth:`StageEncoding.units`, in column order.
_PER_LEVEL = ("blocks", "width", "se", "swish", "kernel", "expansion", "macs")
#: Columns of :meth:`StageEncoding.units`: params, MACs, log resolution, the per-level sums,
#: MobileNetV1-type blocks, blocks with choices, efficient head.
UNIT_QUANTITIES = 3 + len(_PER_LEVEL) * _N_LEVELS + 3
_SWISH = ("hswish", "swish")
#: Knots of the anchor's concave basis (log MACs, log params): where mobile networks'
#: accuracy-vs-size curves bend (MobileNetV3-Small ~60M MACs, V2 ~300M; 2-8M params).
_KNOTS = {"macs": (50e6, 150e6, 400e6), "params": (2e6, 4e6, 8e6)}


def stem_size(arch: Arch) -> int:
    """Height = width of the stem's output."""
    from mnas.arch._costs import conv_out_size

    return conv_out_size(arch.resolution, arch.stem.kernel, arch.stem.stride)


def level_of_stride(stride: int) -> int:
    """Index into :data:`LEVELS` of a cumulative output stride (1 and 2 are /2)."""
    return min(max(round(math.log2(max(stride, 1))) - 1, 0), len(LEVELS) - 1)


class StageEncoding:
    """Anchor and per-level correction features of an ``Arch`` (see the module docstring).

    Args:
        knots: ``{"macs": [...], "params": [...]}``, the anchor's knots (counts, not logs).
    """

    kind = "stages"

    def __init__(self, knots: dict[str, Sequence[float]] | None = None) -> None:
        chosen: dict[str, Sequence[float]] = dict(knots or _KNOTS)
        self.knots = {k: tuple(float(v) for v in chosen[k]) for k in ("macs", "params")}
        self._log_knots = {k: np.log(np.asarray(v)) for k, v in self.knots.items()}

    @property
    def anchor_names(self) -> list[str]:
        """The anchor's columns (fitted with non-negative weights)."""
        out = ["log_macs", *(f"min(log_macs,{k:.3g})" for k in self.knots["macs"]),
               "log_params", *(f"min(log_params,{k:.3g})" for k in self.knots["params"])]
        return [*out, "log_resolution"]

    @property
    def correction_names(self) -> list[str]:
        """The correction columns: ``se@/16`` ... then the global ones."""
        return [f"{choice}@{level}" for choice in CHOICES for level in LEVELS] + list(_GLOBALS)

    @property
    def names(self) -> list[str]:
        """Every column: the anchor's, then the corrections'."""
        return self.anchor_names + self.correction_names

    @property
    def n_anchor(self) -> int:
        """How many leading columns are the anchor."""
        return len(self.anchor_names)

    def encode(self, arch: Arch) -> np.ndarray:
        """The feature vector of ``arch``: :meth:`from_sums` of its units' sums."""
        row: np.ndarray = self.from_sums(self.units(arch).sum(axis=0)[None, :])[0]
        return row

    def anchor(self, arch: Arch) -> np.ndarray:
        """The anchor columns of ``arch``."""
        return self.encode(arch)[:self.n_anchor]

    def corrections(self, arch: Arch) -> np.ndarray:
        """The correction columns of ``arch``."""
        return self.encode(arch)[self.n_anchor:]

    @staticmethod
    def units(arch: Arch) -> np.ndarray:
        """Per unit of ``arch`` (stem, every block, head; one row each), the quantities whose
        sums :meth:`from_sums` turns into the features (:data:`UNIT_QUANTITIES`): params,
        MACs, log resolution (the stem's), per level the :data:`_PER_LEVEL` sums, then
        MobileNetV1-type blocks, blocks with choices, and the efficient head (the head's).
        A batch scorer tabulates the same rows per unit of a space (``mnas.spaces.UnitSums``).
        """
        out = np.zeros((len(arch.blocks) + 2, UNIT_QUANTITIES))
        stem = stem_costs(arch.stem, arch.resolution)
        out[0, :3] = stem.params, stem.macs, math.log(arch.resolution)
        stride = arch.stem.stride
        size = stem_size(arch)
        for row, cost in enumerate(block_costs(arch), start=1):
            block = cost.block
            stride *= block.stride
            size = cost.out_size
            out[row, :2] = cost.params, cost.macs
            base = 3 + level_of_stride(stride)
            out[row, base + 6 * _N_LEVELS] = cost.macs
            if block.type == "cn":
                continue
            w = float(block.out_channels)  # shares and means weigh each block by its width
            values = (1.0, w, w * block.has_se, w * (block.act in _SWISH),
                      w * (block.kernel - 3) / 2,
                      w * math.log(block.mid_channels / block.in_channels))
            for k, value in enumerate(values):
                out[row, base + k * _N_LEVELS] = value
            out[row, -3:-1] = float(block.type == "dsa"), 1.0
        head = head_costs(arch.head, in_channels=arch.feature_channels, in_size=size,
                          num_classes=arch.num_classes)
        out[-1, :2] = head.params, head.macs
        out[-1, -1] = float(arch.head.type == "pool_conv_act")
        return out

    def from_sums(self, totals: np.ndarray) -> np.ndarray:
        """Feature rows from rows of summed :meth:`units` (``(n, UNIT_QUANTITIES)``)."""
        totals = np.atleast_2d(np.asarray(totals, float))
        level = {name: totals[:, 3 + k * _N_LEVELS: 3 + (k + 1) * _N_LEVELS]
                 for k, name in enumerate(_PER_LEVEL)}
        log_macs = np.log(np.maximum(totals[:, 1], 1.0))[:, None]
        log_params = np.log(np.maximum(totals[:, 0], 1.0))[:, None]
        width = np.maximum(level["width"], 1.0)
        macs = level["macs"]
        columns = [log_macs, np.minimum(log_macs, self._log_knots["macs"]),
                   log_params, np.minimum(log_params, self._log_knots["params"]),
                   totals[:, 2:3],
                   *(level[c] / width for c in ("se", "swish", "kernel", "expansion")),
                   np.log1p(level["blocks"]),
                   macs / np.maximum(macs.sum(axis=1, keepdims=True), 1.0),
                   (totals[:, -3] / np.maximum(totals[:, -2], 1.0))[:, None],
                   totals[:, -1:]]
        return np.hstack(columns)

    def encode_many(self, archs: Sequence[Arch]) -> np.ndarray:
        """Rows of :meth:`encode` for several architectures."""
        return np.stack([self.encode(a) for a in archs]) if archs else np.zeros(
            (0, len(self.names)))

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "stages", "features": [...], "knots": {...}}``."""
        return {"kind": "stages", "features": self.names,
                "knots": {k: list(v) for k, v in self.knots.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str) -> StageEncoding:
        """Rebuild a stored encoding, checking its features are this version's.

        Raises:
            MnasInputError: Malformed knots, or features that differ from this version's.
        """
        knots = data.get("knots")
        if (not isinstance(knots, dict) or set(knots) != {"macs", "params"}
                or not all(isinstance(v, list) and v and all(
                    isinstance(x, int | float) and not isinstance(x, bool) and 1 <= x <= 1e12
                    for x in v) for v in knots.values())):
            raise MnasInputError(f"{source}: field 'encoding.knots' must map macs and params "
                                 "to lists of counts; refit the model with `mnas accuracy fit`")
        encoding = cls(knots)
        if data.get("features") != encoding.names:
            raise MnasInputError(f"{source}: its stage-encoding features differ from this "
                                 "mnas version's; refit the model with `mnas accuracy fit`")
        return encoding
