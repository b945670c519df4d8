"""Genuine torchvision models, state_dict conversion both ways, identical logits."""

from __future__ import annotations

import pytest
import torch
import torchvision

from mnas.errors import MnasInputError
from mnas.models import build, get_arch
from mnas.models.torchvision_compat import (
    from_torchvision_state_dict,
    to_torchvision,
    to_torchvision_state_dict,
    torchvision_config,
)

PAIRS = [("mobilenet_v2", "mobilenet_v2"), ("mobilenet_v3_large", "mobilenet_v3_large"),
         ("mobilenet_v3_small", "mobilenet_v3_small"), ("mnasnet_b1", "mnasnet1_0")]


def _randomise_batchnorm(model: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
            module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            module.bias.data.copy_(torch.rand(n, generator=gen) - 0.5)


@pytest.mark.parametrize("name,tv_name", PAIRS)
def test_same_weights_same_logits_both_ways(name, tv_name):
    torch.manual_seed(0)
    ours = build(get_arch(name)).eval()
    _randomise_batchnorm(ours, 1)
    theirs = getattr(torchvision.models, tv_name)().eval()
    theirs.load_state_dict(to_torchvision_state_dict(ours, theirs))
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max().item() <= 1e-5
    # ... and back: torchvision weights into a fresh mnas model.
    _randomise_batchnorm(theirs, 3)
    back = build(get_arch(name)).eval()
    back.load_state_dict(from_torchvision_state_dict(theirs, back))
    with torch.no_grad():
        assert (back(x) - theirs(x)).abs().max().item() <= 1e-5


@pytest.mark.parametrize("name,cls", [("mobilenet_v2", torchvision.models.MobileNetV2),
                                      ("mobilenet_v3_large", torchvision.models.MobileNetV3),
                                      ("mobilenet_v3_small", torchvision.models.MobileNetV3),
                                      ("mobilenet_v3_large_075", torchvision.models.MobileNetV3),
                                      ("mobilenet_v2_050", torchvision.models.MobileNetV2)])
def test_to_torchvision_returns_genuine_class_with_same_params(name, cls):
    arch = get_arch(name)
    model = to_torchvision(arch)
    assert type(model) is cls
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in build(arch).parameters())


def test_searched_v3_arch_fits_when_it_uses_v3_layers():
    from mnas.spaces import load_space

    space = load_space("mobilenetv3")
    import random

    arch = space.random_arch(random.Random(3))
    model = to_torchvision(arch)
    assert isinstance(model, torchvision.models.MobileNetV3)
    x = torch.randn(1, 3, arch.resolution, arch.resolution)
    ours = build(arch).eval()
    model.eval().load_state_dict(to_torchvision_state_dict(ours, model))
    with torch.no_grad():
        assert (ours(x) - model(x)).abs().max().item() <= 1e-5


def test_misfit_names_first_block():
    arch = get_arch("mobilenet_v2")
    stage = list(arch.stages[2])
    stage[1] = stage[1].__class__(**{**stage[1].__dict__, "kernel": 5})
    bad = arch.replace(stages=arch.stages[:2] + (tuple(stage),) + arch.stages[3:])
    with pytest.raises(MnasInputError, match=r"stages\[2\]\[1\] .* does not fit torchvision "
                                             r"MobileNetV2"):
        torchvision_config(bad)


def test_mnasnet_a1_does_not_fit():
    with pytest.raises(MnasInputError, match="does not fit torchvision"):
        to_torchvision(get_arch("mnasnet_a1"))
