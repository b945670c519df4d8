"""Fitting the anchored model on labels of several recipes, and measuring it recipe by recipe.

Accuracies of different recipes are not comparable, so the model's quality is measured
*within* recipes, on recipes it never saw: each recipe group is left out in turn, the
model refitted on the rest, and the held-out group ranked (Kendall tau over its pairs,
pooled over the groups of a source) and predicted up to its unknown offset (RMSE after
removing the group's mean error: the error of an estimate under a known recipe).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mnas.accuracy._anchored import DEFAULTS, SCALED_MIN_LABELS, fit_anchored
from mnas.accuracy._evidence import measure_evidence, summarise_evidence, unsupported
from mnas.accuracy._labels import LabelSet
from mnas.accuracy._model import MIN_LABELS, AccuracyModel, fit_header
from mnas.accuracy._quality import Quality, band_mask, kendall
from mnas.accuracy._stages import StageEncoding
from mnas.errors import MnasInputError

__all__ = ["RecipeCV", "cross_validate_recipes", "fit_stage_model", "pooled_within_tau"]

#: Fewest labels of a recipe group for it to be ranked when left out (one pair).
_MIN_GROUP = 2


class RecipeCV:
    """Leave-one-recipe-out results, per source.

    Attributes:
        per_source: ``{source: {"tau", "tau_band", "rmse", "groups", "n", "pairs"}}``
            (``rmse`` None for a source on its own scale).
        errors: Within-recipe errors (the held-out group's mean error removed) of the
            reference-scale labels, split by whether every choice of the network was
            supported by the labels of the fit that predicted it: ``{"supported": [...],
            "unsupported": [...]}``.
        per_recipe: ``{recipe: {"n", "tau", "rmse"}}`` of every recipe left out.
        predicted: Held-out prediction of every label (NaN for labels of groups too
            small to rank).
    """

    def __init__(self, per_source: dict[str, dict[str, Any]],
                 per_recipe: dict[str, dict[str, Any]], predicted: np.ndarray,
                 errors: dict[str, list[float]]) -> None:
        self.per_source = per_source
        self.per_recipe = per_recipe
        self.predicted = predicted
        self.errors = errors

    def measured_error(self) -> dict[str, dict[str, float | int] | None]:
        """RMSE and count of :attr:`errors`, per kind (None where there are none)."""
        return {kind: ({"rmse": round(float(np.sqrt(np.mean(np.square(e)))), 3), "n": len(e)}
                       if e else None) for kind, e in self.errors.items()}

    def quality(self) -> Quality:
        """One :class:`Quality`: the mean over sources of the within-recipe tau (each
        source weighs the same, as in the fit), RMSE over the reference-scale sources."""
        taus = [s["tau"] for s in self.per_source.values() if s["tau"] is not None]
        bands = [s["tau_band"] for s in self.per_source.values() if s["tau_band"] is not None]
        rmses = [(s["rmse"], s["n"]) for s in self.per_source.values() if s["rmse"] is not None]
        rmse = (float(np.sqrt(sum(r * r * n for r, n in rmses) / sum(n for _, n in rmses)))
                if rmses else float("nan"))
        return Quality(tau=float(np.mean(taus)) if taus else float("nan"),
                       tau_band=float(np.mean(bands)) if bands else float("nan"),
                       rmse=rmse, n=int(sum(s["n"] for s in self.per_source.values())),
                       n_band=0, method="leave-one-recipe-out, within recipe")


def pooled_within_tau(groups: Sequence[tuple[np.ndarray, np.ndarray]]) -> float | None:
    """Kendall tau over the pairs of each group only, pooled (each group weighs its pairs).

    Groups of two count their one pair (concordant 1, discordant -1); groups whose
    labels are all equal have nothing to rank. None when no group has a pair.
    """
    total = weight = 0.0
    for predicted, truth in groups:
        predicted, truth = np.asarray(predicted, float), np.asarray(truth, float)
        if len(truth) < 2 or np.ptp(truth) == 0:
            continue
        if len(truth) == 2:
            tau = float(np.sign(predicted[1] - predicted[0]) * np.sign(truth[1] - truth[0]))
        else:
            tau = kendall(predicted, truth)
        if np.isnan(tau):
            continue
        pairs = len(truth) * (len(truth) - 1) / 2
        total += tau * pairs
        weight += pairs
    return total / weight if weight else None


def cross_validate_recipes(x: np.ndarray, y: np.ndarray, *, recipes: Sequence[str],
                           sources: Sequence[str], macs: np.ndarray, n_anchor: int,
                           reference: str, settings: Mapping[str, Any],
                           names: Sequence[str] | None = None,
                           progress: Callable[[str], None] | None = None) -> RecipeCV:
    """Leave each recipe group out in turn (see the module docstring).

    The reference recipe itself is left out too; its fit then answers for the recipe of
    the reference's source with the most labels left (its offset is not needed to rank).
    ``names`` are the correction columns' names (needed to split the errors by evidence).
    """
    recipes_arr = np.asarray(recipes)
    predicted = np.full(len(y), np.nan)
    reference_source = sources[recipes.index(reference)]
    own_scale = {s for s, n in Counter(sources).items()
                 if n >= SCALED_MIN_LABELS and s != reference_source}
    supported = np.ones(len(y), bool)
    for recipe in dict.fromkeys(recipes):
        held = recipes_arr == recipe
        if held.sum() < _MIN_GROUP:
            continue
        keep = ~held
        kept_recipes = list(recipes_arr[keep])
        ref = reference if reference != recipe else max(
            set(kept_recipes), key=kept_recipes.count)
        model = fit_anchored(x[keep], y[keep], recipes=kept_recipes,
                             sources=list(np.asarray(sources)[keep]), n_anchor=n_anchor,
                             reference=ref, **settings)
        source = sources[int(np.flatnonzero(held)[0])]
        predicted[held] = model.scales.get(source, 1.0) * (x[held] @ model.weights)
        if names is not None:
            evidence = measure_evidence(x[keep][:, n_anchor:], names, kept_recipes,
                                        count_contrasts=False)
            for i in np.flatnonzero(held):
                supported[i] = not unsupported(x[i, n_anchor:], evidence)
        if progress is not None:
            tau = pooled_within_tau([(predicted[held], y[held])])
            progress(f"left out {recipe} ({int(held.sum())} labels): within-recipe tau "
                     f"{'n/a' if tau is None else f'{tau:.3f}'}")
    per_source: dict[str, dict[str, Any]] = {}
    per_recipe: dict[str, dict[str, Any]] = {}
    split: dict[str, list[float]] = {"supported": [], "unsupported": []}
    sources_arr = np.asarray(sources)
    for source in dict.fromkeys(sources):
        groups = []
        bands = []
        errors: list[float] = []
        n = 0
        for recipe in dict.fromkeys(recipes_arr[sources_arr == source]):
            rows = np.flatnonzero((recipes_arr == recipe) & ~np.isnan(predicted))
            if len(rows) == 0:
                continue
            n += len(rows)
            groups.append((predicted[rows], y[rows]))
            mask = band_mask(macs[rows])
            bands.append((predicted[rows][mask], y[rows][mask]))
            error = y[rows] - predicted[rows]
            errors.extend(error - error.mean())
            if source not in own_scale:
                for i, e in zip(rows, error - error.mean(), strict=True):
                    split["supported" if supported[i] else "unsupported"].append(float(e))
            tau = pooled_within_tau([(predicted[rows], y[rows])])
            per_recipe[str(recipe)] = {
                "n": len(rows), "tau": None if tau is None else round(tau, 4),
                "rmse": None if source in own_scale else round(float(np.std(error)), 3)}
        pooled = pooled_within_tau(groups)
        per_source[source] = {
            "tau": pooled, "tau_band": pooled_within_tau(bands), "groups": len(groups), "n": n,
            "pairs": int(sum(len(t) * (len(t) - 1) // 2 for _, t in groups)),
            "rmse": (float(np.sqrt(np.mean(np.square(errors))))
                     if errors and source not in own_scale else None)}
    return RecipeCV({s: v for s, v in per_source.items() if v["n"]}, per_recipe, predicted,
                    split)


def fit_stage_model(labels: LabelSet, *, reference: str | None = None, name: str = "",
                    dataset: str = "", metric: str = "",
                    source_weight: Mapping[str, float] | None = None,
                    settings: Mapping[str, float] | None = None,
                    recipe_notes: Mapping[str, str] | None = None,
                    progress: Callable[[str], None] | None = None) -> AccuracyModel:
    """Fit the anchored model on ``labels`` (any number of sources and recipes).

    Args:
        labels: Labelled architectures; each label's ``recipe`` and ``source`` are used.
        reference: The recipe the estimate answers for (default: the recipe with the most
            labels among sources under :data:`~mnas.accuracy._anchored.SCALED_MIN_LABELS`
            labels, else the largest).
        name: Model name.
        dataset: Task and dataset of the reference recipe.
        metric: What the accuracy is (default ``top-1 accuracy (%)``).
        source_weight: Total weight per source (by its name; default 1 each).
        settings: Hyper-parameters of :func:`~mnas.accuracy._anchored.fit_anchored`.
        recipe_notes: Human descriptions of recipes, stored in the header.
        progress: Called with one line per cross-validation step.

    Returns:
        The fitted :class:`~mnas.accuracy.AccuracyModel`.

    Raises:
        MnasInputError: Too few labels, or an unknown reference recipe.
    """
    if len(labels.items) < MIN_LABELS:
        raise MnasInputError(
            f"{labels.source}: {len(labels.items)} labelled architectures are too few to fit "
            f"and cross-validate; give at least {MIN_LABELS}")
    encoding = StageEncoding()
    x = encoding.encode_many([i.arch for i in labels.items])
    y = np.asarray([i.accuracy for i in labels.items])
    recipes = [i.recipe for i in labels.items]
    sources = [i.source for i in labels.items]
    macs = np.exp(x[:, encoding.names.index("log_macs")])
    counts = Counter(recipes)
    if reference is None:
        per_source = Counter(sources)
        source_of = dict(zip(recipes, sources, strict=True))
        small = [r for r in counts if per_source[source_of[r]] < SCALED_MIN_LABELS]
        reference = max(small or counts, key=lambda r: counts[r])
    elif reference not in counts:
        raise MnasInputError(f"reference recipe {reference!r} has no labels; choose one of "
                             f"{', '.join(counts)}")
    merged = {**DEFAULTS, **(settings or {})}
    fit_settings: dict[str, Any] = {**merged, "source_weight": dict(source_weight or {})}
    cv = cross_validate_recipes(x, y, recipes=recipes, sources=sources, macs=macs,
                                n_anchor=encoding.n_anchor, reference=reference,
                                settings=fit_settings, names=encoding.correction_names,
                                progress=progress)
    regressor = fit_anchored(x, y, recipes=recipes, sources=sources,
                             n_anchor=encoding.n_anchor, reference=reference, **fit_settings)
    n_anchor = encoding.n_anchor
    evidence = measure_evidence(x[:, n_anchor:], encoding.correction_names, recipes,
                                regressor.weights[n_anchor:], regressor.weight_sd()[n_anchor:])
    quality = cv.quality()
    header = {
        **fit_header(labels, name=name or "stages-accuracy", dataset=dataset,
                     metric=metric or "top-1 accuracy (%)"),
        "space": None, "encoding": encoding.kind, "family": regressor.family,
        "settings": regressor.settings,
        "reference_recipe": reference,
        "recipes": {r: {"source": regressor.recipe_source[r], "labels": recipes.count(r),
                        "offset": round(regressor.offsets[r], 4),
                        **({"note": recipe_notes[r]} if recipe_notes and r in recipe_notes
                           else {})}
                    for r in dict.fromkeys(recipes)},
        "sources": {s: {"labels": sources.count(s), "scale": round(regressor.scales[s], 4),
                        "cross_validation": cv.per_source.get(s)}
                    for s in dict.fromkeys(sources)},
        "cross_validation": cv.per_recipe,
        "quality": quality.to_dict(),
        "measured_error": cv.measured_error(),
        "evidence": evidence,
        "evidence_summary": summarise_evidence(evidence, regressor.covariance, 1 + n_anchor),
        "domain": labels.domain(),
    }
    return AccuracyModel(encoding=encoding, regressor=regressor, header=header)

