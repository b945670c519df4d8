"""The one rich progress-bar layout of long jobs (table builds, searches) on stderr."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(label: str, *, detail: str) -> Any:
    """A ``rich.progress.Progress`` on stderr: ``label``, bar, done/total, ``detail``,
    time elapsed and time left.

    Both texts are ``rich`` column templates (``{task.description}``,
    ``{task.fields[NAME]}``). The bar draws only on a terminal, or anywhere when
    ``MNAS_PROGRESS=1`` (to watch a job in a log file).

    Args:
        label: The first column (what is counted).
        detail: The column after the count (the best trial so far, a drift).
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn(detail),
                    TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                    console=console, transient=False,
                    disable=not console.is_terminal and os.environ.get("MNAS_PROGRESS") != "1")
