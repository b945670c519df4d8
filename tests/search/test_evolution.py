"""``--sampler evolution``: seeded, rebuilt from the study, inside the budget, better than random."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from mnas.cli import main
from mnas.errors import MnasInputError
from mnas.search import SearchConfig, make_sampler
from mnas.search._samplers import CandidateGenerator, EvolutionSampler
from mnas.spaces import load_space

optuna.logging.set_verbosity(optuna.logging.WARNING)

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import run_trials, setup_search, tiny_space, trial_params  # noqa: E402


def _evolution(config: SearchConfig, gen: CandidateGenerator, **kw: Any) -> EvolutionSampler:
    return EvolutionSampler(space=config.space, target=config.target,
                            budget_ms=config.budget_ms, seed=config.seed, generator=gen, **kw)


def test_evolution_is_seeded_and_rebuilt_from_the_study(tmp_path: Path) -> None:
    config, space, predictor, gen = setup_search(tiny_space(tmp_path), 40.0)
    kw = {"population_size": 8, "tournament_size": 3}
    whole = trial_params(run_trials(config, space, predictor, _evolution(config, gen, **kw), 24))
    assert whole == trial_params(run_trials(config, space, predictor, _evolution(config, gen, **kw), 24))
    other = config.replace(seed=1)
    assert whole != trial_params(run_trials(other, space, predictor, _evolution(other, gen, **kw), 24))
    # stopped after 15 trials; a new process (new sampler, study replayed) runs the rest
    first = run_trials(config, space, predictor, _evolution(config, gen, **kw), 15)
    resumed = optuna.create_study(direction="maximize",
                                  sampler=pickle.loads(pickle.dumps(_evolution(config, None,
                                                                               **kw))))
    resumed.add_trials(first.get_trials())
    run_trials(config, space, predictor, resumed.sampler, 9, study=resumed)
    assert trial_params(resumed) == whole
    assert len({tuple(sorted(p.items())) for p in whole}) == len(whole)  # no repeats


def _one_choice_apart(child: dict[str, Any], parent: dict[str, Any]) -> bool:
    moved = [k for k in child if k in parent and child[k] != parent[k]]
    extra = set(child) ^ set(parent)
    if len(moved) != 1:
        return False
    return not extra or moved[0].endswith("_depth")


@pytest.fixture(scope="module")
def comparison() -> dict[str, Any]:
    """Random vs evolution (population 10, tournament 3) on mobilenetv3, pixel4, 15 ms,
    maximising the FLOPs proxy, 40 trials, seeds 0-2 (a real objective: the hard budget
    makes the largest network that fits the best)."""
    config, space, predictor, gen = setup_search("mobilenetv3", 15.0)
    out: dict[str, Any] = {"space": space, "predictor": predictor, "random": [],
                           "evolution": []}
    for seed in range(3):
        cfg = config.replace(seed=seed)
        out["random"].append(run_trials(cfg, space, predictor,
                                  make_sampler(cfg.replace(sampler="random")), 40))
        out["evolution"].append(run_trials(cfg, space, predictor,
                                     _evolution(cfg, gen, population_size=10,
                                                tournament_size=3), 40))
    return out


def _best(study: optuna.Study) -> float:
    return max(t.values[0] for t in study.get_trials(deepcopy=False)
               if t.values and t.user_attrs["feasible"])


def test_evolution_beats_random_search(comparison: dict[str, Any]) -> None:
    random_best = [_best(s) for s in comparison["random"]]
    evolution_best = [_best(s) for s in comparison["evolution"]]
    assert all(e > r for e, r in zip(evolution_best, random_best, strict=True)), (
        random_best, evolution_best)


def test_evolution_stays_in_space_and_budget(comparison: dict[str, Any]) -> None:
    space, predictor = comparison["space"], comparison["predictor"]
    for study in comparison["evolution"]:
        trials = study.get_trials(deepcopy=False)
        for t in trials:
            latency = predictor.predict_ms(space.replay(t.params))  # raises if not in space
            assert latency <= 15.0 and t.user_attrs["feasible"]
        # after the initial population, each trial is a one-choice mutation of an earlier one
        mutated = sum(any(_one_choice_apart(t.params, e.params) for e in trials[:t.number])
                      for t in trials[10:])
        assert mutated == len(trials) - 10
    # random search under the same budget wastes trials on infeasible networks
    assert all(sum(not t.user_attrs["feasible"] for t in s.get_trials(deepcopy=False)) > 5
               for s in comparison["random"])


def test_mutants_stay_inside_a_tight_budget() -> None:
    space = load_space("mobilenetv3")
    _config, _space, predictor, gen = setup_search("mobilenetv3", 6.0)
    rng = np.random.default_rng(0)
    parents = gen.fresh(rng, 20)
    assert len(parents) == 20
    kids = gen.mutants(parents, rng, 16)
    raw = gen.codec.mutate(np.repeat(parents, 16, axis=0), rng)
    assert 0 < len(kids) < len(raw)  # the budget rejects some one-choice mutants
    for row in kids:
        assert predictor.predict_ms(space.replay(gen.codec.decode(row))) <= 6.0
    pool = gen.pool(rng, parents[:3], mutants_per_parent=8, n_fresh=10)
    assert len(set(gen.keys(pool))) == len(pool) >= 10


def test_evolution_refuses_pareto_and_a_changed_sampler(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(MnasInputError, match="single-objective"):
        SearchConfig(target="pixel4", budget_ms=20, pareto=True, sampler="evolution")
    assert main(["search", "--target", "pixel4", "--budget", "20ms", "--pareto", "--sampler",
                 "evolution", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nsga2" in err
    stored = SearchConfig(target="pixel4", budget_ms=20, sampler="evolution")
    assert stored.identity()["sampler"] == "evolution"
    assert SearchConfig.from_dict(stored.to_dict()) == stored


def test_ray_optuna_search_drives_evolution_and_restores_it(tmp_path: Path) -> None:
    """Ray Tune's OptunaSearch (as ``--backend ray`` builds it) asks the sampler; a searcher
    saved and restored mid-run (Tune's experiment checkpoint) continues exactly."""
    pytest.importorskip("ray.tune")
    from mnas.search._ray_searcher import (
        LATENCY_METRIC,
        OBJECTIVE_METRIC,
        SpaceFunction,
        searcher_class,
    )

    config, space, predictor, _gen = setup_search(tiny_space(tmp_path), 40.0)
    config = config.replace(sampler="evolution", seed=3)

    def searcher() -> Any:
        return searcher_class()(space_function=SpaceFunction(space), constrained=True,
                                 metric=OBJECTIVE_METRIC, mode="max",
                                 sampler=make_sampler(config))

    def drive(search: Any, start: int, n: int) -> list[dict[str, Any]]:
        out = []
        for i in range(start, start + n):
            search.suggest(f"t{i}")
            params = dict(search._ot_trials[f"t{i}"].params)
            arch = space.replay(params)
            latency = predictor.predict_ms(arch)
            score = float(sum(b.mid_channels for b in arch.blocks))
            search.on_trial_complete(f"t{i}", {OBJECTIVE_METRIC: score, LATENCY_METRIC: latency,
                                               "constraint": latency - 40.0, "score": score})
            out.append(params)
        return out

    whole = drive(searcher(), 0, 28)
    first = searcher()
    head = drive(first, 0, 22)
    first.save(str(tmp_path / "searcher.pkl"))
    restored = searcher()
    restored.restore(str(tmp_path / "searcher.pkl"))
    assert head + drive(restored, 22, 6) == whole
    assert len({tuple(sorted(p.items())) for p in whole}) == len(whole)


def test_evolution_searches_a_space_of_layer_operations() -> None:
    """NAS-Bench-Macro (``ops:`` choices, identity included): within the budget, and no
    network twice even where two parameter sets build the same one."""
    config, space, predictor, gen = setup_search("nas-bench-macro", 4.0)
    study = run_trials(config, space, predictor, _evolution(config, gen, population_size=8,
                                                      tournament_size=3), 30)
    nets = [space.replay(t.params).structure_key() for t in study.trials]
    assert len(set(nets)) == len(nets) == 30
    assert all(t.user_attrs["feasible"] for t in study.trials)
