"""Operator keys: the runtime units of an :class:`~mnas.arch.Arch` whose latency is tabulated.

A network is timed as a stem, one unit per block and a head. Each unit's key
holds everything its latency depends on (type, input and output shapes, mid
width, kernel, stride, residual, SE and activations), so the same block at the
same shape is one key wherever it sits, and a key can be rebuilt into a tiny
model to be timed on the device.

String forms (readable, parsed back exactly)::

    stem-in:224x224x3-out:112x112x16-k3-s2-hswish
    ir-in:56x56x24-out:28x28x40-mid:72-k5-s2-skip0-se0-relu
    ir-in:28x28x40-out:28x28x40-mid:120-k5-s1-skip1-se32.relu.hsig-hswish
    head-in:7x7x160-conv:960-pool_conv_act-hidden:1280-out:1000-hswish

A table entry may also be keyed by the network's input resolution, ``<key>@<R>px``
(:func:`resolution_key`), where the shape alone does not decide a measured latency: two
resolutions that reach the same feature-map size (176 and 192 px both give 6x6 at the
last stage of a MobileNetV3) may each have their own measured value. A predictor looks for
the resolution's entry first, then for the plain key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mnas.arch import Arch, conv_out_size
from mnas.errors import MnasInputError

__all__ = ["OpKey", "op_keys", "resolution_key", "split_resolution_key", "unique_op_keys"]

_GATE_CODES = {"sigmoid": "sig", "hard_sigmoid": "hsig"}
_GATES_OF_CODE = {v: k for k, v in _GATE_CODES.items()}
_BLOCK_RE = re.compile(
    r"(?P<kind>ir|ds|dsa|cn)-in:(?P<h>\d+)x(?P<w>\d+)x(?P<c>\d+)-out:(?P<oh>\d+)x(?P<ow>\d+)x"
    r"(?P<oc>\d+)-mid:(?P<mid>\d+)-k(?P<k>\d+)-s(?P<s>\d+)-skip(?P<skip>[01])-se(?P<se>0|"
    r"(?P<sq>\d+)\.(?P<seact>[a-z0-9]+)\.(?P<gate>sig|hsig))-(?P<act>[a-z0-9]+)")
_STEM_RE = re.compile(
    r"stem-in:(?P<h>\d+)x(?P<w>\d+)x(?P<c>\d+)-out:(?P<oh>\d+)x(?P<ow>\d+)x(?P<oc>\d+)"
    r"-k(?P<k>\d+)-s(?P<s>\d+)-(?P<act>[a-z0-9]+)")
_RESOLUTION_RE = re.compile(r"@[1-9][0-9]*px")
_HEAD_RE = re.compile(
    r"head-in:(?P<h>\d+)x(?P<w>\d+)x(?P<c>\d+)-conv:(?P<conv>\d+|none)-(?P<type>conv_bn_act_pool"
    r"|pool_conv_act)-hidden:(?P<hidden>\d+|none)-out:(?P<oc>\d+)-(?P<act>[a-z0-9]+)")


@dataclass(frozen=True, kw_only=True)
class OpKey:
    """One timed unit: the stem, a block, or the head.

    Attributes:
        kind: ``stem``, a block type (``ir``, ``ds``, ``dsa``, ``cn``) or ``head``.
        in_size: Input height (= width).
        in_channels: Input channels.
        out_size: Output height (= width); 1 for the head.
        out_channels: Output channels (classes for the head).
        mid_channels: Expanded width for blocks; the head's 1x1 conv width (0 = none).
        kernel: Spatial kernel (1 for the head).
        stride: Stride (1 for the head).
        skip: Residual add.
        se_channels: SE bottleneck width (0 = no SE).
        se_act: Activation inside SE.
        se_gate: SE gate.
        act: Activation of the unit.
        head_type: For the head: ``conv_bn_act_pool`` or ``pool_conv_act``.
        hidden: For the head: the Linear hidden width (0 = none).
    """

    kind: str
    in_size: int
    in_channels: int
    out_size: int
    out_channels: int
    mid_channels: int = 0
    kernel: int = 1
    stride: int = 1
    skip: bool = False
    se_channels: int = 0
    se_act: str = "relu"
    se_gate: str = "sigmoid"
    act: str = "relu"
    head_type: str = ""
    hidden: int = 0

    def __str__(self) -> str:
        if self.kind == "stem":
            return (f"stem-in:{self.in_size}x{self.in_size}x{self.in_channels}"
                    f"-out:{self.out_size}x{self.out_size}x{self.out_channels}"
                    f"-k{self.kernel}-s{self.stride}-{self.act}")
        if self.kind == "head":
            conv = self.mid_channels or "none"
            hidden = self.hidden or "none"
            return (f"head-in:{self.in_size}x{self.in_size}x{self.in_channels}-conv:{conv}"
                    f"-{self.head_type}-hidden:{hidden}-out:{self.out_channels}-{self.act}")
        se = (f"{self.se_channels}.{self.se_act}.{_GATE_CODES[self.se_gate]}"
              if self.se_channels else "0")
        return (f"{self.kind}-in:{self.in_size}x{self.in_size}x{self.in_channels}"
                f"-out:{self.out_size}x{self.out_size}x{self.out_channels}"
                f"-mid:{self.mid_channels}-k{self.kernel}-s{self.stride}"
                f"-skip{int(self.skip)}-se{se}-{self.act}")

    @classmethod
    def parse(cls, text: str) -> OpKey:
        """Parse the string form back into an :class:`OpKey`.

        Raises:
            MnasInputError: If ``text`` is not a valid key.
        """
        match = _BLOCK_RE.fullmatch(text)
        if match:
            g = match.groupdict()
            return cls(
                kind=g["kind"], in_size=int(g["h"]), in_channels=int(g["c"]),
                out_size=int(g["oh"]), out_channels=int(g["oc"]), mid_channels=int(g["mid"]),
                kernel=int(g["k"]), stride=int(g["s"]), skip=g["skip"] == "1",
                se_channels=int(g["sq"]) if g["sq"] else 0,
                se_act=g["seact"] or "relu",
                se_gate=_GATES_OF_CODE[g["gate"]] if g["gate"] else "sigmoid",
                act=g["act"])
        match = _STEM_RE.fullmatch(text)
        if match:
            g = match.groupdict()
            return cls(kind="stem", in_size=int(g["h"]), in_channels=int(g["c"]),
                       out_size=int(g["oh"]), out_channels=int(g["oc"]), kernel=int(g["k"]),
                       stride=int(g["s"]), act=g["act"])
        match = _HEAD_RE.fullmatch(text)
        if match:
            g = match.groupdict()
            return cls(kind="head", in_size=int(g["h"]), in_channels=int(g["c"]), out_size=1,
                       out_channels=int(g["oc"]),
                       mid_channels=0 if g["conv"] == "none" else int(g["conv"]),
                       head_type=g["type"],
                       hidden=0 if g["hidden"] == "none" else int(g["hidden"]), act=g["act"])
        raise MnasInputError(
            f"not a latency table key: {text!r}; keys look like "
            "'ir-in:56x56x24-out:28x28x40-mid:72-k5-s2-skip0-se0-relu'")

    @property
    def weights(self) -> int:
        """Weight count of the unit's convolutions and linear layers (no biases, no BN).

        What the whole-network calibration charges for fetching a unit's weights from
        memory (see :class:`mnas.latency.Calibration`); equal to the ``weight`` elements
        of :func:`mnas.latency.key_model` (checked by the tests).
        """
        k2 = self.kernel * self.kernel
        if self.kind in ("stem", "cn"):
            return k2 * self.in_channels * self.out_channels
        if self.kind == "head":
            width = self.mid_channels or self.in_channels
            total = self.mid_channels * self.in_channels
            if self.hidden:
                total += width * self.hidden
                width = self.hidden
            return total + width * self.out_channels
        if self.kind == "ir":
            mid = self.mid_channels
            return (self.in_channels * mid + k2 * mid + mid * self.out_channels
                    + 2 * mid * self.se_channels)
        return (k2 * self.in_channels + self.in_channels * self.out_channels
                + 2 * self.in_channels * self.se_channels)

    @property
    def is_block(self) -> bool:
        """True for a block (not the stem or the head)."""
        return self.kind not in ("stem", "head")


def op_keys(arch: Arch) -> list[OpKey]:
    """The timed units of ``arch`` in execution order: stem, every block, head."""
    size = arch.resolution
    stem = arch.stem
    out = conv_out_size(size, stem.kernel, stem.stride)
    keys = [OpKey(kind="stem", in_size=size, in_channels=3, out_size=out,
                  out_channels=stem.channels, kernel=stem.kernel, stride=stem.stride,
                  act=stem.act)]
    size = out
    se_act, se_gate = arch.se_act, arch.se_gate
    for block in arch.blocks:
        out = conv_out_size(size, block.kernel, block.stride)
        keys.append(OpKey(
            kind=block.type, in_size=size, in_channels=block.in_channels, out_size=out,
            out_channels=block.out_channels, mid_channels=block.mid_channels,
            kernel=block.kernel, stride=block.stride, skip=block.skip,
            se_channels=block.se_channels,
            se_act=se_act if block.se_channels else "relu",
            se_gate=se_gate if block.se_channels else "sigmoid",
            act=block.act))
        size = out
    head = arch.head
    keys.append(OpKey(kind="head", in_size=size, in_channels=arch.feature_channels, out_size=1,
                      out_channels=arch.num_classes, mid_channels=head.channels or 0,
                      head_type=head.type, hidden=head.hidden or 0, act=head.act))
    return keys


def unique_op_keys(archs: list[Arch]) -> list[OpKey]:
    """The distinct keys of several architectures, in first-seen order."""
    seen: dict[str, OpKey] = {}
    for arch in archs:
        for key in op_keys(arch):
            seen.setdefault(str(key), key)
    return list(seen.values())


def resolution_key(key: OpKey | str, resolution: int) -> str:
    """The table key of ``key`` inside networks of input ``resolution``: ``<key>@<R>px``."""
    return f"{key}@{resolution}px"


def split_resolution_key(text: str) -> tuple[str, int | None]:
    """``(plain key, resolution)`` of a table key (resolution None for a plain key).

    Raises:
        MnasInputError: A ``@`` suffix other than ``@<R>px``.
    """
    plain, sep, suffix = text.partition("@")
    if not sep:
        return text, None
    if not _RESOLUTION_RE.fullmatch(sep + suffix):
        raise MnasInputError(
            f"table key {text!r} ends in {sep + suffix!r}; a key qualified by resolution "
            "ends in '@<R>px', e.g. '...-hswish@176px'")
    return plain, int(suffix[:-2])
