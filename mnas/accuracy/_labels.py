"""Labelled architectures: real accuracies to fit accuracy models on (or to look up).

Three sources, each validated where it is read:

* a folder of ``mnas-arch/1`` files, each with ``truth.accuracy`` (as in
  ``../shared/data/accel_nasbench/archs/``); ``index.json`` is skipped;
* a CSV with columns ``arch,accuracy`` where ``arch`` is an arch-file path (relative to
  the CSV's folder) or a zoo name;
* a run folder (``runs/NAME``) of a search with ``--proxy train``: every finished,
  non-duplicate trial's trained accuracy, its architecture replayed from its parameters.

Architectures are matched by structure (``Arch.structure_key``), never by file name;
the same network twice with different accuracies is an error, twice with the same
accuracy is one label.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnas._limits import MAX_TABLE_BYTES, load_json_file, read_input_text
from mnas.arch import Arch, load_arch
from mnas.errors import MnasInputError

__all__ = ["LabelSet", "LabelledArch", "load_labels"]


@dataclass(frozen=True, kw_only=True)
class LabelledArch:
    """One architecture and its measured accuracy.

    Attributes:
        arch: The architecture.
        accuracy: Its accuracy (as the source states it: top-1 %, or a fraction).
        origin: Where the label came from (file path, ``CSV:line`` or ``run:trial``).
    """

    arch: Arch
    accuracy: float
    origin: str


@dataclass(frozen=True, kw_only=True)
class LabelSet:
    """Labelled architectures from one source.

    Attributes:
        items: The labels, one per distinct architecture, in source order.
        source: The path they were read from.
        kind: ``folder``, ``csv`` or ``run``.
        description: Task, dataset and metric where the source says (``truth`` /
            ``source`` fields of the arch files, the run's proxy and data).
        space: The search space (name or YAML path) the labels come from, where the
            source says (a run folder's config); None otherwise.
    """

    items: tuple[LabelledArch, ...]
    source: str
    kind: str
    description: str
    space: str | None = None

    def lookup(self) -> dict[str, LabelledArch]:
        """``structure_key -> label``."""
        return {item.arch.structure_key(): item for item in self.items}


def _accuracy(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise MnasInputError(f"{where}: accuracy must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MnasInputError(f"{where}: accuracy must be a number, got {value!r}; "
                             "fix or drop that label") from None
    if not math.isfinite(number):
        raise MnasInputError(f"{where}: accuracy must be a finite number, got {value!r}; "
                             "fix or drop that label")
    return number


def _dedupe(items: list[LabelledArch]) -> tuple[LabelledArch, ...]:
    seen: dict[str, LabelledArch] = {}
    for item in items:
        key = item.arch.structure_key()
        first = seen.get(key)
        if first is None:
            seen[key] = item
        elif abs(first.accuracy - item.accuracy) > 1e-9 * max(1.0, abs(first.accuracy)):
            raise MnasInputError(
                f"{item.origin} and {first.origin} are the same architecture with different "
                f"accuracies ({item.accuracy:g} vs {first.accuracy:g}); keep one label per "
                "network (average repeated runs first)")
    return tuple(seen.values())


def _from_folder(folder: Path) -> LabelSet:
    files = sorted(p for p in folder.glob("*.json") if p.name != "index.json")
    if not files:
        raise MnasInputError(f"{folder}: no arch files (*.json) with truth.accuracy here; "
                             "point --labels at a folder of mnas-arch/1 files, a CSV or a run")
    items = []
    description = ""
    for path in files:
        arch = load_arch(path)
        truth = arch.extra.get("truth")
        if not isinstance(truth, dict) or "accuracy" not in truth:
            raise MnasInputError(f"{path}: no truth.accuracy field; add "
                                 '"truth": {"accuracy": ...} or leave the file out')
        items.append(LabelledArch(arch=arch, accuracy=_accuracy(truth["accuracy"], str(path)),
                                  origin=str(path)))
        if not description:
            source = arch.extra.get("source")
            if isinstance(source, dict):
                description = " ".join(str(source[k]) for k in ("benchmark", "dataset",
                                                                  "accuracy_field") if k in source)
    return LabelSet(items=_dedupe(items), source=str(folder), kind="folder",
                    description=description or f"truth.accuracy of the arch files in {folder}")


def _from_csv(path: Path) -> LabelSet:
    from mnas.models import get_arch, list_archs

    text = read_input_text(path, what="a labels CSV", limit=MAX_TABLE_BYTES)
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or not {"arch", "accuracy"} <= set(reader.fieldnames):
        raise MnasInputError(f"{path}: a labels CSV needs the header `arch,accuracy`, got "
                             f"{reader.fieldnames}")
    zoo = set(list_archs())
    items = []
    for line, row in enumerate(reader, start=2):
        where = f"{path}:{line}"
        name = (row.get("arch") or "").strip()
        if name in zoo:
            arch = get_arch(name)
        elif name:
            file = Path(name) if Path(name).is_absolute() else path.parent / name
            if not file.is_file():
                raise MnasInputError(f"{where}: arch {name!r} is neither a zoo name nor an arch "
                                     f"file (looked for {file})")
            arch = load_arch(file)
        else:
            raise MnasInputError(f"{where}: empty arch column")
        items.append(LabelledArch(arch=arch, accuracy=_accuracy(row.get("accuracy"), where),
                                  origin=where))
    if not items:
        raise MnasInputError(f"{path}: no labels after the header")
    return LabelSet(items=_dedupe(items), source=str(path), kind="csv",
                    description=f"labels CSV {path.name}")


def _cell_value(cell: str, choices: tuple[Any, ...]) -> Any:
    for choice in choices:
        if str(choice) == cell:
            return choice
    return None


def _from_run(folder: Path) -> LabelSet:
    from mnas.spaces import load_space

    config = load_json_file(folder / "config.json", what="a run config")
    if not isinstance(config, dict) or config.get("proxy") != "train":
        proxy = config.get("proxy") if isinstance(config, dict) else None
        raise MnasInputError(
            f"{folder}: its trials were scored by proxy {proxy!r}, not trained; only a run "
            "searched with `--proxy train` holds accuracy labels")
    space_source = str(config.get("space"))
    space = load_space(space_source)
    choices = space.parameter_choices()
    trials = folder / "trials.csv"
    rows = list(csv.DictReader(read_input_text(
        trials, what="a trials table", limit=MAX_TABLE_BYTES,
        missing_hint=f"rerun `mnas report {folder}`").splitlines()))
    items = []
    for row in rows:
        if row.get("state") != "COMPLETE" or row.get("duplicate_of") or not row.get("score"):
            continue
        params = {}
        for name, options in choices.items():
            cell = row.get(name)
            if cell:
                params[name] = _cell_value(cell, options)
        where = f"{trials} trial {row.get('number')}"
        items.append(LabelledArch(arch=space.replay(params),
                                  accuracy=_accuracy(row["score"], where), origin=where))
    if not items:
        raise MnasInputError(f"{folder}: no finished trained trials yet; run the search first")
    return LabelSet(items=_dedupe(items), source=str(folder), kind="run",
                    description=f"train proxy accuracy (fraction) on {config.get('data')}",
                    space=space_source)


def load_labels(source: str | Path) -> LabelSet:
    """Read labelled architectures from a folder of arch files, a CSV or a run folder.

    Raises:
        MnasInputError: Missing path, no labels, a non-numeric or non-finite accuracy,
            an unreadable arch, or the same architecture with conflicting accuracies.
    """
    path = Path(source)
    if path.is_dir():
        return _from_run(path) if (path / "config.json").is_file() else _from_folder(path)
    if path.is_file() and path.suffix.lower() == ".csv":
        return _from_csv(path)
    if path.exists():
        raise MnasInputError(f"{path}: labels must be a folder of arch files, a .csv "
                             "(arch,accuracy) or a run folder")
    raise MnasInputError(f"{path}: no such labels folder or CSV")
