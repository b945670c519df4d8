"""Candidate generation for model-based samplers: fresh samples and mutations, screened by latency.

Shared by the evolution sampler (one mutant of a tournament winner per trial) and
any sampler that scores a pool (mutations of the best so far plus fresh samples):
candidates are integer code rows (:class:`mnas.spaces.ParamCodec`), their latency
comes from :class:`mnas.latency.ScreeningPredictor` (the table predictor's exact
numbers, ~10^5-10^6 per second), and a candidate is kept only when it is within
the budget and not already in the study.

A generator can be restricted to a finite set of *members* (the labelled networks of a
tabular benchmark, or networks a user has already trained): fresh candidates are then
drawn from the members, and a parent's "mutants" are its nearest members by the number
of differing flat choices (Hamming distance of canonical code rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from mnas.latency import ScreeningPredictor, TablePredictor, resolve_target
from mnas.spaces import Codes, ParamCodec, SearchSpace, load_space

__all__ = ["CandidateGenerator"]


class CandidateGenerator:
    """Fresh and mutated candidates of a space that satisfy a latency budget.

    Args:
        space: The search space.
        predictor: The target's latency predictor.
        budget_ms: Candidates above it are dropped (None: no budget, e.g. the soft
            objective, whose reward already charges latency).
        members: Code rows of the only networks candidates may be (None: the whole space).
    """

    def __init__(self, space: SearchSpace, predictor: TablePredictor,
                 budget_ms: float | None, *, members: Codes | None = None) -> None:
        self.space = space
        self.predictor = predictor
        self.budget_ms = budget_ms
        self.screen = ScreeningPredictor(space, predictor)
        self.codec: ParamCodec = self.screen.codec
        self._fastest: Codes | None = None
        self.members: Codes | None = None  # distinct, canonical, within the budget
        self._member_keys: list[bytes] = []
        self._member_set: set[bytes] = set()
        if members is not None:
            canon = self.codec.canonical(np.asarray(members, dtype=np.int64))
            _, first = np.unique(canon, axis=0, return_index=True)
            rows = canon[np.sort(first)]
            self.members = rows[self.feasible(rows)]
            self._member_keys = self.keys(self.members)
            self._member_set = set(self._member_keys)

    @classmethod
    def from_names(cls, space: str, target: str, budget_ms: float | None) -> CandidateGenerator:
        """Load the space and the target's table by name (as ``SearchConfig`` holds them)."""
        return cls(load_space(space), TablePredictor(resolve_target(target), space_hint=space),
                   budget_ms)

    # ------------------------------------------------------------ helpers
    def encode(self, params: Iterable[Mapping[str, Any]]) -> Codes:
        """Code rows of trial parameter sets."""
        return self.codec.encode_many(list(params))

    def keys(self, codes: Codes) -> list[bytes]:
        """A hashable identity per row (its canonical code: equal iff the same parameters)."""
        canon = np.ascontiguousarray(self.codec.canonical(codes))
        return [row.tobytes() for row in canon]

    def feasible(self, codes: Codes) -> npt.NDArray[np.bool_]:
        """Rows whose predicted latency is within the budget (NaN, a missing key: never)."""
        latency = self.screen.predict_codes(codes)
        if self.budget_ms is None:
            return ~np.isnan(latency)
        return latency <= self.budget_ms

    def keep(self, codes: Codes, *, seen: set[bytes] | None = None) -> Codes:
        """The rows of ``codes`` within the budget, new to ``seen`` and distinct, in order."""
        ok = self.feasible(codes)
        out: list[int] = []
        taken = set(seen or ())
        for i, key in enumerate(self.keys(codes)):
            if self.members is not None and key not in self._member_set:
                continue
            if ok[i] and key not in taken:
                taken.add(key)
                out.append(i)
        return codes[out]

    # --------------------------------------------------------- candidates
    def fresh(self, rng: np.random.Generator, n: int, *, seen: set[bytes] | None = None,
              tries: int = 64) -> Codes:
        """Up to ``n`` uniformly random candidates within the budget (``n * tries`` draws).

        With members: up to ``n`` of the feasible members not in ``seen``, uniformly.
        """
        if self.members is not None:  # already screened: only the study's trials to skip
            taken = seen or set()
            order = [i for i in rng.permutation(len(self.members))
                     if self._member_keys[i] not in taken][:n]
            return self.members[order]
        return self.keep(self.codec.random(rng, n * tries), seen=seen)[:n]

    def mutants(self, parents: Codes, rng: np.random.Generator, per_parent: int, *,
                seen: set[bytes] | None = None) -> Codes:
        """One-choice mutations of each parent (``per_parent`` draws each), kept as :meth:`keep`.

        Rows come parent by parent, in draw order.
        """
        if not len(parents):
            return parents
        if self.members is not None:
            return self._nearest_members(parents, rng, per_parent, seen=seen)
        return self.keep(self.codec.mutate(np.repeat(parents, per_parent, axis=0), rng),
                         seen=seen)

    def _nearest_members(self, parents: Codes, rng: np.random.Generator, per_parent: int, *,
                         seen: set[bytes] | None) -> Codes:
        """Per parent, its ``per_parent`` nearest members by Hamming distance (ties: random)."""
        assert self.members is not None
        members = self.members
        taken = set(seen or ())
        out: list[Codes] = []
        for parent in self.codec.canonical(parents):
            distance = (members != parent).sum(axis=1) + rng.random(len(members)) * 0.5
            distance[distance < 1] = np.inf  # the parent itself
            picked = members[np.argsort(distance, kind="stable")[:per_parent + len(taken)]]
            kept = self.keep(picked, seen=taken)[:per_parent]
            taken.update(self.keys(kept))
            out.append(kept)
        return np.concatenate(out)

    def fastest(self) -> Codes:
        """The code row of the space's fastest architecture (always within a valid budget)."""
        if self._fastest is None:
            from mnas.search._budget import fastest_arch

            params = fastest_arch(self.space, self.predictor).params
            self._fastest = self.encode([params])
        return self._fastest

    def pool(self, rng: np.random.Generator, parents: Codes, *, mutants_per_parent: int,
             n_fresh: int, seen: set[bytes] | None = None, fresh_tries: int = 4) -> Codes:
        """Mutations of ``parents`` plus ``n_fresh`` fresh samples, all within the budget.

        What a predictor-guided sampler scores (White et al., "BANANAS", AAAI 2021,
        mutate the best architectures so far; fresh samples keep it exploring).
        """
        mutated = self.mutants(parents, rng, mutants_per_parent, seen=seen)
        taken = set(seen or ()) | set(self.keys(mutated))
        fresh = self.fresh(rng, n_fresh, seen=taken, tries=fresh_tries)
        return np.concatenate([mutated, fresh]) if len(fresh) else mutated
