"""Benchmark: accuracy of this host's latency table against whole networks measured end to end.

Samples ``--samples`` architectures (default 30, seed 0) from the default
``mobilenetv3`` space, predicts each from the host table (onnxruntime, 1 thread),
times each whole network with the same runtime on this CPU, and writes the report
(``mnas latency validate --json`` plus the machine's load average) to ``--out``.

    .venv/bin/python benchmarks/latency_validate.py [--target host] [--samples 30] [--seed 0]

Reported in benchmarks/RESULTS-latency.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

from mnas.latency import cpu_model, resolve_target
from mnas.latency._builder import BuildSettings
from mnas.latency._validate import validate_table, validation_archs
from mnas.spaces import load_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="host")
    parser.add_argument("--space", default="mobilenetv3")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default="benchmarks/results/latency_validate.json")
    args = parser.parse_args()
    table = resolve_target(args.target)
    space = load_space(args.space)
    archs = validation_archs(space, args.samples, seed=args.seed)
    load_before = os.getloadavg()
    start = time.monotonic()
    report = validate_table(table, archs, settings=BuildSettings(network_repeats=args.repeats),
                            extra_settings={"space": space.name, "seed": args.seed,
                                            "samples": args.samples})
    data = report.to_dict()
    data.update({"seconds": time.monotonic() - start, "cpu": cpu_model(),
                 "table": str(table.path), "date": dt.datetime.now(dt.UTC).isoformat(),
                 "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
                 "cpus": os.cpu_count()})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"n={report.n} MAPE {report.mape * 100:.2f}% within ±10% "
          f"{report.within_10pct * 100:.0f}% Kendall tau {report.kendall_tau:.3f} max "
          f"{report.max_abs_pct_err * 100:.1f}% ({data['seconds']:.0f} s, load "
          f"{load_before[0]:.1f} -> {data['loadavg_after'][0]:.1f}); wrote {out}")


if __name__ == "__main__":
    main()
