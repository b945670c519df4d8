"""The objective: dedup, the hard constraint, the soft reward, Pareto values."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import optuna
import pytest

from mnas.search import SearchConfig, SearchContext, objective, soft_reward
from mnas.search._objective import evaluation_of
from mnas.spaces import load_space

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import CountingProxy

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _context(config: SearchConfig, proxy: object) -> SearchContext:
    from mnas.latency import TablePredictor, resolve_target

    return SearchContext(config=config, predictor=TablePredictor(resolve_target("pixel4")),
                         proxy=proxy)


def test_duplicate_architectures_are_not_rescored() -> None:
    space = load_space("mobilenetv3")
    config = SearchConfig(target="pixel4", budget_ms=20.0, proxy="counting")
    proxy = CountingProxy()
    context = _context(config, proxy)
    import random

    params = space.params_of(space.random_arch(random.Random(3)))
    study = optuna.create_study(direction="maximize")
    for _ in range(3):
        study.enqueue_trial(params)
    study.optimize(functools.partial(objective, space, config, context=context), n_trials=3)
    assert proxy.calls == 1
    first, *rest = study.trials
    for trial in rest:
        assert trial.user_attrs["duplicate_of"] == first.number
        assert trial.value == first.value
        assert trial.user_attrs["latency_ms"] == first.user_attrs["latency_ms"]
    # a resumed context remembers finished trials
    fresh = _context(config, CountingProxy())
    fresh.remember(study.trials)
    assert evaluation_of(first) is not None
    assert first.user_attrs["arch_hash"] in fresh.seen


def test_constraint_recorded_and_infeasible_not_best() -> None:
    space = load_space("mobilenetv3")
    config = SearchConfig(target="pixel4", budget_ms=8.0, proxy="counting")
    context = _context(config, CountingProxy())
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=1, n_startup_trials=5))
    study.optimize(functools.partial(objective, space, config, context=context), n_trials=25)
    for trial in study.trials:
        lat = trial.user_attrs["latency_ms"]
        assert trial.constraints == {"latency": pytest.approx(lat - 8.0)}
        assert trial.user_attrs["feasible"] == (lat <= 8.0)
    assert any(not t.user_attrs["feasible"] for t in study.trials)


def test_soft_reward_matches_mnasnet_eq2() -> None:
    assert soft_reward(0.75, 20.0, 20.0) == pytest.approx(0.75)
    assert soft_reward(0.75, 40.0, 20.0) == pytest.approx(0.75 * 2 ** -0.07)
    # a faster model gets the larger reward for negative (log-scale) scores too
    assert soft_reward(-3.0, 10.0, 20.0) > soft_reward(-3.0, 30.0, 20.0)
    assert soft_reward(3.0, 10.0, 20.0) > soft_reward(3.0, 30.0, 20.0)


def test_pareto_returns_score_and_latency() -> None:
    space = load_space("mobilenetv3")
    config = SearchConfig(target="pixel4", budget_ms=20.0, proxy="counting", pareto=True,
                          sampler="nsga2")
    context = _context(config, CountingProxy())
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.NSGAIISampler(seed=0))
    study.optimize(functools.partial(objective, space, config, context=context), n_trials=5)
    for trial in study.trials:
        assert trial.values[1] == trial.user_attrs["latency_ms"]
        assert trial.values[0] == trial.user_attrs["score"]


def test_pareto_front_keeps_only_non_dominated() -> None:
    from mnas.search import pareto_front

    points = [(10.0, 1.0, "a"), (12.0, 0.5, "dominated"), (15.0, 2.0, "b"), (9.0, 0.2, "c"),
              (15.0, 1.5, "same-latency-worse")]
    assert [p[2] for p in pareto_front(points)] == ["c", "a", "b"]


def test_zoo_scoring_past_its_deadline_is_finished_later(tmp_path: Path) -> None:
    from mnas.latency import TablePredictor, resolve_target
    from mnas.search._outputs import read_csv, write_zoo

    proxy = CountingProxy()
    proxy.cost = "forward"  # scored only when it fits, and subject to the deadline
    predictor = TablePredictor(resolve_target("pixel4"))
    write_zoo(tmp_path, predictor=predictor, proxy=proxy, budget_ms=20.0, deadline=0.0)
    rows = read_csv(tmp_path / "zoo.csv")
    assert proxy.calls == 0
    assert all(r["note"].startswith("not scored yet") for r in rows if r["fits"] == "True")
    write_zoo(tmp_path, predictor=predictor, proxy=proxy, budget_ms=20.0)
    rows = read_csv(tmp_path / "zoo.csv")
    fitting = [r for r in rows if r["fits"] == "True"]
    assert fitting and all(r["score"] for r in fitting) and proxy.calls == len(fitting)
    assert all(not r["score"] for r in rows if r["fits"] == "False")
