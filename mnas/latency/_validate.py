"""Check a latency table against whole networks measured end to end on its device.

``mnas latency validate`` samples architectures from a space with a fixed seed,
predicts each with the table, times each whole network with the table's own runtime
(round-robin over several rounds and taken as the table's statistic, exactly as the
builder timed its calibration networks: see :func:`mnas.latency._builder.time_networks`)
and reports MAPE, the fraction within ±10%, Kendall's tau and the largest error.

A shared machine's speed level drifts by several percent over minutes, so the table
(measured at build time) and the validation (now) can see different machines. The
validation therefore re-times *reference networks* in the same round-robin: some of the
table's own calibration networks, whose build-time timings the table stores. The median
of their now/then ratios is the machine's current speed relative to the table's; the
report adds every metric with the predictions scaled by that one factor (``scaled``).
The headline metrics are always the unscaled ones: on this project's VM the factor of 8
references was itself too noisy to improve them reliably. The references are never among
the networks under test.

With ``recalibrate`` the report adds what the table would predict had its calibration been
fitted now: the calibration of the same form (slope, intercept, weights term, ``w0`` where
the runner fits one) is re-fitted on the references' timings of this round-robin, the
table's entries unchanged, and every metric is computed again (``recalibrated``). That is
what ``mnas latency build --recalibrate`` would store, measured at the same moments as the
networks under test, so it separates the table's own error (entries and calibration form)
from the machine's drift since the calibration was timed.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.latency._builder import (
    NETWORK_GROUP,
    BuildSettings,
    arch_id,
    calibration_archs,
    calibration_points,
    time_networks,
)
from mnas.latency._calibrate import fit_calibration
from mnas.latency._host import cpu_model
from mnas.latency._predictor import TablePredictor
from mnas.latency._table import LatencyTable
from mnas.latency.runners import Runner, make_host_runner

__all__ = ["MIN_RECALIBRATION_REFERENCES", "ValidationReport", "ValidationRow", "accuracy",
           "kendall_tau", "reference_archs", "runner_for_table", "validate_table",
           "validation_archs"]


MIN_RECALIBRATION_REFERENCES = 6
"""Reference networks a re-fitted calibration needs (its weights term needs 6 points)."""


@dataclass(frozen=True, kw_only=True)
class ValidationRow:
    """One architecture: predicted and measured latency (ms) and the signed error (fraction).

    Attributes:
        name: The architecture.
        predicted_ms: The table's prediction (at the table's build-time speed).
        measured_ms: The measurement, as the table's statistic (min or median).
        pct_err: ``(predicted - measured) / measured``.
        scaled_pct_err: ``(predicted * speed_factor - measured) / measured``.
        recalibrated_ms: The prediction with the calibration re-fitted on the references'
            timings of this validation (None without ``recalibrate``).
        median_ms: The median of all its timed runs (for reference).
        spread: How far the machine's speed moved while it was measured (its slowest
            round's fastest run over its fastest round's).
    """

    name: str
    predicted_ms: float
    measured_ms: float
    pct_err: float
    scaled_pct_err: float
    median_ms: float
    spread: float
    recalibrated_ms: float | None = None


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
        speed_factor: The machine's speed now relative to the table's build (reference
            networks' now/then, median; 1.0 without references).
        references: Reference networks timed (0: no correction).
        scaled: ``mape``, ``within_10pct``, ``kendall_tau``, ``max_abs_pct_err`` of the
            predictions scaled by ``speed_factor`` (None without references).
        recalibrated: The same metrics of the predictions with the calibration re-fitted on
            the references timed now (None without ``recalibrate``).
        recalibration: That calibration (``a``, ``b``, ``c``, ``w0``, ``n``, in-sample
            ``mape`` and ``max_abs_pct_err``), None without ``recalibrate``.
    """

    target: str
    n: int
    mape: float
    within_10pct: float
    kendall_tau: float
    max_abs_pct_err: float
    rows: tuple[ValidationRow, ...]
    settings: dict[str, Any]
    speed_factor: float = 1.0
    references: int = 0
    scaled: dict[str, float] | None = None
    recalibrated: dict[str, float] | None = None
    recalibration: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``mnas latency validate --json``)."""
        return {
            "target": self.target, "n": self.n, "mape": self.mape,
            "within_10pct": self.within_10pct, "kendall_tau": self.kendall_tau,
            "max_abs_pct_err": self.max_abs_pct_err, "speed_factor": self.speed_factor,
            "references": self.references, "scaled": self.scaled,
            "recalibrated": self.recalibrated, "recalibration": self.recalibration,
            "settings": self.settings,
            "rows": [{"name": r.name, "predicted_ms": r.predicted_ms,
                      "measured_ms": r.measured_ms, "pct_err": r.pct_err,
                      "scaled_pct_err": r.scaled_pct_err,
                      "recalibrated_ms": r.recalibrated_ms,
                      "median_ms": r.median_ms, "spread": r.spread}
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


def accuracy(predicted: Sequence[float], measured: Sequence[float]) -> dict[str, float]:
    """``mape``, ``within_10pct``, ``kendall_tau`` and ``max_abs_pct_err`` (fractions)."""
    errors = [abs(p - m) / m for p, m in zip(predicted, measured, strict=True)]
    return {"mape": sum(errors) / len(errors),
            "within_10pct": sum(e <= 0.10 for e in errors) / len(errors),
            "kendall_tau": kendall_tau(predicted, measured), "max_abs_pct_err": max(errors)}


def reference_archs(table: LatencyTable, space: Any, n: int, *, seed: int = 0) -> list[Arch]:
    """Up to ``n`` of ``table``'s calibration networks drawn from ``space`` (their build-time
    timings are in the table), to re-time as references of the machine's speed."""
    records = table.header.extra.get("calibration_networks") or {}
    if n <= 0 or not records:
        return []
    found = [arch for arch in calibration_archs(space, max(24, n), seed=seed)
             if arch_id(arch) in records]
    return found[:n]


def _interleaved(tested: int, references: int) -> list[int]:
    """Indices into ``[*tested, *references]`` with the references spread evenly among
    the networks under test (each at its fraction of the way through its own list)."""
    slots = [((i + 0.5) / tested, i) for i in range(tested)]
    slots += [((j + 0.5) / references, tested + j) for j in range(references)]
    return [index for _, index in sorted(slots)]


def runner_for_table(table: LatencyTable) -> Runner:
    """A host runner set up as the table was measured.

    Raises:
        MnasInputError: The table was measured on another CPU or with a runtime version
            this host does not have (validation must run on the table's device).
    """
    header = table.header
    if header.provenance != "measured" and header.extra.get("entries") != "measured":
        raise MnasInputError(
            f"target {header.target!r} is an {header.provenance} table; validate measures on "
            "the device itself, so it needs a table measured on this host (`mnas latency "
            "build --target host`)")
    if header.cpu != cpu_model():
        flag = "" if header.runtime == "onnxruntime" else f" --runner {header.runtime}"
        raise MnasInputError(
            f"table {header.target!r} was measured on {header.cpu!r} but this host is "
            f"{cpu_model()!r}; validate on the device the table was measured on, or build "
            f"this host's table with `mnas latency build --target host{flag}`")
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
                   extra_settings: dict[str, Any] | None = None,
                   references: Sequence[Arch] = (), recalibrate: bool = False
                   ) -> ValidationReport:
    """Predict and measure every arch; compare.

    Args:
        table: The table under test.
        archs: Architectures to measure (at least 2).
        runner: The runner (default: :func:`runner_for_table`).
        references: Calibration networks of ``table`` to re-time in the same round-robin
            (see :func:`reference_archs`); their median now/then ratio gives the
            ``scaled`` metrics. Empty: none.
        recalibrate: Also re-fit the calibration on the references' timings and report
            its predictions (``recalibrated``); needs at least 6 references.
        settings: Whole-network timing (warm-up, repeats per round, rounds).
        progress: Show a progress bar.
        extra_settings: Recorded in the report (space, seed).
    """
    if len(archs) < 2:
        raise MnasInputError(f"validation needs at least 2 architectures, got {len(archs)}")
    settings = settings or BuildSettings()
    runner = runner or runner_for_table(table)
    predictor = TablePredictor(table)
    predicted = [predictor.predict_ms(arch) for arch in archs]  # missing keys fail first
    statistic = table.header.statistic
    records = table.header.extra.get("calibration_networks") or {}
    tested = {arch_id(arch) for arch in archs}
    references = [ref for ref in references
                  if arch_id(ref) in records and arch_id(ref) not in tested]
    if recalibrate and len(references) < MIN_RECALIBRATION_REFERENCES:
        raise MnasInputError(
            f"recalibrating needs at least {MIN_RECALIBRATION_REFERENCES} of the table's "
            f"calibration networks as references, got {len(references)}; pass --references "
            f"{len(records)} (this table has {len(records)} calibration networks)")
    # The references must see the machine the networks under test see: time them all in
    # one round-robin where that fits in memory, else spread them over every group.
    order = _interleaved(len(archs), len(references))
    items = [*archs, *references]
    group = len(items) if len(items) <= 2 * NETWORK_GROUP else NETWORK_GROUP
    on_round: Callable[[int], None] | None = None
    on_convert: Callable[[int, int], None] | None = None
    bar: Any = None
    if progress:
        from rich.console import Console
        from rich.progress import Progress

        bar = Progress(console=Console(stderr=True), transient=True)
        bar.start()
        task = bar.add_task("measuring networks (round-robin)",
                            total=settings.network_rounds * -(-len(items) // group))
        on_round = lambda _done: bar.advance(task)  # noqa: E731
        converting = bar.add_task("converting (cached on disk)", total=None, visible=False)
        on_convert = lambda done, total: bar.update(  # noqa: E731
            converting, completed=done, total=total, visible=total > 0)
    try:
        timed = time_networks(runner, [items[i] for i in order], settings=settings,
                              batch=table.header.batch, group=group, on_round=on_round,
                              on_convert=on_convert, exported=True)
    finally:
        if bar is not None:
            bar.stop()
    timings = [timing for _, timing in sorted(zip(order, timed, strict=True),
                                              key=lambda pair: pair[0])]
    now_ms = [(arch_id(ref), timing.timing.value(statistic))
              for ref, timing in zip(references, timings[len(archs):], strict=True)]
    ratios = sorted(ms / records[ident]["measured_ms"] for ident, ms in now_ms)
    speed = statistics.median(ratios) if ratios else 1.0
    refit: dict[str, Any] | None = None
    repredicted: list[float | None] = [None] * len(archs)
    if recalibrate:
        now = {ident: {**records[ident], "measured_ms": ms} for ident, ms in now_ms}
        calibration = fit_calibration(calibration_points(table, now), weights_term=True,
                                      weights_threshold=runner.weights_threshold,
                                      source="re-fitted by `mnas latency validate`")
        refit = {"a": calibration.a, "b": calibration.b, "c": calibration.c,
                 "w0": calibration.w0, "n": calibration.n, "mape": calibration.mape,
                 "max_abs_pct_err": calibration.max_abs_pct_err}
        recalibrated = TablePredictor(table.with_calibration(calibration))
        repredicted = [recalibrated.predict_ms(arch) for arch in archs]
    rows = []
    for arch, pred, again, measured in zip(archs, predicted, repredicted, timings, strict=False):
        value = measured.timing.value(statistic)
        rows.append(ValidationRow(name=arch.name, predicted_ms=pred, measured_ms=value,
                                  pct_err=(pred - value) / value,
                                  scaled_pct_err=(pred * speed - value) / value,
                                  median_ms=measured.timing.median_ms, spread=measured.spread,
                                  recalibrated_ms=again))
    measured_ms = [r.measured_ms for r in rows]
    raw = accuracy([r.predicted_ms for r in rows], measured_ms)
    return ValidationReport(
        target=table.header.target, n=len(rows), mape=raw["mape"],
        within_10pct=raw["within_10pct"], kendall_tau=raw["kendall_tau"],
        max_abs_pct_err=raw["max_abs_pct_err"], rows=tuple(rows),
        speed_factor=speed, references=len(ratios),
        scaled=(accuracy([r.predicted_ms * speed for r in rows], measured_ms)
                if ratios else None),
        recalibrated=(accuracy([r.recalibrated_ms for r in rows if r.recalibrated_ms is not None],
                               measured_ms) if refit else None),
        recalibration=refit,
        settings={"statistic": statistic, "network_warmup": settings.network_warmup,
                  "network_repeats": settings.network_repeats,
                  "network_rounds": settings.network_rounds, **(extra_settings or {})})
