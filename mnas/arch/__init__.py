"""The architecture value (:class:`Arch`) and its two text views (JSON file, arch_def tokens)."""

from __future__ import annotations

from mnas.arch._arch import (
    ACTIVATIONS,
    BLOCK_TYPES,
    HEAD_TYPES,
    SE_GATES,
    SE_REDUCE_FROM,
    Arch,
    Block,
    Head,
    Stem,
    conv_out_size,
    se_squeeze_channels,
)
from mnas.arch._divisible import make_divisible
from mnas.arch._format import FORMAT, arch_from_dict, arch_to_dict, load_arch, save_arch
from mnas.arch._tokens import ACT_CODES, BlockToken, format_token, parse_token

__all__ = [
    "ACTIVATIONS",
    "ACT_CODES",
    "BLOCK_TYPES",
    "FORMAT",
    "HEAD_TYPES",
    "SE_GATES",
    "SE_REDUCE_FROM",
    "Arch",
    "Block",
    "BlockToken",
    "Head",
    "Stem",
    "arch_from_dict",
    "arch_to_dict",
    "conv_out_size",
    "format_token",
    "load_arch",
    "make_divisible",
    "parse_token",
    "save_arch",
    "se_squeeze_channels",
]
