"""Accuracy estimators behind the ``AccuracyProxy.score(arch)`` contract.

* :class:`ModelEstimator`: a fitted accuracy model (a file or a shipped name).
* :class:`LabelsEstimator`: ``labels:SRC``, the accuracy looked up from labelled
  architectures (a tabular benchmark, or networks the user already trained).
* :class:`DefaultEstimator`: what ``mnas score`` and ``mnas search`` use without
  ``--proxy``: the shipped model of the architecture's own benchmark space where one
  exists (``accel-nasbench``, ``nas-bench-macro``: they rank their own spaces best),
  else the shipped ``imagenet`` model, the ImageNet top-1 under one named reference
  recipe (see the README's "Accuracy models" for the measurements behind that order).

:func:`resolve_estimator` turns any ``--proxy`` value into one of these or a
registered zero-cost proxy.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

from mnas.accuracy._labels import LabelSet, load_labels
from mnas.accuracy._model import AccuracyModel, load_accuracy_model
from mnas.accuracy._shipped import DEFAULT_ESTIMATOR, list_shipped_models, shipped_models_dir
from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.proxies import AccuracyProxy, BatchScorer, get_proxy, list_proxies, proxy_class
from mnas.spaces import SearchSpace

__all__ = ["DefaultEstimator", "LabelsEstimator", "ModelEstimator", "describe_score",
           "estimate_context", "estimator_for_space", "format_score", "load_shipped_model",
           "model_estimate", "resolve_estimator"]

#: Shipped space-agnostic ImageNet model (stages encoding, fitted on every label source),
#: used for spaces without their own.
_AGNOSTIC = "imagenet"


def load_shipped_model(name: str) -> AccuracyModel:
    """A shipped accuracy model by name.

    Raises:
        MnasInputError: Unknown name (listing the shipped ones).
    """
    path = shipped_models_dir() / f"{name}.json"
    if not path.is_file():
        raise MnasInputError(f"unknown accuracy model {name!r}; shipped: "
                             f"{', '.join(list_shipped_models()) or '(none)'}, or pass a file")
    return load_accuracy_model(path)


class ModelEstimator(AccuracyProxy):
    """Predicted accuracy from a fitted :class:`~mnas.accuracy.AccuracyModel` (analytic cost).

    Args:
        model: The model.
    """

    name = "model"
    cost = "analytic"

    def __init__(self, *, model: AccuracyModel) -> None:
        self.model = model

    def score(self, arch: Arch) -> float:
        """The predicted accuracy (ensemble mean)."""
        return self.model.predict(arch)[0]

    def score_with_spread(self, arch: Arch) -> tuple[float, float]:
        """Predicted accuracy and the ensemble's standard deviation (its uncertainty)."""
        return self.model.predict(arch)

    def score_many(self, archs: list[Arch]) -> list[float]:
        """Predicted accuracies of several architectures (one matrix product)."""
        return [float(v) for v in self.model.predict_many(archs)[0]] if archs else []

    def batch_scorer(self, space: SearchSpace) -> BatchScorer | None:
        """Code rows of ``space`` scored in numpy (a model of this space's one-hot only)."""
        from mnas.accuracy._batch import model_batch_scorer

        return model_batch_scorer(self.model, space)

    def estimator_of(self, arch: Arch) -> AccuracyModel:
        """The model that scores ``arch`` (always :attr:`model`)."""
        return self.model

    def model_for_space(self, space: SearchSpace) -> AccuracyModel:
        """The model that scores ``space``'s members (always :attr:`model`)."""
        return self.model

    def describe(self) -> str:
        """The model's one-line description with its measured quality."""
        return self.model.describe()


class LabelsEstimator(AccuracyProxy):
    """The labelled accuracy of an architecture (``--proxy labels:SRC``).

    Args:
        labels: The labelled architectures.
    """

    name = "labels"
    cost = "analytic"

    def __init__(self, *, labels: LabelSet) -> None:
        self.labels = labels
        self._lookup = labels.lookup()

    def score(self, arch: Arch) -> float:
        """The label of ``arch``, matched by structure.

        Raises:
            MnasInputError: ``arch`` is not among the labels.
        """
        item = self._lookup.get(arch.structure_key())
        if item is None:
            raise MnasInputError(
                f"architecture {arch.name!r} is not labelled in {self.labels.source}; label it "
                "or use an accuracy model (`mnas accuracy fit --labels ...`)")
        return item.accuracy

    def is_labelled(self, arch: Arch) -> bool:
        """Whether ``arch`` has a label."""
        return arch.structure_key() in self._lookup

    def check_space(self, space: SearchSpace, *, probe: int = 200) -> None:
        """Refuse labels none of which is an architecture of ``space`` (the labels of
        another space would fail on the search's first trial).

        Up to ``probe`` labels, evenly spread, are tried as members of the space.

        Raises:
            MnasInputError: No probed label is a member of ``space``.
        """
        items = self.labels.items
        step = max(1, len(items) // probe)
        if any(space.params_of(item.arch) is not None for item in items[::step]):
            return
        where = f" (they are of space {self.labels.space!r})" if self.labels.space else ""
        raise MnasInputError(
            f"labels:{self.labels.source} holds no architecture of space {space.name!r}"
            f"{where}; search the space they come from with --space, or label "
            f"architectures of {space.name!r}")

    def describe(self) -> str:
        """Where the labels come from (they are the measurement itself)."""
        return (f"labels:{self.labels.source}: {self.labels.description} "
                f"({len(self.labels.items)} labelled architectures; exact, not estimated)")


class DefaultEstimator(AccuracyProxy):
    """The space's own shipped model where the architecture belongs to it, else the
    space-agnostic ImageNet model."""

    name = DEFAULT_ESTIMATOR
    cost = "analytic"

    def __init__(self) -> None:
        models = [load_shipped_model(n) for n in list_shipped_models()]
        self._space_models = [m for m in models if m.header.get("encoding") == "space"]
        agnostic = [m for m in models if m.name == _AGNOSTIC]
        if not agnostic:
            raise MnasInputError(f"the shipped model {_AGNOSTIC!r} is missing from "
                                 f"{shipped_models_dir()}; reinstall mnas")
        self._agnostic = agnostic[0]
        self._memo: dict[str, AccuracyModel] = {}

    def estimator_of(self, arch: Arch) -> AccuracyModel:
        """The model that scores ``arch``."""
        key = arch.structure_key()
        chosen = self._memo.get(key)
        if chosen is None:
            chosen = self._choose(arch)
            if len(self._memo) < 100_000:
                self._memo[key] = chosen
        return chosen

    def _choose(self, arch: Arch) -> AccuracyModel:
        for model in self._space_models:
            space = getattr(model.encoding, "space", None)
            if space is not None and space.params_of(arch) is not None:
                return model
        return self._agnostic

    def model_for_space(self, space: SearchSpace) -> AccuracyModel:
        """The model that scores ``space``'s members (membership of a fitted space is
        decided per space: every member gets the same one)."""
        return self.estimator_of(space.random_arch(random.Random(0)))

    def batch_scorer(self, space: SearchSpace) -> BatchScorer | None:
        """Code rows of ``space`` scored in numpy by the model of its members (see
        :mod:`mnas.accuracy._batch`), else None."""
        from mnas.accuracy._batch import model_batch_scorer

        return model_batch_scorer(self.model_for_space(space), space)

    def score(self, arch: Arch) -> float:
        """Predicted accuracy by :meth:`estimator_of`'s model."""
        return self.estimator_of(arch).predict(arch)[0]

    def score_with_spread(self, arch: Arch) -> tuple[float, float]:
        """Predicted accuracy and ensemble spread."""
        return self.estimator_of(arch).predict(arch)

    def score_many(self, archs: list[Arch]) -> list[float]:
        """Predicted accuracies, each architecture's model predicting its group at once
        (chosen as :meth:`estimator_of` does, without its memo: its key costs 0.3 ms, the
        choice 0.01 ms)."""
        out = [0.0] * len(archs)
        groups: dict[int, tuple[AccuracyModel, list[int]]] = {}
        for i, arch in enumerate(archs):
            model = self._choose(arch)
            groups.setdefault(id(model), (model, []))[1].append(i)
        for model, rows in groups.values():
            for i, value in zip(rows, model.predict_many([archs[i] for i in rows])[0],
                                strict=True):
                out[i] = float(value)
        return out

    def describe(self) -> str:
        """Which models the default estimate uses."""
        spaces = ", ".join(str(m.header.get("space")) for m in self._space_models)
        return (f"default estimate: the space's own model for {spaces}, else "
                f"{self._agnostic.describe()}")


def _zero_cost(name: str, *, data: str | None, seed: int, resolution: int | None
               ) -> AccuracyProxy:
    cls = proxy_class(name)
    kwargs: dict[str, Any] = {"seed": seed}  # every registered proxy takes a seed
    if data is not None:
        if not cls.needs_data:
            raise MnasInputError(
                f"proxy {name!r} is data-free and takes no --data; drop --data or choose a "
                "data-driven proxy (naswot, zico, train)")
        kwargs["data"] = data
    if resolution is not None:
        kwargs["resolution"] = resolution
    return get_proxy(name, **kwargs)


def resolve_estimator(name: str, *, data: str | None = None, seed: int = 0,
                      resolution: int | None = None) -> AccuracyProxy:
    """The accuracy estimator a ``--proxy`` value names.

    Args:
        name: ``default``; ``labels:SRC``; a shipped model name; a model file path; or a
            registered proxy name (``flops``, ``zen-naswot``, ``train``...).
        data: Dataset of a data-driven proxy.
        seed: Seed of a seeded proxy.
        resolution: Evaluation resolution of a network proxy.

    Raises:
        MnasInputError: Naming the value and what is accepted.
    """
    if name in list_proxies():
        return _zero_cost(name, data=data, seed=seed, resolution=resolution)
    if resolution is not None or data is not None:
        flag = "--resolution" if resolution is not None else "--data"
        raise MnasInputError(
            f"{flag} applies to zero-cost and training proxies only; the accuracy estimate "
            f"{name!r} reads the architecture itself: drop {flag}")
    if name == DEFAULT_ESTIMATOR:
        return DefaultEstimator()
    if name.startswith("labels:"):
        source = name[len("labels:"):]
        if not source:
            raise MnasInputError("--proxy labels: needs a source: labels:DIR or labels:FILE.csv")
        return LabelsEstimator(labels=load_labels(source))
    if name in list_shipped_models():
        return ModelEstimator(model=load_shipped_model(name))
    if name.endswith(".json") or Path(name).exists():
        return ModelEstimator(model=load_accuracy_model(name))
    raise MnasInputError(
        f"unknown accuracy estimator {name!r}; use default, labels:SRC, a model file, a "
        f"shipped model ({', '.join(list_shipped_models()) or 'none'}) or a proxy "
        f"({', '.join(list_proxies())})")


def describe_score(estimator: AccuracyProxy, arch: Arch) -> dict[str, Any]:
    """``score`` (and ``spread`` for an ensemble) of ``arch`` with where it comes from.

    Returns:
        ``{"score", "spread" (or None), "estimator" (the model or proxy name that scored
        it), "quality" (its one-line measured quality), "outside_domain" (how ``arch``
        lies outside the model's fitted labels; empty inside), "recipe" (the training
        recipe a multi-recipe model's top-1 answers for, else None), "error" (that
        model's measured error for such an estimate, else None), "unsupported" (choices
        of ``arch`` no label varies)}``.
    """
    if isinstance(estimator, ModelEstimator | DefaultEstimator):
        model = estimator.estimator_of(arch)
        mean, spread = model.predict(arch)
        return {"score": mean, "spread": spread, "estimator": model.name,
                "quality": model.describe(), "outside_domain": model.outside_domain(arch),
                "recipe": model.recipe, "error": model.measured_error(arch),
                "unsupported": model.unsupported(arch)}
    return {"score": float(estimator.score(arch)), "spread": None, "estimator": estimator.name,
            "quality": estimator.describe(), "outside_domain": [], "recipe": None,
            "error": None, "unsupported": []}


def model_estimate(estimator: AccuracyProxy, arch: Arch) -> dict[str, Any] | None:
    """A fitted model's estimate of ``arch`` for run folders (:func:`describe_score` less
    the quality line), or None for an estimator that is not a fitted model (a proxy's
    score may cost a training: never recomputed here)."""
    if not isinstance(estimator, ModelEstimator | DefaultEstimator):
        return None
    info = describe_score(estimator, arch)
    return {k: info[k] for k in ("score", "spread", "error", "recipe", "unsupported",
                                 "estimator")}


def estimate_context(estimator: AccuracyProxy, space: SearchSpace) -> dict[str, Any]:
    """What a run records of its estimate for ``space``'s members: the recipe its top-1
    answers for, and the evidence the model's labels give each choice (empty for an
    estimator that is not a multi-recipe model)."""
    if not isinstance(estimator, ModelEstimator | DefaultEstimator):
        return {}
    model = estimator.model_for_space(space)
    if model.recipe is None:
        return {}
    return {"recipe": model.recipe, "evidence": model.header.get("evidence_summary") or []}


def format_score(info: dict[str, Any]) -> str:
    """One short phrase of a :func:`describe_score` result for people.

    A multi-recipe model's estimate reads ``top-1 74.1 % (±1.2, tfslim_v2)``: the ±
    combines the ensemble's spread and the model's measured error. Other estimates read
    ``60.45 ± 0.3`` (with a spread) or ``18.2``.
    """
    score = float(info["score"])
    spread = info.get("spread")
    if info.get("recipe"):
        error = info.get("error") or 0.0
        band = math.sqrt(float(spread or 0.0) ** 2 + float(error) ** 2)
        return f"top-1 {score:.1f} % (±{band:.1f}, {info['recipe']})"
    return f"{score:.6g} ± {spread:.2g}" if spread else f"{score:.6g}"


def estimator_for_space(estimator: AccuracyProxy, space: SearchSpace) -> tuple[str, str]:
    """(name, one-line description) of the estimator as it applies to ``space``'s members.

    For the default estimate that is the model it picks for the space's members (every
    member gets the same one: membership of a fitted space is decided per space).
    """
    if isinstance(estimator, ModelEstimator | DefaultEstimator):
        model = estimator.model_for_space(space)
        return model.name, model.describe()
    name = str(getattr(estimator, "name", "") or type(estimator).__name__)
    describe = getattr(estimator, "describe", None)  # a duck-typed proxy passed by a caller
    return name, describe() if callable(describe) else name
