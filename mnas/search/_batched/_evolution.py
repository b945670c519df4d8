"""Batched evolution: the search algorithm of ``mnas search`` when the estimate is analytic.

Candidates are code rows (:class:`mnas.spaces.ParamCodec`), screened by the exact
vectorised latency before anything is scored, and never evaluated twice.

The width multiplier and the input resolution decide most of a network's latency, so
networks of different (width, resolution) compete for the budget on different terms and
sit in separate basins: no small change leads from a good 176 px network to a better
160 px one. The search keeps one **island** per (width, resolution) whose fastest network
fits the budget (:func:`mnas.search.fastest_by_shape`), each with its own elite, and
spends more of each batch on the islands whose best is higher (half on the leader, a
half of the rest on the next, ..., mixed with an even share), so that none is dropped
on the strength of its first samples. Inside an island a batch mixes

* **local moves** around the island's best: every new one-choice neighbour of it that
  fits the budget (:meth:`~mnas.spaces.ParamCodec.neighbours`; around the overall best
  these may change width or resolution), then random two- and three-choice moves (under
  a tight budget the better networks are trades: one block up, another down);
* **children of its elite** (its best ``elite`` distinct networks): a uniform crossover of
  two elite parents, or a mutation of one in 1 to ``max_moves`` choices (Real et al.,
  "Regularized Evolution for Image Classifier Architecture Search", AAAI 2019;
  once-for-all's evolution, Cai et al., ICLR 2020, mixes mutation and crossover the same
  way, but re-scores repeats and redraws its children one at a time);
* a few **fresh** uniform samples.

An island starts from fresh samples and its fastest network (always within the budget).

State: :meth:`BatchedEvolution.observe` is the only method that changes it, and
:meth:`~BatchedEvolution.propose` draws from a generator seeded by ``(seed, batch
number)``, so a search resumed from its recorded batches (observed again in order)
proposes exactly what an uninterrupted one would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mnas.search._samplers._candidates import CandidateGenerator
from mnas.spaces import Codes

__all__ = ["BatchSettings", "BatchedEvolution"]

#: What a proposal is chosen from: a cap and parts ``(candidates in order, limit)``.
_Group = tuple[int, list[tuple[Codes, int]]]


@dataclass(frozen=True, kw_only=True)
class BatchSettings:
    """Settings of :class:`BatchedEvolution` (defaults measured in
    ``benchmarks/RESULTS-search-vs-evolution.md``).

    Attributes:
        batch_size: Candidates evaluated per batch at first.
        max_batch: Most candidates per batch.
        growth: Later batches hold the evaluations so far divided by this (see
            :meth:`BatchedEvolution.batch_size`).
        elite: Distinct networks per island that children are bred from.
        crossover: Share of the children that are crossovers of two elite parents.
        max_moves: Most choices one mutation changes (1 + a geometric draw, capped).
        local_share: Share of an island's part of a batch spent on moves around its best.
        fresh_share: Share of an island's part of a batch drawn uniformly at random.
        even_share: Share of a batch spread evenly over the islands (the rest goes by rank).
        draws: Candidates drawn per wanted one (the budget screen drops the rest).
        rounds: Rounds of children per batch: an island still short of its share after a
            round gets children one move further from their parents in the next.
    """

    batch_size: int = 256
    max_batch: int = 2048
    growth: int = 16
    elite: int = 32
    crossover: float = 0.5
    max_moves: int = 4
    local_share: float = 0.25
    fresh_share: float = 0.05
    even_share: float = 0.25
    draws: int = 4
    rounds: int = 3

    def __post_init__(self) -> None:
        if min(self.batch_size, self.max_batch, self.growth, self.elite, self.max_moves,
               self.draws, self.rounds) < 1:
            raise ValueError(f"batch sizes, growth, elite, max_moves and draws must be >= 1: "
                             f"{self}")
        for name in ("crossover", "local_share", "fresh_share", "even_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")


@dataclass
class _Island:
    """One (width, resolution): its fastest network, elite and best."""

    fastest: Codes
    elite: Codes
    fitness: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    best: float = -math.inf
    evaluated: int = 0


class BatchedEvolution:
    """Proposes batches of new candidates within a latency budget; learns from their fitness.

    Args:
        generator: Screens candidates against the budget (and the space's members).
        seed: The run's seed.
        fastest: Code row of the fastest network of each (width, resolution) that fits the
            budget (default: the generator's overall fastest only, one island).
        settings: The algorithm's settings.
    """

    def __init__(self, generator: CandidateGenerator, *, seed: int,
                 fastest: Mapping[tuple[int, int], Codes] | None = None,
                 settings: BatchSettings | None = None) -> None:
        self.generator = generator
        self.codec = generator.codec
        self.seed = seed
        self.settings = settings or BatchSettings()
        codec = self.codec
        self._shape_cols = [c for c in (codec.width_col, codec.resolution_col) if c is not None]
        if fastest is None:
            row = generator.fastest()[0]
            fastest = {self._shape_of(row): row[None]}
        empty = np.zeros((0, codec.width), dtype=np.int64)
        self.islands = {key: _Island(fastest=np.asarray(row, dtype=np.int64).reshape(1, -1),
                                     elite=empty) for key, row in sorted(fastest.items())}
        self.seen: set[bytes] = set()
        self.best_code: Codes | None = None
        self.best = -math.inf
        self.evaluated = 0  #: candidates observed
        self.batches = 0  #: batches observed

    def _shape_of(self, row: Codes) -> tuple[int, int]:
        codec = self.codec
        w = int(row[codec.width_col]) if codec.width_col is not None else 0
        r = int(row[codec.resolution_col]) if codec.resolution_col is not None else 0
        return w, r

    def _shapes(self, codes: Codes) -> npt.NDArray[np.int64]:
        codec = self.codec
        w = codes[:, codec.width_col] if codec.width_col is not None else 0
        r = codes[:, codec.resolution_col] if codec.resolution_col is not None else 0
        return np.asarray(w * 1_000_003 + r, dtype=np.int64) * np.ones(len(codes), np.int64)

    # ------------------------------------------------------------------ state
    def observe(self, codes: Codes, fitness: npt.NDArray[np.float64]) -> None:
        """Take in an evaluated batch (rows and fitness, higher is better; NaN: worst)."""
        codes = np.asarray(codes, dtype=np.int64)
        fit = np.where(np.isnan(fitness), -math.inf, np.asarray(fitness, dtype=np.float64))
        self.seen.update(self.generator.keys(codes))
        self.evaluated += len(codes)
        self.batches += 1
        if not len(codes):
            return
        i = int(np.argmax(fit))
        if fit[i] > self.best:
            self.best, self.best_code = float(fit[i]), codes[i].copy()
        shapes = self._shapes(codes)
        for (w, r), island in self.islands.items():
            mine = shapes == w * 1_000_003 + r
            if not mine.any():
                continue
            merged = np.concatenate([island.elite, codes[mine]])
            merged_fit = np.concatenate([island.fitness, fit[mine]])
            order = np.argsort(-merged_fit, kind="stable")[:self.settings.elite]
            order = order[np.isfinite(merged_fit[order])]
            island.elite, island.fitness = merged[order], merged_fit[order]
            island.evaluated += int(mine.sum())
            if len(island.fitness):
                island.best = max(island.best, float(island.fitness[0]))

    # -------------------------------------------------------------- proposals
    def _select(self, groups: list[_Group], n: int, taken: set[bytes] | None = None
                ) -> tuple[Codes, list[int]]:
        """Up to ``n`` rows from ``groups`` (each at most its cap, each part at most its
        limit, in order) that fit the budget and are new to the search, to ``taken``
        (updated) and to one another; and how many each group gave.

        All candidates are screened and keyed in one vectorised pass."""
        taken = set() if taken is None else taken
        parts = [codes for _, group in groups for codes, _ in group]
        if not parts:
            return np.zeros((0, self.codec.width), dtype=np.int64), [0] * len(groups)
        codes = np.concatenate(parts)
        gen = self.generator
        ok = gen.feasible(codes)
        feasible = np.flatnonzero(ok)
        keys: list[bytes | None] = [None] * len(codes)
        for row, found in zip(feasible, gen.keys(codes[feasible]), strict=True):
            keys[int(row)] = found
        members = gen._member_set if gen.members is not None else None
        seen = self.seen
        keep: list[int] = []
        given: list[int] = []
        start = 0
        for cap, group in groups:
            in_group = 0
            for part, limit in group:
                got = 0
                for i in range(start, start + len(part)):
                    if got >= limit or in_group >= cap or len(keep) >= n:
                        break
                    key = keys[i]
                    if key is None or key in seen or key in taken or (
                            members is not None and key not in members):
                        continue
                    taken.add(key)
                    keep.append(i)
                    got += 1
                    in_group += 1
                start += len(part)
            given.append(in_group)
        return codes[keep], given

    def _moves(self, parents: Codes, rng: np.random.Generator, *, pinned: bool,
               extra: int = 0) -> Codes:
        """Each parent with ``1 + extra`` to ``max_moves + extra`` one-choice mutations
        (a geometric draw); with ``pinned`` the width and resolution stay."""
        fixed = self._shape_cols if pinned else ()
        k = extra + np.minimum(rng.geometric(0.5, size=len(parents)), self.settings.max_moves)
        out = parents.copy()
        for step in range(int(k.max(initial=0))):
            sel = k > step
            out[sel] = self.codec.mutate(out[sel], rng, fixed=fixed)
        return out

    def _pin(self, codes: Codes, key: tuple[int, int]) -> Codes:
        codec = self.codec
        if codec.width_col is not None:
            codes[:, codec.width_col] = key[0]
        if codec.resolution_col is not None:
            codes[:, codec.resolution_col] = key[1]
        return codes

    def _shares(self, n: int) -> dict[tuple[int, int], int]:
        """Candidates per island: an even part, the rest halving down the ranks by best."""
        keys = list(self.islands)
        ranked = sorted(keys, key=lambda k: -self.islands[k].best)
        weight = {k: 0.5 ** rank for rank, k in enumerate(ranked)}
        total = sum(weight.values())
        even = self.settings.even_share
        share = {k: even / len(keys) + (1 - even) * weight[k] / total for k in keys}
        counts = {k: int(n * share[k]) for k in keys}
        for k in ranked[:n - sum(counts.values())]:  # the remainder to the leaders
            counts[k] += 1
        return counts

    def batch_size(self) -> int:
        """Candidates to propose next: ``batch_size`` at first, then growing with the
        evaluations so far (``evaluated / growth``, at most ``max_batch``): early batches
        are small so that the elite improves often, later ones large so that the fixed cost
        of a batch is spread over more candidates."""
        s = self.settings
        return max(s.batch_size, min(s.max_batch, self.evaluated // s.growth))

    def propose(self, batch: int, n: int) -> Codes:
        """Up to ``n`` new candidates within the budget for batch number ``batch``.

        Every island's candidates are drawn in one vectorised pass (moves, crossovers and
        fresh samples of all islands at once), then screened and chosen in one more."""
        s = self.settings
        codec = self.codec
        rng = np.random.default_rng([self.seed, batch])
        groups: list[_Group] = []
        around = 0
        if self.best_code is not None and s.local_share > 0:  # the overall best's neighbours
            around = int(n * s.local_share / 2)
            groups.append((around, [(codec.neighbours(self.best_code), around)]))
        shares = {k: v for k, v in self._shares(n - around).items() if v > 0}
        grown = [k for k in shares if len(self.islands[k].elite)]
        new = [k for k in shares if not len(self.islands[k].elite)]
        plans: dict[tuple[int, int], list[tuple[Codes, int]]] = {k: [] for k in shares}
        if new:  # a new island: its fastest network, fresh samples and moves away from it
            want = [shares[k] for k in new]
            fresh = self._per_island(new, [w * s.draws * 4 for w in want],
                                     lambda m: self._fresh(rng, m))
            start = np.concatenate([np.repeat(self.islands[k].fastest, w * s.draws, axis=0)
                                    for k, w in zip(new, want, strict=True)])
            moved = self._moves(start, rng, pinned=True)
            at = 0
            for k, w, f in zip(new, want, fresh, strict=True):
                plans[k] = [(self.islands[k].fastest, 1), (f, w),
                            (moved[at:at + w * s.draws], w)]
                at += w * s.draws
        if grown:
            local = [int(shares[k] * s.local_share) for k in grown]
            fresh_n = [int(shares[k] * s.fresh_share) for k in grown]
            child_n = [shares[k] - f for k, f in zip(grown, fresh_n, strict=True)]
            best = [self.islands[k].elite[:1] for k in grown]
            # two- and three-choice moves around each island's best
            near = np.concatenate([np.repeat(b, 2 * m, axis=0)
                                   for b, m in zip(best, local, strict=True)])
            pinned = self._shape_cols
            twice = codec.mutate(codec.mutate(near, rng, fixed=pinned), rng, fixed=pinned)
            thrice = codec.mutate(twice, rng, fixed=pinned)
            children = self._children(grown, [max(1, c) * s.draws for c in child_n], rng)
            fresh = self._per_island(grown, [f * 16 for f in fresh_n],
                                     lambda m: self._fresh(rng, m))
            at_near = 0
            for i, k in enumerate(grown):
                moves = np.concatenate([twice[at_near:at_near + 2 * local[i]],
                                        thrice[at_near:at_near + local[i]]])
                at_near += 2 * local[i]
                kids = children[i]
                plan: list[tuple[Codes, int]] = []
                if local[i]:
                    plan.append((np.concatenate([codec.neighbours(best[i][0]), moves]),
                                 local[i]))
                plan.append((kids, child_n[i]))
                if fresh_n[i]:
                    plan.append((fresh[i], fresh_n[i]))
                plans[k] = plan
        groups += [(shares[k], plans[k]) for k in shares]
        taken: set[bytes] = set()
        out, given = self._select(groups, n, taken)
        chosen = [out]
        # Islands short of their share (children that repeat what was evaluated, or go
        # over the budget): more children, each a move further from its parents.
        short = {k: shares[k] - g for k, g in zip(shares, given[len(groups) - len(shares):],
                                                   strict=True)
                 if g < shares[k] and len(self.islands[k].elite)}
        for extra in range(1, s.rounds):
            if not short:
                break
            keys = list(short)
            further = self._children(keys, [short[k] * s.draws * 2 for k in keys], rng,
                                     extra=extra)
            more, got = self._select([(short[k], [(c, short[k])])
                                      for k, c in zip(keys, further, strict=True)],
                                     sum(short.values()), taken)
            chosen.append(more)
            short = {k: short[k] - g for k, g in zip(keys, got, strict=True) if g < short[k]}
        out = np.concatenate(chosen)
        return out if len(out) else self._fallback(n)

    def _children(self, keys: list[tuple[int, int]], sizes: list[int],
                  rng: np.random.Generator, *, extra: int = 0) -> list[Codes]:
        """``sizes[i]`` children of island ``keys[i]``'s elite: uniform crossovers of two
        elite parents (share ``crossover``) and parents with ``1 + extra`` or more moves."""
        s = self.settings
        a, b = (np.concatenate([self.islands[k].elite[rng.integers(
            len(self.islands[k].elite), size=m)] for k, m in zip(keys, sizes, strict=True)])
            for _ in range(2))
        cross = rng.random(len(a)) < s.crossover
        mixed = np.where(rng.random(a.shape) < 0.5, a, b)
        if extra:
            mixed = self._moves(mixed, rng, pinned=True, extra=extra - 1)
        children = np.where(cross[:, None], mixed, self._moves(a, rng, pinned=True, extra=extra))
        out, at = [], 0
        for m in sizes:
            out.append(children[at:at + m])
            at += m
        return out

    def _per_island(self, keys: list[tuple[int, int]], counts: list[int],
                    draw: Callable[[int], Codes]) -> list[Codes]:
        """``draw(sum(counts))`` split into one part per island, pinned to its width and
        resolution."""
        rows = draw(sum(counts))
        out, at = [], 0
        for key, m in zip(keys, counts, strict=True):
            out.append(self._pin(rows[at:at + m], key))
            at += m
        return out

    def _fresh(self, rng: np.random.Generator, n: int) -> Codes:
        gen = self.generator
        if gen.members is not None:
            return gen.fresh(rng, n, seen=self.seen)
        return self.codec.random(rng, n)

    def _fallback(self, n: int) -> Codes:
        """When a batch found nothing new: fresh samples (many draws), then the neighbours of
        every island's fastest network and elite (empty only when the networks within the
        budget are all evaluated, or nearly: a small space's last few)."""
        rng = np.random.default_rng([self.seed, self.batches, 1])
        rows = [self._fresh(rng, max(n, 64) * 256)]
        for island in self.islands.values():
            for center in (*island.fastest, *island.elite):
                rows += [center[None], self.codec.neighbours(center)]
        found = np.concatenate(rows)
        return self._select([(len(found), [(found, len(found))])], n)[0]
