"""Regularized evolution as an Optuna sampler (``mnas search --sampler evolution``).

Real, Aggarwal, Huang & Le, "Regularized Evolution for Image Classifier Architecture
Search", AAAI 2019 (Algorithm 1): the population is the ``population_size`` most
recently finished trials (aging: the oldest dies, whatever its score); each new
trial samples ``tournament_size`` of them uniformly, takes the best as the parent and
proposes a one-choice mutation of it (one flat parameter moved to another value of
its choice set; a block that a deeper stage brings in gets random choices). Until
the population is full, trials are uniform random samples. Every proposal is kept
inside the latency budget and away from architectures already in the study: up to
``max_tries`` mutants (or fresh samples) are drawn at once and screened by the
exact vectorised latency predictor, the first one that qualifies wins.

State: none between trials. A trial's proposal is a function of (seed, trial number,
the trials in the study), rebuilt from the study each time, so a search resumed after
``SIGKILL`` continues exactly as an uninterrupted one, and Ray Tune's ``OptunaSearch``
(which pickles its sampler) drives it as it drives TPE.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from mnas.search._samplers._candidates import CandidateGenerator

__all__ = ["EvolutionSampler"]

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class EvolutionSampler(optuna.samplers.BaseSampler):
    """Regularized evolution over a search space's flat parameters, within a latency budget.

    Args:
        space: Search space name or YAML path.
        target: Latency target (as ``--target``).
        budget_ms: Latency budget candidates must meet (None: no filter).
        seed: The run's seed.
        population_size: Trials in the population (P in Real et al.).
        tournament_size: Trials sampled per tournament (S in Real et al.).
        max_tries: Mutants (or fresh samples) screened per proposal.
        generator: A ready candidate generator for the same space, target and budget
            (tests, benchmarks; default: loaded from the names on first use).
    """

    def __init__(self, *, space: str, target: str, budget_ms: float | None, seed: int = 0,
                 population_size: int = 20, tournament_size: int = 5,
                 max_tries: int = 64, generator: CandidateGenerator | None = None) -> None:
        if not 1 <= tournament_size <= population_size:
            raise ValueError(f"tournament size {tournament_size} must be in 1..population size "
                             f"{population_size}")
        self.space = space
        self.target = target
        self.budget_ms = budget_ms
        self.seed = seed
        self.population_size = population_size
        self.tournament_size = tournament_size
        self.max_tries = max_tries
        self._generator: CandidateGenerator | None = generator
        self._proposals: dict[int, dict[str, Any]] = {}
        self._keys: dict[int, bytes] = {}  # finished trial number -> its canonical code
        self._keys_of: optuna.Study | None = None  # the study those numbers belong to

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles the searcher: the tables are rebuilt where it is unpickled.
        return {**self.__dict__, "_generator": None, "_proposals": {}, "_keys": {},
                "_keys_of": None}

    @property
    def generator(self) -> CandidateGenerator:
        """The budget-screened candidate generator (loaded on first use)."""
        if self._generator is None:
            self._generator = CandidateGenerator.from_names(self.space, self.target,
                                                            self.budget_ms)
        return self._generator

    # ---------------------------------------------------------- the algorithm
    def _rng(self, number: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, number])

    @staticmethod
    def _fitness(trial: FrozenTrial, sign: float) -> tuple[bool, float]:
        """(feasible, value): any feasible trial beats every infeasible one (pruned: worst)."""
        if trial.state != TrialState.COMPLETE or not trial.values:
            return False, -math.inf
        feasible = all(c <= 0 for c in trial.constraints.values())
        return feasible, sign * float(trial.values[0])

    def _seen(self, study: optuna.Study, trials: list[FrozenTrial]) -> set[bytes]:
        """The canonical codes of ``trials`` (finished trials' codes are memoised)."""
        if self._keys_of is not study:
            self._keys, self._keys_of = {}, study
        gen = self.generator
        todo = [t for t in trials if t.number not in self._keys]
        keys = gen.keys(gen.encode(t.params for t in todo)) if todo else []
        seen = {self._keys[t.number] for t in trials if t.number in self._keys}
        for t, key in zip(todo, keys, strict=True):
            seen.add(key)
            if t.state.is_finished():
                self._keys[t.number] = key
        return seen

    def propose(self, study: optuna.Study, number: int) -> dict[str, Any]:
        """The parameters of trial ``number`` given the study's other trials."""
        gen = self.generator
        rng = self._rng(number)
        trials = [t for t in study.get_trials(deepcopy=False) if t.number != number]
        seen = self._seen(study, trials)
        history = sorted((t for t in trials if t.state in _FINISHED), key=lambda t: t.number)
        child = None
        if len(history) >= self.population_size:
            population = history[-self.population_size:]
            sign = 1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1.0
            contenders = rng.choice(len(population), size=self.tournament_size, replace=False)
            parent = max((population[int(i)] for i in contenders),
                         key=lambda t: self._fitness(t, sign))
            mutants = gen.mutants(gen.encode([parent.params]), rng, self.max_tries, seen=seen)
            child = mutants[0] if len(mutants) else None
        if child is None:
            fresh = gen.fresh(rng, 1, seen=seen, tries=self.max_tries)
            child = fresh[0] if len(fresh) else None
        if child is None:  # a budget close to the fastest architecture: climb from it
            near = gen.mutants(gen.fastest(), rng, self.max_tries, seen=seen)
            child = near[0] if len(near) else gen.fastest()[0]
        return gen.codec.decode(child)

    # ------------------------------------------------------ Optuna's interface
    def infer_relative_search_space(self, study: optuna.Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._proposals[trial.number] = self.propose(study, trial.number)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        proposal = self._proposals.get(trial.number)
        if proposal is None:
            proposal = self._proposals[trial.number] = self.propose(study, trial.number)
        choices: Sequence[Any] = (param_distribution.choices
                                  if isinstance(param_distribution, CategoricalDistribution)
                                  else ())
        if param_name in proposal and proposal[param_name] in choices:
            return proposal[param_name]
        # not a parameter of the space (a user's objective): seeded uniform choice
        rng = random.Random(f"{self.seed}-{trial.number}-{param_name}")
        if choices:
            return choices[rng.randrange(len(choices))]
        return optuna.samplers.RandomSampler(seed=rng.randrange(2**32)).sample_independent(
            study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._proposals.pop(trial.number, None)

    def reseed_rng(self) -> None:
        """Nothing to reseed: every trial's generator is derived from (seed, trial number)."""
