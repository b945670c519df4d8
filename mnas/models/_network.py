"""One network class that builds any :class:`~mnas.arch.Arch`.

The network itself (:class:`~mnas.models._torchnet.MobileNet`) lives in a torch-only
module that the standalone export writes out verbatim; this module turns an ``Arch``
into the plain :class:`~mnas.models._torchnet.NetSpec` it reads.
"""

from __future__ import annotations

from mnas.arch import Arch, Block
from mnas.models._torchnet import BlockSpec, HeadSpec, MobileNet, NetSpec, Norm, StemSpec

__all__ = ["MobileNet", "block_spec", "build", "network_spec"]


def block_spec(block: Block) -> BlockSpec:
    """The plain spec of one block (its final widths, kernel, stride, SE width, residual)."""
    return BlockSpec(type=block.type, in_channels=block.in_channels,
                     mid_channels=block.mid_channels, out_channels=block.out_channels,
                     kernel=block.kernel, stride=block.stride, act=block.act,
                     se_channels=block.se_channels, skip=block.skip)


def network_spec(arch: Arch) -> NetSpec:
    """The plain spec :class:`MobileNet` is built from: every field ``arch`` validated."""
    stem, head = arch.stem, arch.head
    return NetSpec(
        stem=StemSpec(channels=stem.channels, kernel=stem.kernel, stride=stem.stride,
                      act=stem.act),
        stages=tuple(tuple(block_spec(block) for block in stage) for stage in arch.stages),
        head=HeadSpec(type=head.type, channels=head.channels, hidden=head.hidden,
                      act=head.act, dropout=float(head.dropout)),
        num_classes=arch.num_classes,
        norm=Norm(bn_eps=float(arch.bn_eps), bn_momentum=float(arch.bn_momentum),
                  se_act=arch.se_act, se_gate=arch.se_gate))


def build(arch: Arch) -> MobileNet:
    """Build the PyTorch network of ``arch`` (freshly initialised, train mode)."""
    return MobileNet(network_spec(arch))
