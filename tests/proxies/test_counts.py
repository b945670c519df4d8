from __future__ import annotations

import math

import pytest
import torch

from mnas.models import build
from mnas.proxies import arch_costs, get_proxy


@pytest.mark.parametrize("head", ["conv_bn_act_pool", "pool_conv_act"])
@pytest.mark.parametrize("se", [False, True])
def test_params_proxy_equals_built_model(head: str, se: bool, make_tiny) -> None:
    arch = make_tiny(se=se, head=head, depth=2)
    with torch.random.fork_rng(devices=[]):
        real = sum(p.numel() for p in build(arch).parameters())
    assert arch_costs(arch).params == real
    assert get_proxy("params").score(arch) == math.log(real)


def _hook_macs(arch) -> int:
    """MACs of conv + Linear layers measured with forward hooks on the built model."""
    with torch.random.fork_rng(devices=[]):
        model = build(arch).eval()
    total = 0

    def hook(module, _inputs, out):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            k = module.weight[0].numel()  # (in/groups) * kh * kw
            total += out.numel() * k
        else:
            total += module.in_features * module.out_features

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(1, 3, arch.resolution, arch.resolution))
    return total


@pytest.mark.parametrize("head", ["conv_bn_act_pool", "pool_conv_act"])
def test_flops_walker_matches_hooks(head: str, make_tiny) -> None:
    arch = make_tiny(se=True, head=head, depth=2, kernel=5)
    assert arch_costs(arch).macs == _hook_macs(arch)


def test_flops_resolution_override(make_tiny) -> None:
    arch = make_tiny(resolution=16)
    assert get_proxy("flops", resolution=32).score(arch) == math.log(
        arch_costs(arch.replace(resolution=32)).macs)


def test_counts_match_nas_bench_macro_truth(macro_archs) -> None:
    # NAS-Bench-Macro counts conv + linear MACs at 32x32 (utils.count_FLOPs) and the
    # benchmark model's parameters; shared/data/nas_bench_macro/archs/*.json truth fields
    for arch in macro_archs(12):
        truth = arch.extra["truth"]
        costs = arch_costs(arch)
        assert (costs.params, costs.macs) == (truth["params"], truth["macs"]), arch.name
