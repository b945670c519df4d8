"""The supernets' structure: subnet <-> Arch, misfits named, checkpoint layout = once-for-all's."""

from __future__ import annotations

import random

import pytest

from mnas.arch import Block
from mnas.errors import MnasInputError
from mnas.models import get_arch
from mnas.spaces import load_space
from mnas.weights import SUPERNETS, find_supernets, get_supernet, supernet_report_lines

from ._helpers import ofa_supernet


@pytest.mark.parametrize("name", list(SUPERNETS))
def test_layout_is_once_for_alls_state_dict(name: str) -> None:
    supernet = SUPERNETS[name]
    theirs = {k: tuple(v.shape) for k, v in ofa_supernet(supernet).state_dict().items()
              if not k.endswith("num_batches_tracked")}
    assert supernet.layout() == theirs


@pytest.mark.parametrize("name", list(SUPERNETS))
def test_random_subnets_round_trip_through_arch(name: str) -> None:
    supernet, rng = SUPERNETS[name], random.Random(7)
    for _ in range(30):
        subnet = supernet.random_subnet(rng)
        arch = supernet.arch(subnet)
        assert supernet.match(arch) == subnet
        assert [n for n, why in ((s.name, w) for s, w in find_supernets(arch)) if why is None] \
            == [name]


def test_the_ofa_mbv3_space_is_the_w12_supernet() -> None:
    space, supernet, rng = load_space("ofa-mbv3"), get_supernet("ofa-mbv3-w1.2"), random.Random(3)
    for _ in range(40):
        arch = space.random_arch(rng)
        assert supernet.arch(supernet.match(arch)).canonical_key() == arch.canonical_key()


def test_once_for_all_config_gives_the_subnet() -> None:
    supernet = get_supernet("ofa_proxyless_d234_e346_k357_w1.3")  # once-for-all's id works
    ks, es = [7] * 21, [6] * 21
    ks[0], es[1] = 3, 4
    subnet = supernet.subnet_from_ofa_config({"ks": ks, "e": es, "d": [2, 3, 4, 2, 3], "r": [160]})
    arch = supernet.arch(subnet)
    assert [len(stage) for stage in arch.stages] == [1, 2, 3, 4, 2, 3, 1]
    assert arch.stages[1][0].kernel == 3 and arch.stages[1][1].mid_channels == 32 * 4
    assert arch.resolution == 160 and arch.bn_eps == 1e-3
    assert subnet.ofa_config()["d"] == [2, 3, 4, 2, 3, 1]
    with pytest.raises(MnasInputError, match="stage 1 block 1 kernel 4 is not one of 3, 5, 7"):
        supernet.subnet_from_ofa_config({"ks": [4] * 21, "e": es, "d": [2] * 5, "r": 160})
    with pytest.raises(MnasInputError, match="needs 21 values in 'ks'"):
        supernet.subnet_from_ofa_config({"ks": [3] * 20, "e": es, "d": [2] * 5, "r": 160})
    with pytest.raises(MnasInputError, match="'e' must be a list of integers"):
        supernet.subnet_from_ofa_config({"ks": ks, "e": "6", "d": [2] * 5, "r": 160})


def _w12_arch():  # type: ignore[no-untyped-def]
    supernet = get_supernet("ofa-mbv3-w1.2")
    return supernet, supernet.arch(supernet.random_subnet(random.Random(0)), name="x")


def _with_block(arch, s, b, **changes):  # type: ignore[no-untyped-def]
    stages = [list(stage) for stage in arch.stages]
    stages[s][b] = Block(**{**stages[s][b].__dict__, **changes})
    return arch.replace(stages=tuple(tuple(stage) for stage in stages))


@pytest.mark.parametrize(("change", "message"), [
    (lambda a: _with_block(a, 1, 0, kernel=9), "stage 1 block 1 kernel 9 is not one of 3, 5, 7"),
    (lambda a: _with_block(a, 2, 1, mid_channels=200, se_channels=48),
     "stage 2 block 2 expands to 200 ch; the supernet allows 144, 192, 288"),
    (lambda a: _with_block(a, 2, 0, se_ratio=0.0, se_channels=0),
     "stage 2 block 1 has no SE, the supernet's stage 2 has"),
    (lambda a: a.replace(num_classes=10), "10 classes, the supernet has 1000"),
    (lambda a: a.replace(bn_eps=1e-3), "BatchNorm eps 0.001, the supernet uses 1e-05"),
    (lambda a: a.replace(stages=a.stages[:3] + (a.stages[3] + (a.stages[3][-1],) * 3,)
                         + a.stages[4:]),
     "stage 3 has [5-7] blocks, the supernet allows 2, 3, 4"),
])
def test_an_arch_outside_the_space_is_one_line_naming_the_misfit(change, message) -> None:  # type: ignore[no-untyped-def]
    supernet, arch = _w12_arch()
    bad = change(arch)
    with pytest.raises(MnasInputError, match=message) as info:
        supernet.match(bad)
    text = str(info.value)
    assert "\n" not in text and text.startswith("arch 'x' is not a subnet of ofa-mbv3-w1.2: ")
    assert "--space ofa-mbv3" in text


def test_report_lines_say_where_weights_are() -> None:
    _supernet, arch = _w12_arch()
    hit = supernet_report_lines(arch, "runs/x")
    assert "ofa_mbv3_d234_e346_k357_w1.2" in hit[0]
    assert "mnas weights extract --supernet ofa-mbv3-w1.2=PATH --arch runs/x" in hit[0]
    miss = supernet_report_lines(get_arch("mobilenet_v3_large"), "runs/x")
    assert miss[0].startswith("- trained weights: none from a known supernet")
    assert "ofa-mbv3-w1.2: stem 16 ch" in miss[0]


def test_unknown_supernet_lists_the_known_ones() -> None:
    with pytest.raises(MnasInputError, match="known: ofa-mbv3-w1.0, ofa-mbv3-w1.2, "
                                             "ofa-proxyless-w1.3"):
        get_supernet("ofa-resnet50")
