"""This machine's latency model, fitted in half a minute: ``--target host`` on a CPU with no table.

A measured table times every op key of a space (thousands); until one exists, the host
gets what the ``pixel4`` target has: the analytic kernel model of
:mod:`mnas.latency._device_model` (each unit split into the kernels a runtime runs, each
costing ``MACs / throughput[kind] + bytes / bandwidth + overhead``), its constants
fitted to *this machine's own throughput*: a few dozen units (``probes``, chosen to cover
every unit kind, activation, kernel and feature-map size of the space) timed now with the
table's runtime, exactly as a table's entries are timed. A few whole networks are then
timed round-robin and the table's calibration (``a * sum + c * weights + b``) is fitted on
them; the band the estimate declares is its worst **leave-one-out** error on those
networks (each predicted through a calibration fitted without it, every unit from the
model), i.e. its error on networks it did not fit, rounded up to a whole percent.

:mod:`mnas.latency._host_estimate` writes the result as an ordinary latency table and
re-fits the model on everything a build measures later. On the Zen 4 table's own timings,
a model fitted on 48 of its 4,297 keys and 16 of its calibration networks predicts the 60
networks its validation timed end to end with 4.2% MAPE, 95% of them within its ±13% band
(``tests/latency/test_host_model.py``): per-unit errors (13% on the probes) average out
over a network's twenty-odd units.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.latency._calibrate import CalibrationPoint, fit_calibration
from mnas.latency._device_model import PhoneCpuModel, kernels
from mnas.latency._opkey import OpKey, op_keys
from mnas.latency._table import Calibration, LatencyEntry, LatencyTable

__all__ = [
    "HostModelSettings",
    "estimate_archs",
    "fit_host_model",
    "fit_kernel_model",
    "held_out_errors",
    "model_band",
    "network_points",
    "probe_candidates",
    "select_probe_keys",
    "time_probes",
]

_PARAMS = ("conv", "pw", "dw", "fc", "bandwidth_gbs", "eltwise_gbs", "hswish_gbs",
           "overhead_us")
_START = (20.0, 30.0, 10.0, 5.0, 20.0, 10.0, 10.0, 2.0)
# a core does between 0.05 and 2,000 GMAC/s or GB/s; a kernel launch costs 0.01-1,000 us
_LOW = (0.05,) * 7 + (0.01,)
_HIGH = (2000.0,) * 7 + (1000.0,)
MIN_BAND = 0.05
"""The narrowest band an estimate declares (its networks are few)."""


@dataclass(frozen=True, kw_only=True)
class HostModelSettings:
    """How much the estimate times.

    Attributes:
        probes: Units timed to fit the kernel model's constants.
        probe_passes: Passes over the probes (each keeps its fastest run, as a table's
            entries do: a slow spell of a shared machine during one pass does not decide).
        networks: Whole networks timed to fit the calibration and measure the band.
        warmup: Untimed runs per probe.
        repeats: Timed runs per probe.
        network_warmup: Untimed runs per network.
        network_repeats: Timed runs per network per round.
        network_rounds: Round-robin rounds over the networks.
        seed: Seed of the probes and networks.
    """

    probes: int = 48
    probe_passes: int = 2
    networks: int = 16
    warmup: int = 3
    repeats: int = 20
    network_warmup: int = 2
    network_repeats: int = 10
    network_rounds: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("probes", 8), ("probe_passes", 1), ("networks", 4), ("warmup", 0), ("repeats", 1),
                          ("network_warmup", 0), ("network_repeats", 1),
                          ("network_rounds", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise MnasInputError(f"host model setting {name} must be an integer >= {low}, "
                                     f"got {value!r}")


# ---------------------------------------------------------------- probes
def _stratum(key: OpKey) -> tuple[Any, ...]:
    """What a probe should vary: kind, activation, kernel, stride, SE and feature-map size."""
    return (key.kind, key.act, key.kernel, key.stride, bool(key.se_channels),
            key.in_size // 16, key.head_type)


def select_probe_keys(keys: Sequence[OpKey], n: int, *, seed: int = 0) -> list[OpKey]:
    """``n`` keys that cover ``keys``' strata (kind, activation, kernel, stride, SE, size).

    Strata are visited in a seeded random order, one key from each per round, until ``n``
    keys are chosen, so a small ``n`` still sees every unit kind and feature-map size, and
    the stem and head, that the space has.
    """
    rng = random.Random(f"mnas-probes-{seed}")
    strata: dict[tuple[Any, ...], list[OpKey]] = {}
    for key in sorted(set(keys), key=str):
        strata.setdefault(_stratum(key), []).append(key)
    groups = list(strata.values())
    for group in groups:
        rng.shuffle(group)
    rng.shuffle(groups)
    # one stratum of every unit kind before any second one (the strata can outnumber ``n``:
    # a kind left out would leave its constants unfitted), the stem and the head first:
    # few of each, and the model has no other stem or fc data
    first: dict[str, int] = {}
    for i, group in enumerate(groups):
        first.setdefault(group[0].kind, i)
    leading = set(first.values())
    groups = ([g for i, g in enumerate(groups) if i in leading]
              + [g for i, g in enumerate(groups) if i not in leading])
    groups.sort(key=lambda g: g[0].kind not in ("stem", "head"))
    chosen: list[OpKey] = []
    while len(chosen) < n and any(groups):
        for group in groups:
            if group and len(chosen) < n:
                chosen.append(group.pop())
    return chosen


# ---------------------------------------------------------------- the kernel model
def _model(x: Sequence[float], *, source: str = "", fit: dict[str, Any] | None = None
           ) -> PhoneCpuModel:
    v = dict(zip(_PARAMS, (float(t) for t in x), strict=True))
    return PhoneCpuModel(
        gmacs={k: v[k] for k in ("conv", "pw", "dw", "fc")}, bandwidth_gbs=v["bandwidth_gbs"],
        eltwise_gbs=v["eltwise_gbs"], hswish_gbs=v["hswish_gbs"], overhead_us=v["overhead_us"],
        combine="sum", source=source, fit=fit or {})


def fit_kernel_model(points: Sequence[tuple[OpKey, float]], *, source: str = ""
                     ) -> PhoneCpuModel:
    """The kernel model's constants that best predict ``points`` (unit, ms).

    Least squares on ``log(predicted / measured)`` (every unit counts alike, small or
    large), each constant bounded to a physical range so that one a probe set says
    nothing about (a kind it lacks) stays at a plausible value instead of running off.

    Raises:
        MnasInputError: Fewer than 8 points or a non-positive time.
    """
    import numpy as np
    from scipy.optimize import least_squares

    if len(points) < len(_PARAMS):
        raise MnasInputError(f"fitting the host model needs at least {len(_PARAMS)} timed "
                             f"units, got {len(points)}")
    if not all(ms > 0 and math.isfinite(ms) for _, ms in points):
        raise MnasInputError("fitting the host model needs positive, finite unit times")
    # every unit's kernels, flattened once: the residual is then a few numpy operations
    rows: list[tuple[int, str, float, float, float]] = []
    for index, (key, _) in enumerate(points):
        for op in kernels(key):
            rows.append((index, op.kind, op.macs, op.act_bytes + op.weight_bytes, op.act_bytes))
    unit = np.array([r[0] for r in rows])
    kind = [r[1] for r in rows]
    macs = np.array([r[2] for r in rows])
    traffic = np.array([r[3] for r in rows])
    act_bytes = np.array([r[4] for r in rows])
    masks = {name: np.array([k == name for k in kind]) for name in
             ("conv", "pw", "dw", "fc", "eltwise", "hswish")}
    y = np.log([ms for _, ms in points])

    def predict(x: np.ndarray) -> np.ndarray:
        conv, pw, dw, fc, bw, elt, hsw, over = np.exp(x)
        per_op = np.zeros(len(rows))
        for name, speed in (("conv", conv), ("pw", pw), ("dw", dw), ("fc", fc)):
            m = masks[name]
            per_op[m] = macs[m] / (speed * 1e6) + traffic[m] / (bw * 1e6)
        per_op[masks["eltwise"]] = act_bytes[masks["eltwise"]] / (elt * 1e6)
        per_op[masks["hswish"]] = act_bytes[masks["hswish"]] / (hsw * 1e6)
        per_op += over * 1e-3
        return np.bincount(unit, weights=per_op, minlength=len(points))

    solution = least_squares(lambda x: np.log(predict(x)) - y, np.log(_START),
                             bounds=(np.log(_LOW), np.log(_HIGH)), method="trf")
    constants = np.exp(solution.x)
    errors = np.exp(np.log(predict(solution.x)) - y) - 1
    fit = {"units": len(points), "unit_mape": round(float(np.mean(np.abs(errors))), 4),
           "unit_max_abs_pct_err": round(float(np.max(np.abs(errors))), 4)}
    return _model(constants, source=source, fit=fit)


# ---------------------------------------------------------------- networks and the band
def network_points(table: LatencyTable, model: PhoneCpuModel,
                   records: dict[str, dict[str, Any]], *, entries: bool = True
                   ) -> list[CalibrationPoint]:
    """Calibration points of timed whole networks, each unit from ``table``'s entries
    (``entries``) or else from ``model``, as a prediction would take it."""
    points = []
    for ident, record in records.items():
        total = weights = 0.0
        for text in record["keys"]:
            key = OpKey.parse(text)
            total += (table.unit_ms(text) if entries and text in table.entries
                      else model.predict_ms(key))
            weights += key.weights
        points.append(CalibrationPoint(sum_ms=total, measured_ms=float(record["measured_ms"]),
                                       name=str(record.get("name", ident)),
                                       mweights=weights / 1e6))
    return points


def _fit(points: Sequence[CalibrationPoint], weights_threshold: bool) -> Calibration:
    return fit_calibration(points, weights_term=True, weights_threshold=weights_threshold)


def held_out_errors(fitted: Sequence[CalibrationPoint], tested: Sequence[CalibrationPoint], *,
                    weights_threshold: bool) -> list[float]:
    """Network ``i``'s signed error: its ``tested`` sum through the calibration fitted on
    every other network's ``fitted`` sum (both lists in the same network order)."""
    errors = []
    for i, point in enumerate(tested):
        calibration = _fit([*fitted[:i], *fitted[i + 1:]], weights_threshold)
        errors.append(calibration.apply(point.sum_ms, point.mweights) / point.measured_ms - 1)
    return errors


def model_band(errors: Sequence[float]) -> float:
    """The band declared for held-out ``errors``: the worst, rounded up to a whole percent,
    at least :data:`MIN_BAND`, at most 50%."""
    worst = max((abs(e) for e in errors), default=0.5)
    return min(0.5, max(MIN_BAND, math.ceil(worst * 100 - 1e-9) / 100))


# ---------------------------------------------------------------- timing
def time_probes(runner: Any, probes: Sequence[OpKey], settings: HostModelSettings, *,
                batch: int = 1, on_done: Callable[[int], None] | None = None
                ) -> dict[str, LatencyEntry]:
    """Time every probe in ``settings.probe_passes`` passes (``runner.prepare_key``); returns
    each probe's entry, its passes merged (the fastest run of all)."""
    entries: dict[str, LatencyEntry] = {}
    done = 0
    for _ in range(settings.probe_passes):
        for key in probes:
            prepared = runner.prepare_key(key, batch=batch)
            try:
                entry = prepared.time(warmup=settings.warmup, repeats=settings.repeats).to_entry()
            finally:
                prepared.close()
            old = entries.get(str(key))
            entries[str(key)] = entry if old is None else old.merged(entry)
            done += 1
            if on_done is not None:
                on_done(done)
    return entries


def estimate_archs(space: Any, n: int, *, seed: int = 0) -> list[Arch]:
    """The estimate's whole networks: ``n`` of ``space``, a stream apart from the build's
    calibration networks and from ``mnas latency validate``'s."""
    rng = random.Random(f"mnas-host-estimate-{seed}")
    return [space.random_arch(rng).replace(name=f"{space.name}-estimate{seed}-{i}")
            for i in range(n)]


def probe_candidates(space: Any, *, seed: int = 0, samples: int = 300) -> list[OpKey]:
    """Keys of ``samples`` random architectures of ``space`` and of the reference zoo."""
    from mnas.models import get_arch, list_archs

    rng = random.Random(f"mnas-probe-candidates-{seed}")
    archs = [space.random_arch(rng) for _ in range(samples)]
    archs += [get_arch(name) for name in list_archs()]
    return [key for arch in archs for key in op_keys(arch)]


def fit_host_model(table: LatencyTable, records: dict[str, dict[str, Any]], *,
                   weights_threshold: bool, source: str = ""
                   ) -> tuple[PhoneCpuModel, Calibration, list[float]]:
    """Fit the kernel model on ``table``'s measured entries and the calibration on timed whole
    networks; measure the model's error on networks it did not fit.

    Args:
        table: A table whose entries were measured on this device (the estimate's probes,
            or everything a build measured).
        records: Whole networks timed on the device: ``keys`` (their op keys) and
            ``measured_ms`` each, as in a table's ``calibration_networks``.
        weights_threshold: Fit the calibration's weights threshold ``w0`` (the runner's
            :attr:`~mnas.latency.runners.Runner.weights_threshold`).
        source: Stored with the model.

    Returns:
        The model; the calibration, fitted on every network's sum as a prediction takes it
        (entries where measured, else the model); and each network's leave-one-out error
        with *every* unit from the model: the error of a network none of whose units was
        measured, through a calibration fitted without it.
    """
    points = [(OpKey.parse(text), table.unit_ms(text)) for text in sorted(table.entries)]
    model = fit_kernel_model([(key, ms) for key, ms in points if ms > 0], source=source)
    as_predicted = network_points(table, model, records)
    errors = held_out_errors(as_predicted, network_points(table, model, records, entries=False),
                             weights_threshold=weights_threshold)
    return model, _fit(as_predicted, weights_threshold), errors
