"""Trained weights for found architectures: subnets of once-for-all's supernets.

A checkpoint of once-for-all's MobileNetV3 (w1.0, w1.2) or ProxylessNAS (w1.3) supernet
(Cai et al., ICLR 2020) holds ImageNet weights for every architecture of its space.
:func:`extract_subnet` cuts out the weights of one architecture as a state_dict of mnas's
own model, :func:`recalibrate_batchnorm` sets its BatchNorm statistics on the user's
images as once-for-all does, and the result exports like any model (``mnas export
--weights``). Nothing here downloads unless the user asks (:func:`download_checkpoint`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnas._lazy import lazy_attributes

if TYPE_CHECKING:
    from mnas.weights._batchnorm import recalibrate_batchnorm
    from mnas.weights._checkpoint import download_checkpoint, load_checkpoint
    from mnas.weights._extract import extract_subnet
    from mnas.weights._supernets import (
        SUPERNETS,
        Subnet,
        Supernet,
        find_supernets,
        get_supernet,
        ofa_mobilenetv3,
        ofa_proxylessnas,
        supernet_report_lines,
    )

_EXPORTS = {
    "mnas.weights._batchnorm": ("recalibrate_batchnorm",),
    "mnas.weights._checkpoint": ("download_checkpoint", "load_checkpoint"),
    "mnas.weights._extract": ("extract_subnet",),
    "mnas.weights._supernets": (
        "SUPERNETS", "Subnet", "Supernet", "find_supernets", "get_supernet", "ofa_mobilenetv3",
        "ofa_proxylessnas", "supernet_report_lines"
    ),
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

__all__ = [
    "SUPERNETS",
    "Subnet",
    "Supernet",
    "download_checkpoint",
    "extract_subnet",
    "find_supernets",
    "get_supernet",
    "load_checkpoint",
    "ofa_mobilenetv3",
    "ofa_proxylessnas",
    "recalibrate_batchnorm",
    "supernet_report_lines",
]
