"""Labelled architectures: real accuracies to fit accuracy models on (or to look up).

Three sources, each validated where it is read:

* a folder of ``mnas-arch/1`` files, each with ``truth.accuracy`` (as in
  ``../shared/data/accel_nasbench/archs/``) and optionally ``truth.recipe``;
  ``index.json`` is skipped;
* a CSV with columns ``arch,accuracy`` (``top1`` is read as ``accuracy``) where ``arch`` is
  an arch-file path (relative to the CSV's folder) or a zoo name, and an optional
  ``recipe`` column naming the training recipe of each row (on every row or on none);
* a run folder (``runs/NAME``) of a search with ``--proxy train``: every finished,
  non-duplicate trial's trained accuracy, its architecture replayed from its parameters.

Every label has a *recipe*: how the network was trained and evaluated (the same network
scores points apart under two recipes, so accuracy models give each recipe its own
offset). A source without a recipe column is one recipe, named after the source.
Architectures are matched by structure (``Arch.structure_key``), never by file name;
the same network twice in one recipe with different accuracies is an error, twice with
the same accuracy is one label; in two recipes it is two labels.
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

__all__ = ["LabelSet", "LabelledArch", "load_label_sources", "load_labels"]


@dataclass(frozen=True, kw_only=True)
class LabelledArch:
    """One architecture and its measured accuracy.

    Attributes:
        arch: The architecture.
        accuracy: Its accuracy (as the source states it: top-1 %, or a fraction).
        origin: Where the label came from (file path, ``CSV:line`` or ``run:trial``).
        recipe: The training recipe (label group) it was measured under.
        source: The label set it was read from (a path, or a name given to it).
    """

    arch: Arch
    accuracy: float
    origin: str
    recipe: str = ""
    source: str = ""


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

    A set read from several sources (:func:`load_label_sources`) has kind ``several``.
    """

    items: tuple[LabelledArch, ...]
    source: str
    kind: str
    description: str
    space: str | None = None

    def lookup(self) -> dict[str, LabelledArch]:
        """``structure_key -> label`` (a network labelled under several recipes: its first)."""
        out: dict[str, LabelledArch] = {}
        for item in self.items:
            out.setdefault(item.arch.structure_key(), item)
        return out

    def domain(self) -> dict[str, Any]:
        """The ranges the labels span: MACs, params, resolutions, block types,
        activations and SE use (an accuracy model's header keeps it)."""
        from mnas.arch import arch_costs

        costs = [arch_costs(i.arch) for i in self.items]
        blocks = [b for i in self.items for b in i.arch.blocks]
        return {"macs": [min(c.macs for c in costs), max(c.macs for c in costs)],
                "params": [min(c.params for c in costs), max(c.params for c in costs)],
                "resolution": sorted({i.arch.resolution for i in self.items}),
                "block_types": sorted({b.type for b in blocks}),
                "activations": sorted({b.act for b in blocks}),
                "se": sorted({b.has_se for b in blocks})}

    @property
    def recipes(self) -> list[str]:
        """The recipes of the labels, in order of first appearance."""
        return list(dict.fromkeys(item.recipe for item in self.items))


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
    seen: dict[tuple[str, str], LabelledArch] = {}
    for item in items:
        key = (item.recipe, item.arch.structure_key())
        first = seen.get(key)
        if first is None:
            seen[key] = item
        elif abs(first.accuracy - item.accuracy) > 1e-9 * max(1.0, abs(first.accuracy)):
            within = f" within recipe {item.recipe!r}" if item.recipe else ""
            raise MnasInputError(
                f"{item.origin} and {first.origin} are the same architecture{within} with "
                f"different accuracies ({item.accuracy:g} vs {first.accuracy:g}); keep one "
                "label per network and recipe (average repeated runs first)")
    return tuple(seen.values())


def _default_recipe(path: Path) -> str:
    """The recipe of labels that name none: the source's folder and name (``timm/labels``)."""
    resolved = path.resolve()
    return f"{resolved.parent.name}/{resolved.stem}"


def _recipe_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MnasInputError(f"{where}: recipe must be a non-empty name, got {value!r}")
    name = value.strip()
    if len(name) > 100:
        raise MnasInputError(f"{where}: recipe names are at most 100 characters")
    return name


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
        recipe = (_recipe_name(truth["recipe"], f"{path}: truth.recipe") if "recipe" in truth
                  else _default_recipe(folder))
        items.append(LabelledArch(arch=arch, accuracy=_accuracy(truth["accuracy"], str(path)),
                                  origin=str(path), recipe=recipe, source=str(folder)))
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
    fields = set(reader.fieldnames or ())
    column = "accuracy" if "accuracy" in fields else "top1"
    if "arch" not in fields or column not in fields:
        raise MnasInputError(f"{path}: a labels CSV needs the header `arch,accuracy` (or "
                             f"`arch,top1`; optional `recipe`), got {reader.fieldnames}")
    zoo = set(list_archs())
    items = []
    with_recipe: list[bool] = []
    for line, row in enumerate(reader, start=2):
        where = f"{path}:{line}"
        recipe_cell = (row.get("recipe") or "").strip() if "recipe" in fields else ""
        with_recipe.append(bool(recipe_cell))
        if len(set(with_recipe)) > 1:
            first_missing = with_recipe.index(False) + 2
            raise MnasInputError(
                f"{path}: the recipe column is filled on some rows and empty on others (line "
                f"{first_missing}); name the recipe of every row, or of none (one recipe)")
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
        items.append(LabelledArch(arch=arch, accuracy=_accuracy(row.get(column), where),
                                  origin=where,
                                  recipe=_recipe_name(recipe_cell, where) if recipe_cell
                                  else _default_recipe(path), source=str(path)))
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
                                  accuracy=_accuracy(row["score"], where), origin=where,
                                  recipe=f"run:{folder.name}", source=str(folder)))
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


def load_label_sources(sources: list[str | Path]) -> LabelSet:
    """Labels of several sources as one set (each label keeps its source and recipe).

    Raises:
        MnasInputError: As :func:`load_labels` for each source, and no sources, or the
            same source twice.
    """
    if not sources:
        raise MnasInputError("no labels given; pass --labels SRC (repeatable)")
    sets = []
    seen: set[str] = set()
    for source in sources:
        resolved = str(Path(source).resolve())
        if resolved in seen:
            raise MnasInputError(f"{source}: the same labels were given twice; pass each "
                                 "source once")
        seen.add(resolved)
        sets.append(load_labels(source))
    if len(sets) == 1:
        return sets[0]
    items = _dedupe([item for labels in sets for item in labels.items])
    spaces = {labels.space for labels in sets}
    return LabelSet(items=items, source=" + ".join(labels.source for labels in sets),
                    kind="several",
                    description="; ".join(labels.description for labels in sets),
                    space=spaces.pop() if len(spaces) == 1 else None)
