"""Helpers shared by the network-based proxies: seeded builds, inits, resolution override."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.models import MobileNet, build
from mnas.proxies._resolution import at_resolution, check_resolution

__all__ = ["check_resolution", "at_resolution", "build_seeded", "make_generator", "pre_gap"]


def make_generator(seed: int) -> torch.Generator:
    """A fresh CPU generator seeded with ``seed`` (never the global one)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise MnasInputError(f"proxy seed must be an int, got {seed!r}")
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed)
    return gen


def build_seeded(arch: Arch, generator: torch.Generator, *, init: str = "kaiming",
                 dropout: bool = False) -> MobileNet:
    """Build ``arch`` and initialise it from ``generator`` only.

    The builder's own initialisation draws from the global RNG; it runs inside
    ``torch.random.fork_rng`` so the caller's global state is left untouched, and is
    then overwritten from ``generator``.

    Args:
        arch: The architecture.
        generator: Source of every random weight.
        init: ``"kaiming"`` (torchvision's MobileNet init: Kaiming-normal fan-out convs,
            N(0, 0.01) Linear) or ``"gaussian"`` (every conv/Linear weight N(0, 1), as
            Zen-NAS prescribes). BatchNorm weight 1, every bias 0 in both.
        dropout: Keep the head's dropout. Off by default: dropout would draw from the
            global RNG in train mode, and zero-cost proxies gain nothing from it.

    Returns:
        The network in train mode.
    """
    if not dropout and arch.head.dropout:
        arch = arch.replace(head=dataclasses.replace(arch.head, dropout=0.0))
    with torch.random.fork_rng(devices=[]):
        model = build(arch)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                if init == "gaussian":
                    nn.init.normal_(module.weight, 0.0, 1.0, generator=generator)
                elif isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", generator=generator)
                else:
                    nn.init.normal_(module.weight, 0.0, 0.01, generator=generator)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
    model.train()
    return model


def pre_gap(model: MobileNet, x: torch.Tensor) -> torch.Tensor:
    """The last feature map before global average pooling (includes a pre-pool head conv)."""
    features = model.forward_features(x)
    if not model.pool_first:
        features = model.head_conv(features)
    return features
