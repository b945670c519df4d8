"""``mnas latency calibrate``: correct a target's table with whole networks timed on the device."""

from __future__ import annotations

import argparse
from typing import Any

from mnas.cli._common import print_json
from mnas.latency._calibrate import pct_text

__all__ = ["register_calibrate"]


def register_calibrate(latency_subparsers: Any) -> None:
    """Add ``calibrate`` to the ``mnas latency`` subcommands."""
    p = latency_subparsers.add_parser(
        "calibrate", help="fit total = a * sum + b to networks you timed on your device",
        description="Fit the whole-network calibration of a target's table to a few networks "
                    "you timed yourself (CSV `arch,ms` or JSON), and write a copy of the table "
                    "marked calibrated, with its new error band. The shipped table is never "
                    "overwritten unless you pass --force.",
        epilog="example: mnas latency calibrate --target pixel4 --measurements mine.csv "
               "-o latency_tables/my-pixel4.json")
    p.add_argument("--target", required=True, help="table to calibrate: a name or a file")
    p.add_argument("--measurements", required=True, metavar="FILE",
                   help="CSV (columns arch,ms) or JSON of whole-network latencies in ms; arch "
                        "is a zoo name or an arch file")
    p.add_argument("-o", "--out", dest="out", metavar="OUT",
                   help="where to write the calibrated table (required unless --force)")
    p.add_argument("--force", action="store_true",
                   help="overwrite OUT if it exists, or the target's own file without -o")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_calibrate)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from mnas.latency._phone_calibrate import calibrate_table

    result = calibrate_table(target=args.target, measurements=args.measurements,
                             output=args.out, force=args.force)
    cal = result.calibration
    if args.json:
        print_json({"path": str(result.path), "a": cal.a, "b": cal.b, "n": cal.n,
                    "mape": cal.mape, "max_abs_pct_err": cal.max_abs_pct_err,
                    "error_band": result.error_band, "rows": list(result.rows)})
        return 0
    print(f"{result.path}: total = {cal.a:.4f} * sum + {cal.b:.3f} ms over {cal.n} networks "
          f"(MAPE {pct_text(cal.mape)}, max {pct_text(cal.max_abs_pct_err)}); "
          f"band ±{result.error_band * 100:.0f}%")
    for row in result.rows:
        print(f"  {row['arch']:32s} measured {row['measured_ms']:8.2f}  before "
              f"{row['before_ms']:8.2f}  after {row['after_ms']:8.2f} ms")
    return 0
