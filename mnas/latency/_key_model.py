"""Rebuild an :class:`~mnas.latency.OpKey` as a tiny standalone model to be timed.

Each key becomes exactly the layers the network builder (:mod:`mnas.models`) would
create for that unit, from the same classes (``ConvBNAct``, ``InvertedResidual``,
``DepthwiseSeparable``, ``ConvBlock``, ``SqueezeExcite``), so a key's timing is the
unit's timing inside the network, up to the cost of entering and leaving a model.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from mnas.errors import MnasInputError
from mnas.latency._opkey import OpKey
from mnas.models._torchnet import BLOCK_CLASSES, BlockSpec, ConvBNAct, Norm, make_activation

__all__ = ["IO_ATTR", "HeadModule", "key_example", "key_model", "seed_of", "unit_io_layout"]

IO_ATTR = "mnas_io_layout"
"""Attribute of a :func:`key_model` model: the unit's input and output layout inside a
network converted to a runtime with NHWC kernels (:func:`unit_io_layout`). A runner
that converts (LiteRT, ``mnas.latency.runners._litert_convert``) converts the unit so; a
model without it (a whole network) keeps PyTorch's NCHW."""


def unit_io_layout(key: OpKey) -> str:
    """``nchw-nhwc`` for a stem (it takes the network's NCHW image), else ``nhwc``: inside
    a converted network every activation between units is NHWC (a head's 2-D output has
    no layout)."""
    return "nchw-nhwc" if key.kind == "stem" else "nhwc"

# PyTorch's BatchNorm defaults; a key's SE act and gate replace the SE fields per block
_NORM = Norm(bn_eps=1e-5, bn_momentum=0.1, se_act="relu", se_gate="sigmoid")


class HeadModule(nn.Module):
    """The network head as :class:`mnas.models.MobileNet` runs it (conv/pool, hidden, classifier).

    Args:
        key: A ``head`` key.
    """

    def __init__(self, key: OpKey) -> None:
        super().__init__()
        width = key.in_channels
        self.pool_first = key.head_type == "pool_conv_act"
        self.head_conv: nn.Module = nn.Identity()
        if key.mid_channels:
            self.head_conv = ConvBNAct(width, key.mid_channels, kernel=1, act=key.act,
                                      norm=_NORM)
            width = key.mid_channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head_hidden: nn.Module = nn.Identity()
        self.head_act: nn.Module = nn.Identity()
        if key.hidden:
            self.head_hidden = nn.Linear(width, key.hidden)
            self.head_act = make_activation(key.act)
            width = key.hidden
        self.classifier = nn.Linear(width, key.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head_conv(self.pool(x)) if self.pool_first else self.pool(self.head_conv(x))
        x = torch.flatten(x, 1)
        out: torch.Tensor = self.classifier(self.head_act(self.head_hidden(x)))
        return out


def seed_of(text: str) -> int:
    """A reproducible torch seed from a name (a key, an architecture id)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def key_model(key: OpKey) -> nn.Module:
    """A model (eval mode) computing exactly the unit ``key`` describes.

    Its weights are initialised from a seed of the key (the global RNG is left as it
    was), so the same key gives the same model in every run: a runner that caches
    converted models (LiteRT) finds it again. Its :data:`IO_ATTR` attribute is
    :func:`unit_io_layout` of the key.

    Raises:
        MnasInputError: If ``key.kind`` is not a stem, block type or head.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_of(str(key)))
        model = _key_model(key)
    setattr(model, IO_ATTR, unit_io_layout(key))
    return model


def _key_model(key: OpKey) -> nn.Module:
    if key.kind == "stem":
        model: nn.Module = ConvBNAct(key.in_channels, key.out_channels, kernel=key.kernel,
                                     stride=key.stride, act=key.act, norm=_NORM)
    elif key.kind == "head":
        model = HeadModule(key)
    elif key.kind in BLOCK_CLASSES:
        block = BlockSpec(type=key.kind, in_channels=key.in_channels,
                          mid_channels=key.mid_channels, out_channels=key.out_channels,
                          kernel=key.kernel, stride=key.stride, act=key.act,
                          se_channels=key.se_channels, skip=key.skip)
        model = BLOCK_CLASSES[key.kind](block, _NORM._replace(se_act=key.se_act,
                                                              se_gate=key.se_gate))
    else:
        raise MnasInputError(f"op key kind must be stem, head or one of "
                             f"{', '.join(BLOCK_CLASSES)}, got {key.kind!r}")
    return model.eval()


def key_example(key: OpKey, *, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """A random input of the shape ``key`` takes (NCHW), reproducible from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, key.in_channels, key.in_size, key.in_size, generator=generator)
