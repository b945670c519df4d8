"""The Arch value: validation, round trips, canonical keys."""

from __future__ import annotations

import json

import pytest

from mnas.arch import Arch, Block, Head, Stem, arch_from_dict, make_divisible
from mnas.errors import MnasInputError
from mnas.models import get_arch, list_archs


def _tiny(**changes) -> Arch:
    block = Block(type="ir", in_channels=16, mid_channels=48, out_channels=16, kernel=3,
                  stride=1, act="relu", skip=True)
    fields = dict(name="tiny", resolution=32, num_classes=10, stem=Stem(channels=16),
                  stages=((block,),))
    fields.update(changes)
    return Arch(**fields)


def test_make_divisible_matches_torchvision():
    from torchvision.models._utils import _make_divisible

    for value in [3.2, 8, 11.2, 12, 19.2, 28.8, 88.08, 134.4, 200, 1000.5]:
        assert make_divisible(value, 8) == _make_divisible(value, 8)


def test_arch_is_frozen_and_hashable():
    arch = _tiny()
    with pytest.raises(AttributeError):
        arch.resolution = 64  # type: ignore[misc]
    assert hash(arch) == hash(_tiny())
    assert arch == _tiny(extra={"note": "ignored by equality"})


@pytest.mark.parametrize("field,value,fragment", [
    ("resolution", 0, "resolution must be an int >= 1, got 0"),
    ("num_classes", -3, "num_classes must be an int >= 1, got -3"),
    ("se_gate", "tanh", "se_gate must be one of sigmoid, hard_sigmoid, got 'tanh'"),
    ("stages", (), "stages must be at least one stage"),
])
def test_invalid_fields_name_field_value_and_allowed(field, value, fragment):
    with pytest.raises(MnasInputError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        _tiny(**{field: value})


def test_invalid_block_names_its_position():
    bad = Block(type="ir", in_channels=16, mid_channels=48, out_channels=-8, kernel=3,
                stride=1, act="relu")
    with pytest.raises(MnasInputError, match=r"stages\[0\]\[0\]\.out_channels .* got -8"):
        _tiny(stages=((bad,),))


def test_channel_chain_is_checked():
    block = Block(type="ir", in_channels=24, mid_channels=48, out_channels=16, kernel=3,
                  stride=1, act="relu")
    with pytest.raises(MnasInputError, match="in_channels must be the previous output width 16"):
        _tiny(stages=((block,),))


def test_skip_requires_stride_one_and_equal_widths():
    block = Block(type="ir", in_channels=16, mid_channels=48, out_channels=24, kernel=3,
                  stride=1, act="relu", skip=True)
    with pytest.raises(MnasInputError, match="skip"):
        _tiny(stages=((block,),))


def test_unknown_activation_rejected():
    with pytest.raises(MnasInputError, match="stem.act must be one of"):
        Stem(channels=16, act="gelu")
    with pytest.raises(MnasInputError, match="head.dropout"):
        Head(dropout=1.5)


@pytest.mark.parametrize("name", list_archs())
def test_zoo_json_round_trip_is_exact(name):
    arch = get_arch(name)
    text = arch.to_json()
    again = arch_from_dict(json.loads(text))
    assert again == arch
    assert again.canonical_key() == arch.canonical_key()
    assert again.to_dict() == arch.to_dict()


def test_canonical_key_ignores_name_but_not_structure():
    arch = get_arch("mobilenet_v3_small")
    assert arch.replace(name="other").canonical_key() == arch.canonical_key()
    assert arch.replace(resolution=192).canonical_key() != arch.canonical_key()
