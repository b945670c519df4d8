"""Flat-parameter codes: decode is what ``space.sample`` suggests, mutation changes one choice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from mnas.errors import MnasInputError
from mnas.spaces import ParamCodec, load_space


class _Recorder:
    def __init__(self, params: dict[str, Any]) -> None:
        self._params = params
        self.asked: dict[str, Sequence[Any]] = {}

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        self.asked[name] = choices
        return self._params[name]


@pytest.mark.parametrize("space_name", ["mobilenetv3", "mnasnet"])
def test_decode_gives_exactly_the_sampled_names(space_name: str) -> None:
    space = load_space(space_name)
    codec = ParamCodec(space)
    assert list(codec.names) == space.parameter_names()
    codes = codec.random(np.random.default_rng(3), 60)
    for row, canon in zip(codes, codec.canonical(codes), strict=True):
        params = codec.decode(row)
        recorder = _Recorder(params)
        space.sample(recorder)
        assert set(recorder.asked) == set(params)
        assert all(params[k] in recorder.asked[k] for k in params)
        assert codec.encode(params) == list(canon)


def test_encode_refuses_a_value_outside_its_choices() -> None:
    codec = ParamCodec(load_space("mobilenetv3"))
    with pytest.raises(MnasInputError, match="s1_b1_kernel.*allowed"):
        codec.encode({"s1_b1_kernel": 9})


def test_mutation_changes_exactly_one_active_choice() -> None:
    codec = ParamCodec(load_space("mobilenetv3"))
    rng = np.random.default_rng(5)
    parents = codec.random(rng, 400)
    children = codec.mutate(parents, rng)
    assert np.all((children >= 0) & (children < codec.sizes))
    changed = (codec.canonical(parents) != codec.canonical(children))
    active = codec.active(parents)
    for p_row, c_row, diff, act in zip(parents, children, changed, active, strict=True):
        parent, child = codec.decode(p_row), codec.decode(c_row)
        moved = [k for k in parent if k in child and parent[k] != child[k]]
        assert len(moved) == 1  # one flat parameter got another value of its choices
        if moved[0].endswith("_depth"):  # a block added or removed, nothing else
            assert (set(parent) ^ set(child)) and all(
                k.endswith(("kernel", "expansion", "se", "act")) for k in set(parent) ^ set(child))
        else:
            assert set(parent) == set(child)
            assert diff[act].sum() == 1
    # every kind of parameter gets mutated
    kinds = {codec.names[i].rsplit("_", 1)[-1]
             for i in np.nonzero(changed & active)[1]}
    assert {"width", "resolution", "depth", "kernel", "expansion", "se", "act"} <= kinds


def test_ops_space_codes_decode_to_its_parameters_and_canonical_means_same_network() -> None:
    """NAS-Bench-Macro's 6,561 settings build 3,969 networks: canonical rows are equal iff the
    networks are (skipped layers after a stage's first are moved last, as params_of does)."""
    import itertools

    space = load_space("nas-bench-macro")
    codec = ParamCodec(space)
    assert list(codec.names) == space.parameter_names()
    codes = np.array(list(itertools.product(range(3), repeat=8)), dtype=np.int64)
    canon = codec.canonical(codes)
    nets: dict[bytes, set[str]] = {}
    for row, c_row in zip(codes, canon, strict=True):
        key = space.replay(codec.decode(row)).structure_key()
        assert space.replay(codec.decode(c_row)).structure_key() == key
        nets.setdefault(c_row.tobytes(), set()).add(key)
    assert len(nets) == 3969 and all(len(keys) == 1 for keys in nets.values())
    arch = space.replay(codec.decode(canon[100]))
    assert codec.encode(space.params_of(arch) or {}) == list(canon[100])
    mutated = codec.mutate(codes[:50], np.random.default_rng(0))
    assert np.all((mutated != codes[:50]).sum(axis=1) == 1)
