"""Benchmark: a CPU without a latency table, from nothing to a full build, as a user runs it.

Every step is the real command in a fresh process, with ``MNAS_TABLES`` pointing at an
empty scratch folder (so this machine looks like a CPU no table ships for):

1. ``estimate``: ``mnas search --target host --budget 10ms`` (the host model is estimated
   first, then 300 trials), its wall time, then ``mnas latency validate --target host``
   on 30 networks: MAPE, and how many networks fall within the band each prediction
   declares.
2. ``budget``: ``mnas latency build --target host --time-budget B`` from scratch for each
   ``--budgets`` (default 5m and 10m), each validated the same way.
3. ``more``: the 10-minute table continued with ``--time-budget 10m`` (20 minutes of build
   in all), then without a budget (``full``), each validated.
4. ``reference``: the shipped Zen 4 table (``latency_tables/host-...json``, built on an idle
   machine) validated in the same session, when this CPU has one.

Load averages are recorded before and after every step (other engineers share the 2
cores). Raw results go to ``--out`` (JSON); the summary prints as a Markdown table.

    .venv/bin/python benchmarks/host_latency.py                  # about 90 minutes here
    .venv/bin/python benchmarks/host_latency.py --steps estimate  # 5 minutes
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MNAS = [sys.executable, "-m", "mnas.cli"]


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(argv: list[str], *, tables: Path | None, cwd: Path = REPO) -> dict[str, Any]:
    """Run ``mnas argv``; wall time, load before and after, output."""
    env = dict(os.environ)
    if tables is not None:
        env["MNAS_TABLES"] = str(tables)
    before = _load()
    start = time.monotonic()
    proc = subprocess.run([*MNAS, *argv], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"mnas {' '.join(argv)} failed ({proc.returncode}): "
                         f"{proc.stderr.strip()[-800:]}")
    return {"argv": argv, "seconds": round(seconds, 1), "load_before": before,
            "load_after": _load(), "stdout": proc.stdout, "stderr": proc.stderr[-2000:]}


def validate(target: str, *, tables: Path | None, samples: int, seed: int) -> dict[str, Any]:
    """``mnas latency validate --json`` plus each prediction's own band and label."""
    from mnas.latency import TablePredictor, load_table
    from mnas.latency._validate import validation_archs
    from mnas.spaces import load_space

    step = run(["latency", "validate", "--target", target, "--samples", str(samples),
                "--seed", str(seed), "--json", "--no-progress"], tables=tables)
    report = json.loads(step["stdout"])
    path = (tables / f"{report['target']}.json" if tables is not None and target == "host"
            else Path(target))
    table = load_table(path)
    predictor = TablePredictor(table)
    archs = validation_archs(load_space("mobilenetv3"), samples, seed=seed)
    within, labels, bands = 0, {"measured": 0, "estimated": 0}, []
    for arch, row in zip(archs, report["rows"], strict=True):
        estimate = predictor.predict(arch)
        labels[estimate.provenance] += 1
        bands.append(estimate.band)
        within += abs(row["pct_err"]) <= estimate.band
    step["stdout"] = ""
    return {**step, "mape": report["mape"], "within_10pct": report["within_10pct"],
            "kendall_tau": report["kendall_tau"], "max_abs_pct_err": report["max_abs_pct_err"],
            "within_band": within / len(archs), "labels": labels,
            "bands": sorted(set(bands)), "table_entries": len(table.entries),
            "provenance": table.header.provenance, "rows": report["rows"]}


def _line(name: str, build_s: float | None, v: dict[str, Any], extra: str = "") -> str:
    build = "" if build_s is None else f"{build_s / 60:.1f}"
    return (f"| {name} | {build} | {v['table_entries']:,} | {v['mape'] * 100:.2f}% | "
            f"{v['within_10pct'] * 100:.0f}% | {v['kendall_tau']:.3f} | "
            f"{v['max_abs_pct_err'] * 100:.1f}% | {v['within_band'] * 100:.0f}% "
            f"(±{', ±'.join(f'{b * 100:.0f}%' for b in v['bands'])}) | "
            f"{v['labels']['measured']}/{v['labels']['estimated']} | "
            f"{v['load_before'][0]:.1f}-{v['load_after'][0]:.1f} {extra}|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", nargs="+", default=["estimate", "budget", "more", "reference"],
                        choices=["estimate", "budget", "more", "reference"])
    parser.add_argument("--budgets", nargs="+", default=["5m", "10m"])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "host_latency.json")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="mnas-host-"))
    results: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(), "cpus": os.cpu_count(),
                               "steps": {}}
    lines = ["| table | build (min) | entries | MAPE | within ±10% | tau | max | within its "
             "band | measured/estimated | load |", "|---|---|---|---|---|---|---|---|---|---|"]

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")

    try:
        if "estimate" in args.steps:
            tables = scratch / "estimate"
            tables.mkdir()
            search = run(["search", "--target", "host", "--budget", "10ms", "--runs-dir",
                          str(scratch / "runs"), "--no-progress"], tables=tables)
            search["stdout"] = search["stdout"][-3000:]
            check = validate("host", tables=tables, samples=args.samples, seed=args.seed)
            results["steps"]["estimate"] = {"search": search, "validate": check}
            lines.append(_line("estimate (by `search --target host`)", None, check,
                               f"(search {search['seconds']:.0f} s) "))
            save()
        budget_tables: dict[str, Path] = {}
        if "budget" in args.steps:
            for budget in args.budgets:
                tables = scratch / f"budget-{budget}"
                tables.mkdir()
                build = run(["latency", "build", "--target", "host", "--time-budget", budget,
                             "--no-progress"], tables=tables)
                check = validate("host", tables=tables, samples=args.samples, seed=args.seed)
                results["steps"][f"budget-{budget}"] = {"build": build, "validate": check}
                lines.append(_line(f"`--time-budget {budget}`", build["seconds"], check))
                budget_tables[budget] = tables
                save()
        if "more" in args.steps:
            tables = budget_tables.get("10m")
            if tables is None:
                tables = scratch / "more"
                tables.mkdir()
                first = run(["latency", "build", "--target", "host", "--time-budget", "10m",
                             "--no-progress"], tables=tables)
                results["steps"]["more-first-10m"] = {"build": first}
            total = results["steps"].get("budget-10m", results["steps"].get(
                "more-first-10m"))["build"]["seconds"]
            for name, extra in (("20m", ["--time-budget", "10m"]), ("full", [])):
                build = run(["latency", "build", "--target", "host", *extra, "--no-progress"],
                            tables=tables)
                total += build["seconds"]
                check = validate("host", tables=tables, samples=args.samples, seed=args.seed)
                results["steps"][f"more-{name}"] = {"build": build, "validate": check,
                                                    "build_total_s": total}
                lines.append(_line(f"continued to {name}", total, check))
                save()
        if "reference" in args.steps:
            from mnas.latency import host_table_name

            shipped = REPO / "latency_tables" / f"{host_table_name()}.json"
            if shipped.exists():
                check = validate(str(shipped), tables=None, samples=args.samples,
                                 seed=args.seed)
                results["steps"]["reference"] = {"validate": check, "table": shipped.name}
                lines.append(_line(f"shipped `{shipped.stem}`", None, check))
                save()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results["summary"] = lines
    save()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
