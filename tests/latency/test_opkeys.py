"""Op key enumeration: identical blocks share a key, every block is covered, keys rebuild."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from mnas.latency import OpKey, op_keys, unique_op_keys
from mnas.latency._key_model import key_example, key_model
from mnas.models import build, get_arch, list_archs
from mnas.spaces import list_spaces, load_space


@pytest.mark.parametrize("name", ["mobilenet_v3_large", "mobilenet_v2", "mobilenet_v1",
                                  "mnasnet_a1", "mobilenet_v3_small"])
def test_every_block_is_covered(name: str) -> None:
    arch = get_arch(name)
    keys = op_keys(arch)
    assert len(keys) == len(arch.blocks) + 2
    assert keys[0].kind == "stem" and keys[-1].kind == "head"
    assert [k.kind for k in keys[1:-1]] == [b.type for b in arch.blocks]
    for key, block in zip(keys[1:-1], arch.blocks, strict=True):
        assert (key.in_channels, key.mid_channels, key.out_channels, key.kernel, key.stride,
                key.skip, key.se_channels, key.act) == (
            block.in_channels, block.mid_channels, block.out_channels, block.kernel,
            block.stride, block.skip, block.se_channels, block.act)
    for before, after in zip(keys, keys[1:], strict=False):
        assert after.in_size == before.out_size or after.kind == "head"


def test_identical_blocks_share_a_key() -> None:
    arch = get_arch("mobilenet_v3_large")
    keys = op_keys(arch)
    pairs = 0
    for i, a in enumerate(arch.blocks):
        for j, b in enumerate(arch.blocks[i + 1:], start=i + 1):
            if a == b and keys[i + 1].in_size == keys[j + 1].in_size:
                assert str(keys[i + 1]) == str(keys[j + 1])
                pairs += 1
    assert pairs >= 2  # e.g. the two ir_k5_e6_c160 blocks at 7x7
    assert len(unique_op_keys([arch, arch])) == len({str(k) for k in keys}) < len(keys)


def test_same_block_elsewhere_is_the_same_key() -> None:
    space = load_space("mobilenetv3")
    rng = random.Random(3)
    archs = [space.random_arch(rng) for _ in range(50)]
    seen: dict[str, OpKey] = {}
    for arch in archs:
        for key in op_keys(arch):
            assert seen.setdefault(str(key), key) == key
    assert len(unique_op_keys(archs)) == len(seen)


@pytest.mark.parametrize("name", list_archs())
def test_keys_round_trip_through_text(name: str) -> None:
    for key in op_keys(get_arch(name)):
        assert OpKey.parse(str(key)) == key


def test_key_models_have_the_shapes_of_their_units() -> None:
    arch = get_arch("mobilenet_v3_small").replace(resolution=64)
    for key in op_keys(arch):
        out = key_model(key)(key_example(key))
        if key.kind == "head":
            assert tuple(out.shape) == (1, key.out_channels)
        else:
            assert tuple(out.shape) == (1, key.out_channels, key.out_size, key.out_size)


def test_key_models_add_up_to_the_network() -> None:
    """Stem, blocks and head rebuilt from keys compute a network of the same shape and size."""
    arch = get_arch("mobilenet_v3_large").replace(resolution=64)
    net = build(arch)
    parts = [key_model(k) for k in op_keys(arch)]
    assert sum(p.numel() for m in parts for p in m.parameters()) == sum(
        p.numel() for p in net.parameters())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for part in parts:
            x = part(x)
    assert tuple(x.shape) == (1, arch.num_classes)


def test_weights_count_the_key_models_weights() -> None:
    """``OpKey.weights`` is the conv and linear weight count of the unit, for every kind."""
    archs = [get_arch(name).replace(resolution=64) for name in list_archs()]
    for name in list_spaces():
        space, rng = load_space(name), random.Random(3)
        archs += [space.random_arch(rng).replace(resolution=64) for _ in range(5)]
    keys = unique_op_keys(archs)
    assert {k.kind for k in keys} >= {"stem", "ir", "ds", "dsa", "cn", "head"}
    for key in keys:
        model = key_model(key)
        weights = sum(m.weight.numel() for m in model.modules()
                      if isinstance(m, nn.Conv2d | nn.Linear))
        assert key.weights == weights, str(key)
