"""Budget parsing and the exact fastest architecture of a space."""

from __future__ import annotations

import itertools
import random

import pytest

from mnas.errors import MnasInputError
from mnas.latency import TablePredictor, resolve_target
from mnas.search import SearchConfig, fastest_arch, parse_budget, prepare
from mnas.spaces import load_space


@pytest.mark.parametrize(("text", "ms"), [("20ms", 20.0), ("20", 20.0), ("0.02s", 20.0),
                                          (" 7.5 ms", 7.5), ("1e1ms", 10.0), (12, 12.0)])
def test_parse_budget(text: str, ms: float) -> None:
    assert parse_budget(text) == pytest.approx(ms)


@pytest.mark.parametrize("text", ["fast", "20 fps", "-5ms", "0", "", "20msec", "nan", "1e9s",
                                  True])
def test_parse_budget_rejects(text: object) -> None:
    with pytest.raises(MnasInputError, match="budget"):
        parse_budget(text)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def pixel4() -> TablePredictor:
    return TablePredictor(resolve_target("pixel4"))


def test_fastest_is_exact_by_brute_force(pixel4: TablePredictor) -> None:
    # mobilenetv1: 640 architectures, enumerated completely
    space = load_space("mobilenetv1")
    names = space.parameter_names()
    choices = {"width": space.widths, "resolution": space.resolutions}
    for s, stage in enumerate(space.stages, start=1):
        if len(stage.depth) > 1:
            choices[f"s{s}_depth"] = stage.depth
    assert set(choices) == set(names)
    best = min(pixel4.predict_ms(space.replay(dict(zip(choices, values, strict=True))))
               for values in itertools.product(*choices.values()))
    assert fastest_arch(space, pixel4).latency_ms == pytest.approx(best, rel=1e-12)


@pytest.mark.parametrize("name", ["mobilenetv3", "mnasnet"])
def test_fastest_lower_bounds_random_samples(pixel4: TablePredictor, name: str) -> None:
    space = load_space(name)
    fastest = fastest_arch(space, pixel4)
    rng = random.Random(0)
    sampled = min(pixel4.predict_ms(space.random_arch(rng)) for _ in range(100))
    assert fastest.latency_ms <= sampled
    assert pixel4.predict_ms(space.replay(fastest.params)) == pytest.approx(fastest.latency_ms)


def test_budget_below_fastest_is_an_error_naming_it(pixel4: TablePredictor) -> None:
    fastest = fastest_arch(load_space("mobilenetv3"), pixel4).latency_ms
    with pytest.raises(MnasInputError, match=rf"fastest .* {fastest:.2f} ms"):
        prepare(SearchConfig(target="pixel4", budget_ms=fastest * 0.9, proxy="flops"))
