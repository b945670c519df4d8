"""The run folder's CSV files (``trials.csv``, ``pareto.csv``, ``zoo.csv``): text and rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["csv_text", "read_csv"]


def csv_text(header: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """CSV text of ``rows`` under ``header`` (None as an empty cell, other keys left out)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items() if k in header})
    return buf.getvalue()


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file written here (empty list if the file is missing)."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
