"""Benchmark: accuracy of this host's latency table against whole networks measured end to end.

Samples ``--samples`` architectures (default 30, seed 0) from the default
``mobilenetv3`` space, predicts each from the host table (onnxruntime, 1 thread),
times each whole network with the same runtime on this CPU (round-robin, ``--rounds``
rounds of ``--repeats`` runs, taken as the table's statistic) together with
``--references`` of the table's calibration networks (the machine's speed now against
the build's), ``--sessions`` times, and writes the report
(``mnas latency validate --json`` plus the machine's load average and the same metrics
computed on the networks' medians, for reference) to ``--out``.

    .venv/bin/python benchmarks/latency_validate.py [--target host] [--samples 30] [--seed 0]

``--zoo`` validates on the reference zoo instead (every zoo architecture at its own
resolution; ``--space`` then only names the space the references are drawn from).

``--recalibrate`` (with ``--references 24``: all of the table's calibration networks)
also re-fits the calibration on the references of each session and reports its
predictions of the networks under test (the references are never among them): the
table's error had it been recalibrated at the moment of the validation.

``--compare-runner onnxruntime`` also times the same networks with that host runtime
right after each session (same rounds and statistic) and reports, per network, the
ratio of the table's runtime to it, and how well each ranks the other (Kendall tau):
e.g. the LiteRT table (``--target host-amd-epyc-f25m1-litert-1t --space mobilenetv1``)
against onnxruntime.

Reported in benchmarks/RESULTS-latency.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time

from mnas._io import atomic_write_json
from mnas.latency import cpu_model, resolve_target
from mnas.latency._builder import BuildSettings, time_networks
from mnas.latency._validate import (
    ValidationReport,
    accuracy,
    kendall_tau,
    reference_archs,
    validate_table,
    validation_archs,
)
from mnas.latency.runners import make_host_runner
from mnas.spaces import load_space


def _line(name: str, m: dict[str, float]) -> str:
    return (f"{name}: MAPE {m['mape'] * 100:.2f}% within ±10% {m['within_10pct'] * 100:.0f}% "
            f"Kendall tau {m['kendall_tau']:.3f} max {m['max_abs_pct_err'] * 100:.1f}%")


def _headline(report: ValidationReport) -> dict[str, float]:
    return {"mape": report.mape, "within_10pct": report.within_10pct,
            "kendall_tau": report.kendall_tau, "max_abs_pct_err": report.max_abs_pct_err}


def _compare(runner: str, reports: list[ValidationReport], compared: list[list[float]]
             ) -> dict[str, object]:
    """Per session: this table's runtime over ``runner`` per network, and rank agreement."""
    sessions = []
    for report, other in zip(reports, compared, strict=True):
        ratios = sorted(r.measured_ms / o for r, o in zip(report.rows, other, strict=True))
        sessions.append({
            "measured_ms": other, "ratios": [r.measured_ms / o for r, o in
                                             zip(report.rows, other, strict=True)],
            "ratio_median": statistics.median(ratios), "ratio_min": ratios[0],
            "ratio_max": ratios[-1],
            "tau_measured": kendall_tau([r.measured_ms for r in report.rows], other),
            "tau_predicted": kendall_tau([r.predicted_ms for r in report.rows], other)})
    return {"runner": runner, "sessions": sessions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="host")
    parser.add_argument("--space", default="mobilenetv3")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--references", type=int, default=8)
    parser.add_argument("--sessions", type=int, default=2,
                        help="independent measurements of the same networks; the second "
                             "shows how well the measurement repeats itself")
    parser.add_argument("--zoo", action="store_true",
                        help="validate on the reference zoo (every zoo name at its own "
                             "resolution) instead of networks sampled from --space")
    parser.add_argument("--recalibrate", action="store_true",
                        help="also re-fit the calibration on the references of each session "
                             "(use --references 24: all of the table's calibration networks)")
    parser.add_argument("--compare-runner", default=None,
                        help="also time the networks with this host runtime after each session")
    parser.add_argument("--out", default="benchmarks/results/latency_validate.json")
    args = parser.parse_args()
    table = resolve_target(args.target)
    space = load_space(args.space)
    if args.zoo:
        from mnas.models import get_arch, list_archs

        archs = [get_arch(name) for name in list_archs()]
    else:
        archs = validation_archs(space, args.samples, seed=args.seed)
    references = reference_archs(table, space, args.references)
    load_before = os.getloadavg()
    start = time.monotonic()
    settings = BuildSettings(network_repeats=args.repeats, network_rounds=args.rounds)
    reports = []
    compared: list[list[float]] = []
    for _ in range(max(1, args.sessions)):
        reports.append(validate_table(table, archs, settings=settings, references=references,
                                      recalibrate=args.recalibrate,
                                      extra_settings={"space": "zoo" if args.zoo else space.name,
                                                      "seed": args.seed,
                                                      "samples": len(archs)}))
        if args.compare_runner:
            other = make_host_runner(args.compare_runner, threads=table.header.threads)
            compared.append([t.timing.value(table.header.statistic)
                             for t in time_networks(other, archs, settings=settings)])
    report = reports[0]
    data = report.to_dict()
    if compared:
        data["compare"] = _compare(args.compare_runner, reports, compared)
    # the same predictions against each network's median run, to show what the statistic does
    data["against_median_runs"] = accuracy([r.predicted_ms for r in report.rows],
                                           [r.median_ms for r in report.rows])
    # every further session: its own accuracy, and how far its measurements are from the
    # first session's (the measurement's repeatability: a floor for any predictor)
    data["further_sessions"] = [
        {**_headline(again), "speed_factor": again.speed_factor, "scaled": again.scaled,
         "recalibrated": again.recalibrated, "recalibration": again.recalibration,
         "repeatability": accuracy([r.measured_ms for r in again.rows],
                                   [r.measured_ms for r in report.rows]),
         "measured_ms": [r.measured_ms for r in again.rows]}
        for again in reports[1:]]
    data.update({"seconds": time.monotonic() - start, "cpu": cpu_model(),
                 "table": str(table.path), "date": dt.datetime.now(dt.UTC).isoformat(),
                 "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
                 "cpus": os.cpu_count()})
    out = atomic_write_json(args.out, data)
    print(f"n={report.n}, {report.references} references, {data['seconds']:.0f} s, load "
          f"{load_before[0]:.1f} -> {data['loadavg_after'][0]:.1f}; wrote {out}")
    for index, session in enumerate(reports, start=1):
        print(_line(f"session {index}", _headline(session)))
        if session.scaled is not None:
            print(_line(f"  scaled by the references' speed {session.speed_factor:.3f}",
                        session.scaled))
        if session.recalibrated is not None and session.recalibration is not None:
            fit = session.recalibration
            print(_line(f"  calibration re-fitted on the {fit['n']} references "
                        f"(in-sample {fit['mape'] * 100:.1f}%)", session.recalibrated))
    for index, session in enumerate(data["further_sessions"], start=2):
        print(_line(f"session {index}'s measurements vs session 1's", session["repeatability"]))
    if compared:
        for index, session in enumerate(data["compare"]["sessions"], start=1):
            print(f"session {index}: {table.header.runtime} / {args.compare_runner} per network: "
                  f"median {session['ratio_median']:.3f}, range {session['ratio_min']:.3f}-"
                  f"{session['ratio_max']:.3f}; Kendall tau measured vs measured "
                  f"{session['tau_measured']:.3f}, table predictions vs {args.compare_runner} "
                  f"measured {session['tau_predicted']:.3f}")
    spreads = sorted(r.spread for r in report.rows)
    print(_line("session 1 against the networks' median runs", data["against_median_runs"])
          + f"; machine speed spread over the rounds: median {spreads[len(spreads) // 2]:.2f}x, "
          f"max {spreads[-1]:.2f}x")


if __name__ == "__main__":
    main()
