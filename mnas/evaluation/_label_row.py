"""Append a measurement to a labels CSV that ``mnas accuracy fit --labels`` reads.

Columns: ``arch`` (an arch file, relative to the CSV), ``accuracy`` (top-1 in percent,
as the shared timm / TF-slim label sets state it), then ``top5``, ``images`` and
``recipe`` (what produced the weights, e.g. ``ofa-mbv3-w1.2+bnrecal``). The arch is
written beside the CSV (``<csv stem>.archs/<structure hash>.json``), so the file stays
valid wherever the original arch file goes; measuring the same network again replaces its
row. The file is rewritten atomically: a crash leaves the old one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path

from mnas._io import atomic_write_text
from mnas._limits import MAX_TABLE_BYTES, read_input_text
from mnas.arch import Arch, save_arch
from mnas.errors import MnasInputError
from mnas.evaluation._evaluate import Evaluation

__all__ = ["COLUMNS", "append_label_row"]

COLUMNS: tuple[str, ...] = ("arch", "accuracy", "top5", "images", "recipe")


def append_label_row(csv_path: str | os.PathLike[str], arch: Arch, evaluation: Evaluation, *,
                     recipe: str) -> tuple[Path, bool]:
    """Add (or replace) the row of ``arch`` in ``csv_path``.

    Returns:
        The arch file written beside the CSV, and whether an earlier row was replaced.

    Raises:
        MnasInputError: An existing file that is not a labels CSV (no ``arch,accuracy``).
    """
    path = Path(csv_path)
    digest = hashlib.sha256(arch.structure_key().encode()).hexdigest()[:16]
    arch_file = path.parent / f"{path.stem}.archs" / f"{digest}.json"
    relative = arch_file.relative_to(path.parent).as_posix()
    rows: list[dict[str, str]] = []
    columns = list(COLUMNS)
    if path.exists():
        text = read_input_text(path, what="a labels CSV", limit=MAX_TABLE_BYTES)
        reader = csv.DictReader(text.splitlines())
        if reader.fieldnames is None or not {"arch", "accuracy"} <= set(reader.fieldnames):
            raise MnasInputError(f"{path}: not a labels CSV (its header lacks arch,accuracy: "
                                 f"{reader.fieldnames}); pass a new file or a labels CSV")
        columns = list(reader.fieldnames) + [c for c in COLUMNS if c not in reader.fieldnames]
        rows = [dict(row) for row in reader]
    row = {"arch": relative, "accuracy": f"{evaluation.top1:.4f}",
           "top5": f"{evaluation.top5:.4f}", "images": str(evaluation.images), "recipe": recipe}
    replaced = any(r.get("arch") == relative for r in rows)
    rows = [r for r in rows if r.get("arch") != relative] + [row]
    if not arch_file.exists():
        save_arch(arch, arch_file)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: r.get(c) or "" for c in columns})
    atomic_write_text(path, out.getvalue())
    return arch_file, replaced
