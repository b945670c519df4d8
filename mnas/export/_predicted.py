"""The predicted host latency printed next to a measured one."""

from __future__ import annotations

from mnas.arch import Arch
from mnas.errors import MnasError
from mnas.latency import TablePredictor, host_table_name, resolve_target

__all__ = ["NO_HOST_TABLE", "predicted_host_latency"]

NO_HOST_TABLE = "no host table (build one with `mnas latency build --target host`)"


def predicted_host_latency(arch: Arch, runtime: str = "onnxruntime") -> tuple[float | None, str]:
    """``(ms, description)`` from this host's latency table of ``runtime``, or ``(None, why not)``.

    Uses :class:`mnas.latency.TablePredictor` on ``host`` for onnxruntime and on this
    host's ``<runtime>`` table otherwise (e.g. ``host-amd-epyc-f25m1-litert-1t`` for a ``.tflite``
    timed with LiteRT); when the table is missing the description says how to build one.
    """
    target = "host" if runtime == "onnxruntime" else host_table_name(runtime, 1)
    try:
        table = resolve_target(target)
    except MnasError:
        if runtime == "onnxruntime":
            return None, NO_HOST_TABLE
        return None, (f"no {runtime} host table (build one with `mnas latency build --target "
                      f"host --runner {runtime}`)")
    try:
        estimate = TablePredictor(table).predict(arch)
    except MnasError as err:
        return None, f"unavailable ({err})"
    statistic = table.header.statistic
    run = {"min": "the fastest run", "median": "the median run"}.get(statistic, statistic)
    return float(estimate.latency_ms), f"{estimate.describe()}, of {run}"
