"""``mnas predict --target T --arch NAME|FILE``: one architecture's predicted latency."""

from __future__ import annotations

import argparse
from typing import Any

from mnas.cli._common import print_json, resolve_arch

__all__ = ["format_estimate", "register"]


def register(subparsers: Any) -> None:
    """Add ``predict``."""
    p = subparsers.add_parser(
        "predict", help="predict an architecture's latency on a target",
        description="Predict the latency of an architecture on a target from its latency "
                    "table (calibrated sum of per-block entries).")
    p.add_argument("--target", required=True,
                   help="'host', a shipped target name (e.g. pixel4) or a table file")
    p.add_argument("--arch", required=True, help="zoo name or arch file")
    p.add_argument("--build", action="store_true",
                   help="with --target host: measure this host's table first if it is missing "
                        "(default: estimate it from this machine's speed, about a minute)")
    p.add_argument("--per-block", action="store_true", help="also list every unit's latency")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (latency_ms, low_ms, high_ms, provenance, "
                        "target, per_block)")
    p.set_defaults(func=_cmd_predict)


def format_estimate(estimate: Any, table: Any) -> str:
    """One line: ``12.3 ms (measured on AMD EPYC, onnxruntime 1.32.0 1 thread, ±5%: 11.7-12.9
    ms)``.

    An estimate is never called measured: tables from a device model, or predictions
    that needed the device model, read ``estimated ±X% for ...``.
    """
    header = table.header
    threads = f"{header.threads} thread{'s' if header.threads != 1 else ''}"
    where = f"{header.cpu}, {header.runtime} {header.runtime_version} {threads}"
    band = (f"±{estimate.band * 100:.0f}%: {estimate.low_ms:.2f}-{estimate.high_ms:.2f} ms")
    if estimate.provenance == "measured":
        text = f"{estimate.latency_ms:.2f} ms (measured on {where}, {band})"
    else:
        text = f"{estimate.latency_ms:.2f} ms (estimated {band} for {header.device}, {where})"
        if header.how_to_measure:
            text += f"; to measure it on the device: {header.how_to_measure}"
    return text


def _cmd_predict(args: argparse.Namespace) -> int:
    from mnas.cli._latency import ensure_host_table, print_table_note
    from mnas.latency._predictor import TablePredictor, resolve_target

    if args.target == "host":
        ensure_host_table(build=args.build)
    table = resolve_target(args.target)
    arch = resolve_arch(args.arch)
    estimate = TablePredictor(table).predict(arch)
    if args.json:
        data = estimate.to_dict()
        data["target"] = args.target
        data["table"] = str(table.path) if table.path else None
        data["arch"] = arch.name
        print_json(data)
        print_table_note(table, always=True)
        return 0
    print(f"{arch.name}: {format_estimate(estimate, table)}")
    print_table_note(table, always=True)
    if args.per_block:
        for block in estimate.per_block:
            print(f"  {block.ms:8.3f} ms  {block.source:<12} {block.key}")
    return 0
