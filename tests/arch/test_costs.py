"""The one MAC counter (``mnas.arch.arch_costs``) against fvcore, torchvision and the papers."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
import torch
import torchvision

from mnas.arch import Arch, arch_costs, load_arch
from mnas.latency._builder import estimate_macs
from mnas.latency._opkey import op_keys
from mnas.models import build, get_arch, list_archs

_FIXTURES = Path(__file__).parents[1] / "export" / "archs"


def _fvcore_macs(model: torch.nn.Module, resolution: int) -> int:
    """fvcore's count of conv and Linear multiply-accumulates (its other ops left out)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fvcore imports and traces through torch.jit
        from fvcore.nn import FlopCountAnalysis

        logging.getLogger("fvcore").setLevel(logging.ERROR)
        analysis = FlopCountAnalysis(model.eval(), torch.zeros(1, 3, resolution, resolution))
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        with torch.no_grad():
            ops = analysis.by_operator()
    return int(ops["conv"] + ops["linear"])


# (mnas name, torchvision builder, conv + Linear MACs at 224): the counts fvcore gives for
# torchvision's own models; published.md: 300M, 217M (219M paper), 56M (paper), 315M
TORCHVISION = [
    ("mobilenet_v2", "mobilenet_v2", 300_774_272),
    ("mobilenet_v3_large", "mobilenet_v3_large", 216_589_760),
    ("mobilenet_v3_small", "mobilenet_v3_small", 56_510_400),
    ("mnasnet_b1", "mnasnet1_0", 314_415_872),
]


@pytest.mark.parametrize(("name", "tv_name", "macs"), TORCHVISION)
def test_counter_equals_fvcore_on_torchvisions_model(name: str, tv_name: str,
                                                     macs: int) -> None:
    reference = getattr(torchvision.models, tv_name)()
    assert _fvcore_macs(reference, 224) == macs
    assert arch_costs(get_arch(name)).macs == macs


def _archs() -> list[Arch]:
    zoo = [get_arch(name).replace(resolution=96) for name in list_archs()]
    return zoo + [load_arch(path) for path in sorted(_FIXTURES.glob("*.json"))]


@pytest.mark.parametrize("arch", _archs(), ids=lambda a: a.name)
def test_counter_equals_fvcore_and_the_built_network(arch: Arch) -> None:
    model = build(arch)
    costs = arch_costs(arch)
    assert costs.params == sum(p.numel() for p in model.parameters())
    assert costs.macs == _fvcore_macs(model, arch.resolution)


@pytest.mark.parametrize("name", ["mobilenet_v3_large", "mobilenet_v1", "mnasnet_a1"])
def test_latency_units_partition_the_count(name: str) -> None:
    # the builder's per-key count is the same counter: the keys of a network sum to it
    arch = get_arch(name)
    assert sum(estimate_macs(key) for key in op_keys(arch)) == arch_costs(arch).macs
