"""The network builder, the reference zoo and torchvision compatibility.

Attributes load on first use (PEP 562): the zoo's names and ``Arch`` values
(``get_arch``, ``list_archs``) need no torch; ``build`` and ``MobileNet`` import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnas._lazy import lazy_attributes

if TYPE_CHECKING:
    from mnas.models._network import MobileNet, build, network_spec
    from mnas.models._registry import get_arch, list_archs, register_arch

_EXPORTS = {
    "mnas.models._network": ("MobileNet", "build", "network_spec"),
    "mnas.models._registry": ("get_arch", "list_archs", "register_arch"),
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

__all__ = ["MobileNet", "build", "get_arch", "list_archs", "network_spec", "register_arch"]
