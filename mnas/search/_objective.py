"""The search objective: latency from the table, accuracy from a proxy, and the budget.

Three forms (``SearchConfig.objective`` / ``pareto``):

* ``hard`` (default): maximise the proxy score; a candidate whose predicted latency
  exceeds the budget is infeasible through Optuna's constraints (``trial.set_constraint
  ("latency", latency - budget)``, feasible when ``<= 0``), which TPE and NSGA-II rank
  below every feasible trial (Optuna's constrained TPE follows c-TPE, Watanabe &
  Hutter, IJCAI 2023).
* ``soft``: MnasNet's reward ``ACC(m) * (LAT(m) / T) ** w`` with ``w = -0.07``
  (Tan et al., "MnasNet: Platform-Aware Neural Architecture Search for Mobile",
  CVPR 2019, Eq. 2, with alpha = beta = w). Proxy scores can be negative (log-scale
  proxies); for a negative score the factor is inverted, so that in both cases a
  faster network gets the larger reward.
* ``pareto``: two objectives, (maximise score, minimise latency), for NSGA-II
  (Deb et al., IEEE TEC 2002), still constrained to the budget.

:func:`objective` is a plain package-level function of ``(space, config, trial)``
plus a per-process :class:`SearchContext`, so Ray Tune's ``OptunaSearch`` workers
can call the same code; nothing lives at module level.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import optuna

from mnas.arch import Arch
from mnas.latency import TablePredictor, resolve_target
from mnas.proxies import AccuracyProxy
from mnas.search._config import SearchConfig
from mnas.spaces import SearchSpace, TrialLike

__all__ = [
    "Evaluation",
    "SearchContext",
    "arch_hash",
    "constraints",
    "default_proxy_name",
    "evaluate_arch",
    "make_proxy",
    "objective",
    "score_trial",
    "soft_reward",
]

_INFEASIBLE_CONSTRAINT = 1e9  # for a trial that never recorded its latency


def default_proxy_name() -> str:
    """The default accuracy estimate (``default``: the space's own fitted model, else the
    space-agnostic ImageNet model; see :class:`mnas.accuracy.DefaultEstimator`)."""
    from mnas.accuracy import DEFAULT_ESTIMATOR

    return DEFAULT_ESTIMATOR


def make_proxy(name: str, *, data: str | None = None, seed: int = 0) -> AccuracyProxy:
    """The accuracy estimator ``name`` names (see :func:`mnas.accuracy.resolve_estimator`).

    Raises:
        MnasInputError: Unknown estimator, or a data-driven proxy without ``data``.
    """
    from mnas.accuracy import resolve_estimator

    return resolve_estimator(name, data=data, seed=seed)


def arch_hash(arch: Arch) -> str:
    """A short stable digest of ``arch.canonical_key()`` (equal iff same network)."""
    return hashlib.sha1(arch.canonical_key().encode("utf-8")).hexdigest()[:20]


def soft_reward(score: float, latency_ms: float, budget_ms: float, weight: float = -0.07) -> float:
    """MnasNet's reward ``score * (latency / budget) ** weight`` (Tan et al. 2019, Eq. 2).

    For a negative ``score`` the exponent's sign is flipped so the reward still grows
    as latency falls.
    """
    ratio = latency_ms / budget_ms
    return float(score * ratio ** (weight if score >= 0 else -weight))


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """What one architecture scored.

    Attributes:
        score: Proxy score (None when skipped: an infeasible candidate under the
            hard budget with a non-analytic proxy).
        latency_ms: Calibrated predicted latency.
        band: Relative error band of the prediction.
        feasible: ``latency_ms <= budget``.
        arch_hash: :func:`arch_hash` of the architecture.
    """

    score: float | None
    latency_ms: float
    band: float
    feasible: bool
    arch_hash: str


@dataclass(kw_only=True)
class SearchContext:
    """Per-process state of a search: predictor, proxy and the dedup cache.

    Build one per worker with :meth:`from_config`; never share it between processes.

    Attributes:
        config: The search configuration.
        predictor: The target's latency predictor.
        proxy: The accuracy proxy.
        seen: Architecture digest -> (trial number, evaluation) of every evaluated arch.
    """

    config: SearchConfig
    predictor: TablePredictor
    proxy: AccuracyProxy
    seen: dict[str, tuple[int, Evaluation]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: SearchConfig, *,
                    proxy: AccuracyProxy | None = None) -> SearchContext:
        """Resolve the target's table and construct the proxy named in ``config``."""
        predictor = TablePredictor(resolve_target(config.target), space_hint=config.space)
        if proxy is None:
            proxy = make_proxy(config.proxy, data=config.data, seed=config.seed)
        return cls(config=config, predictor=predictor, proxy=proxy)

    def remember(self, trials: list[optuna.trial.FrozenTrial]) -> None:
        """Fill the dedup cache from finished trials (used when a study is resumed)."""
        for trial in trials:
            evaluation = evaluation_of(trial)
            if evaluation is not None and evaluation.arch_hash not in self.seen:
                self.seen[evaluation.arch_hash] = (trial.number, evaluation)


def evaluation_of(trial: optuna.trial.FrozenTrial) -> Evaluation | None:
    """The :class:`Evaluation` stored in a finished trial's user attributes, if any."""
    attrs = trial.user_attrs
    if trial.state not in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED):
        return None
    if "arch_hash" not in attrs or "latency_ms" not in attrs:
        return None
    return Evaluation(score=attrs.get("score"), latency_ms=float(attrs["latency_ms"]),
                      band=float(attrs.get("band", 0.0)), feasible=bool(attrs["feasible"]),
                      arch_hash=str(attrs["arch_hash"]))


def evaluate_arch(arch: Arch, *, context: SearchContext) -> Evaluation:
    """Predict the latency of ``arch`` and score it with the proxy.

    Under the hard budget (not Pareto) an infeasible candidate is scored only by an
    analytic proxy: Optuna's constrained samplers rank infeasible trials by their
    constraint violation alone, so a forward-pass or training proxy would be wasted
    on them (the trial is then recorded as pruned, with its latency and constraint).
    """
    config = context.config
    latency = context.predictor.predict_ms(arch)
    feasible = latency <= config.budget_ms
    cheap = context.proxy.cost == "analytic"
    needed = feasible or cheap or config.pareto or config.objective == "soft"
    score = float(context.proxy.score(arch)) if needed else None
    band = float(context.predictor.table.header.error_band)
    return Evaluation(score=score, latency_ms=latency, band=band, feasible=feasible,
                      arch_hash=arch_hash(arch))


def objective_values(evaluation: Evaluation, config: SearchConfig) -> float | tuple[float, float]:
    """The value(s) Optuna receives for ``evaluation``."""
    if evaluation.score is None:
        raise optuna.TrialPruned("over the latency budget; not scored by the proxy")
    if config.pareto:
        return evaluation.score, evaluation.latency_ms
    if config.objective == "soft":
        return soft_reward(evaluation.score, evaluation.latency_ms, config.budget_ms,
                           config.soft_weight)
    return evaluation.score


def objective(space: SearchSpace, config: SearchConfig, trial: TrialLike, *,
              context: SearchContext) -> float | tuple[float, float]:
    """Sample an architecture with ``trial``, evaluate it (once per distinct arch), return values.

    A trial that samples an architecture already evaluated reuses that evaluation and
    records ``duplicate_of`` (the earlier trial's number); the proxy is not run again.
    """
    return score_trial(space.sample(trial), config, trial, context=context)


def score_trial(arch: Arch, config: SearchConfig, trial: TrialLike, *,
                context: SearchContext) -> float | tuple[float, float]:
    """Evaluate ``arch`` as trial ``trial``'s architecture: the second half of :func:`objective`.

    For searches whose trial maps to its architecture otherwise than by ``space.sample``
    (e.g. a benchmark that projects a suggestion onto a labelled network): the dedup, the
    user attributes, the constraint and the values are those of :func:`objective`.
    """
    digest = arch_hash(arch)
    hit = context.seen.get(digest)
    set_attr = getattr(trial, "set_user_attr", None)
    number = int(getattr(trial, "number", -1))
    if hit is None:
        evaluation = evaluate_arch(arch, context=context)
        context.seen[digest] = (number, evaluation)
    else:
        evaluation = hit[1]
        if set_attr is not None:
            set_attr("duplicate_of", hit[0])
    if set_attr is not None:
        set_attr("arch_hash", digest)
        set_attr("latency_ms", evaluation.latency_ms)
        set_attr("band", evaluation.band)
        set_attr("feasible", evaluation.feasible)
        set_attr("score", evaluation.score)
        set_attr("constraint", evaluation.latency_ms - config.budget_ms)
    set_constraint = getattr(trial, "set_constraint", None)
    if set_constraint is not None and (config.objective == "hard" or config.pareto):
        set_constraint("latency", evaluation.latency_ms - config.budget_ms)
    return objective_values(evaluation, config)


def constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
    """``[latency - budget]`` of a finished trial, feasible when ``<= 0``.

    The in-process driver records the same value with ``trial.set_constraint``
    (Optuna >= 5); this function serves searchers that still take a
    ``constraints_func`` (e.g. Ray Tune's ``OptunaSearch``).
    """
    value = trial.user_attrs.get("constraint")
    if value is None or not math.isfinite(float(value)):
        return [_INFEASIBLE_CONSTRAINT]
    return [float(value)]
