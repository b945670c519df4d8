"""``mnas latency build|show|validate`` (and ``calibrate``, from ``_latency_calibrate``)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnas.cli._common import add_command_group, print_json, resolve_arch
from mnas.cli._latency_calibrate import register_calibrate
from mnas.errors import MnasInputError
from mnas.latency._calibrate import pct_text
from mnas.spaces import DEFAULT_SPACE

if TYPE_CHECKING:
    from mnas.latency import TableBuildOptions

__all__ = ["ensure_host_table", "print_table_note", "register"]


def register(subparsers: Any) -> None:
    """Add ``latency`` and its subcommands."""
    sub = add_command_group(
        subparsers, "latency", metavar="SUBCOMMAND",
        help="build, inspect and validate latency lookup tables",
        description="Latency lookup tables: build one on this device, show one, validate one "
                    "against whole networks measured end to end.")
    _register_build(sub)
    _register_show(sub)
    _register_validate(sub)
    register_calibrate(sub)


# ---------------------------------------------------------------- build
def _register_build(sub: Any) -> None:
    p = sub.add_parser(
        "build", help="measure a latency table on this device (resumes where it stopped)",
        description="Enumerate the op keys of a search space (and of named architectures), "
                    "time each key as a tiny model, most used first, then time whole networks "
                    "and fit the calibration. On the host a new table starts as an estimate "
                    "from this machine's speed (about a minute) whose estimates the build "
                    "replaces with measurements. Killed or interrupted, rerun the same "
                    "command: it keeps what it measured and times only the rest.")
    p.add_argument("--target", default="host",
                   help="table name; 'host' (default) names it after this CPU and runtime")
    p.add_argument("--out", help="table file (default: latency_tables/<target name>.json)")
    p.add_argument("--space", action="append", default=None,
                   help=f"search space whose keys to measure (repeatable; default "
                        f"{DEFAULT_SPACE} unless --arch is given)")
    p.add_argument("--arch", action="append", default=[],
                   help="also cover this zoo name or arch file (repeatable)")
    p.add_argument("--zoo", action=argparse.BooleanOptionalAction, default=True,
                   help="also cover the reference zoo at its resolutions (default: yes)")
    p.add_argument("--resolution", type=int, action="append", default=None,
                   help="measure at these resolutions instead of the space's (repeatable)")
    p.add_argument("--device", default="host",
                   help="host (default) or adb:SERIAL (an Android phone over adb)")
    p.add_argument("--runner", default=None,
                   help="host: onnxruntime (default), torch, executorch or litert (LiteRT "
                        "with XNNPACK, pip install 'mnas[litert]'); adb: executorch (default) "
                        "or tflite")
    p.add_argument("--runner-binary", default=None,
                   help="with --device adb:...: local executor_runner / benchmark_model")
    p.add_argument("--cpu-mask", default=None,
                   help="with --device adb:...: taskset mask on the phone (e.g. 80, f0)")
    p.add_argument("--threads", type=int, default=1, help="runtime threads (default 1)")
    p.add_argument("--clock", choices=("cpu", "wall"), default=None,
                   help="cpu: thread CPU time (default with 1 thread); wall: elapsed time")
    p.add_argument("--cpus", help="pin to these CPUs, e.g. '1' or '0,1' (as taskset -c)")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs per key (default 5)")
    p.add_argument("--repeats", type=int, default=25, help="timed runs per key (default 25)")
    p.add_argument("--drift-tolerance", type=float, default=0.05,
                   help="sentinel slowdown that triggers a re-time (default 0.05)")
    p.add_argument("--passes", type=int, default=None,
                   help="most timing passes per key; an entry keeps the fastest run of all "
                        "(default 4 on the host, 2 on a phone)")
    p.add_argument("--min-passes", type=int, default=2,
                   help="passes every key gets; after them a key is timed again only while "
                        "its fastest run still improves by more than 2%% (default 2)")
    p.add_argument("--time-budget", default=None, metavar="DURATION",
                   help="stop measuring keys in time to fit the calibration within this "
                        "duration (e.g. 10m, 90s, 1h); unmeasured keys stay estimated by the "
                        "host model, and rerunning continues (default: no budget)")
    p.add_argument("--statistic", choices=("min", "median"), default=None,
                   help="what the table predicts from: min (default on the host: steady on "
                        "a shared machine) or median (default on a phone)")
    p.add_argument("--recalibrate", action="store_true",
                   help="time the calibration's whole networks again (they were timed at "
                        "another moment of the machine's speed) and re-fit")
    p.add_argument("--calibration-networks", type=int, default=24,
                   help="whole networks timed for the calibration (default 24)")
    p.add_argument("--key-samples", type=int, default=60000,
                   help="most architectures sampled to enumerate a space's keys")
    p.add_argument("--seed", type=int, default=0, help="seed of key order and samples")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")
    p.add_argument("--json", action="store_true", help="print the build report as JSON")
    p.set_defaults(func=_cmd_build)


def _parse_cpus(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    cpus: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            cpus.extend(range(int(low), int(high or low) + 1))
    except ValueError:
        raise MnasInputError(f"--cpus must look like '1' or '0,1' or '0-3', got {text!r}") from None
    return tuple(cpus)


def _build_options(args: argparse.Namespace) -> TableBuildOptions:
    """The :class:`~mnas.latency.TableBuildOptions` of parsed ``latency build`` arguments."""
    from mnas.latency import TableBuildOptions
    from mnas.latency._build_job import parse_time_budget

    return TableBuildOptions(
        target=args.target, out=Path(args.out) if args.out else None,
        spaces=None if args.space is None else tuple(args.space),
        archs=tuple(resolve_arch(name) for name in args.arch), zoo=args.zoo,
        resolutions=None if args.resolution is None else tuple(args.resolution),
        device=args.device or "host", runner=args.runner, runner_binary=args.runner_binary,
        cpu_mask=args.cpu_mask, threads=args.threads, clock=args.clock,
        cpus=_parse_cpus(args.cpus), warmup=args.warmup, repeats=args.repeats,
        drift_tolerance=args.drift_tolerance, passes=args.passes, min_passes=args.min_passes,
        time_budget_s=None if args.time_budget is None else parse_time_budget(args.time_budget),
        statistic=args.statistic,
        recalibrate=args.recalibrate, calibration_networks=args.calibration_networks,
        key_samples=args.key_samples, seed=args.seed,
        progress=args.progress if args.progress is not None else sys.stderr.isatty())


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _cmd_build(args: argparse.Namespace) -> int:
    from mnas.latency import build_latency_table, load_table
    from mnas.latency._build_state import status_note

    options = _build_options(args)
    report = build_latency_table(options, on_status=_stderr_line if options.progress else None)
    cal = report.calibration
    table = load_table(report.path)
    if args.json:
        print_json({
            "path": str(report.path), "keys": report.keys, "already": report.already,
            "measured": report.measured, "retimed": report.retimed, "kept": report.kept,
            "stable": report.stable, "stopped": report.stopped,
            "networks_measured": report.networks_measured, "seconds": report.seconds,
            "provenance": table.header.provenance, "error_band": table.header.error_band,
            "model_error_band": table.header.extra.get("model_error_band"),
            "calibration": None if cal is None else {
                "a": cal.a, "b": cal.b, "c": cal.c, "w0": cal.w0, "n": cal.n, "mape": cal.mape,
                "max_abs_pct_err": cal.max_abs_pct_err},
        })
        return 0
    kept = f", {report.kept:,} timings kept from before" if report.kept else ""
    print(f"{report.path}: {report.keys:,} keys ({report.already:,} already there{kept}; "
          f"{report.measured:,} measured, {report.retimed:,} re-timed in a later pass; "
          f"{report.stable:,} stable), {report.networks_measured} whole networks timed, "
          f"{report.seconds:.0f} s")
    if cal is not None:
        beyond = f" beyond {cal.w0:.3f} M" if cal.w0 else ""
        print(f"calibration: total = {cal.a:.4f} * sum + {cal.c:.4f} ms/M weights{beyond} + "
              f"{cal.b:.4f} ms over {cal.n} networks "
              f"(MAPE {pct_text(cal.mape)}, max {pct_text(cal.max_abs_pct_err)})")
    model_band = table.header.extra.get("model_error_band")
    if isinstance(model_band, float):
        entries_band = table.header.extra.get("entries_error_band", table.header.error_band)
        print(f"predictions: measured ±{entries_band * 100:.0f}% from measured entries, "
              f"estimated ±{model_band * 100:.0f}% where a key is left to the host model")
    note = status_note(table)
    if note:
        print(note)
    return 0


def print_table_note(table: Any, *, always: bool = False) -> None:
    """One line on stderr when ``table``'s build is unfinished (interrupted, stopped at its
    time budget, still running, or only the host model's estimate).

    Args:
        table: The table.
        always: Print it for any table; otherwise only for a table whose device model
            answers missing keys (without one, a key the build did not reach is an error
            that says the same, so a command about to predict stays at one line).
    """
    from mnas.latency._build_state import status_note

    if not always and table.header.missing_keys != "device_model":
        return
    note = status_note(table)
    if note:
        _stderr_line(f"note: {note}")


def ensure_host_table(*, build: bool, runner: str = "onnxruntime", threads: int = 1) -> None:
    """Make sure this host's default table exists: estimate it (about a minute) if it is
    missing, or with ``build`` measure it."""
    from mnas.latency import TableBuildOptions, build_latency_table
    from mnas.latency._build_job import estimate_latency_table
    from mnas.latency._host import host_table_name
    from mnas.latency._predictor import default_tables_dir

    options = TableBuildOptions(runner=runner, threads=threads, progress=sys.stderr.isatty())
    path = default_tables_dir() / f"{host_table_name(runner, threads)}.json"
    if not path.exists():
        if build:
            _stderr_line(f"no latency table for this host yet: building {path}")
            build_latency_table(options, on_status=_stderr_line)
        else:
            _stderr_line(f"no latency table for this host yet: estimating {path} from this "
                         f"machine's own speed (about a minute; `{options.command()}` "
                         "measures it)")
            estimate_latency_table(options, on_status=_stderr_line)


# ---------------------------------------------------------------- show
def _register_show(sub: Any) -> None:
    p = sub.add_parser("show", help="print a table's header, coverage and slowest entries",
                       description="Print a latency table's header, calibration, coverage "
                                   "and its slowest entries.")
    p.add_argument("table", help="a table file, a shipped target name, or 'host'")
    p.add_argument("--top", type=int, default=10, help="slowest entries to list (default 10)")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=_cmd_show)


def _cmd_show(args: argparse.Namespace) -> int:
    from collections import Counter

    from mnas.latency._predictor import resolve_target

    table = resolve_target(args.table)
    header = table.header
    entries = table.entries
    statistic = header.statistic
    slowest = sorted(entries.items(), key=lambda kv: kv[1].value(statistic),
                     reverse=True)[: args.top]
    kinds = Counter(k.split("-", 1)[0] for k in entries)
    sizes = Counter(k.split("-in:", 1)[1].split("x", 1)[0] for k in entries if "-in:" in k)
    cal = table.calibration
    spread = [e.std_ms / e.median_ms for e in entries.values() if e.median_ms > 0]
    if args.json:
        print_json({
            "path": str(table.path), "header": table.to_dict()["header"],
            "calibration": table.to_dict()["calibration"], "entries": len(entries),
            "by_kind": dict(kinds), "by_input_size": dict(sizes),
            "slowest": [{"key": k, **e.to_dict()} for k, e in slowest]})
        return 0
    print(f"table     {table.path}")
    print(f"target    {header.target}  ({header.provenance}, ±{header.error_band * 100:.0f}%)")
    model_band = header.extra.get("model_error_band")
    if header.missing_keys == "device_model":
        origin = ("measured on the device" if header.extra.get("entries") == "measured"
                  or header.provenance == "measured" else "estimated")
        model = (f", ±{model_band * 100:.0f}% on networks it did not fit"
                 if isinstance(model_band, float) else "")
        print(f"keys      {len(table.entries):,} entries {origin}; any other key is estimated "
              f"by the table's device model{model}")
    print(f"device    {header.device}")
    print(f"cpu       {header.cpu}")
    print(f"runtime   {header.runtime} {header.runtime_version}, {header.threads} thread(s), "
          f"{header.dtype}, batch {header.batch}, clock {header.extra.get('clock', '?')}")
    print(f"statistic {statistic} (predictions use each entry's {statistic}_ms)")
    overhead = header.extra.get("call_overhead_ms")
    if isinstance(overhead, int | float):
        print(f"overhead  {overhead * 1000:.1f} us per runtime call (subtracted from each entry: "
              "a network pays it once)")
    print(f"date      {header.date}")
    if header.how_to_measure:
        print(f"rebuild   {header.how_to_measure}")
    print_table_note(table, always=True)
    if cal is not None:
        mape, worst = pct_text(cal.mape), pct_text(cal.max_abs_pct_err)
        weights = (f" + {cal.c:.4f} ms/M weights" if cal.c else "") + (
            f" beyond {cal.w0:.3f} M" if cal.c and cal.w0 else "")
        print(f"calibration  total = {cal.a:.4f} * sum{weights} + {cal.b:.4f} ms  (n={cal.n}, "
              f"MAPE {mape}, max {worst})")
    else:
        print("calibration  none (identity)")
    print(f"entries   {len(entries)}: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    if sizes:
        print("input sizes  " + ", ".join(f"{s}px {n}" for s, n in
                                          sorted(sizes.items(), key=lambda kv: -int(kv[0]))))
    for name, info in (header.extra.get("spaces") or {}).items():
        print(f"space {name}: {info.get('keys')} keys from {info.get('samples')} samples "
              f"(last new key at sample {info.get('last_new_key_at_sample')})")
    if spread:
        spread.sort()
        print(f"spread    std/median: median {spread[len(spread) // 2] * 100:.1f}%, "
              f"p90 {spread[int(0.9 * (len(spread) - 1))] * 100:.1f}%")
    if slowest:
        print(f"slowest {len(slowest)}:")
        for key, entry in slowest:
            low = f"min {entry.min_ms:.3f}, " if entry.min_ms is not None else ""
            print(f"  {entry.value(statistic):8.3f} ms  ({low}median {entry.median_ms:.3f}, p90 "
                  f"{entry.p90_ms:.3f}, n={entry.n})  {key}")
    return 0


# ---------------------------------------------------------------- validate
def _register_validate(sub: Any) -> None:
    p = sub.add_parser(
        "validate", help="measure sampled networks end to end and compare with predictions",
        description="Sample architectures from a space with a fixed seed, predict each with "
                    "the target's table, time each whole network on this device with the "
                    "table's runtime, and report MAPE, within ±10%, Kendall's tau.")
    p.add_argument("--target", required=True, help="'host', a target name or a table file")
    p.add_argument("--space", default=DEFAULT_SPACE, help=f"space (default {DEFAULT_SPACE})")
    p.add_argument("--samples", type=int, default=30, help="architectures (default 30)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs per network")
    p.add_argument("--repeats", type=int, default=20,
                   help="timed runs per network per round (default 20)")
    p.add_argument("--rounds", type=int, default=10,
                   help="round-robin rounds over the networks (default 10)")
    p.add_argument("--references", type=int, default=0,
                   help="also re-time N of the table's calibration networks alongside and "
                        "report the errors with the predictions scaled to the machine's "
                        "speed now (default 0)")
    p.add_argument("--recalibrate", action="store_true",
                   help="also re-fit the calibration on the references timed now (needs "
                        "--references >= 6) and report its predictions beside the table's")
    p.add_argument("--build", action="store_true",
                   help="with --target host: measure this host's table first if it is missing "
                        "(default: estimate it, about a minute)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_validate)


def _cmd_validate(args: argparse.Namespace) -> int:
    from mnas.latency._builder import BuildSettings
    from mnas.latency._predictor import resolve_target
    from mnas.latency._validate import reference_archs, validate_table, validation_archs
    from mnas.spaces import load_space

    if args.target == "host":
        ensure_host_table(build=args.build)
    table = resolve_target(args.target)
    print_table_note(table)
    space = load_space(args.space)
    archs = validation_archs(space, args.samples, seed=args.seed)
    settings = BuildSettings(network_warmup=args.warmup, network_repeats=args.repeats,
                             network_rounds=args.rounds)
    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    start = time.monotonic()
    if args.references < 0:
        raise MnasInputError(f"--references must be >= 0, got {args.references}")
    report = validate_table(table, archs, settings=settings, progress=progress,
                            extra_settings={"space": space.name, "seed": args.seed,
                                            "samples": args.samples},
                            references=reference_archs(table, space, args.references),
                            recalibrate=args.recalibrate)
    if args.json:
        data = report.to_dict()
        data["seconds"] = time.monotonic() - start
        print_json(data)
        return 0
    print(f"{'arch':<28} {'predicted':>10} {'measured':>10} {'error':>8}")
    for row in report.rows:
        print(f"{row.name:<28} {row.predicted_ms:>8.2f}ms {row.measured_ms:>8.2f}ms "
              f"{row.pct_err * 100:>+7.1f}%")
    print(f"measured: {report.settings['statistic']} of {args.rounds} round-robin rounds x "
          f"{args.repeats} runs on {table.header.cpu}, {table.header.runtime} "
          f"{table.header.runtime_version}, {table.header.threads} thread(s)")
    print(f"n={report.n}  MAPE {report.mape * 100:.2f}%  within ±10%: "
          f"{report.within_10pct * 100:.0f}%  Kendall tau {report.kendall_tau:.3f}  max error "
          f"{report.max_abs_pct_err * 100:.1f}%")
    if report.scaled is not None:
        scaled = report.scaled
        print(f"speed now / at build {report.speed_factor:.3f} (median of {report.references} "
              f"calibration networks re-timed alongside); predictions scaled by it: MAPE "
              f"{scaled['mape'] * 100:.2f}%  within ±10%: {scaled['within_10pct'] * 100:.0f}%  "
              f"max error {scaled['max_abs_pct_err'] * 100:.1f}%")
    if report.recalibrated is not None and report.recalibration is not None:
        again, fit = report.recalibrated, report.recalibration
        print(f"calibration re-fitted on the {fit['n']} references timed now: "
              f"{fit['a']:.4f} x sum + {fit['c']:.4f} ms/M weights beyond {fit['w0']:.3f} M + "
              f"{fit['b']:.4f} ms (in-sample MAPE {fit['mape'] * 100:.1f}%); its predictions: "
              f"MAPE {again['mape'] * 100:.2f}%  within ±10%: {again['within_10pct'] * 100:.0f}%"
              f"  Kendall tau {again['kendall_tau']:.3f}  max error "
              f"{again['max_abs_pct_err'] * 100:.1f}% (the table is unchanged: `mnas latency "
              f"build --recalibrate` stores such a calibration)")
    return 0
