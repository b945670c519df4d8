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

State: none between trials (:class:`~mnas.search._samplers._base.ProposalSampler`): a
trial's proposal is a function of (seed, trial number, the trials in the study).
"""

from __future__ import annotations

from typing import Any

import optuna

from mnas.search._samplers._base import FINISHED, ProposalSampler
from mnas.search._samplers._candidates import CandidateGenerator

__all__ = ["EvolutionSampler"]


class EvolutionSampler(ProposalSampler):
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
        super().__init__(space=space, target=target, budget_ms=budget_ms, seed=seed,
                         generator=generator)
        self.population_size = population_size
        self.tournament_size = tournament_size
        self.max_tries = max_tries

    def propose(self, study: optuna.Study, number: int) -> dict[str, Any]:
        """The parameters of trial ``number`` given the study's other trials."""
        gen = self.generator
        rng = self.rng(number)
        trials = self.others(study, number)
        seen = self.seen(study, trials)
        history = sorted((t for t in trials if t.state in FINISHED), key=lambda t: t.number)
        if len(history) >= self.population_size:
            population = history[-self.population_size:]
            sign = self.sign(study)
            contenders = rng.choice(len(population), size=self.tournament_size, replace=False)
            parent = max((population[int(i)] for i in contenders),
                         key=lambda t: self.fitness(t, sign))
            mutants = gen.mutants(gen.encode([parent.params]), rng, self.max_tries, seen=seen)
            if len(mutants):
                return gen.codec.decode(mutants[0])
        return gen.codec.decode(self.fallback(rng, seen, self.max_tries)[0])
