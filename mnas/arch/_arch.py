"""The one value type that describes an architecture: :class:`Arch`.

An ``Arch`` holds *final* channel counts (stem, and each block's input,
expanded and output width), kernel, stride, residual, squeeze-excitation and
activation names. It is frozen, validated at construction, and every other
part of mnas (model builder, latency keys, proxies, export) is a function of it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mnas.arch._divisible import make_divisible
from mnas.errors import MnasInputError

__all__ = [
    "ACTIVATIONS",
    "BLOCK_TYPES",
    "HEAD_TYPES",
    "SE_GATES",
    "SE_REDUCE_FROM",
    "Arch",
    "Block",
    "Head",
    "Stem",
    "conv_out_size",
    "se_squeeze_channels",
]

ACTIVATIONS: tuple[str, ...] = ("relu", "relu6", "hswish", "swish", "identity")
"""Activation names an ``Arch`` may use (h-swish and swish per MobileNetV3, arXiv:1905.02244)."""

SE_GATES: tuple[str, ...] = ("sigmoid", "hard_sigmoid")
SE_REDUCE_FROM: tuple[str, ...] = ("in", "mid")
BLOCK_TYPES: tuple[str, ...] = ("ir", "ds", "dsa", "cn")
"""``ir`` inverted residual (MobileNetV2), ``ds`` depthwise separable with a linear
projection, ``dsa`` MobileNetV1 depthwise separable (activation after the 1x1),
``cn`` plain conv-BN-act."""

HEAD_TYPES: tuple[str, ...] = ("conv_bn_act_pool", "pool_conv_act")


def _fail(where: str, value: Any, allowed: str) -> MnasInputError:
    return MnasInputError(f"{where} must be {allowed}, got {value!r}")


def _check_int(where: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(where, value, f"an int >= {minimum}")


def _check_choice(where: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _fail(where, value, "one of " + ", ".join(choices))


def conv_out_size(size: int, kernel: int, stride: int) -> int:
    """Spatial size after a conv with padding ``kernel // 2`` (odd kernels)."""
    pad = kernel // 2
    return (size + 2 * pad - kernel) // stride + 1


def se_squeeze_channels(block_in: int, mid: int, ratio: float, reduce_from: str) -> int:
    """Width of a squeeze-excitation bottleneck.

    Args:
        block_in: The block's input channels.
        mid: The channels SE acts on (the expanded width).
        ratio: The SE ratio, e.g. 0.25.
        reduce_from: ``"in"``: ``max(1, floor(block_in * ratio))`` as in MnasNet and
            EfficientNet; ``"mid"``: ``make_divisible(mid * ratio, 8)`` as in MobileNetV3.

    Returns:
        The squeeze width, or 0 when ``ratio`` is 0 (no SE).
    """
    if ratio <= 0:
        return 0
    if reduce_from == "in":
        return max(1, int(math.floor(block_in * ratio + 1e-9)))
    return make_divisible(mid * ratio, 8)


@dataclass(frozen=True, kw_only=True)
class Stem:
    """The first conv-BN-act of the network.

    Attributes:
        channels: Output channels.
        kernel: Kernel size (odd).
        stride: Stride.
        act: Activation name, one of :data:`ACTIVATIONS`.
    """

    channels: int
    kernel: int = 3
    stride: int = 2
    act: str = "relu"

    def __post_init__(self) -> None:
        _check_int("stem.channels", self.channels)
        _check_int("stem.kernel", self.kernel)
        if self.kernel % 2 == 0:
            raise _fail("stem.kernel", self.kernel, "an odd int")
        _check_int("stem.stride", self.stride)
        _check_choice("stem.act", self.act, ACTIVATIONS)


@dataclass(frozen=True, kw_only=True)
class Block:
    """One block with its final channel counts.

    Attributes:
        type: One of :data:`BLOCK_TYPES`.
        in_channels: Input channels.
        mid_channels: Width the spatial conv runs at: the expanded width for ``ir``,
            ``in_channels`` for ``ds``/``dsa``, ``out_channels`` for ``cn``.
        out_channels: Output channels.
        kernel: Kernel of the spatial (depthwise for ir/ds/dsa) conv.
        stride: Stride of the spatial conv.
        act: Activation name.
        se_ratio: Squeeze-excitation ratio; 0 means no SE.
        se_channels: The SE bottleneck width (0 without SE).
        skip: Whether the block adds its input to its output.
    """

    type: str
    in_channels: int
    mid_channels: int
    out_channels: int
    kernel: int
    stride: int
    act: str
    se_ratio: float = 0.0
    se_channels: int = 0
    skip: bool = False

    def validate(self, where: str) -> None:
        """Check every field; ``where`` names the block in error messages."""
        _check_choice(f"{where}.type", self.type, BLOCK_TYPES)
        for name in ("in_channels", "mid_channels", "out_channels", "kernel", "stride"):
            _check_int(f"{where}.{name}", getattr(self, name))
        if self.kernel % 2 == 0:
            raise _fail(f"{where}.kernel", self.kernel, "an odd int")
        _check_choice(f"{where}.act", self.act, ACTIVATIONS)
        if isinstance(self.se_ratio, bool) or not isinstance(self.se_ratio, int | float):
            raise _fail(f"{where}.se_ratio", self.se_ratio, "a number in [0, 1]")
        if not 0 <= self.se_ratio <= 1:
            raise _fail(f"{where}.se_ratio", self.se_ratio, "a number in [0, 1]")
        if self.se_ratio > 0 and self.type == "cn":
            raise _fail(f"{where}.se_ratio", self.se_ratio, "0 for a 'cn' block")
        _check_int(f"{where}.se_channels", self.se_channels, minimum=1 if self.se_ratio else 0)
        if not self.se_ratio and self.se_channels:
            raise _fail(f"{where}.se_channels", self.se_channels, "0 when se_ratio is 0")
        if self.type in ("ds", "dsa") and self.mid_channels != self.in_channels:
            raise _fail(
                f"{where}.mid_channels", self.mid_channels, f"in_channels ({self.in_channels})"
                f" for a '{self.type}' block")
        if self.type == "cn" and self.mid_channels != self.out_channels:
            raise _fail(
                f"{where}.mid_channels", self.mid_channels,
                f"out_channels ({self.out_channels}) for a 'cn' block")
        if not isinstance(self.skip, bool):
            raise _fail(f"{where}.skip", self.skip, "true or false")
        if self.skip and (self.stride != 1 or self.in_channels != self.out_channels):
            raise _fail(
                f"{where}.skip", self.skip,
                "false unless stride is 1 and in_channels equals out_channels "
                f"(stride {self.stride}, {self.in_channels} -> {self.out_channels})")
        if self.skip and self.type == "dsa":
            raise _fail(f"{where}.skip", self.skip, "false for a 'dsa' (MobileNetV1) block")

    @property
    def has_se(self) -> bool:
        """Whether the block has squeeze-excitation."""
        return self.se_ratio > 0

    def default_skip(self) -> bool:
        """The residual the arch format implies when no ``skip``/``noskip`` is given."""
        return (
            self.type in ("ir", "ds")
            and self.stride == 1
            and self.in_channels == self.out_channels
        )


@dataclass(frozen=True, kw_only=True)
class Head:
    """What follows the last block.

    Attributes:
        type: ``conv_bn_act_pool`` (MobileNetV1/V2, MnasNet: optional 1x1 conv-BN-act to
            ``channels``, then global average pool) or ``pool_conv_act`` (MobileNetV3's
            efficient last stage: pool first, then the optional 1x1 conv-BN-act).
        channels: Width of the head's 1x1 conv-BN-act, or None for none.
        hidden: After pooling, a Linear (with bias) to ``hidden`` and ``act``; None for none.
        act: Activation of the head.
        dropout: Dropout probability before the classifier.
    """

    type: str = "conv_bn_act_pool"
    channels: int | None = None
    hidden: int | None = None
    act: str = "relu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _check_choice("head.type", self.type, HEAD_TYPES)
        if self.channels is not None:
            _check_int("head.channels", self.channels)
        if self.hidden is not None:
            _check_int("head.hidden", self.hidden)
        _check_choice("head.act", self.act, ACTIVATIONS)
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, int | float) or not (
            0 <= self.dropout < 1
        ):
            raise _fail("head.dropout", self.dropout, "a number in [0, 1)")


@dataclass(frozen=True, kw_only=True)
class Arch:
    """A complete MobileNet-family architecture (the genotype).

    Attributes:
        name: Free-text name.
        resolution: Input height = width.
        num_classes: Classifier outputs.
        stem: The first conv.
        stages: Blocks grouped by stage; each block holds its final channel counts.
        head: The head.
        se_gate: ``sigmoid`` (MnasNet, EfficientNet) or ``hard_sigmoid`` (MobileNetV3).
        se_reduce_from: Which width the SE ratio applies to, see :func:`se_squeeze_channels`.
        se_act: Activation between the two SE 1x1 convs.
        bn_eps: BatchNorm epsilon.
        bn_momentum: BatchNorm momentum (PyTorch convention).
        act_default: Activation of blocks that name none (kept for the file view).
        extra: Other top-level fields of an arch file, kept when it is rewritten.
    """

    name: str
    resolution: int
    num_classes: int
    stem: Stem
    stages: tuple[tuple[Block, ...], ...]
    head: Head = field(default_factory=Head)
    se_gate: str = "sigmoid"
    se_reduce_from: str = "in"
    se_act: str = "relu"
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1
    act_default: str = "relu"
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise _fail("name", self.name, "a string")
        _check_int("resolution", self.resolution)
        _check_int("num_classes", self.num_classes)
        if not isinstance(self.stem, Stem):
            raise _fail("stem", self.stem, "a Stem")
        if not isinstance(self.head, Head):
            raise _fail("head", self.head, "a Head")
        _check_choice("se_gate", self.se_gate, SE_GATES)
        _check_choice("se_reduce_from", self.se_reduce_from, SE_REDUCE_FROM)
        _check_choice("se_act", self.se_act, ACTIVATIONS)
        _check_choice("act_default", self.act_default, ACTIVATIONS)
        for name, high in (("bn_eps", 0.999), ("bn_momentum", 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                0 < value <= high
            ):
                raise _fail(name, value, f"a number in (0, {high}]")
        stages = tuple(tuple(stage) for stage in self.stages)
        object.__setattr__(self, "stages", stages)
        if not stages:
            raise _fail("stages", stages, "at least one stage")
        channels = self.stem.channels
        size = conv_out_size(self.resolution, self.stem.kernel, self.stem.stride)
        for s, stage in enumerate(stages):
            if not stage:
                raise _fail(f"stages[{s}]", stage, "a non-empty list of blocks")
            for b, block in enumerate(stage):
                where = f"stages[{s}][{b}]"
                if not isinstance(block, Block):
                    raise _fail(where, block, "a Block")
                block.validate(where)
                if block.in_channels != channels:
                    raise _fail(
                        f"{where}.in_channels", block.in_channels,
                        f"the previous output width {channels}")
                expected_se = se_squeeze_channels(
                    block.in_channels, block.mid_channels, block.se_ratio, self.se_reduce_from)
                if block.se_channels != expected_se:
                    raise _fail(
                        f"{where}.se_channels", block.se_channels,
                        f"{expected_se} (se_ratio {block.se_ratio} of "
                        f"{self.se_reduce_from} channels)")
                channels = block.out_channels
                size = conv_out_size(size, block.kernel, block.stride)
                if size < 1:
                    raise _fail(
                        f"{where}.stride", block.stride,
                        f"small enough to keep a feature map at resolution {self.resolution}")

    # ----------------------------------------------------------------- views
    @property
    def blocks(self) -> tuple[Block, ...]:
        """All blocks in order, flattened over stages."""
        return tuple(block for stage in self.stages for block in stage)

    def iter_blocks(self) -> Iterator[tuple[int, int, Block]]:
        """Yield ``(stage_index, index_in_stage, block)`` for every block."""
        for s, stage in enumerate(self.stages):
            for b, block in enumerate(stage):
                yield s, b, block

    @property
    def feature_channels(self) -> int:
        """Channels of the last block's output (before the head)."""
        return self.stages[-1][-1].out_channels

    @property
    def classifier_in_features(self) -> int:
        """Input width of the final Linear classifier."""
        if self.head.hidden is not None:
            return self.head.hidden
        if self.head.channels is not None:
            return self.head.channels
        return self.feature_channels

    def replace(self, **changes: Any) -> Arch:
        """Return a copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The ``mnas-arch/1`` file content of this architecture (see README)."""
        from mnas.arch._format import arch_to_dict

        return arch_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "arch") -> Arch:
        """Parse ``mnas-arch/1`` content; errors name ``source`` and the field."""
        from mnas.arch._format import arch_from_dict

        return arch_from_dict(data, source=source)

    def to_json(self) -> str:
        """The architecture as ``mnas-arch/1`` JSON text."""
        import json

        return json.dumps(self.to_dict(), indent=1)

    def canonical_key(self) -> str:
        """A string equal for two archs iff they build the same network.

        The name, ``act_default`` (a file-view default) and extra file fields are ignored.
        """
        import json

        from mnas.arch._format import arch_to_dict

        data = arch_to_dict(self.replace(name="", act_default="relu", extra={}))
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def structure_key(self) -> str:
        """Like :meth:`canonical_key`, but also blind to BatchNorm hyper-parameters and,
        when no block has SE, to the SE conventions: equal for archs with the same layers."""
        changes: dict[str, Any] = {"bn_eps": 1e-5, "bn_momentum": 0.1}
        if not any(block.has_se for block in self.blocks):
            changes.update(se_gate="sigmoid", se_reduce_from="in", se_act="relu")
        return self.replace(**changes).canonical_key()
