"""The host table's life: estimated in a minute, then measured by ``mnas latency build``.

:func:`estimate_host_table` writes a table a search can use at once (the host model of
:mod:`mnas.latency._host_model`, fitted on this machine's own timings);
:func:`finish_host_table` is what a build does to the same file when it stops: re-fit the
model on everything measured so far, re-measure its band on the build's calibration
networks, and say in the header what the table's predictions now are (``measured`` when
every key the build was asked for was measured, else ``estimated``, per prediction
either way: see :class:`~mnas.latency.TablePredictor`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mnas.latency._build_state import BUILD_FIELD, build_record
from mnas.latency._builder import (
    BuildSettings,
    arch_id,
    call_overhead_ms,
    new_table_header,
    time_networks,
)
from mnas.latency._host_model import (
    HostModelSettings,
    estimate_archs,
    fit_host_model,
    held_out_errors,
    model_band,
    network_points,
    probe_candidates,
    select_probe_keys,
    time_probes,
)
from mnas.latency._opkey import op_keys
from mnas.latency._table import LatencyTable
from mnas.latency.runners import Runner

__all__ = ["HostEstimate", "estimate_host_table", "finish_host_table"]

ENTRIES_MEASURED = "measured"
"""Header ``entries``: every entry of the table was measured on the device (an estimated
table's probes and a build's entries alike)."""


@dataclass(frozen=True, kw_only=True)
class HostEstimate:
    """What :func:`estimate_host_table` did.

    Attributes:
        table: The estimated table (saved).
        probes: Units timed.
        networks: Whole networks timed.
        band: The declared band (worst held-out error, rounded up).
        held_out_mape: Mean absolute leave-one-out error on the networks.
        seconds: Wall time.
    """

    table: LatencyTable
    probes: int
    networks: int
    band: float
    held_out_mape: float
    seconds: float


def _records(archs: list[Any], timings: list[Any], statistic: str) -> dict[str, dict[str, Any]]:
    return {arch_id(arch): {"name": arch.name, "measured_ms": timed.timing.value(statistic),
                            "median_ms": timed.timing.median_ms, "min_ms": timed.timing.min_ms,
                            "n": timed.timing.n, "spread": round(timed.spread, 4),
                            "keys": [str(k) for k in op_keys(arch)]}
            for arch, timed in zip(archs, timings, strict=True)}


def _model_notes(errors: list[float], band: float, **extra: Any) -> dict[str, Any]:
    return {"band": band, "held_out_errors": [round(e, 4) for e in errors],
            "held_out_mape": round(sum(abs(e) for e in errors) / len(errors), 4), **extra}


def estimate_host_table(*, runner: Runner, path: str | Path, target: str, space: Any,
                        how_to_measure: str, settings: HostModelSettings | None = None,
                        on_status: Callable[[str], None] | None = None) -> HostEstimate:
    """Fit this machine's latency model and write it as an estimated table at ``path``.

    Times ``settings.probes`` units of ``space`` and the zoo (chosen to cover every unit
    kind, activation, kernel and size) and ``settings.networks`` whole networks of
    ``space`` with ``runner``, fits the kernel model and the calibration, and declares the
    worst leave-one-out network error as the band.

    Args:
        runner: This machine's runner (the table's runtime).
        path: The table file to write (atomically).
        target: The table's target name.
        space: A :class:`mnas.spaces.SearchSpace` (its keys and networks).
        how_to_measure: The command that measures the table properly.
        settings: What to time.
        on_status: Called with a line at each step.
    """
    settings = settings or HostModelSettings()
    status = on_status or (lambda _text: None)
    started = time.monotonic()
    info = runner.info()
    header = new_table_header(info, target=target, how_to_measure=how_to_measure,
                              statistic="min")
    table = LatencyTable(header=header)
    table.header.extra["call_overhead_ms"] = call_overhead_ms(runner, batch=info.batch)
    probes = select_probe_keys(probe_candidates(space, seed=settings.seed), settings.probes,
                               seed=settings.seed)
    status(f"timing {len(probes)} units of {space.name} on this machine "
           f"({settings.probe_passes} passes)")
    table.entries.update(time_probes(runner, probes, settings, batch=info.batch))
    archs = estimate_archs(space, settings.networks, seed=settings.seed)
    status(f"timing {len(archs)} whole networks (round-robin)")
    timed = time_networks(runner, archs, batch=info.batch, settings=BuildSettings(
        network_warmup=settings.network_warmup, network_repeats=settings.network_repeats,
        network_rounds=settings.network_rounds))
    records = _records(archs, timed, "min")
    model, calibration, errors = fit_host_model(
        table, records, weights_threshold=runner.weights_threshold,
        source=f"fitted on {len(probes)} units timed on this machine by `{how_to_measure}`'s "
               "first minute")
    band = model_band(errors)
    seconds = time.monotonic() - started
    table.device_model = model.to_dict()
    table.calibration = replace(calibration, source=(
        f"{len(records)} whole networks timed round-robin ({settings.network_rounds} x "
        f"{settings.network_repeats} runs, min), units from the host model"))
    extra = dict(table.header.extra)
    extra.update({
        "entries": ENTRIES_MEASURED, "model_error_band": band,
        "host_model": _model_notes(errors, band, probes=len(probes), networks=records,
                                   seconds=round(seconds, 1)),
        BUILD_FIELD: build_record("estimate", command=how_to_measure)})
    table.header = replace(
        table.header, provenance="estimated", missing_keys="device_model", error_band=band,
        extra=extra,
        notes=(f"Estimated from this machine's own speed: a kernel model fitted on "
               f"{len(probes)} units timed here (the entries), calibrated on {len(records)} "
               f"whole networks; ±{band * 100:.0f}% is its worst error on networks it did not "
               f"fit. `{how_to_measure}` measures every key."))
    table.save(path)
    return HostEstimate(table=table, probes=len(probes), networks=len(records), band=band,
                        held_out_mape=sum(abs(e) for e in errors) / len(errors),
                        seconds=seconds)


def finish_host_table(path: str | Path, *, weights_threshold: bool, how_to_measure: str
                      ) -> LatencyTable:
    """After a build of the host table at ``path``: re-fit the host model on every measured
    entry and the build's calibration networks, and set the header's bands and provenance.

    ``provenance`` is ``measured`` when the build measured every key it was asked for
    (``build.state == complete``), else ``estimated``; ``error_band`` is the band of a
    prediction from measured entries (``entries_error_band``: the worst of the
    calibration's in-sample and leave-one-out errors) when measured, else the wider of that
    and the model's; ``model_error_band`` is the model's worst leave-one-out error on
    the calibration networks with every unit from the model.
    """
    from mnas.latency._table import load_table

    table = load_table(path)
    extra = dict(table.header.extra)
    records = dict(extra.get("calibration_networks") or {})
    if not records or not table.entries:
        return table
    model, calibration, errors = fit_host_model(
        table, records, weights_threshold=weights_threshold,
        source=f"fitted on the {len(table.entries)} units measured by `{how_to_measure}`")
    band = model_band(errors)
    complete = (extra.get(BUILD_FIELD) or {}).get("state") == "complete"
    # the builder's band is its calibration's worst in-sample error; a network the
    # calibration did not see can miss by more: take the worst leave-one-out error too
    as_predicted = network_points(table, model, records)
    entries_band = max(table.header.error_band, model_band(held_out_errors(
        as_predicted, as_predicted, weights_threshold=weights_threshold)))
    table.device_model = model.to_dict()
    extra.update({"entries": ENTRIES_MEASURED, "model_error_band": band,
                  "entries_error_band": entries_band,
                  "host_model": _model_notes(errors, band, units=len(table.entries))})
    table.header = replace(
        table.header, provenance="measured" if complete else "estimated",
        missing_keys="device_model",
        error_band=entries_band if complete else max(entries_band, band), extra=extra)
    if table.calibration is None:
        table.calibration = calibration
    table.save(path)
    return table

