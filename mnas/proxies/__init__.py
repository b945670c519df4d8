"""Accuracy proxies: cheap scores that rank architectures like their trained accuracy.

``get_proxy(name, **kwargs).score(arch) -> float`` (higher = better). See
:class:`AccuracyProxy` for the contract every proxy meets, and
``benchmarks/RESULTS-proxies.md`` for each proxy's measured rank correlation.

Attributes load on first use (PEP 562): the registry, the counts (``arch_costs``, the
``params`` and ``flops`` proxies) and ``DEFAULT_PROXY`` need no torch; the network-based
proxies import it when they are asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnas._lazy import lazy_attributes

if TYPE_CHECKING:
    from mnas.arch import ArchCosts, BlockCost, arch_costs, block_costs
    from mnas.proxies._base import (
        DEFAULT_PROXY,
        AccuracyProxy,
        BatchScorer,
        Cost,
        ReportFn,
        TrainingProxy,
        get_proxy,
        list_proxies,
        proxy_class,
        register_proxy,
    )
    from mnas.proxies._counts import FlopsProxy, ParamsProxy
    from mnas.proxies._data import ImageData, load_image_data
    from mnas.proxies._ensemble import ZenNaswotProxy
    from mnas.proxies._naswot import NaswotProxy, naswot_score
    from mnas.proxies._train import TrainProxy
    from mnas.proxies._zen import ZenProxy, zen_score
    from mnas.proxies._zico import ZicoProxy

_EXPORTS = {
    "mnas.arch": ("ArchCosts", "BlockCost", "arch_costs", "block_costs"),
    "mnas.proxies._base": (
        "DEFAULT_PROXY", "AccuracyProxy", "BatchScorer", "Cost", "ReportFn", "TrainingProxy",
        "get_proxy", "list_proxies", "proxy_class", "register_proxy"
    ),
    "mnas.proxies._counts": ("FlopsProxy", "ParamsProxy"),
    "mnas.proxies._data": ("ImageData", "load_image_data"),
    "mnas.proxies._ensemble": ("ZenNaswotProxy",),
    "mnas.proxies._naswot": ("NaswotProxy", "naswot_score"),
    "mnas.proxies._train": ("TrainProxy",),
    "mnas.proxies._zen": ("ZenProxy", "zen_score"),
    "mnas.proxies._zico": ("ZicoProxy",),
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

__all__ = [
    "DEFAULT_PROXY",
    "AccuracyProxy",
    "ArchCosts",
    "BatchScorer",
    "BlockCost",
    "Cost",
    "FlopsProxy",
    "ImageData",
    "NaswotProxy",
    "ParamsProxy",
    "ReportFn",
    "TrainProxy",
    "TrainingProxy",
    "ZenNaswotProxy",
    "ZenProxy",
    "ZicoProxy",
    "arch_costs",
    "block_costs",
    "get_proxy",
    "list_proxies",
    "load_image_data",
    "naswot_score",
    "proxy_class",
    "register_proxy",
    "zen_score",
]
