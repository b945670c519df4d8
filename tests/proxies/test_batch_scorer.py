"""Batch scorers (``AccuracyProxy.batch_scorer``): the ``params`` and ``flops`` counts of code
rows equal what ``score`` gives each architecture, on every shipped space they apply to."""

from __future__ import annotations

import numpy as np
import pytest

from mnas.proxies import AccuracyProxy, get_proxy, list_proxies, proxy_class
from mnas.proxies._count_scorer import unit_costs
from mnas.spaces import ParamCodec, UnitSums, decomposes, load_space

SPACES = ("mobilenetv3", "mobilenetv2", "mobilenetv1", "mnasnet", "ofa-mbv3", "accel-nasbench")


@pytest.mark.parametrize("space_name", SPACES)
@pytest.mark.parametrize("name", ["params", "flops"])
def test_counts_of_code_rows_equal_the_score_of_each_arch(space_name: str, name: str) -> None:
    space = load_space(space_name)
    codec = ParamCodec(space)
    codes = codec.random(np.random.default_rng(7), 150)
    proxy = get_proxy(name)
    scorer = proxy.batch_scorer(space)
    assert scorer is not None
    score, spread = scorer(codes)
    expected = [proxy.score(space.replay(codec.decode(row))) for row in codes]
    assert score.shape == spread.shape == (150,) and not spread.any()
    assert np.array_equal(score, np.asarray(expected))  # exact: integer sums, then log


def test_inactive_columns_do_not_change_a_score() -> None:
    space = load_space("mobilenetv3")
    codec = ParamCodec(space)
    codes = codec.random(np.random.default_rng(0), 200)
    scorer = get_proxy("flops").batch_scorer(space)
    assert scorer is not None
    canon = codec.canonical(codes)
    assert np.array_equal(scorer(codes)[0], scorer(canon)[0])


def test_no_batch_scorer_where_the_rows_cannot_be_vectorised() -> None:
    macro = load_space("nas-bench-macro")  # whole-layer op choices: no per-unit tables
    assert not decomposes(macro)
    assert get_proxy("flops").batch_scorer(macro) is None
    assert get_proxy("flops", resolution=96).batch_scorer(load_space("mobilenetv3")) is None
    with pytest.raises(ValueError, match="op choices"):
        UnitSums(macro, 2, unit_costs)


@pytest.mark.parametrize("name", list_proxies())
def test_every_proxy_answers_the_hook(name: str) -> None:
    """The hook is optional: every registered proxy returns a scorer or None."""
    cls = proxy_class(name)
    assert callable(getattr(cls, "batch_scorer", None))
    assert AccuracyProxy.batch_scorer(cls.__new__(cls), load_space("mobilenetv3")) is None


def test_unit_sums_are_the_arch_counts() -> None:
    from mnas.arch import arch_costs

    space = load_space("mobilenetv2")
    codec = ParamCodec(space)
    sums = UnitSums(space, 2, unit_costs, codec=codec)
    codes = codec.random(np.random.default_rng(3), 60)
    params, macs = sums.sums(codes)
    for row, p, m in zip(codes, params, macs, strict=True):
        costs = arch_costs(space.replay(codec.decode(row)))
        assert (p, m) == (costs.params, costs.macs)
    assert sums.probes > 0
