"""Accuracy models: an encoding and a fitted ensemble, with a header stating their quality.

A model file (``mnas-accuracy/1``, JSON) is to an accuracy estimate what a latency table
is to a latency: a header (task, dataset, label source and count, metric, date, space,
encoding, model family, cross-validated quality, domain) and the fitted numbers. Loading
checks every field and executes nothing.
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnas._io import atomic_write_json
from mnas._limits import MAX_TABLE_BYTES, load_json_file
from mnas.accuracy._anchored import AnchoredRegressor, anchored_from_dict
from mnas.accuracy._encoding import ArchEncoding, SpaceEncoding, encoding_from_dict
from mnas.accuracy._evidence import unsupported
from mnas.accuracy._labels import LabelSet
from mnas.accuracy._quality import Quality, measure_quality
from mnas.accuracy._regressors import FAMILIES, Regressor, fit_regressor, regressor_from_dict
from mnas.accuracy._stages import StageEncoding
from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.proxies import arch_costs
from mnas.spaces import SearchSpace

__all__ = ["MODEL_FORMAT", "MIN_LABELS", "AccuracyModel", "cross_validate", "fit_ensemble_model",
           "fit_header", "load_accuracy_model"]

MODEL_FORMAT = "mnas-accuracy/1"
#: Fewest labels that can be cross-validated (5 folds of at least 2).
MIN_LABELS = 10
_FOLDS = 5
#: Candidate settings compared by cross-validation when ``family="auto"``.
_CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("ridge", {"alpha": 1.0}), ("ridge", {"alpha": 10.0}), ("ridge", {"alpha": 100.0}),
    ("mlp", {"hidden": 64}),
)


@dataclass(frozen=True, kw_only=True)
class AccuracyModel:
    """A fitted accuracy model: ``predict(arch)`` -> (accuracy, ensemble spread).

    Attributes:
        encoding: How architectures become features.
        regressor: The fitted ensemble, or the anchored multi-recipe model.
        header: Provenance and measured quality (see the README's "Accuracy models").
    """

    encoding: SpaceEncoding | ArchEncoding | StageEncoding
    regressor: Regressor | AnchoredRegressor
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The model's name (from its header)."""
        return str(self.header.get("name", "accuracy-model"))

    @property
    def quality(self) -> Quality:
        """The cross-validated quality stored in the header."""
        q = self.header["quality"]
        return Quality(tau=_num(q.get("tau")), tau_band=_num(q.get("tau_band")),
                       rmse=_num(q.get("rmse")), n=int(q["n"]), n_band=int(q["n_band"]),
                       method=str(q["method"]))

    def predict(self, arch: Arch) -> tuple[float, float]:
        """Predicted accuracy of ``arch`` and the ensemble's standard deviation."""
        mean, std = self.regressor.predict(self.encoding.encode(arch)[None, :])
        return float(mean[0]), float(std[0])

    def predict_many(self, archs: Sequence[Arch]) -> tuple[np.ndarray, np.ndarray]:
        """Means and spreads of several architectures (one matrix product)."""
        if not archs:
            return np.zeros(0), np.zeros(0)
        x = np.stack([self.encoding.encode(a) for a in archs])
        return self.regressor.predict(x)

    @property
    def recipe(self) -> str | None:
        """The recipe a multi-recipe model's estimate answers for (None for other models)."""
        reference = self.header.get("reference_recipe")
        return str(reference) if reference else None

    def measured_error(self, arch: Arch | None = None) -> float | None:
        """The measured error of one estimate (accuracy units; None where not measured).

        A multi-recipe model measured its error on recipes it left out, apart for
        networks whose every choice the remaining labels supported and for the others;
        an ``arch`` with :meth:`unsupported` choices gets the second (without ``arch``:
        the first).
        """
        errors = self.header.get("measured_error")
        if not isinstance(errors, dict):
            return None
        kind = "unsupported" if arch is not None and self.unsupported(arch) else "supported"
        entry = errors.get(kind) or errors.get("supported")
        return float(entry["rmse"]) if isinstance(entry, dict) else None

    def unsupported(self, arch: Arch) -> list[str]:
        """Choices of ``arch`` that no label of a multi-recipe model varies (empty: all
        supported, or a model without evidence)."""
        evidence = self.header.get("evidence")
        if not isinstance(self.encoding, StageEncoding) or not isinstance(evidence, list):
            return []
        return unsupported(self.encoding.corrections(arch), evidence)

    def outside_domain(self, arch: Arch) -> list[str]:
        """How ``arch`` lies outside the labels the model was fitted on (empty: inside).

        Checked against the header's ``domain``: MACs and params ranges, resolutions,
        block types, activations and SE use. A prediction outside it extrapolates.
        """
        domain = self.header.get("domain")
        if not isinstance(domain, dict):
            return []
        costs = arch_costs(arch)
        out = []
        for key, value in (("macs", costs.macs), ("params", costs.params)):
            low, high = domain.get(key, [value, value])
            if not low <= value <= high:
                out.append(f"{key} {value:,} outside {low:,}-{high:,}")
        if arch.resolution not in domain.get("resolution", [arch.resolution]):
            out.append(f"resolution {arch.resolution} not in {domain['resolution']}")
        blocks = arch.blocks
        for key, seen in (("block_types", {b.type for b in blocks}),
                          ("activations", {b.act for b in blocks}),
                          ("se", {b.has_se for b in blocks})):
            new = sorted(map(str, seen - set(domain.get(key, seen))))
            if new:
                out.append(f"{key} {', '.join(new)} never seen")
        return out

    def describe(self) -> str:
        """One line: name, what it predicts, and its measured quality."""
        h = self.header
        if self.recipe is not None:
            return self._describe_recipes()
        space = f", space {h['space']}" if h.get("space") else ""
        tests = h.get("tests") or []
        tested = "".join(f"; tested on {t['on']}: Kendall tau {t['tau']:.3f}" for t in tests
                         if isinstance(t, dict) and isinstance(t.get("tau"), float))
        return (f"{self.name}: {h.get('metric', 'accuracy')} on {h.get('dataset', '?')} "
                f"({h.get('family')} ensemble, {h.get('encoding')} encoding{space}); "
                f"{self.quality.describe()}{tested}")

    def _describe_recipes(self) -> str:
        h = self.header
        note = (h.get("recipes") or {}).get(self.recipe, {}).get("note")
        recipe = f"{self.recipe} ({note})" if note else self.recipe
        sources = h.get("sources") or {}
        taus = ", ".join(
            f"{name} {v['cross_validation']['tau']:.2f}" for name, v in sources.items()
            if isinstance(v, dict) and isinstance(v.get("cross_validation"), dict)
            and isinstance(v["cross_validation"].get("tau"), float))
        errors = h.get("measured_error") or {}
        error = "".join(
            f"{'; ' if k == 'supported' else ', '}measured error ±{e['rmse']:.1f}"
            f"{'' if k == 'supported' else ' where a choice has no evidence'}"
            for k, e in errors.items() if isinstance(e, dict))
        return (f"{self.name}: {h.get('metric', 'top-1 accuracy')} under recipe {recipe}; "
                f"{h.get('label_count')} labels of {len(h.get('recipes') or {})} recipes in "
                f"{len(sources)} sources; within-recipe Kendall tau on recipes left out of "
                f"the fit: {taus}{error}")

    def to_dict(self) -> dict[str, Any]:
        """The model file's JSON content."""
        return {"format": MODEL_FORMAT, "header": copy.deepcopy(self.header),
                "encoding": self.encoding.to_dict(), "model": self.regressor.to_dict()}

    def save(self, path: str | Path) -> Path:
        """Write the model file atomically."""
        return atomic_write_json(path, self.to_dict())


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _matrix(labels: LabelSet, encoding: SpaceEncoding | ArchEncoding | StageEncoding
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, ys, macs = [], [], []
    for item in labels.items:
        try:
            rows.append(encoding.encode(item.arch))
        except MnasInputError:
            space = getattr(encoding, "space", None)
            raise MnasInputError(
                f"{item.origin}: architecture {item.arch.name!r} is not in space "
                f"{getattr(space, 'name', '?')!r}; pass the labels' own space as --space, or "
                "fit the space-agnostic --encoding arch") from None
        ys.append(item.accuracy)
        macs.append(arch_costs(item.arch).macs)
    return np.stack(rows), np.asarray(ys), np.asarray(macs, float)


def _folds(n: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[k::_FOLDS] for k in range(_FOLDS)]


def cross_validate(x: np.ndarray, y: np.ndarray, macs: np.ndarray, *, family: str,
                   settings: dict[str, Any], seed: int = 0) -> Quality:
    """5-fold cross-validated quality of ``family`` with ``settings`` (pooled predictions)."""
    predicted = np.empty(len(y))
    for fold in _folds(len(y), seed):
        train = np.setdiff1d(np.arange(len(y)), fold)
        regressor = fit_regressor(x[train], y[train], family=family, seed=seed, **settings)
        predicted[fold] = regressor.predict(x[fold])[0]
    return measure_quality(predicted, y, macs, method=f"{_FOLDS}-fold cross-validation")


def _score(quality: Quality) -> float:
    values = [v for v in (quality.tau, quality.tau_band) if not math.isnan(v)]
    return float(np.mean(values)) if values else -math.inf


def fit_header(labels: LabelSet, *, name: str, dataset: str, metric: str) -> dict[str, Any]:
    """The header fields every fitted model starts with: name, task, dataset, metric, label
    source, kind and count, date (the dataset defaults to what the labels say)."""
    return {"name": name, "task": "image classification",
            "dataset": dataset or labels.description, "metric": metric,
            "label_source": labels.source, "label_kind": labels.kind,
            "label_count": len(labels.items),
            "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}


def fit_ensemble_model(labels: LabelSet, *, encoding: str = "space",
                       space: SearchSpace | None = None, space_source: str | None = None,
                       family: str = "auto", seed: int = 0,
                       name: str = "", dataset: str = "", metric: str = "",
                       progress: Any = None) -> AccuracyModel:
    """Fit a ridge or MLP ensemble on one source's labels, choosing the family by
    5-fold cross-validation (the ``space`` and ``arch`` encodings; the entry point for
    every encoding is :func:`~mnas.accuracy.fit_accuracy_model`).

    Args:
        labels: Labelled architectures (:func:`~mnas.accuracy.load_labels`).
        encoding: ``space`` (needs ``space``) or ``arch``.
        space: The search space of a ``space`` encoding.
        space_source: Its shipped name or YAML path, stored to load it again (default:
            ``space.name``).
        family: ``auto`` (the candidate with the best mean of overall and in-band
            cross-validated Kendall tau), ``ridge`` or ``mlp``.
        seed: Seed of the folds and of the ensembles' resamples.
        name: Model name stored in the header.
        dataset: Task and dataset (default: what the labels' files say).
        metric: What the accuracy is (default ``top-1 accuracy``).
        progress: Optional callable ``progress(message)`` for each candidate's result.

    Raises:
        MnasInputError: Too few labels, an unknown encoding or family, or an
            architecture outside ``space``.
    """
    if encoding not in ("space", "arch"):
        raise MnasInputError(f"an ensemble model takes the space or arch encoding, not "
                             f"{encoding!r}")
    if family != "auto" and family not in FAMILIES:
        raise MnasInputError(f"unknown model family {family!r}; choose auto or one of "
                             f"{', '.join(FAMILIES)}")
    if len(labels.items) < MIN_LABELS:
        raise MnasInputError(
            f"{labels.source}: {len(labels.items)} distinct labelled architectures are too few "
            f"to cross-validate; give at least {MIN_LABELS}")
    if encoding == "space":
        if space is None:
            raise MnasInputError("the space encoding needs --space NAME (the labels' space)")
        enc: SpaceEncoding | ArchEncoding | StageEncoding = SpaceEncoding(space, space_source)
    else:
        enc = ArchEncoding()
    x, y, macs = _matrix(labels, enc)
    candidates = [c for c in _CANDIDATES if family in ("auto", c[0])]
    results = []
    for fam, settings in candidates:
        quality = cross_validate(x, y, macs, family=fam, settings=settings, seed=seed)
        results.append((fam, settings, quality))
        if progress is not None:
            progress(f"{fam} {settings}: {quality.describe()}")
    best_family, best_settings, best_quality = max(results, key=lambda r: _score(r[2]))
    regressor = fit_regressor(x, y, family=best_family, seed=seed, **best_settings)
    header = {
        **fit_header(labels, name=name or f"{space.name if space else 'arch'}-accuracy",
                     dataset=dataset, metric=metric or "top-1 accuracy"),
        "space": space.name if encoding == "space" and space else None,
        "encoding": encoding, "family": best_family, "settings": best_settings,
        "quality": best_quality.to_dict(),
        "selection": [{"family": f, "settings": s, "quality": q.to_dict()}
                      for f, s, q in results],
        "domain": labels.domain(),
    }
    return AccuracyModel(encoding=enc, regressor=regressor, header=header)


_HEADER_REQUIRED = ("name", "dataset", "metric", "label_count", "encoding", "family", "quality")


def accuracy_model_from_dict(data: Any, *, source: str) -> AccuracyModel:
    """Validate a parsed model file into an :class:`AccuracyModel`.

    Raises:
        MnasInputError: A missing or malformed field, naming it and the file.
    """
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise MnasInputError(f"{source}: not an accuracy model (field 'format' must be "
                             f"{MODEL_FORMAT!r}); fit one with `mnas accuracy fit`")
    header = data.get("header")
    if not isinstance(header, dict):
        raise MnasInputError(f"{source}: field 'header' must be an object")
    for key in _HEADER_REQUIRED:
        if key not in header:
            raise MnasInputError(f"{source}: field 'header.{key}' is missing; refit the model")
    quality = header["quality"]
    if not isinstance(quality, dict) or not all(k in quality for k in ("n", "n_band", "method")):
        raise MnasInputError(f"{source}: field 'header.quality' must hold tau, tau_band, rmse, "
                             "n, n_band and method")
    for key in ("tau", "tau_band"):
        value = quality.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not -1.0 <= value <= 1.0):
            raise MnasInputError(f"{source}: field 'header.quality.{key}' must be a Kendall "
                                 f"tau in [-1, 1] or null, got {value!r}")
    encoding = encoding_from_dict(data.get("encoding"), source=source)
    if header["encoding"] != encoding.kind:
        raise MnasInputError(f"{source}: header says encoding {header['encoding']!r} but the "
                             f"stored encoding is {encoding.kind!r}")
    model = data.get("model")
    if isinstance(model, dict) and model.get("family") == AnchoredRegressor.family:
        anchored = anchored_from_dict(model, n_features=len(encoding.names), source=source)
        regressor: Regressor | AnchoredRegressor = anchored
        if not isinstance(encoding, StageEncoding) or header.get("reference_recipe") != (
                anchored.reference):
            raise MnasInputError(f"{source}: an anchored model needs the stages encoding and "
                                 "'header.reference_recipe' equal to its reference recipe")
    else:
        regressor = regressor_from_dict(model, n_features=len(encoding.names), source=source)
    return AccuracyModel(encoding=encoding, regressor=regressor, header=header)


def load_accuracy_model(path: str | Path) -> AccuracyModel:
    """Read an accuracy model file (JSON; executes nothing).

    Raises:
        MnasInputError: Unreadable, not JSON, or a malformed field.
    """
    file = Path(path)
    data = load_json_file(file, what="an accuracy model", limit=MAX_TABLE_BYTES,
                          missing_hint="fit one with `mnas accuracy fit`",
                          hint="refit the model with `mnas accuracy fit`")
    return accuracy_model_from_dict(data, source=str(file))
