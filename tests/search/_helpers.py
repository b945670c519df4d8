"""Small helpers shared by the search tests."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import optuna

from mnas.arch import Arch
from mnas.search import SearchConfig, SearchContext, make_proxy, objective, prepare
from mnas.search._samplers import CandidateGenerator

#: A two-stage space small enough for dozens of trials in seconds (shared with tests/faults).
TINY = (Path(__file__).resolve().parents[1] / "data" / "tiny_space.yaml").read_text()


def tiny_space(tmp_path: Path) -> str:
    """Write :data:`TINY` under ``tmp_path``; returns its path."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


def setup_search(space: str, budget: float, proxy: str = "flops"
                 ) -> tuple[SearchConfig, Any, Any, CandidateGenerator]:
    """(config, space, predictor, candidate generator) of a pixel4 search."""
    config, space_obj, predictor, _fastest = prepare(SearchConfig(
        target="pixel4", budget_ms=budget, space=space, proxy=proxy))
    return config, space_obj, predictor, CandidateGenerator(space_obj, predictor, budget)


def run_trials(config: SearchConfig, space: Any, predictor: Any,
               sampler: optuna.samplers.BaseSampler, trials: int,
               study: optuna.Study | None = None) -> optuna.Study:
    """``trials`` trials of the search objective, in memory (a new study unless given)."""
    context = SearchContext(config=config, predictor=predictor,
                            proxy=make_proxy(config.proxy, seed=config.seed))
    if study is None:
        study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(functools.partial(objective, space, config, context=context),
                   n_trials=trials)
    return study


def trial_params(study: optuna.Study) -> list[dict[str, Any]]:
    """Every trial's parameters, in order."""
    return [t.params for t in study.get_trials(deepcopy=False)]


class CountingProxy:
    """An analytic stand-in proxy that counts its calls (score = -latency-free MAC proxy)."""

    name = "counting"
    cost = "analytic"

    def __init__(self) -> None:
        self.calls = 0

    def score(self, arch: Arch) -> float:
        self.calls += 1
        return float(sum(b.mid_channels * b.kernel for b in arch.blocks) + arch.resolution)
