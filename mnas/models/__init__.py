"""The network builder, the reference zoo and torchvision compatibility."""

from __future__ import annotations

from mnas.models._network import MobileNet, build, network_spec
from mnas.models._registry import get_arch, list_archs, register_arch

__all__ = ["MobileNet", "build", "get_arch", "list_archs", "network_spec", "register_arch"]
