"""The contract every registered proxy meets (see ``AccuracyProxy``)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from mnas.proxies import AccuracyProxy, TrainingProxy, get_proxy, list_proxies, proxy_class

_FAST = {"train": {"epochs": 1, "batch_size": 8, "train_images": 16, "eval_images": 8}}


def _make(name: str, data: Path, seed: int = 0) -> AccuracyProxy:
    kwargs = dict(_FAST.get(name, {}), seed=seed)
    if proxy_class(name).needs_data:
        kwargs["data"] = str(data)
    return get_proxy(name, **kwargs)


@pytest.mark.parametrize("name", list_proxies())
def test_conformance(name: str, tiny_npz: Path, make_tiny) -> None:
    arch_a, arch_b = make_tiny(expand=3), make_tiny(expand=6, kernel=5, depth=2, se=True)
    proxy = _make(name, tiny_npz)
    assert isinstance(proxy, AccuracyProxy) and proxy.name == name

    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    py_state = random.getstate()
    first = proxy.score(arch_a)
    # no global RNG is touched
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert (np.random.get_state()[1] == np_state).all()
    assert random.getstate() == py_state

    assert isinstance(first, float) and math.isfinite(first)
    # deterministic, independent of call order and of instance
    second_b = proxy.score(arch_b)
    assert proxy.score(arch_a) == first
    assert _make(name, tiny_npz).score(arch_b) == second_b
    # arch not mutated
    assert arch_a == make_tiny(expand=3)
    assert proxy.score_many([arch_a, arch_b]) == [first, second_b]


@pytest.mark.parametrize("name", [n for n in list_proxies() if proxy_class(n).cost == "forward"])
def test_seed_changes_random_proxies(name: str, tiny_npz: Path, make_tiny) -> None:
    arch = make_tiny(expand=6, se=True)
    assert _make(name, tiny_npz, seed=0).score(arch) != _make(name, tiny_npz, seed=1).score(arch)


@pytest.mark.parametrize("name", list_proxies())
def test_every_proxy_takes_a_seed_and_says_its_cost(name: str) -> None:
    """Seeding and cost are the contract: callers pass ``seed`` without asking."""
    import inspect

    cls = proxy_class(name)
    seed = inspect.signature(cls.__init__).parameters.get("seed")
    assert seed is not None and seed.kind == inspect.Parameter.KEYWORD_ONLY
    assert cls.cost in ("analytic", "forward", "train")
    assert (cls.cost == "train") == issubclass(cls, TrainingProxy)


def test_the_training_proxy_reports_every_epoch(tiny_npz: Path) -> None:
    train = get_proxy("train", data=str(tiny_npz), seed=0, epochs=2, batch_size=8,
                      train_images=16, eval_images=8)
    assert isinstance(train, TrainingProxy) and train.epochs == 2
    from mnas.models import get_arch

    reported: list[tuple[int, float]] = []

    def report(epoch: int, accuracy: float) -> bool:
        reported.append((epoch, accuracy))
        return False  # go on

    arch = get_arch("mobilenet_v3_small").replace(resolution=32, num_classes=10)
    final = train.score(arch, report=report)
    assert [e for e, _ in reported] == [1, 2] and reported[-1][1] == final
