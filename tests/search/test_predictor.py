"""``--sampler predictor``: seeded, rebuilt from the study, inside the budget, and it learns."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from mnas.cli import main
from mnas.errors import MnasInputError
from mnas.search import (
    SearchConfig,
    make_sampler,
)
from mnas.search._samplers import CandidateGenerator, PredictorSampler, one_hot
from mnas.spaces import load_space

optuna.logging.set_verbosity(optuna.logging.WARNING)

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import run_trials, setup_search, tiny_space, trial_params  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MACRO_JSON = REPO.parent / "shared" / "data" / "nas_bench_macro" / "nas-bench-macro_cifar10.json"
needs_macro = pytest.mark.skipif(not MACRO_JSON.is_file(),
                                 reason="needs ../shared/data/nas_bench_macro")


def _predictor(config: SearchConfig, gen: CandidateGenerator | None, **kw: Any
               ) -> PredictorSampler:
    return PredictorSampler(space=config.space, target=config.target, budget_ms=config.budget_ms,
                            seed=config.seed, generator=gen, **kw)


def _best(study: optuna.Study, upto: int | None = None) -> float:
    return max(t.values[0] for t in study.get_trials(deepcopy=False)[:upto]
               if t.values and t.user_attrs["feasible"])


def test_one_hot_features_are_the_network_not_the_parameter_spelling() -> None:
    space = load_space("nas-bench-macro")
    gen_codec = CandidateGenerator(space, setup_search("nas-bench-macro", 5.0)[2], None).codec
    # layers 2-3 of stage 3: (identity, k3_e3) and (k3_e3, identity) build the same network
    a = gen_codec.encode_many([{**{n: "k5_e6" for n in gen_codec.names},
                                "s3_b2_op": "identity", "s3_b3_op": "k3_e3"}])
    b = gen_codec.encode_many([{**{n: "k5_e6" for n in gen_codec.names},
                                "s3_b2_op": "k3_e3", "s3_b3_op": "identity"}])
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(one_hot(gen_codec, a), one_hot(gen_codec, b))
    x = one_hot(gen_codec, gen_codec.random(np.random.default_rng(0), 50))
    assert x.shape == (50, 24) and np.all(x.sum(axis=1) == 8)


def test_predictor_is_seeded_and_rebuilt_from_the_study(tmp_path: Path) -> None:
    config, space, predictor, gen = setup_search(tiny_space(tmp_path), 40.0)
    kw: dict[str, Any] = {"n_initial": 6, "prior": "flops"}
    whole = trial_params(run_trials(config, space, predictor, _predictor(config, gen, **kw), 20))
    assert whole == trial_params(run_trials(config, space, predictor, _predictor(config, gen, **kw), 20))
    other = config.replace(seed=1)
    assert whole != trial_params(run_trials(other, space, predictor, _predictor(other, gen, **kw), 20))
    # stopped after 11 trials; a new process (new sampler, study replayed) runs the rest
    first = run_trials(config, space, predictor, _predictor(config, gen, **kw), 11)
    sampler = pickle.loads(pickle.dumps(_predictor(config, None, **kw)))
    resumed = optuna.create_study(direction="maximize", sampler=sampler)
    resumed.add_trials(first.get_trials())
    run_trials(config, space, predictor, resumed.sampler, 9, study=resumed)
    assert trial_params(resumed) == whole
    assert len({tuple(sorted(p.items())) for p in whole}) == len(whole)  # no repeats


@pytest.fixture(scope="module")
def mobilenetv3_runs() -> dict[str, Any]:
    """Random vs predictor (no prior: its first 10 trials are random too) on mobilenetv3,
    pixel4, 15 ms, maximising the FLOPs proxy, 40 trials, seeds 0-2."""
    config, space, predictor, gen = setup_search("mobilenetv3", 15.0)
    out: dict[str, Any] = {"space": space, "predictor": predictor, "random": [],
                           "predictor_runs": [], "prior_runs": []}
    for seed in range(3):
        cfg = config.replace(seed=seed)
        out["random"].append(run_trials(cfg, space, predictor,
                                  make_sampler(cfg.replace(sampler="random")), 40))
        out["predictor_runs"].append(run_trials(cfg, space, predictor,
                                          _predictor(cfg, gen, prior="none"), 40))
        out["prior_runs"].append(run_trials(cfg, space, predictor,
                                      _predictor(cfg, gen, prior="params"), 10))
    return out


def test_predictor_learns_from_finished_trials(mobilenetv3_runs: dict[str, Any]) -> None:
    random_best = [_best(s) for s in mobilenetv3_runs["random"]]
    learned = [_best(s) for s in mobilenetv3_runs["predictor_runs"]]
    assert all(p > r for p, r in zip(learned, random_best, strict=True)), (random_best, learned)
    # the surrogate's picks (trials 10-39) beat its random first ten on every seed
    assert all(_best(s) > _best(s, 10) for s in mobilenetv3_runs["predictor_runs"])


def test_first_trials_follow_the_prior(mobilenetv3_runs: dict[str, Any]) -> None:
    """A prior (here the parameter count, which tracks FLOPs) makes the first ten trials
    better than random ones."""
    for informed, blind in zip(mobilenetv3_runs["prior_runs"], mobilenetv3_runs["random"],
                               strict=True):
        assert np.mean([t.values[0] for t in informed.trials]) > np.mean(
            [t.values[0] for t in blind.trials[:10] if t.values and t.user_attrs["feasible"]])


def test_predictor_stays_in_space_and_budget(mobilenetv3_runs: dict[str, Any]) -> None:
    space, predictor = mobilenetv3_runs["space"], mobilenetv3_runs["predictor"]
    for study in mobilenetv3_runs["predictor_runs"]:
        for t in study.get_trials(deepcopy=False):
            assert predictor.predict_ms(space.replay(t.params)) <= 15.0
            assert t.user_attrs["feasible"] and "duplicate_of" not in t.user_attrs


def test_predictor_refuses_pareto_and_bad_settings() -> None:
    with pytest.raises(MnasInputError, match="single-objective"):
        SearchConfig(target="pixel4", budget_ms=20, pareto=True, sampler="predictor")
    with pytest.raises(ValueError, match="acquisition"):
        PredictorSampler(space="mobilenetv3", target="pixel4", budget_ms=20, acquisition="ei")
    stored = SearchConfig(target="pixel4", budget_ms=20, sampler="predictor", prior="none")
    assert stored.identity()["prior"] == "none"
    assert SearchConfig.from_dict(stored.to_dict()) == stored


@pytest.mark.slow  # ~20-45 s: writes 3,969 arch files and reads them back
@needs_macro
def test_cli_search_on_nas_bench_macro_labels_then_score_the_best(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The tabular-benchmark workflow: every network labelled (arch files with truth), a
    predictor search of 50 trials under the median budget, and the best's true accuracy."""
    labels = tmp_path / "labels"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "search_efficiency.py"),
                    "--write-labels", str(labels)], check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL)
    truth = {}
    for path in labels.glob("*.json"):
        data = json.loads(path.read_text())
        truth[tuple(tuple(b) for b in data["blocks"])] = data["truth"]["accuracy"]
    assert len(truth) == 3969
    args = ["search", "--space", "nas-bench-macro", "--target", "pixel4", "--budget", "4ms",
            "--proxy", f"labels:{labels}", "--sampler", "predictor", "--prior", "imagenet-arch",
            "--trials", "50", "--seed", "3", "--runs-dir", str(tmp_path / "runs"),
            "--name", "macro", "--no-progress", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    best = tmp_path / "runs" / "macro" / "best" / "arch.json"
    assert main(["score", "--arch", str(best), "--proxy", f"labels:{labels}", "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    record = scored[0] if isinstance(scored, list) else scored
    blocks = tuple(tuple(b) for b in json.loads(best.read_text())["blocks"])
    assert record["score"] == pytest.approx(truth[blocks])
    assert result["best"]["score"] == pytest.approx(truth[blocks])
    # 50 trials within 4 ms: the best is in the top 2% of the feasible networks
    assert float(result["best"]["latency_ms"]) <= 4.0
    from mnas.accuracy import load_labels
    from mnas.latency import TablePredictor, resolve_target

    predictor = TablePredictor(resolve_target("pixel4"), space_hint="nas-bench-macro")
    feasible = sorted((i.accuracy for i in load_labels(labels).items
                       if predictor.predict_ms(i.arch) <= 4.0), reverse=True)
    assert truth[blocks] >= feasible[len(feasible) // 50]


def test_a_generator_restricted_to_members_proposes_only_members() -> None:
    """A tabular benchmark's labelled networks as the only candidates: fresh samples are
    members, and a parent's "mutants" are its nearest members (fewest differing choices)."""
    _config, space, predictor, gen = setup_search("mobilenetv3", 15.0)
    rng = np.random.default_rng(4)
    members = gen.fresh(rng, 60)
    restricted = CandidateGenerator(space, predictor, 15.0, members=members)
    keys = set(gen.keys(members))
    fresh = restricted.fresh(rng, 20)
    assert len(fresh) == 20 and set(restricted.keys(fresh)) <= keys
    parent = members[:1]
    near = restricted.mutants(parent, rng, 5)
    assert len(near) == 5 and set(restricted.keys(near)) <= keys - set(gen.keys(parent))
    canon = restricted.codec.canonical(members)
    distance = sorted(int((row != canon[0]).sum()) for row in canon[1:])
    picked = sorted(int((row != canon[0]).sum()) for row in restricted.codec.canonical(near))
    assert picked == distance[:5]


def test_a_prior_with_a_spread_is_read_as_ucb() -> None:
    """The default estimate's spread is wide where no label varies a choice; the prior's
    ranking of the first pools counts it as UCB does (mean + kappa x spread)."""
    from mnas.accuracy import resolve_estimator

    config, _, _, gen = setup_search("mobilenetv3", 15.0)
    default = resolve_estimator("default")
    sampler = _predictor(config, gen, prior=default, kappa=2.0)
    pool = gen.fresh(np.random.default_rng(0), 16)
    archs = [gen.space.replay(gen.codec.decode(row)) for row in pool]
    expected = [m + 2.0 * s for m, s in map(default.score_with_spread, archs)]
    assert sampler.prior_scores(pool) == pytest.approx(expected, rel=1e-12)
    assert not np.allclose(expected, [default.score(a) for a in archs])
