"""What mnas's proposal samplers share: Optuna's sampler interface around one ``propose``.

A proposal sampler decides a trial's whole parameter set at once (:meth:`propose`)
from the run's seed, the trial number and the trials already in the study, and
hands Optuna those values one by one as the define-by-run space suggests them. It
keeps no state between trials that the study does not hold, so a search resumed
after ``SIGKILL`` continues exactly as an uninterrupted one, and Ray Tune's
``OptunaSearch`` (which pickles its sampler) drives it as it drives TPE.
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
from mnas.spaces import Codes

__all__ = ["FINISHED", "ProposalSampler"]

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class ProposalSampler(optuna.samplers.BaseSampler):
    """Base of samplers that propose a whole architecture per trial, within a latency budget.

    Args:
        space: Search space name or YAML path.
        target: Latency target (as ``--target``).
        budget_ms: Latency budget candidates must meet (None: no filter).
        seed: The run's seed.
        generator: A ready candidate generator for the same space, target and budget
            (tests, benchmarks; default: loaded from the names on first use).
    """

    def __init__(self, *, space: str, target: str, budget_ms: float | None, seed: int = 0,
                 generator: CandidateGenerator | None = None) -> None:
        self.space = space
        self.target = target
        self.budget_ms = budget_ms
        self.seed = seed
        self._generator: CandidateGenerator | None = generator
        self._proposals: dict[int, dict[str, Any]] = {}
        self._keys: dict[int, bytes] = {}  # finished trial number -> its canonical code
        self._keys_of: optuna.Study | None = None  # the study those numbers belong to

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles the searcher: tables and caches are rebuilt where it is unpickled.
        return {**self.__dict__, "_generator": None, "_proposals": {}, "_keys": {},
                "_keys_of": None}

    @property
    def generator(self) -> CandidateGenerator:
        """The budget-screened candidate generator (loaded on first use)."""
        if self._generator is None:
            self._generator = CandidateGenerator.from_names(self.space, self.target,
                                                            self.budget_ms)
        return self._generator

    # ------------------------------------------------------------- helpers
    def rng(self, number: int) -> np.random.Generator:
        """Trial ``number``'s generator: a function of (seed, number) only."""
        return np.random.default_rng([self.seed, number])

    @staticmethod
    def fitness(trial: FrozenTrial, sign: float) -> tuple[bool, float]:
        """(feasible, value): any feasible trial beats every infeasible one (pruned: worst)."""
        if trial.state != TrialState.COMPLETE or not trial.values:
            return False, -math.inf
        feasible = all(c <= 0 for c in trial.constraints.values())
        return feasible, sign * float(trial.values[0])

    @staticmethod
    def sign(study: optuna.Study) -> float:
        """+1 when the study maximises its (first) objective, else -1."""
        return 1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1.0

    def others(self, study: optuna.Study, number: int) -> list[FrozenTrial]:
        """The study's trials other than ``number`` (finished, running or waiting)."""
        return [t for t in study.get_trials(deepcopy=False) if t.number != number]

    def seen(self, study: optuna.Study, trials: list[FrozenTrial]) -> set[bytes]:
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

    def fallback(self, rng: np.random.Generator, seen: set[bytes], tries: int) -> Codes:
        """A fresh feasible candidate, else a neighbour of the fastest architecture.

        For a budget close to the fastest architecture random draws rarely qualify:
        climbing from the fastest one does.
        """
        gen = self.generator
        fresh = gen.fresh(rng, 1, seen=seen, tries=tries)
        if len(fresh):
            return fresh[:1]
        near = gen.mutants(gen.fastest(), rng, tries, seen=seen)
        return near[:1] if len(near) else gen.fastest()

    def propose(self, study: optuna.Study, number: int) -> dict[str, Any]:
        """The parameters of trial ``number`` given the study's other trials."""
        raise NotImplementedError

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
