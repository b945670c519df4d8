"""Check a latency table against whole networks measured end to end on its device.

``mnas latency validate`` samples architectures from a space with a fixed seed,
predicts each with the table, times each whole network with the table's own runtime
(guarded by a sentinel, see :mod:`mnas.latency._builder`) and reports MAPE, the
fraction within ±10%, Kendall's tau and the largest error.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.latency._builder import BuildSettings, Sentinel, estimate_macs, time_network
from mnas.latency._host import cpu_model
from mnas.latency._opkey import op_keys
from mnas.latency._predictor import TablePredictor
from mnas.latency._table import LatencyTable
from mnas.latency.runners import Runner, make_host_runner

__all__ = ["ValidationReport", "ValidationRow", "kendall_tau", "runner_for_table",
           "validate_table", "validation_archs"]


@dataclass(frozen=True, kw_only=True)
class ValidationRow:
    """One architecture: predicted and measured latency (ms) and the signed error (fraction)."""

    name: str
    predicted_ms: float
    measured_ms: float
    pct_err: float
    drift: float


@dataclass(frozen=True, kw_only=True)
class ValidationReport:
    """Accuracy of a table's predictions against end-to-end measurements.

    Attributes:
        target: The table's target.
        n: Architectures measured.
        mape: Mean absolute percentage error (fraction).
        within_10pct: Fraction of architectures predicted within ±10%.
        kendall_tau: Rank correlation (tau-b) of predicted vs measured.
        max_abs_pct_err: Largest absolute error (fraction).
        rows: One row per architecture.
        settings: How the networks were sampled and timed.
    """

    target: str
    n: int
    mape: float
    within_10pct: float
    kendall_tau: float
    max_abs_pct_err: float
    rows: tuple[ValidationRow, ...]
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``mnas latency validate --json``)."""
        return {
            "target": self.target, "n": self.n, "mape": self.mape,
            "within_10pct": self.within_10pct, "kendall_tau": self.kendall_tau,
            "max_abs_pct_err": self.max_abs_pct_err, "settings": self.settings,
            "rows": [{"name": r.name, "predicted_ms": r.predicted_ms,
                      "measured_ms": r.measured_ms, "pct_err": r.pct_err, "drift": r.drift}
                     for r in self.rows],
        }


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b of two equally long sequences (ties counted as in scipy)."""
    if len(x) != len(y):
        raise ValueError(f"kendall_tau needs sequences of equal length, got {len(x)} and "
                         f"{len(y)}")
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = ((concordant + discordant + ties_x) * (concordant + discordant + ties_y)) ** 0.5
    return (concordant - discordant) / denominator if denominator else 0.0


def validation_archs(space: Any, n: int, *, seed: int = 0) -> list[Arch]:
    """``n`` architectures drawn from ``space`` with ``random.Random(seed)``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise MnasInputError(f"--samples must be an integer >= 2, got {n!r}")
    rng = random.Random(seed)
    return [space.random_arch(rng).replace(name=f"{space.name}-seed{seed}-{i}")
            for i in range(n)]


def runner_for_table(table: LatencyTable) -> Runner:
    """A host runner set up as the table was measured.

    Raises:
        MnasInputError: The table was measured on another CPU or with a runtime version
            this host does not have (validation must run on the table's device).
    """
    header = table.header
    if header.provenance != "measured":
        raise MnasInputError(
            f"target {header.target!r} is an {header.provenance} table; validate measures on "
            "the device itself, so it needs a table measured on this host (`mnas latency "
            "build --target host`)")
    if header.cpu != cpu_model():
        raise MnasInputError(
            f"table {header.target!r} was measured on {header.cpu!r} but this host is "
            f"{cpu_model()!r}; validate on the device the table was measured on, or build "
            "this host's table with `mnas latency build --target host`")
    clock = header.extra.get("clock")
    runner = make_host_runner(header.runtime, threads=header.threads,
                              clock=clock if isinstance(clock, str) else None)
    info = runner.info()
    if info.runtime_version != header.runtime_version:
        raise MnasInputError(
            f"table {header.target!r} was measured with {header.runtime} "
            f"{header.runtime_version} but this host has {info.runtime_version}; rebuild it "
            "with `mnas latency build`")
    return runner


def validate_table(table: LatencyTable, archs: Sequence[Arch], *, runner: Runner | None = None,
                   settings: BuildSettings | None = None, progress: bool = False,
                   extra_settings: dict[str, Any] | None = None) -> ValidationReport:
    """Predict and measure every arch; compare.

    Args:
        table: The table under test.
        archs: Architectures to measure (at least 2).
        runner: The runner (default: :func:`runner_for_table`).
        settings: Timing settings (whole-network warm-up, repeats, drift tolerance).
        progress: Show a progress bar.
        extra_settings: Recorded in the report (space, seed).
    """
    if len(archs) < 2:
        raise MnasInputError(f"validation needs at least 2 architectures, got {len(archs)}")
    settings = settings or BuildSettings()
    runner = runner or runner_for_table(table)
    predictor = TablePredictor(table)
    predicted = [predictor.predict_ms(arch) for arch in archs]  # missing keys fail first
    keys = [k for arch in archs for k in op_keys(arch) if k.is_block]
    ordered = sorted(keys, key=estimate_macs)
    sentinel = Sentinel(runner, ordered[(3 * len(ordered)) // 4],
                        repeats=settings.sentinel_repeats)
    rows = []
    try:
        iterator: Any = archs
        if progress:
            from rich.progress import track

            iterator = track(archs, description="measuring networks", transient=True)
        for arch, pred in zip(iterator, predicted, strict=False):
            timing, ratio = time_network(runner, arch, sentinel, settings=settings,
                                         batch=table.header.batch)
            measured = timing.median_ms
            rows.append(ValidationRow(name=arch.name, predicted_ms=pred, measured_ms=measured,
                                      pct_err=(pred - measured) / measured, drift=ratio))
    finally:
        sentinel.close()
    errors = [abs(r.pct_err) for r in rows]
    return ValidationReport(
        target=table.header.target, n=len(rows), mape=sum(errors) / len(errors),
        within_10pct=sum(e <= 0.10 for e in errors) / len(errors),
        kendall_tau=kendall_tau([r.predicted_ms for r in rows], [r.measured_ms for r in rows]),
        max_abs_pct_err=max(errors), rows=tuple(rows),
        settings={"network_warmup": settings.network_warmup,
                  "network_repeats": settings.network_repeats,
                  "drift_tolerance": settings.drift_tolerance, **(extra_settings or {})})
