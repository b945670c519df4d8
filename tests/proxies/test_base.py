from __future__ import annotations

import pytest

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.proxies import (
    DEFAULT_PROXY,
    AccuracyProxy,
    get_proxy,
    list_proxies,
    proxy_class,
    register_proxy,
)


def test_registry_lists_the_proxies() -> None:
    assert {"params", "flops", "zen", "naswot", "zico", "train", "zen-naswot"} <= set(
        list_proxies())
    assert DEFAULT_PROXY in list_proxies()
    assert not proxy_class(DEFAULT_PROXY).needs_data


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(MnasInputError, match="unknown accuracy proxy 'nope'.*zen"):
        get_proxy("nope")


def test_unknown_argument_is_an_error() -> None:
    with pytest.raises(MnasInputError, match="got unknown batchsize"):
        get_proxy("zen", batchsize=4)


@pytest.mark.parametrize("name", ["naswot", "zico", "train"])
def test_data_driven_without_data(name: str) -> None:
    with pytest.raises(MnasInputError, match="needs a dataset"):
        get_proxy(name)


def test_duplicate_registration_raises() -> None:
    class Dup(AccuracyProxy):
        name = "zen"

        def score(self, arch: Arch) -> float:
            return 0.0

    with pytest.raises(ValueError, match="already registered"):
        register_proxy(Dup)


def test_constructors_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        proxy_class("zen")(0)  # type: ignore[misc]


@pytest.mark.parametrize("kwargs", [{"batch_size": 1}, {"repeats": 0}, {"resolution": 4},
                                    {"seed": "x"}])
def test_bad_values_are_input_errors(kwargs: dict) -> None:
    with pytest.raises(MnasInputError):
        get_proxy("zen", **kwargs)
