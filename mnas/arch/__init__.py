"""The architecture value (:class:`Arch`), its two text views (JSON file, arch_def tokens)
and its analytic parameter and MAC counts."""

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
from mnas.arch._costs import (
    ArchCosts,
    BlockCost,
    arch_costs,
    block_cost,
    block_costs,
    head_costs,
    stem_costs,
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
    "ArchCosts",
    "Block",
    "BlockCost",
    "BlockToken",
    "Head",
    "Stem",
    "arch_costs",
    "arch_from_dict",
    "arch_to_dict",
    "block_cost",
    "block_costs",
    "conv_out_size",
    "format_token",
    "head_costs",
    "load_arch",
    "make_divisible",
    "parse_token",
    "save_arch",
    "se_squeeze_channels",
    "stem_costs",
]
