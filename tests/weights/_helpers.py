"""Helpers of the weights tests: random supernet checkpoints, once-for-all's own package."""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch

from mnas.weights import Supernet


def random_checkpoint(supernet: Supernet, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in the supernet's layout: fan-in-scaled convs, BatchNorm statistics
    away from (0, 1), kernel-transformation matrices away from the identity."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in supernet.layout().items():
        if key.endswith("running_var"):
            t = torch.rand(shape, generator=g) + 0.5
        elif key.endswith("_matrix"):
            t = torch.eye(shape[0]) + 0.2 * torch.randn(shape, generator=g)
        elif key.endswith(("bn.weight", "bn.bn.weight")):
            t = 1 + 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1:
            t = 0.1 * torch.randn(shape, generator=g)
        else:
            fan_in = 1
            for d in shape[1:]:
                fan_in *= d
            t = torch.randn(shape, generator=g) / fan_in ** 0.5
        out[key] = t
    return out


def ofa_networks() -> Any:
    """once-for-all's supernet classes (``ofa`` on PyPI, a test-only dependency).

    Skipped with a reason where it is not installed, except under CI, which installs it
    (``.ci/run``) and must not skip the equivalence tests silently.
    """
    if os.environ.get("CI"):
        import ofa.imagenet_classification.elastic_nn.networks as networks
        return networks
    return pytest.importorskip(
        "ofa.imagenet_classification.elastic_nn.networks",
        reason="once-for-all's package is not installed: pip install --no-deps "
               "ofa==0.1.0.post202307202001")


def ofa_supernet(supernet: Supernet, **kwargs: Any) -> torch.nn.Module:
    """once-for-all's own supernet of the same name (random init)."""
    networks = ofa_networks()
    lists = dict(ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])
    cls = networks.OFAMobileNetV3 if supernet.family == "mbv3" else networks.OFAProxylessNASNets
    return cls(width_mult=supernet.width_mult, n_classes=supernet.num_classes, **lists, **kwargs)
