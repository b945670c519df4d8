"""The fitted models' batch path: a model of a space's one-hot, and the default stages model,
score code rows in numpy exactly as ``score``; every model's ``score_many`` is one product
equal to ``score``."""

from __future__ import annotations

import random

import numpy as np
import pytest

from mnas.accuracy import resolve_estimator
from mnas.spaces import ParamCodec, load_space


@pytest.mark.parametrize("name", ["default", "accel-nasbench"])
def test_a_space_model_scores_code_rows_exactly(name: str) -> None:
    estimator = resolve_estimator(name)
    space = load_space("accel-nasbench")
    codec = ParamCodec(space)
    scorer = estimator.batch_scorer(space)
    assert scorer is not None
    codes = codec.random(np.random.default_rng(0), 200)
    score, spread = scorer(codes)
    for row, s, sd in zip(codes[:60], score, spread, strict=False):
        arch = space.replay(codec.decode(row))
        mean, std = estimator.score_with_spread(arch)
        assert s == pytest.approx(mean, rel=1e-9) and sd == pytest.approx(std, rel=1e-9)


@pytest.mark.parametrize("space_name", ["mobilenetv3", "mobilenetv2", "mnasnet", "ofa-mbv3",
                                        "mobilenetv1"])
@pytest.mark.parametrize("name", ["default", "imagenet"])
def test_the_stages_model_scores_code_rows_exactly(name: str, space_name: str) -> None:
    estimator = resolve_estimator(name)
    space = load_space(space_name)
    codec = ParamCodec(space)
    scorer = estimator.batch_scorer(space)
    assert scorer is not None
    codes = codec.random(np.random.default_rng(1), 300)
    score, spread = scorer(codes)
    archs = [space.replay(codec.decode(row)) for row in codes[:40]]
    for arch, s, sd in zip(archs, score, spread, strict=False):
        mean, std = estimator.score_with_spread(arch)
        assert s == pytest.approx(mean, rel=1e-9) and sd == pytest.approx(std, rel=1e-9)


def test_no_batch_scorer_for_another_space_or_an_arch_encoding() -> None:
    assert resolve_estimator("accel-nasbench").batch_scorer(load_space("mobilenetv3")) is None
    assert resolve_estimator("imagenet-arch").batch_scorer(load_space("accel-nasbench")) is None
    # whole-layer op choices do not decompose into units: scored Arch by Arch
    assert resolve_estimator("imagenet").batch_scorer(load_space("nas-bench-macro")) is None


@pytest.mark.parametrize("name", ["default", "imagenet-arch"])
def test_score_many_is_score(name: str) -> None:
    estimator = resolve_estimator(name)
    rng = random.Random(0)
    archs = [load_space(s).random_arch(rng) for s in ("mobilenetv3", "accel-nasbench")
             for _ in range(10)]
    assert estimator.score_many(archs) == pytest.approx([estimator.score(a) for a in archs],
                                                        rel=1e-12)
    assert estimator.score_many([]) == []
