"""One network class that builds any :class:`~mnas.arch.Arch`."""

from __future__ import annotations

import torch
from torch import nn

from mnas.arch import Arch
from mnas.models._layers import BLOCK_CLASSES, ConvBNAct, make_activation

__all__ = ["MobileNet", "build"]


class MobileNet(nn.Module):
    """A MobileNet-family network (V1, V2, V3, MnasNet, searched) built from an ``Arch``.

    Layout: ``stem`` (conv-BN-act), ``blocks`` (one ``nn.Sequential`` per stage),
    then the head: ``head_conv`` (1x1 conv-BN-act, optional), global average pool,
    ``head_hidden`` + ``head_act`` (Linear with bias, optional), ``dropout``,
    ``classifier``. For ``pool_conv_act`` heads (MobileNetV3) the pool comes
    before ``head_conv``.

    Args:
        arch: The architecture.
    """

    def __init__(self, arch: Arch) -> None:
        super().__init__()
        self.arch = arch
        bn = {"bn_eps": arch.bn_eps, "bn_momentum": arch.bn_momentum}
        self.stem = ConvBNAct(3, arch.stem.channels, kernel=arch.stem.kernel,
                              stride=arch.stem.stride, act=arch.stem.act, **bn)
        self.blocks = nn.Sequential(*(
            nn.Sequential(*(BLOCK_CLASSES[block.type](block, arch) for block in stage))
            for stage in arch.stages))
        head = arch.head
        width = arch.feature_channels
        self.pool_first = head.type == "pool_conv_act"
        self.head_conv: nn.Module = nn.Identity()
        if head.channels is not None:
            self.head_conv = ConvBNAct(width, head.channels, kernel=1, act=head.act, **bn)
            width = head.channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head_hidden: nn.Module = nn.Identity()
        self.head_act: nn.Module = nn.Identity()
        if head.hidden is not None:
            self.head_hidden = nn.Linear(width, head.hidden, bias=True)
            self.head_act = make_activation(head.act)
            width = head.hidden
        self.dropout = nn.Dropout(head.dropout)
        self.classifier = nn.Linear(width, arch.num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torchvision's MobileNet initialisation (Kaiming fan-out convs, N(0, 0.01) linears)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and blocks: the feature map before the head."""
        return self.blocks(self.stem(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Head and classifier on a feature map."""
        if self.pool_first:
            x = self.head_conv(self.pool(x))
        else:
            x = self.pool(self.head_conv(x))
        x = torch.flatten(x, 1)
        x = self.head_act(self.head_hidden(x))
        return self.classifier(self.dropout(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def build(arch: Arch) -> MobileNet:
    """Build the PyTorch network of ``arch`` (freshly initialised, train mode)."""
    return MobileNet(arch)
