"""Batched evolution, its record and its scorer: proposals within the budget and never
repeated, islands per (width, resolution), determinism, the log's exact round trip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mnas.errors import MnasError, MnasInputError
from mnas.latency import TablePredictor, resolve_target
from mnas.proxies import get_proxy
from mnas.search._batched import (
    BatchedEvolution,
    BatchSettings,
    CodeScorer,
    EvaluationLog,
    decode_codes,
    encode_codes,
)
from mnas.search._budget import fastest_by_shape
from mnas.search._samplers import CandidateGenerator
from mnas.spaces import ParamCodec, load_space

BUDGET = 12.0


@pytest.fixture(scope="module")
def setup() -> tuple[CandidateGenerator, dict, object]:
    space = load_space("mobilenetv3")
    predictor = TablePredictor(resolve_target("pixel4"))
    gen = CandidateGenerator(space, predictor, BUDGET)
    fastest = {}
    for f in fastest_by_shape(space, predictor).values():
        if f.latency_ms <= BUDGET:
            row = gen.encode([f.params])[0]
            fastest[(int(row[gen.codec.width_col]), int(row[gen.codec.resolution_col]))] = row
    return gen, fastest, get_proxy("flops").batch_scorer(space)


def _run(gen: CandidateGenerator, fastest: dict, scorer: object, batches: int, seed: int = 0,
         **settings: object) -> tuple[BatchedEvolution, list[np.ndarray]]:
    algo = BatchedEvolution(gen, seed=seed, fastest=fastest,
                            settings=BatchSettings(**settings))  # type: ignore[arg-type]
    proposed = []
    for b in range(batches):
        codes = algo.propose(b, algo.batch_size())
        proposed.append(codes)
        algo.observe(codes, scorer(codes)[0])  # type: ignore[operator]
    return algo, proposed


def test_proposals_fit_the_budget_and_never_repeat(setup) -> None:
    gen, fastest, scorer = setup
    algo, proposed = _run(gen, fastest, scorer, 12)
    codes = np.concatenate(proposed)
    assert len(codes) == sum(len(p) for p in proposed) > 12 * 200
    assert (gen.screen.predict_codes(codes) <= BUDGET).all()
    assert len(set(gen.keys(codes))) == len(codes)
    assert algo.evaluated == len(codes) and len(algo.seen) == len(codes)
    assert algo.best == pytest.approx(float(scorer(codes)[0].max()))


def test_one_island_per_width_and_resolution_that_fits(setup) -> None:
    gen, fastest, scorer = setup
    assert len(fastest) == 12  # 3 widths x 4 resolutions: each fastest fits 12 ms
    tight = [f for f in fastest_by_shape(gen.space, gen.predictor).values()
             if f.latency_ms <= 3.5]
    assert 1 <= len(tight) < 12  # at 3.5 ms the wider or larger ones cannot fit at all
    algo, proposed = _run(gen, fastest, scorer, 3)
    codec = gen.codec
    shapes = {(int(r[codec.width_col]), int(r[codec.resolution_col]))
              for r in np.concatenate(proposed)}
    assert shapes == set(fastest)  # every island starts, none outside them
    assert all(island.evaluated > 0 for island in algo.islands.values())


def test_more_evaluations_find_better_networks(setup) -> None:
    gen, fastest, scorer = setup
    _, proposed = _run(gen, fastest, scorer, 30)
    best = [float(scorer(p)[0].max()) for p in proposed]
    assert max(best[15:]) > max(best[:3])
    random = gen.fresh(np.random.default_rng(0), 4000, tries=64)
    assert max(best) > float(scorer(random)[0].max())  # better than as many random ones


def test_proposals_are_a_function_of_seed_batch_and_record(setup) -> None:
    gen, fastest, scorer = setup
    first, proposed = _run(gen, fastest, scorer, 6, seed=3)
    again, _ = _run(gen, fastest, scorer, 6, seed=3)
    assert np.array_equal(first.propose(6, 300), again.propose(6, 300))
    # a new process that observed the same record proposes the same
    replay = BatchedEvolution(gen, seed=3, fastest=fastest)
    for codes in proposed:
        replay.observe(codes, scorer(codes)[0])
    assert np.array_equal(replay.propose(6, 300), first.propose(6, 300))
    other, _ = _run(gen, fastest, scorer, 6, seed=4)
    assert not np.array_equal(other.propose(6, 300), first.propose(6, 300))


def test_a_small_space_is_exhausted_then_proposals_stop(tmp_path: Path) -> None:
    yaml = (Path(__file__).resolve().parents[1] / "data" / "tiny_space.yaml").read_text()
    (tmp_path / "tiny.yaml").write_text(yaml)
    space = load_space(str(tmp_path / "tiny.yaml"))
    gen = CandidateGenerator(space, TablePredictor(resolve_target("pixel4")), None)
    scorer = get_proxy("params").batch_scorer(space)
    algo = BatchedEvolution(gen, seed=0)
    total = 0
    for b in range(200):
        codes = algo.propose(b, 64)
        if not len(codes):
            break
        algo.observe(codes, scorer(codes)[0])
        total += len(codes)
    assert total == space.size() and algo.propose(999, 64).shape == (0, gen.codec.width)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="crossover"):
        BatchSettings(crossover=1.5)
    with pytest.raises(ValueError, match=">= 1"):
        BatchSettings(elite=0)


def test_nan_fitness_is_never_an_elite(setup) -> None:
    gen, fastest, scorer = setup
    algo = BatchedEvolution(gen, seed=0, fastest=fastest)
    codes = algo.propose(0, 64)
    algo.observe(codes, np.full(len(codes), math.nan))
    assert algo.best == -math.inf
    assert all(not len(island.elite) for island in algo.islands.values())


# ------------------------------------------------------------------------ the record
def test_codes_round_trip_as_text() -> None:
    codec = ParamCodec(load_space("mobilenetv3"))
    codes = codec.random(np.random.default_rng(0), 50)
    text = encode_codes(codes)
    assert all(len(t) == codec.width for t in text)
    assert np.array_equal(decode_codes(text, codec.width), codes)
    with pytest.raises(ValueError, match="base-36"):
        decode_codes(["!" * codec.width], codec.width)


def test_the_log_round_trips_exactly_and_refuses_another_space(tmp_path: Path) -> None:
    codec = ParamCodec(load_space("mobilenetv3"))
    log = EvaluationLog(tmp_path / "evaluations.jsonl", codec)
    rng = np.random.default_rng(1)
    parts = []
    for b in range(3):
        codes = codec.random(rng, 5 + b)
        values = [rng.random(len(codes)) * 1e3 / 7 for _ in range(3)]
        log.append(b, codes, *values, seconds=0.25)
        parts.append((codes, *values))
    read = log.read()
    assert len(read) == 18 and read.batches == 3
    assert np.array_equal(read.codes, np.concatenate([p[0] for p in parts]))
    for i, name in enumerate(("score", "spread", "latency_ms"), start=1):
        assert np.array_equal(getattr(read, name), np.concatenate([p[i] for p in parts]))
    assert list(read.batch) == [0] * 5 + [1] * 6 + [2] * 7
    other = EvaluationLog(tmp_path / "evaluations.jsonl",
                          ParamCodec(load_space("mobilenetv2")))
    with pytest.raises(MnasInputError, match="another space"):
        other.read()
    header = json.loads((tmp_path / "evaluations.jsonl").read_text().splitlines()[0])
    assert header["format"] == "mnas-evaluations/1" and header["columns"] == list(codec.names)


# ------------------------------------------------------------------------ the scorer
def test_the_fallback_scores_as_score_many_and_bad_shapes_are_refused() -> None:
    space = load_space("mobilenetv3")
    codec = ParamCodec(space)
    codes = codec.random(np.random.default_rng(2), 20)
    # the former default (arch encoding) has no batch scorer: one Arch per row
    unbatched = __import__("mnas.accuracy", fromlist=["resolve_estimator"]).resolve_estimator(
        "imagenet-arch")
    scorer = CodeScorer(space, codec, unbatched)
    assert not scorer.vectorised
    score, spread = scorer(codes)
    archs = [space.replay(codec.decode(r)) for r in codes]
    assert np.allclose(score, [unbatched.score(a) for a in archs], rtol=1e-12)
    assert not spread.any()

    class Broken(type(get_proxy("flops"))):  # type: ignore[misc]
        def batch_scorer(self, space):
            return lambda codes: (np.zeros(len(codes) + 1), np.zeros(len(codes)))

    with pytest.raises(MnasError, match="shapes"):
        CodeScorer(space, codec, Broken())(codes)
