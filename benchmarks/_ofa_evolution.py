"""once-for-all's evolutionary search with its published settings, written anew for comparison.

The algorithm of once-for-all's ``EvolutionFinder`` (Cai et al., ICLR 2020;
``ofa/tutorial/evolution_finder.py``; read to match its settings, not copied), on its own
terms: a subnet is a spec ``{"ks": 20 kernels, "e": 20 expansions, "d": 5 depths, "r":
[resolution]}`` (block slots beyond a stage's depth keep values that matter only if a
mutation deepens it); its latency is the sum of the Note10 table's entries for its units,
looked up by once-for-all's key strings, as its ``LatencyTable`` does; its accuracy is the
predictor's, for a list of specs at once.

* Population 100 random subnets within the budget (a draw over the budget is drawn again).
* Each of 500 generations keeps the best 25 (parent ratio 0.25), then adds 50 mutants
  (mutation ratio 0.5) of random parents and 50 crossovers of two random parents, each
  drawn again until it fits the budget, and scores the 100 children at once: 100 + 500 x
  100 = 50,100 evaluations (children equal to an earlier subnet are scored again, as in
  once-for-all).
* A mutant resamples the resolution, each block's (kernel, expansion) and each stage's
  depth with probability 0.1 each (mutate_prob); a crossover takes every gene from either
  parent with equal probability.

Redraws are bounded (``max_redraws``; then the parent is kept), where once-for-all loops
until one fits. Randomness comes from one ``random.Random(seed)``.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = ["EvolutionResult", "OfaEvolution", "OfaLatency", "spec_features"]

Spec = dict[str, list[int]]
_WIDTHS = (32, 48, 96, 136, 192)
_STRIDES = (2, 2, 2, 1, 2)
_SE = (False, True, False, True, True)
_HSWISH = (False, False, True, True, True)
_KERNELS = (3, 5, 7)
_EXPANSIONS = (3, 4, 6)
_DEPTHS = (2, 3, 4)


class OfaLatency:
    """A subnet's Note10 latency as once-for-all computes it: its units' entries summed.

    Args:
        folder: Folder of ``{r}_lookup_table.yaml`` files.
        resolutions: The resolutions to load.
    """

    def __init__(self, folder: Path, resolutions: Sequence[int]) -> None:
        self.tables = {r: {k: float(v["mean"]) for k, v in yaml.safe_load(
            (folder / f"{r}_lookup_table.yaml").read_text(encoding="utf-8")).items()}
            for r in resolutions}

    def __call__(self, spec: Spec) -> float:
        size = spec["r"][0]
        table = self.tables[size]
        fsize = (size + 1) // 2
        total = table[f"Conv-input:{size}x{size}x3-output:{fsize}x{fsize}x24"]
        total += table[_block_key(fsize, 24, fsize, 24, 24, 3, 1, 1, False, False)]
        channels = 24
        for i in range(20):
            stage, b = divmod(i, 4)
            if b >= spec["d"][stage]:
                continue
            stride = _STRIDES[stage] if b == 0 else 1
            out_size = (fsize - 1) // stride + 1
            out = _WIDTHS[stage]
            total += table[_block_key(fsize, channels, out_size, out, round(channels * spec["e"][i]),
                                      spec["ks"][i], stride, int(b > 0), _SE[stage],
                                      _HSWISH[stage])]
            fsize, channels = out_size, out
        total += table[f"Conv_1-input:{fsize}x{fsize}x192-output:{fsize}x{fsize}x1152"]
        total += table[f"AvgPool2D-input:{fsize}x{fsize}x1152-output:1x1x1152"]
        total += table["Conv_2-input:1x1x1152-output:1x1x1536"]
        total += table["Logits-input:1x1x1536-output:1000"]
        return total


def _block_key(size: int, cin: int, out_size: int, cout: int, mid: int, kernel: int, stride: int,
               skip: int, se: bool, hswish: bool) -> str:
    return (f"expanded_conv-input:{size}x{size}x{cin}-output:{out_size}x{out_size}x{cout}"
            f"-expand:{mid}-kernel:{kernel}-stride:{stride}-idskip:{skip}-se:{int(se)}"
            f"-hs:{int(hswish)}")


def spec_features(spec: Spec) -> np.ndarray:
    """The accuracy predictor's 128 inputs of a spec (``shared/data/README.md``)."""
    out = np.zeros(128, dtype=np.float32)
    for i in range(20):
        if i % 4 < spec["d"][i // 4]:
            out[i * 3 + _KERNELS.index(spec["ks"][i])] = 1
            out[60 + i * 3 + _EXPANSIONS.index(spec["e"][i])] = 1
    out[120 + (spec["r"][0] - 112) // 16] = 1
    return out


@dataclass
class EvolutionResult:
    """What one run found and what it cost.

    Attributes:
        best: The best predicted accuracy (%).
        best_spec: Its spec.
        best_latency: Its latency (ms).
        evaluations: Accuracy predictions made.
        wall_s: Seconds from the first sample to the end.
        curve: ``(evaluations, best so far)`` after the initial population and each generation.
    """

    best: float
    best_spec: Spec
    best_latency: float
    evaluations: int
    wall_s: float
    curve: list[tuple[int, float]] = field(default_factory=list)


class OfaEvolution:
    """Regularized evolution with once-for-all's defaults.

    Args:
        latency: Latency of a spec (ms).
        accuracy: Predicted accuracy (%) of each row of a ``(n, 128)`` feature array.
        budget_ms: The latency constraint.
        resolutions: Resolution choices.
        population_size: 100.
        generations: 500 (``max_time_budget``).
        parent_ratio: 0.25.
        mutation_ratio: 0.5.
        mutate_prob: 0.1.
        max_redraws: Draws per sample before keeping the parent (or the fastest draw).
    """

    def __init__(self, *, latency: Callable[[Spec], float],
                 accuracy: Callable[[np.ndarray], np.ndarray], budget_ms: float,
                 resolutions: Sequence[int], population_size: int = 100,
                 generations: int = 500, parent_ratio: float = 0.25,
                 mutation_ratio: float = 0.5, mutate_prob: float = 0.1,
                 max_redraws: int = 1000) -> None:
        self.latency = latency
        self.accuracy = accuracy
        self.budget_ms = budget_ms
        self.resolutions = list(resolutions)
        self.population_size = population_size
        self.generations = generations
        self.parent_ratio = parent_ratio
        self.mutation_ratio = mutation_ratio
        self.mutate_prob = mutate_prob
        self.max_redraws = max_redraws

    # ----------------------------------------------------------------- samples
    def _random(self, rng: random.Random) -> Spec:
        return {"ks": [rng.choice(_KERNELS) for _ in range(20)],
                "e": [rng.choice(_EXPANSIONS) for _ in range(20)],
                "d": [rng.choice(_DEPTHS) for _ in range(5)],
                "r": [rng.choice(self.resolutions)]}

    def random_sample(self, rng: random.Random) -> tuple[Spec, float]:
        """A random spec within the budget."""
        best: tuple[Spec, float] | None = None
        for _ in range(self.max_redraws):
            spec = self._random(rng)
            lat = self.latency(spec)
            if lat <= self.budget_ms:
                return spec, lat
            if best is None or lat < best[1]:
                best = (spec, lat)
        assert best is not None
        return best

    def mutate(self, parent: Spec, rng: random.Random) -> tuple[Spec, float]:
        """A mutant of ``parent`` within the budget."""
        p = self.mutate_prob
        for _ in range(self.max_redraws):
            child = copy.deepcopy(parent)
            if rng.random() < p:
                child["r"][0] = rng.choice(self.resolutions)
            for i in range(20):
                if rng.random() < p:
                    child["ks"][i] = rng.choice(_KERNELS)
                    child["e"][i] = rng.choice(_EXPANSIONS)
            for s in range(5):
                if rng.random() < p:
                    child["d"][s] = rng.choice(_DEPTHS)
            lat = self.latency(child)
            if lat <= self.budget_ms:
                return child, lat
        return copy.deepcopy(parent), self.latency(parent)

    def crossover(self, a: Spec, b: Spec, rng: random.Random) -> tuple[Spec, float]:
        """A uniform crossover of ``a`` and ``b`` within the budget."""
        for _ in range(self.max_redraws):
            child = {key: [rng.choice((x, y)) for x, y in zip(a[key], b[key], strict=True)]
                     for key in a}
            lat = self.latency(child)
            if lat <= self.budget_ms:
                return child, lat
        return copy.deepcopy(a), self.latency(a)

    def _score(self, specs: list[Spec]) -> np.ndarray:
        return self.accuracy(np.stack([spec_features(s) for s in specs]))

    # --------------------------------------------------------------------- run
    def run(self, seed: int, *, wall_s: float | None = None,
            on_generation: Callable[[int, float], Any] | None = None) -> EvolutionResult:
        """One search; stops after ``generations`` or once ``wall_s`` seconds have passed
        (checked after every generation)."""
        rng = random.Random(seed)
        start = time.perf_counter()
        n_parents = int(round(self.parent_ratio * self.population_size))
        n_mutants = int(round(self.mutation_ratio * self.population_size))
        children = [self.random_sample(rng) for _ in range(self.population_size)]
        accs = self._score([c for c, _ in children])
        population = [(float(a), c, lat) for a, (c, lat) in zip(accs, children, strict=True)]
        evaluations = len(population)
        best = max(population, key=lambda t: t[0])
        curve = [(evaluations, best[0])]
        for _ in range(self.generations):
            if wall_s is not None and time.perf_counter() - start >= wall_s:
                break
            parents = sorted(population, key=lambda t: t[0], reverse=True)[:n_parents]
            if parents[0][0] > best[0]:
                best = parents[0]
            children = [self.mutate(parents[rng.randrange(n_parents)][1], rng)
                        for _ in range(n_mutants)]
            children += [self.crossover(parents[rng.randrange(n_parents)][1],
                                        parents[rng.randrange(n_parents)][1], rng)
                         for _ in range(self.population_size - n_mutants)]
            accs = self._score([c for c, _ in children])
            population = parents + [(float(a), c, lat)
                                    for a, (c, lat) in zip(accs, children, strict=True)]
            evaluations += len(children)
            top = max(population, key=lambda t: t[0])
            if top[0] > best[0]:
                best = top
            curve.append((evaluations, best[0]))
            if on_generation is not None:
                on_generation(evaluations, best[0])
        return EvolutionResult(best=best[0], best_spec=best[1], best_latency=best[2],
                               evaluations=evaluations, wall_s=time.perf_counter() - start,
                               curve=curve)
