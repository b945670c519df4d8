"""``fit_accuracy_model``: one entry point for fitting an accuracy model of any encoding.

* ``space`` and ``arch`` encodings: ridge or MLP ensembles on one source's labels, the
  family chosen by 5-fold cross-validation (:func:`mnas.accuracy._model.fit_ensemble_model`);
* ``stages``: the anchored multi-recipe model, cross-validated by leaving each recipe out
  (:func:`mnas.accuracy._multisource.fit_stage_model`).
"""

from __future__ import annotations

from typing import Any

from mnas.accuracy._anchored import AnchoredRegressor
from mnas.accuracy._encoding import ENCODINGS
from mnas.accuracy._labels import LabelSet
from mnas.accuracy._model import AccuracyModel, fit_ensemble_model
from mnas.accuracy._multisource import fit_stage_model
from mnas.accuracy._regressors import FAMILIES
from mnas.errors import MnasInputError
from mnas.spaces import SearchSpace

__all__ = ["fit_accuracy_model"]


def fit_accuracy_model(labels: LabelSet, *, encoding: str = "space",
                       space: SearchSpace | None = None, space_source: str | None = None,
                       family: str = "auto", seed: int = 0,
                       name: str = "", dataset: str = "", metric: str = "",
                       reference: str | None = None, progress: Any = None) -> AccuracyModel:
    """Fit an accuracy model on ``labels``.

    Args:
        labels: Labelled architectures (:func:`~mnas.accuracy.load_labels`,
            :func:`~mnas.accuracy.load_label_sources`).
        encoding: ``space`` (needs ``space``), ``arch``, or ``stages`` (the anchored
            multi-recipe model).
        space: The search space of a ``space`` encoding.
        space_source: Its shipped name or YAML path, stored to load it again.
        family: ``auto``, ``ridge`` or ``mlp`` (ensembles), ``anchored`` (``stages``).
        seed: Seed of the folds and of the ensembles' resamples.
        name: Model name stored in the header.
        dataset: Task and dataset (default: what the labels say).
        metric: What the accuracy is.
        reference: ``stages`` only: the recipe the estimate answers for.
        progress: Optional callable ``progress(message)`` for each candidate's or left-out
            recipe's result.

    Raises:
        MnasInputError: Too few labels, an unknown encoding, family or reference recipe,
            or an architecture outside ``space``.
    """
    if encoding not in ENCODINGS:
        raise MnasInputError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
    if encoding == "stages":
        if family not in ("auto", AnchoredRegressor.family):
            raise MnasInputError(f"the stages encoding fits the {AnchoredRegressor.family} "
                                 f"family only; drop --family {family}")
        return fit_stage_model(labels, reference=reference, name=name, dataset=dataset,
                               metric=metric, progress=progress)
    if reference is not None:
        raise MnasInputError("--reference-recipe applies to the stages encoding only")
    if family != "auto" and family not in FAMILIES:
        raise MnasInputError(f"unknown model family {family!r}; choose auto or one of "
                             f"{', '.join(FAMILIES)}")
    return fit_ensemble_model(labels, encoding=encoding, space=space, space_source=space_source,
                              family=family, seed=seed, name=name, dataset=dataset,
                              metric=metric, progress=progress)
