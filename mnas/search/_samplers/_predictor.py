"""Predictor-guided search as an Optuna sampler (``mnas search --sampler predictor``).

After White, Neiswanger & Savani, "BANANAS: Bayesian Optimization with Neural
Architectures for Neural Architecture Search", AAAI 2021, and Wei et al., "NPENAS:
Neural Predictor Guided Evolution for Neural Architecture Search", IEEE TNNLS 2022:
each trial

1. fits an ensemble surrogate (:func:`mnas.accuracy.fit_regressor`, a bootstrap ridge
   ensemble on the one-hot of the space's flat parameters, :func:`one_hot`) to the
   finished, feasible trials of the study;
2. proposes a pool of candidates that satisfy the latency budget exactly (screened by
   :class:`mnas.latency.ScreeningPredictor`): one-choice mutations of the best trials
   so far plus fresh uniform samples, none already in the study;
3. picks the pool's best by an acquisition on the ensemble's mean ``mu`` and spread
   ``sigma``: ``ucb`` (``mu + kappa * sigma``, Srinivas et al., ICML 2010) or
   ``thompson`` (the prediction of one ensemble member drawn per trial, as BANANAS's
   independent Thompson sampling).

Until ``n_initial`` trials are labelled there is nothing to fit: a trial then takes
the best of a small fresh pool by a *prior* accuracy estimate (the default estimate,
or any :class:`~mnas.proxies.AccuracyProxy`), so the first evaluations are informed
rather than blind; a prior that reports its spread is read as UCB reads the surrogate
(``mean + kappa * spread``: choices its labels say little about get tried);
``prior="none"`` makes them uniform random.

Like every :class:`~mnas.search._samplers._base.ProposalSampler`, a trial's proposal is
a function of (seed, trial number, the study's trials): resumable and Ray-picklable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import optuna
from optuna.trial import FrozenTrial, TrialState

from mnas.proxies import AccuracyProxy
from mnas.search._samplers._base import ProposalSampler
from mnas.search._samplers._candidates import CandidateGenerator
from mnas.spaces import Codes, ParamCodec

__all__ = ["ACQUISITIONS", "PredictorSampler", "one_hot"]

ACQUISITIONS = ("ucb", "thompson")


def one_hot(codec: ParamCodec, codes: Codes) -> npt.NDArray[np.float64]:
    """The surrogate's features: one column per (parameter, choice), 1 where chosen.

    Rows are canonicalised first (:meth:`ParamCodec.canonical`): rows of the same network
    get the same features, and columns of blocks beyond their stage's depth are all 0.
    """
    canon = codec.canonical(codes)
    active = codec.active(codes)
    offsets = np.concatenate([[0], np.cumsum(codec.sizes)[:-1]]).astype(np.int64)
    out = np.zeros((len(codes), int(codec.sizes.sum())))
    rows = np.repeat(np.arange(len(codes)), codec.width)
    out[rows, (canon + offsets).ravel()] = active.ravel()
    return out


class PredictorSampler(ProposalSampler):
    """An ensemble surrogate fitted on the study picks each trial from a budget-screened pool.

    Args:
        space: Search space name or YAML path.
        target: Latency target (as ``--target``).
        budget_ms: Latency budget candidates must meet (None: no filter).
        seed: The run's seed.
        prior: Accuracy estimate that ranks the first ``n_initial`` trials' pools: an
            estimator name (:func:`mnas.accuracy.resolve_estimator`; ``default`` is the
            default estimate), a ready :class:`~mnas.proxies.AccuracyProxy`, or ``none``
            (uniform random first trials).
        n_initial: Labelled trials before the surrogate takes over.
        initial_pool: Fresh candidates the prior ranks per initial trial.
        acquisition: ``ucb`` or ``thompson``.
        kappa: UCB's weight on the ensemble spread.
        members: Ensemble members (bootstrap resamples).
        alpha: Ridge penalty on standardised features.
        parents: Best trials whose mutants enter the pool.
        mutants_per_parent: Mutations drawn per parent (before screening).
        n_fresh: Fresh uniform samples in the pool.
        max_tries: Draws per wanted candidate when screening fresh samples.
        generator: A ready candidate generator for the same space, target and budget.
    """

    def __init__(self, *, space: str, target: str, budget_ms: float | None, seed: int = 0,
                 prior: str | AccuracyProxy = "default", n_initial: int = 10,
                 initial_pool: int = 32, acquisition: str = "ucb", kappa: float = 0.5,
                 members: int = 10, alpha: float = 3.0, parents: int = 10,
                 mutants_per_parent: int = 32, n_fresh: int = 512, max_tries: int = 64,
                 generator: CandidateGenerator | None = None) -> None:
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition must be one of {', '.join(ACQUISITIONS)}, got "
                             f"{acquisition!r}")
        if n_initial < 2:
            raise ValueError(f"n_initial must be >= 2 (a surrogate needs labels), got "
                             f"{n_initial}")
        super().__init__(space=space, target=target, budget_ms=budget_ms, seed=seed,
                         generator=generator)
        self.prior = prior
        self.n_initial = n_initial
        self.initial_pool = initial_pool
        self.acquisition = acquisition
        self.kappa = kappa
        self.members = members
        self.alpha = alpha
        self.parents = parents
        self.mutants_per_parent = mutants_per_parent
        self.n_fresh = n_fresh
        self.max_tries = max_tries
        self._prior: AccuracyProxy | None = prior if isinstance(prior, AccuracyProxy) else None
        self._prior_scores: dict[bytes, float] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        named = not isinstance(self.prior, AccuracyProxy)
        return {**state, "_prior": None if named else self._prior, "_prior_scores": {}}

    @property
    def prior_estimator(self) -> AccuracyProxy | None:
        """The prior estimate (None for ``prior="none"``), resolved on first use."""
        if self._prior is None and isinstance(self.prior, str) and self.prior != "none":
            from mnas.accuracy import resolve_estimator

            self._prior = resolve_estimator(self.prior, seed=self.seed)
        return self._prior

    # ----------------------------------------------------------- the algorithm
    def labelled(self, study: optuna.Study, trials: list[FrozenTrial]
                 ) -> tuple[Codes, npt.NDArray[np.float64]]:
        """Code rows and signed values (larger is better) of the feasible finished trials.

        A network evaluated twice (a duplicate trial) counts once.
        """
        sign = self.sign(study)
        gen = self.generator
        done: list[FrozenTrial] = []
        values: list[float] = []
        for t in sorted(trials, key=lambda t: t.number):
            feasible, value = self.fitness(t, sign)
            if t.state == TrialState.COMPLETE and feasible and np.isfinite(value):
                done.append(t)
                values.append(value)
        codes = self.codes_of(study, done)
        if not len(codes):
            return codes, np.zeros(0)
        _, first = np.unique(gen.codec.canonical(codes), axis=0, return_index=True)
        keep = np.sort(first)
        return codes[keep], np.asarray(values)[keep]

    def prior_scores(self, codes: Codes) -> npt.NDArray[np.float64]:
        """The prior's acquisition value of each row (memoised by network): a prior that
        reports its own spread (a fitted model: wider where no label varies a choice the
        network makes) counts as UCB does, ``mean + kappa * spread``; else its score."""
        prior = self.prior_estimator
        assert prior is not None
        with_spread = getattr(prior, "score_with_spread", None)
        gen = self.generator
        out = np.empty(len(codes))
        for i, (row, key) in enumerate(zip(codes, gen.keys(codes), strict=True)):
            if key not in self._prior_scores:
                arch = gen.space.replay(gen.codec.decode(row))
                if callable(with_spread):
                    mean, spread = with_spread(arch)
                    self._prior_scores[key] = float(mean) + self.kappa * float(spread)
                else:
                    self._prior_scores[key] = float(prior.score(arch))
            out[i] = self._prior_scores[key]
        return out

    def acquire(self, x: Codes, y: npt.NDArray[np.float64], pool: Codes,
                rng: np.random.Generator) -> int:
        """Index of the pool row the acquisition prefers, given labelled rows ``x``, ``y``."""
        from mnas.accuracy import fit_regressor

        codec = self.generator.codec
        model = fit_regressor(one_hot(codec, x), y, family="ridge", members=self.members,
                              alpha=self.alpha, seed=int(rng.integers(2**31)))
        features = one_hot(codec, pool)
        if self.acquisition == "thompson":
            member = model.members[int(rng.integers(len(model.members)))]
            z = (features - model.x_mean) / model.x_scale
            weight, bias = member[0]
            return int(np.argmax(z @ weight[:, 0] + bias[0]))
        mean, spread = model.predict(features)
        return int(np.argmax(mean + self.kappa * spread))

    def propose(self, study: optuna.Study, number: int) -> dict[str, Any]:
        """The parameters of trial ``number`` given the study's other trials."""
        gen = self.generator
        rng = self.rng(number)
        trials = self.others(study, number)
        seen = self.seen(study, trials)
        x, y = self.labelled(study, trials)
        if len(y) < self.n_initial:
            pool = gen.fresh(rng, self.initial_pool, seen=seen, tries=self.max_tries)
            if len(pool) and self.prior_estimator is not None:
                return gen.codec.decode(pool[int(np.argmax(self.prior_scores(pool)))])
            if len(pool):
                return gen.codec.decode(pool[0])
            return gen.codec.decode(self.fallback(rng, seen, self.max_tries)[0])
        best = x[np.argsort(-y, kind="stable")[:self.parents]]
        pool = gen.pool(rng, best, mutants_per_parent=self.mutants_per_parent,
                        n_fresh=self.n_fresh, seen=seen)
        if not len(pool):
            return gen.codec.decode(self.fallback(rng, seen, self.max_tries)[0])
        return gen.codec.decode(pool[self.acquire(x, y, pool, rng)])
