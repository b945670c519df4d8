"""``mnas report``: re-render a run folder's ``report.md``."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``report`` subcommand."""
    p = subparsers.add_parser("report", help="re-render report.md of a search run folder",
                              description="Rewrite RUN_DIR/report.md from the run folder's "
                                          "files and the target's latency table.")
    p.add_argument("run_dir", help="a run folder written by `mnas search` (runs/NAME)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from mnas.search import render_report

    path = render_report(args.run_dir)
    print(path)
    return 0
