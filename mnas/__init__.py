"""mnas: hardware-aware neural architecture search for MobileNet-family networks.

The Python API mirrors the CLI::

    from mnas import get_arch, build, predict, load_space
    arch = get_arch("mobilenet_v3_large")
    model = build(arch)
    estimate = predict(arch, target="pixel4")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnas._lazy import lazy_attributes

if TYPE_CHECKING:
    from mnas.arch import (
        Arch,
        ArchCosts,
        Block,
        Head,
        Stem,
        arch_costs,
        arch_from_dict,
        load_arch,
        save_arch,
    )
    from mnas.errors import MissingLatencyKeyError, MnasError, MnasInputError
    from mnas.latency import (
        Estimate,
        LatencyTable,
        TablePredictor,
        load_table,
        predict,
        resolve_target,
    )
    from mnas.models import MobileNet, build, get_arch, list_archs, register_arch
    from mnas.spaces import SearchSpace, list_spaces, load_space

_EXPORTS = {
    "mnas.arch": (
        "Arch", "ArchCosts", "Block", "Head", "Stem", "arch_costs", "arch_from_dict", "load_arch",
        "save_arch"
    ),
    "mnas.errors": ("MissingLatencyKeyError", "MnasError", "MnasInputError"),
    "mnas.latency": (
        "Estimate", "LatencyTable", "TablePredictor", "load_table", "predict", "resolve_target"
    ),
    "mnas.models": ("MobileNet", "build", "get_arch", "list_archs", "register_arch"),
    "mnas.spaces": ("SearchSpace", "list_spaces", "load_space"),
}
_SUBMODULES = ("accuracy", "arch", "cli", "errors", "evaluation", "export", "latency", "models",
               "proxies", "search", "spaces", "weights")
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, _SUBMODULES)

__version__ = "0.1.0"

__all__ = [
    "Arch",
    "ArchCosts",
    "Block",
    "Estimate",
    "Head",
    "LatencyTable",
    "MissingLatencyKeyError",
    "MnasError",
    "MnasInputError",
    "MobileNet",
    "SearchSpace",
    "Stem",
    "TablePredictor",
    "arch_costs",
    "arch_from_dict",
    "build",
    "get_arch",
    "list_archs",
    "list_spaces",
    "load_arch",
    "load_space",
    "load_table",
    "predict",
    "register_arch",
    "resolve_target",
    "save_arch",
]
