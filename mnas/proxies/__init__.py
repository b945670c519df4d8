"""Accuracy proxies: cheap scores that rank architectures like their trained accuracy.

``get_proxy(name, **kwargs).score(arch) -> float`` (higher = better). See
:class:`AccuracyProxy` for the contract every proxy meets, and
``benchmarks/RESULTS-proxies.md`` for each proxy's measured rank correlation.
"""

from __future__ import annotations

from mnas.proxies._base import (
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
from mnas.proxies._counts import (
    ArchCosts,
    BlockCost,
    FlopsProxy,
    ParamsProxy,
    arch_costs,
    block_costs,
)
from mnas.proxies._data import ImageData, load_image_data
from mnas.proxies._ensemble import DEFAULT_PROXY, ZenNaswotProxy
from mnas.proxies._naswot import NaswotProxy, naswot_score
from mnas.proxies._train import TrainProxy
from mnas.proxies._zen import ZenProxy, zen_score
from mnas.proxies._zico import ZicoProxy

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
    "ZenProxy",
    "ReportFn",
    "TrainProxy",
    "TrainingProxy",
    "ZenNaswotProxy",
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
