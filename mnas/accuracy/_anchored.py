"""The ``anchored`` model: one accuracy model fitted on labels of many recipes and sources.

A network's top-1 depends on how it was trained as much as on what it is (EfficientNet-B0
scores 76.5-78.7 under four timm recipes), and label sets differ in size by two orders
of magnitude (4,825 Accel-NASBench networks, 61 of other families). The model is

    top-1(arch, recipe r of source s) = offset_r + scale_s * (anchor(arch) + corrections(arch))

* ``offset_r``: one per recipe, shrunk towards its source's mean (a recipe nobody trained
  a second network under is told apart from the networks' own effects only by that prior);
* ``scale_s``: 1 for every source with fewer than :data:`SCALED_MIN_LABELS` labels (full
  trainings, measured on the same scale as the reference), fitted for larger sources
  (a 16-epoch schedule or a supernet's inherited weights spread accuracy differently);
* the **anchor** (log MACs and log params through a concave basis, log resolution) with
  non-negative weights: more compute, more parameters or a larger input never lower
  the estimate;
* the **corrections** (per-level SE, activation, kernel, expansion, depth, compute
  share; :mod:`mnas.accuracy._stages`): bounded (``|w| <= bound`` points per unit) and
  shrunk towards 0 by a Gaussian prior, so a choice no label varies has no effect but a
  wide uncertainty.

Each source weighs the same in total (``source_weight`` changes that), so thousands of
rows of one benchmark do not drown a few dozen of other families. The fit is a
weighted, bounded least-squares problem (SciPy's BVLS) with the priors as extra rows,
weighed against the data as if a label's noise were 1 point (the priors' widths were
chosen by validation on that scale); the uncertainty is the posterior covariance of the
reference offset and the shared weights (Laplace approximation at the optimum, with the
noise of the weighted residuals).
Prediction needs numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mnas.accuracy._regressors import finite_array
from mnas.errors import MnasInputError

__all__ = ["SCALED_MIN_LABELS", "AnchoredRegressor", "anchored_from_dict", "fit_anchored"]

#: Sources with at least this many labels get a scale of their own.
SCALED_MIN_LABELS = 100
#: Default hyper-parameters (selected by leave-one-recipe-out cross-validation on the
#: shipped labels; benchmarks/accuracy_models.py).
DEFAULTS: dict[str, float] = {"tau_correction": 1.0, "tau_recipe": 0.5, "bound": 1.5}
_FLAT = 1e-6      # prior precision of source offsets (flat)
_ANCHOR = 1e-4    # prior precision of anchor weights (nearly flat)


@dataclass(frozen=True, kw_only=True)
class AnchoredRegressor:
    """A fitted anchored model: ``predict(x)`` -> (top-1 under the reference recipe, spread).

    Attributes:
        weights: Shared weights over the encoding's columns.
        n_anchor: How many leading columns are the anchor.
        offsets: Per recipe, its offset.
        recipe_source: Per recipe, its source.
        scales: Per source, the scale of the shared part (1 for the reference's).
        reference: The recipe :meth:`predict` answers for.
        covariance: Posterior covariance of ``(offsets[reference], *weights)``.
        noise: Residual standard deviation of a label (weighted, in accuracy units).
        settings: Hyper-parameters of the fit.
    """

    family = "anchored"
    weights: np.ndarray
    n_anchor: int
    offsets: dict[str, float]
    recipe_source: dict[str, str]
    scales: dict[str, float]
    reference: str
    covariance: np.ndarray
    noise: float
    settings: dict[str, Any] = field(default_factory=dict)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-1 under the reference recipe and its spread (posterior sd) for rows ``x``."""
        x = np.atleast_2d(np.asarray(x, float))
        scale = self.scales[self.recipe_source[self.reference]]
        mean = self.offsets[self.reference] + scale * (x @ self.weights)
        ext = np.hstack([np.ones((len(x), 1)), scale * x])
        var = np.einsum("ij,jk,ik->i", ext, self.covariance, ext)
        return mean, np.sqrt(np.maximum(var, 0.0))

    def predict_recipe(self, x: np.ndarray, recipe: str) -> np.ndarray:
        """Predicted accuracy under ``recipe`` (one of :attr:`offsets`)."""
        if recipe not in self.offsets:
            raise MnasInputError(f"unknown recipe {recipe!r}; the model knows "
                                 f"{', '.join(sorted(self.offsets))}")
        scale = self.scales[self.recipe_source[recipe]]
        shared: np.ndarray = np.atleast_2d(np.asarray(x, float)) @ self.weights
        return self.offsets[recipe] + scale * shared

    def weight_sd(self) -> np.ndarray:
        """Posterior standard deviation of each shared weight."""
        return np.sqrt(np.maximum(np.diag(self.covariance)[1:], 0.0))

    def to_dict(self) -> dict[str, Any]:
        """JSON view (lists of floats)."""
        return {"family": self.family, "settings": self.settings,
                "weights": self.weights.tolist(), "n_anchor": self.n_anchor,
                "offsets": self.offsets, "recipe_source": self.recipe_source,
                "scales": self.scales, "reference": self.reference,
                "covariance": self.covariance.tolist(), "noise": self.noise}


def _design(x: np.ndarray, recipes: Sequence[str], sources: Sequence[str]
            ) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """One-hot source and recipe columns."""
    src_names = list(dict.fromkeys(sources))
    rec_names = list(dict.fromkeys(recipes))
    s = np.zeros((len(x), len(src_names)))
    r = np.zeros((len(x), len(rec_names)))
    s[np.arange(len(x)), [src_names.index(v) for v in sources]] = 1.0
    r[np.arange(len(x)), [rec_names.index(v) for v in recipes]] = 1.0
    return s, r, src_names, rec_names


def fit_anchored(x: np.ndarray, y: np.ndarray, *, recipes: Sequence[str],
                 sources: Sequence[str], n_anchor: int, reference: str,
                 source_weight: Mapping[str, float] | None = None,
                 tau_correction: float = DEFAULTS["tau_correction"],
                 tau_recipe: float = DEFAULTS["tau_recipe"],
                 bound: float = DEFAULTS["bound"], iterations: int = 6) -> AnchoredRegressor:
    """Fit the anchored model (see the module docstring).

    Args:
        x: Encoded architectures, anchor columns first.
        y: Their accuracies.
        recipes: Per row, its recipe.
        sources: Per row, its source (every row of a recipe has the same source).
        n_anchor: How many leading columns are the anchor.
        reference: The recipe whose accuracy :meth:`AnchoredRegressor.predict` returns.
        source_weight: Total weight per source (default 1 each).
        tau_correction: Prior sd of a correction weight (accuracy points per unit).
        tau_recipe: Prior sd of a recipe's offset around its source's.
        bound: Largest magnitude of a correction weight.
        iterations: Alternations between the scales and the rest.

    Raises:
        MnasInputError: An unknown reference recipe, or a recipe in two sources.
    """
    from mnas._blas import one_blas_thread

    # One BLAS thread: k x k systems solve faster than with a pool fighting over busy cores
    with one_blas_thread():
        return _fit(x, y, recipes=recipes, sources=sources, n_anchor=n_anchor,
                    reference=reference, source_weight=source_weight,
                    tau_correction=tau_correction, tau_recipe=tau_recipe, bound=bound,
                    iterations=iterations)


def _fit(x: np.ndarray, y: np.ndarray, *, recipes: Sequence[str], sources: Sequence[str],
         n_anchor: int, reference: str, source_weight: Mapping[str, float] | None,
         tau_correction: float, tau_recipe: float, bound: float, iterations: int
         ) -> AnchoredRegressor:
    from scipy.optimize import lsq_linear

    x = np.asarray(x, float)
    y = np.asarray(y, float)
    recipe_source: dict[str, str] = {}
    for recipe, source in zip(recipes, sources, strict=True):
        if recipe_source.setdefault(recipe, source) != source:
            raise MnasInputError(f"recipe {recipe!r} appears in two label sources "
                                 f"({recipe_source[recipe]} and {source}); give each source's "
                                 "recipes their own names")
    if reference not in recipe_source:
        raise MnasInputError(f"reference recipe {reference!r} has no labels; choose one of "
                             f"{', '.join(recipe_source)}")
    s_onehot, r_onehot, src_names, rec_names = _design(x, recipes, sources)
    counts = s_onehot.sum(axis=0)
    totals = np.asarray([(source_weight or {}).get(s, 1.0) for s in src_names])
    w = (s_onehot @ (totals / counts))
    w *= len(w) / w.sum()
    ref_source = recipe_source[reference]
    scaled = [s for s, n in zip(src_names, counts, strict=True)
              if n >= SCALED_MIN_LABELS and s != ref_source]
    n_s, n_r, p = len(src_names), len(rec_names), x.shape[1]
    n_corr = p - n_anchor
    prec = np.concatenate([np.full(n_s, _FLAT), np.full(n_r, 1 / tau_recipe ** 2),
                           np.full(n_anchor, _ANCHOR), np.full(n_corr, 1 / tau_correction ** 2)])
    low = np.concatenate([np.full(n_s + n_r, -np.inf), np.zeros(n_anchor), np.full(n_corr, -bound)])
    high = np.concatenate([np.full(n_s + n_r + n_anchor, np.inf), np.full(n_corr, bound)])
    scale = {s: 1.0 for s in src_names}
    offsets_x = np.hstack([s_onehot, r_onehot])
    theta = np.zeros(n_s + n_r + p)
    rounds = iterations if scaled else 1
    for round_ in range(rounds):
        row_scale = s_onehot @ np.asarray([scale[s] for s in src_names])
        design = np.hstack([offsets_x, x * row_scale[:, None]])
        # the same least-squares objective through its normal equations' Cholesky factor
        # (k x k, the priors keep it well conditioned): BVLS then works on k rows instead
        # of thousands
        gram = (design * w[:, None]).T @ design + np.diag(prec)
        factor = np.linalg.cholesky(gram)
        rhs = np.linalg.solve(factor, design.T @ (w * y))
        theta = lsq_linear(factor.T, rhs, bounds=(low, high), method="bvls").x
        if round_ == rounds - 1:
            break  # the scales stay those this theta was solved with
        shared = x @ theta[n_s + n_r:]
        offset = offsets_x @ theta[:n_s + n_r]
        for s in scaled:  # each scaled source: its offset and scale by least squares
            rows = s_onehot[:, src_names.index(s)] > 0
            own = offset[rows] - theta[src_names.index(s)]
            z = np.vstack([np.ones(rows.sum()), shared[rows]]).T
            scale[s] = max(float(np.linalg.lstsq(z, y[rows] - own, rcond=None)[0][1]), 0.05)
    row_scale = s_onehot @ np.asarray([scale[s] for s in src_names])
    design = np.hstack([offsets_x, x * row_scale[:, None]])
    residual = y - design @ theta
    noise2 = float(np.sum(w * residual ** 2) / np.sum(w))
    hessian = (design * (w / noise2)[:, None]).T @ design + np.diag(prec)
    covariance = np.linalg.inv(hessian)
    offsets = {r: float(theta[src_names.index(recipe_source[r])] + theta[n_s + i])
               for i, r in enumerate(rec_names)}
    # covariance of (offset of the reference = source + recipe column, shared weights)
    k_src, k_rec = src_names.index(ref_source), n_s + rec_names.index(reference)
    pick = np.zeros((1 + p, len(theta)))
    pick[0, k_src] = pick[0, k_rec] = 1.0
    pick[1:, n_s + n_r:] = np.eye(p)
    cov = pick @ covariance @ pick.T
    return AnchoredRegressor(
        weights=theta[n_s + n_r:].copy(), n_anchor=n_anchor, offsets=offsets,
        recipe_source=recipe_source, scales=scale, reference=reference,
        covariance=(cov + cov.T) / 2, noise=math.sqrt(noise2),
        settings={"tau_correction": tau_correction, "tau_recipe": tau_recipe, "bound": bound,
                  "source_weight": {s: float(t) for s, t in zip(src_names, totals, strict=True)},
                  "scaled_sources": scaled})


def _names_to_numbers(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, dict) or not value:
        raise MnasInputError(f"{where} must be a non-empty object of numbers")
    return {str(k): float(finite_array(v, (), f"{where}[{k!r}]")) for k, v in value.items()}


def anchored_from_dict(data: dict[str, Any], *, n_features: int, source: str
                       ) -> AnchoredRegressor:
    """Read a stored anchored model, checking every number, name and shape.

    Raises:
        MnasInputError: Naming the malformed field.
    """
    where = f"{source}: field 'model"
    weights = finite_array(data.get("weights"), (n_features,), f"{where}.weights'")
    n_anchor = data.get("n_anchor")
    if not isinstance(n_anchor, int) or isinstance(n_anchor, bool) or not (
            0 <= n_anchor <= n_features):
        raise MnasInputError(f"{where}.n_anchor' must be an integer in 0..{n_features}")
    if np.any(weights[:n_anchor] < 0):
        raise MnasInputError(f"{where}.weights' of the anchor must be non-negative (the "
                             "estimate may not fall with size); refit the model")
    offsets = _names_to_numbers(data.get("offsets"), f"{where}.offsets'")
    scales = _names_to_numbers(data.get("scales"), f"{where}.scales'")
    recipe_source = data.get("recipe_source")
    if (not isinstance(recipe_source, dict) or set(recipe_source) != set(offsets)
            or not all(isinstance(v, str) and v in scales for v in recipe_source.values())):
        raise MnasInputError(f"{where}.recipe_source' must name the source of every recipe "
                             "in 'offsets', each with a scale")
    if any(v <= 0 for v in scales.values()):
        raise MnasInputError(f"{where}.scales' must be positive")
    reference = data.get("reference")
    if reference not in offsets:
        raise MnasInputError(f"{where}.reference' must be one of the recipes in 'offsets'")
    cov = finite_array(data.get("covariance"), (n_features + 1,) * 2, f"{where}.covariance'")
    try:
        np.linalg.cholesky(cov + 1e-12 * np.eye(len(cov)))
    except np.linalg.LinAlgError:
        raise MnasInputError(f"{where}.covariance' must be a covariance matrix (symmetric, "
                             "positive semi-definite); refit the model") from None
    noise = float(finite_array(data.get("noise"), (), f"{where}.noise'"))
    settings = data.get("settings")
    return AnchoredRegressor(weights=weights, n_anchor=n_anchor, offsets=offsets,
                             recipe_source={str(k): str(v) for k, v in recipe_source.items()},
                             scales=scales, reference=str(reference), covariance=cov,
                             noise=noise, settings=settings if isinstance(settings, dict) else {})
