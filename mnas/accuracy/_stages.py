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
from mnas.arch._costs import BlockCost, head_costs, stem_costs
from mnas.errors import MnasInputError

__all__ = ["CHOICES", "LEVELS", "StageEncoding", "level_of_stride"]

#: Output strides of the levels (a block's level is the stride of its output).
LEVELS = ("/2", "/4", "/8", "/16", "/32")
#: Per-level correction groups, in column order.
CHOICES = ("se", "swish", "kernel", "expansion", "depth", "macs_share")
_GLOBALS = ("dsa_share", "efficient_head")
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

    def _anchor(self, log_macs: float, log_params: float, log_res: float) -> list[float]:
        return [log_macs, *np.minimum(log_macs, self._log_knots["macs"]),
                log_params, *np.minimum(log_params, self._log_knots["params"]), log_res]

    def encode(self, arch: Arch) -> np.ndarray:
        """The feature vector of ``arch``."""
        costs = block_costs(arch)
        return np.concatenate([self._anchor_of(arch, costs), self._corrections_of(arch, costs)])

    def anchor(self, arch: Arch) -> np.ndarray:
        """The anchor columns of ``arch``."""
        return self._anchor_of(arch, block_costs(arch))

    def corrections(self, arch: Arch) -> np.ndarray:
        """The correction columns of ``arch``."""
        return self._corrections_of(arch, block_costs(arch))

    def _anchor_of(self, arch: Arch, costs: list[BlockCost]) -> np.ndarray:
        # the totals of mnas.arch.arch_costs, from block costs computed once
        stem = stem_costs(arch.stem, arch.resolution)
        last = costs[-1].out_size if costs else stem_size(arch)
        head = head_costs(arch.head, in_channels=arch.feature_channels, in_size=last,
                          num_classes=arch.num_classes)
        macs = stem.macs + head.macs + sum(c.macs for c in costs)
        params = stem.params + head.params + sum(c.params for c in costs)
        return np.asarray(self._anchor(math.log(max(macs, 1)), math.log(max(params, 1)),
                                       math.log(arch.resolution)), float)

    def _corrections_of(self, arch: Arch, costs: list[BlockCost]) -> np.ndarray:
        n_levels = len(LEVELS)
        sums = {choice: np.zeros(n_levels) for choice in CHOICES}
        count = np.zeros(n_levels)
        macs = np.zeros(n_levels)
        stride = arch.stem.stride
        dsa = blocks = 0
        choice_width = np.zeros(n_levels)  # the output channels of the blocks with choices
        for cost in costs:
            block = cost.block
            stride *= block.stride
            level = level_of_stride(stride)
            macs[level] += cost.macs
            if block.type == "cn":
                continue
            blocks += 1
            dsa += block.type == "dsa"
            count[level] += 1
            weight = block.out_channels
            choice_width[level] += weight
            sums["se"][level] += weight * block.has_se
            sums["swish"][level] += weight * (block.act in _SWISH)
            sums["kernel"][level] += weight * (block.kernel - 3) / 2
            sums["expansion"][level] += weight * math.log(block.mid_channels / block.in_channels)
        per_level = np.maximum(choice_width, 1)
        columns = [sums[c] / per_level for c in ("se", "swish", "kernel", "expansion")]
        columns += [np.log1p(count), macs / max(float(macs.sum()), 1.0)]
        glob = [dsa / max(blocks, 1), float(arch.head.type == "pool_conv_act")]
        return np.concatenate([*columns, glob])

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
