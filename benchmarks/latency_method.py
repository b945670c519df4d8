"""Benchmark: the host table method in one short window (a table of only the keys needed).

Builds a throwaway host table (onnxruntime, 1 thread) holding just the keys of the 30
validation networks and the calibration networks, with the real builder and its default
settings (4 passes, min statistic, round-robin calibration networks, weights term),
then validates it on the same 30 networks (seed 0) as ``benchmarks/latency_validate.py``,
and again with the calibration re-fitted without the weights term (``a * sum + b``, the
plain line), to show what that term does.
A full table takes ~25 minutes, during which this VM's speed changes; this one takes ~5,
so the two together separate the method's error from the machine's drift.

    .venv/bin/python benchmarks/latency_method.py [--passes 4] [--out benchmarks/results/latency_method.json]

Reported in benchmarks/RESULTS-latency.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from mnas._io import atomic_write_json
from mnas.latency import (
    Calibration,
    CalibrationPoint,
    LatencyTable,
    TablePredictor,
    cpu_model,
    fit_calibration,
    load_table,
    unique_op_keys,
)
from mnas.latency._builder import BuildSettings, TableBuilder, calibration_archs
from mnas.latency._validate import accuracy, validate_table, validation_archs
from mnas.latency.runners import make_host_runner
from mnas.spaces import load_space


def line_fit(table: LatencyTable) -> Calibration:
    """The table's calibration re-fitted as a plain line on the same networks."""
    points = [CalibrationPoint(sum_ms=sum(table.unit_ms(k) for k in record["keys"]),
                               measured_ms=record["measured_ms"])
              for record in table.header.extra["calibration_networks"].values()]
    return fit_calibration(points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="mobilenetv3")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--passes", type=int, default=BuildSettings().passes)
    parser.add_argument("--out", default="benchmarks/results/latency_method.json")
    args = parser.parse_args()
    space = load_space(args.space)
    archs = validation_archs(space, args.samples, seed=args.seed)
    calib = calibration_archs(space, 24, seed=args.seed)
    settings = BuildSettings(passes=args.passes)
    runner = make_host_runner("onnxruntime", threads=1)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "window.json"
        start = time.monotonic()
        build = TableBuilder(path=path, runner=runner, target="host-window",
                             keys=unique_op_keys(archs), networks=calib,
                             settings=settings).run()
        built_s = time.monotonic() - start
        table = load_table(path)
        report = validate_table(table, archs, runner=runner, settings=settings,
                                extra_settings={"space": space.name, "seed": args.seed})
        line = line_fit(table)
        predictor = TablePredictor(table.with_calibration(line))
        without = accuracy([predictor.predict_ms(arch) for arch in archs],
                           [r.measured_ms for r in report.rows])
    cal = build.calibration
    data = report.to_dict()
    data["without_weights_term"] = {"calibration": {"a": line.a, "b": line.b,
                                                    "mape": line.mape,
                                                    "max_abs_pct_err": line.max_abs_pct_err},
                                    **without}
    data.update({"keys": build.keys, "passes": args.passes, "build_seconds": built_s,
                 "seconds": time.monotonic() - start, "cpu": cpu_model(),
                 "calibration": {"a": cal.a, "b": cal.b, "c": cal.c, "n": cal.n,
                                 "mape": cal.mape, "max_abs_pct_err": cal.max_abs_pct_err},
                 "date": dt.datetime.now(dt.UTC).isoformat(), "loadavg_before": load_before,
                 "loadavg_after": os.getloadavg()})
    out = atomic_write_json(args.out, data)
    print(f"{build.keys} keys x {args.passes} passes + {cal.n} networks in {built_s:.0f} s; "
          f"calibration {cal.a:.3f} x sum + {cal.c:.3f} ms/M weights + {cal.b:.3f} ms "
          f"(in-sample MAPE {cal.mape * 100:.1f}%, max {cal.max_abs_pct_err * 100:.1f}%)")
    print(f"n={report.n} MAPE {report.mape * 100:.2f}% within ±10% "
          f"{report.within_10pct * 100:.0f}% Kendall tau {report.kendall_tau:.3f} max "
          f"{report.max_abs_pct_err * 100:.1f}%; wrote {out}")
    print(f"without the weights term ({line.a:.3f} x sum + {line.b:.3f} ms): MAPE "
          f"{without['mape'] * 100:.2f}% within ±10% {without['within_10pct'] * 100:.0f}% "
          f"Kendall tau {without['kendall_tau']:.3f} max {without['max_abs_pct_err'] * 100:.1f}%")


if __name__ == "__main__":
    main()
