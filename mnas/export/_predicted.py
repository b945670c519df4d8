"""The predicted host latency printed next to a measured one."""

from __future__ import annotations

from mnas.arch import Arch
from mnas.errors import MnasError

__all__ = ["NO_HOST_TABLE", "predicted_host_latency"]

NO_HOST_TABLE = "no host table (build one with `mnas latency build --target host`)"


def predicted_host_latency(arch: Arch) -> tuple[float | None, str]:
    """``(ms, description)`` from this host's latency table, or ``(None, why not)``.

    Uses ``mnas.latency.predict(arch, target="host")``; when mnas.latency or the host
    table is missing the description says how to build one.
    """
    try:
        from mnas.latency import predict, resolve_target
    except ImportError:
        return None, NO_HOST_TABLE
    try:
        resolve_target("host")
    except MnasError:
        return None, NO_HOST_TABLE
    try:
        estimate = predict(arch, target="host")
    except MnasError as err:
        return None, f"unavailable ({err})"
    return float(estimate.latency_ms), estimate.describe()
