"""A proxy's resolution override, checked and applied (no torch: the counting proxies use it)."""

from __future__ import annotations

from mnas.arch import Arch
from mnas.errors import MnasInputError

__all__ = ["at_resolution", "check_resolution"]


def check_resolution(resolution: int | None) -> int | None:
    """Validate a proxy's ``resolution`` override (None = the arch's own)."""
    if resolution is None:
        return None
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 8:
        raise MnasInputError(
            f"proxy resolution must be an int >= 8 or None (the arch's own), got {resolution!r}")
    return resolution


def at_resolution(arch: Arch, resolution: int | None) -> Arch:
    """``arch`` evaluated at ``resolution`` instead of its own (None keeps it)."""
    if resolution is None or resolution == arch.resolution:
        return arch
    return arch.replace(resolution=resolution)
