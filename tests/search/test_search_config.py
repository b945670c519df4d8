"""SearchConfig: validation, JSON round trip, default run names."""

from __future__ import annotations

import json

import pytest

from mnas.errors import MnasInputError
from mnas.search import SearchConfig, default_run_name


def test_round_trip() -> None:
    config = SearchConfig(target="pixel4", budget_ms=20.0, proxy="flops", seed=3,
                          extra={"command": "mnas search"})
    again = SearchConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


@pytest.mark.parametrize("field,value", [("objective", "medium"), ("sampler", "grid"),
                                         ("trials", 0), ("top_k", 0), ("seed", -1),
                                         ("name", "../escape"), ("timeout_s", -1.0)])
def test_bad_values_name_the_field(field: str, value: object) -> None:
    with pytest.raises(MnasInputError, match=field.split("_")[0]):
        SearchConfig(target="pixel4", budget_ms=20.0, **{field: value})


def test_unknown_fields_refused() -> None:
    data = SearchConfig(target="pixel4", budget_ms=20.0).to_dict()
    data["budgte"] = 3
    with pytest.raises(MnasInputError, match="budgte"):
        SearchConfig.from_dict(data)


def test_default_names() -> None:
    base = dict(target="pixel4", budget_ms=20.0, proxy="zen")
    name = default_run_name(SearchConfig(**base), default_space="mobilenetv3",
                            default_proxy="zen")
    assert name == "pixel4-20ms"
    other = SearchConfig(**{**base, "space": "mobilenetv2", "seed": 2, "pareto": True,
                            "sampler": "nsga2"})
    assert default_run_name(other, default_space="mobilenetv3",
                            default_proxy="zen") == "pixel4-20ms-mobilenetv2-pareto-seed2"
