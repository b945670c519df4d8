"""Encodings: an ``Arch`` as a fixed-length vector of numbers for an accuracy model.

Three encodings (Accel-NASBench, NAS-Bench-Macro and OFA all rank well with simple
encodings plus the network's size; White et al., "How Powerful are Performance
Predictors in Neural Architecture Search?", NeurIPS 2021):

* :class:`SpaceEncoding` (``space``): the search space's own flat parameters one-hot,
  exactly what :meth:`~mnas.spaces.SearchSpace.sample` suggests and
  :meth:`~mnas.spaces.SearchSpace.params_of` recovers, plus log MACs and log params.
  It only encodes members of that space; anything else is an error that says so.
* :class:`ArchEncoding` (``arch``): features computed from the ``Arch`` alone: log MACs,
  log params, log resolution, the receptive field relative to the input, depth, the
  share of MACs spent at each output stride (/2 ... /32), and the shares of blocks with
  SE, a residual and a swish-type activation. One model can then score an
  architecture of any space.
* :class:`~mnas.accuracy._stages.StageEncoding` (``stages``): size and resolution as a
  monotone anchor, and every choice per output-stride level (the default estimate's).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from mnas.accuracy._stages import StageEncoding
from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.proxies import arch_costs, block_costs
from mnas.spaces import SearchSpace, load_space

__all__ = ["ENCODINGS", "ArchEncoding", "Encoding", "SpaceEncoding", "encoding_from_dict"]

ENCODINGS = ("space", "arch", "stages")
#: Stride stages of the arch encoding: output /2, /4, /8, /16, /32 (deeper ones join /32).
_LEVELS = 5
_SWISH = ("hswish", "swish")


class Encoding(Protocol):
    """What an accuracy model needs of an encoding."""

    kind: str

    @property
    def names(self) -> list[str]:
        """One name per feature."""

    def encode(self, arch: Arch) -> np.ndarray:
        """The feature vector of ``arch`` (raises ``MnasInputError`` outside its domain)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON view, enough to rebuild the encoding with :func:`encoding_from_dict`."""


def _size_features(arch: Arch) -> list[float]:
    costs = arch_costs(arch)
    return [math.log(max(costs.macs, 1)), math.log(max(costs.params, 1))]


class SpaceEncoding:
    """One-hot flat parameters of one search space, plus log MACs and log params.

    Args:
        space: The search space.
        source: How to load the space again when the model is read back: a shipped name
            (default: ``space.name``) or the path of its YAML file.
    """

    kind = "space"

    def __init__(self, space: SearchSpace, source: str | None = None) -> None:
        self.space = space
        self.source = source or space.name
        self._choices = space.parameter_choices()
        self._names = [f"{p}={v}" for p, choices in self._choices.items() for v in choices]
        self._names += ["log_macs", "log_params"]
        self._column = {(p, v): i for i, (p, v) in enumerate(
            (p, v) for p, choices in self._choices.items() for v in choices)}

    @property
    def names(self) -> list[str]:
        """Feature names (``s1_kernel=3`` ..., ``log_macs``, ``log_params``)."""
        return list(self._names)

    def params(self, arch: Arch) -> Mapping[str, Any]:
        """The flat parameters of ``arch`` in this space.

        Raises:
            MnasInputError: ``arch`` is not a member of the space.
        """
        params = self.space.params_of(arch)
        if params is None:
            raise MnasInputError(
                f"architecture {arch.name!r} is not in space {self.space.name!r}, the space "
                f"this accuracy model was fitted for; score it with a model of its own space "
                f"or an arch-encoding model (e.g. the default estimate)")
        return params

    def encode(self, arch: Arch) -> np.ndarray:
        """One-hot of ``params_of(arch)`` (absent deeper blocks stay 0), log MACs, log params."""
        vector = np.zeros(len(self._names))
        for name, value in self.params(arch).items():
            vector[self._column[(name, value)]] = 1.0
        vector[-2:] = _size_features(arch)
        return vector

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "space", "space": NAME, "parameters": {name: [choices]}}``."""
        return {"kind": "space", "space": self.space.name, "source": self.source,
                "parameters": {k: list(v) for k, v in self._choices.items()}}


class ArchEncoding:
    """Space-agnostic features of an ``Arch`` (see the module docstring).

    Chosen to transfer between spaces rather than to fit one: a per-level, per-block
    one-hot fits Accel-NASBench better (5-fold tau 0.83) but ranks OFA subnets and the
    zoo worse than MACs or params (0.61 / 0.65), while how the compute is spread over
    the resolution levels, with the network's size, ranks both better (README,
    "Accuracy models").
    """

    kind = "arch"

    @property
    def names(self) -> list[str]:
        """Feature names."""
        return ["log_macs", "log_params", "log_resolution", "log_receptive_field", "depth",
                *(f"macs_share_l{lvl}" for lvl in range(1, _LEVELS + 1)),
                "se_share", "skip_share", "swish_share"]

    def encode(self, arch: Arch) -> np.ndarray:
        """The feature vector of ``arch``.

        Levels are the output strides /2 ... /32 (deeper ones count as /32); the
        receptive field is that of the stacked spatial convs, relative to the input.
        """
        costs = block_costs(arch)
        per_level = np.zeros(_LEVELS)
        level = max(0, int(math.log2(arch.stem.stride)) - 1)
        field = arch.stem.kernel
        jump = arch.stem.stride
        for cost in costs:
            block = cost.block
            if block.stride > 1:
                level += int(round(math.log2(block.stride)))
            per_level[min(level, _LEVELS - 1)] += cost.macs
            field += (block.kernel - 1) * jump
            jump *= block.stride
        blocks = arch.blocks
        n = max(len(blocks), 1)
        shares = per_level / max(per_level.sum(), 1.0)
        return np.asarray([
            *_size_features(arch), math.log(arch.resolution), math.log(field / arch.resolution),
            float(len(blocks)), *shares,
            sum(b.has_se for b in blocks) / n, sum(b.skip for b in blocks) / n,
            sum(b.act in _SWISH for b in blocks) / n])

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "arch", "features": [...]}``."""
        return {"kind": "arch", "features": self.names}


def encoding_from_dict(data: Any, *, source: str
                       ) -> SpaceEncoding | ArchEncoding | StageEncoding:
    """Rebuild an encoding stored in a model file, checking it still matches its space.

    Raises:
        MnasInputError: Unknown kind, or a space whose parameters changed since the fit.
    """
    if not isinstance(data, dict) or data.get("kind") not in ENCODINGS:
        raise MnasInputError(f"{source}: field 'encoding.kind' must be one of "
                             f"{', '.join(ENCODINGS)}; refit the model with `mnas accuracy fit`")
    if data["kind"] == "stages":
        return StageEncoding.from_dict(data, source=source)
    if data["kind"] == "arch":
        encoding = ArchEncoding()
        if data.get("features") != encoding.names:
            raise MnasInputError(f"{source}: its arch-encoding features differ from this mnas "
                                 "version's; refit the model with `mnas accuracy fit`")
        return encoding
    space_name = data.get("space")
    space_source = data.get("source", space_name)
    if not isinstance(space_name, str) or not isinstance(space_source, str):
        raise MnasInputError(f"{source}: field 'encoding.space' must name a search space")
    space_encoding = SpaceEncoding(load_space(space_source), space_source)
    stored = data.get("parameters")
    if stored != space_encoding.to_dict()["parameters"]:
        raise MnasInputError(
            f"{source}: the parameters of space {space_name!r} changed since this model was "
            "fitted; refit it with `mnas accuracy fit --space ...`")
    return space_encoding
