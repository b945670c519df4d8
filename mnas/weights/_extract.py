"""Cut one subnet's weights out of a supernet, as a state_dict of mnas's own model.

The rules are once-for-all's (Cai et al., ICLR 2020, section 3.2 and its released code's
conventions), written here for mnas's layer names:

* depth: a stage of depth ``d`` runs the first ``d`` blocks of the supernet's stage;
* expansion: the expanded width is ``make_divisible(round(in * e), 8)`` and the subnet
  keeps the *leading* channels of every expanded tensor (the supernet's training sorted
  them by importance, so the leading ones are the ones to keep);
* kernel: a smaller kernel is the centre of the 7x7 kernel, passed through the learned
  kernel-transformation matrices from the largest size down (7 -> 5, then 5 -> 3), each a
  linear map of the flattened ``k x k`` centre, shared by the channels of a layer;
* squeeze-excitation: the leading ``make_divisible(mid // 4, 8)`` squeeze channels;
* head: unchanged (MobileNetV3's bias-free 1x1 conv after pooling becomes mnas's
  Linear with a zero bias).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from mnas.arch import Arch, make_divisible
from mnas.weights._supernets import Supernet

__all__ = ["extract_subnet", "transformed_kernel"]

_BN = ("weight", "bias", "running_mean", "running_var")


def transformed_kernel(weight: torch.Tensor, kernel: int,
                       matrices: Mapping[tuple[int, int], torch.Tensor]) -> torch.Tensor:
    """The ``kernel x kernel`` depthwise weight of an elastic-kernel layer.

    Args:
        weight: The supernet's depthwise weight ``(C, 1, K, K)`` at its largest kernel.
        kernel: The kernel wanted (``<= K``, odd).
        matrices: ``(large, small) -> (small^2, small^2)`` transformation matrices.

    Returns:
        ``(C, 1, kernel, kernel)``: from ``K`` down, each step crops the centre ``small x
        small`` of the current kernel and maps its flattened values ``v`` to ``M v``.
    """
    current = weight
    size = weight.shape[-1]
    steps = sorted(matrices, reverse=True)  # (7, 5), (5, 3)
    for large, small in steps:
        if size <= kernel:
            break
        assert large == size, f"no {size} -> smaller kernel matrix"
        start = (large - small) // 2
        centre = current[:, :, start:start + small, start:start + small].contiguous()
        flat = centre.reshape(-1, small * small)
        current = F.linear(flat, matrices[(large, small)]).reshape(
            centre.shape[0], centre.shape[1], small, small)
        size = small
    if size != kernel:
        start = (size - kernel) // 2  # no transformation matrix: the plain centre
        current = current[:, :, start:start + kernel, start:start + kernel]
    return current


def _copy_bn(out: dict[str, torch.Tensor], dst: str, weights: Mapping[str, torch.Tensor],
             src: str, channels: int) -> None:
    for name in _BN:
        out[f"{dst}.{name}"] = weights[f"{src}.{name}"][:channels].clone()
    out[f"{dst}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)


def extract_subnet(weights: Mapping[str, torch.Tensor], supernet: Supernet,
                   arch: Arch) -> dict[str, torch.Tensor]:
    """The state_dict of ``mnas.build(arch)`` holding the supernet's weights for ``arch``.

    Args:
        weights: The supernet's weights in :meth:`Supernet.layout`'s names (what
            :func:`~mnas.weights.load_checkpoint` returns).
        supernet: The supernet.
        arch: An architecture of its space.

    Returns:
        A state_dict with exactly the names and shapes of mnas's model of ``arch``. The
        BatchNorm statistics are the supernet's (those of its largest subnet): recalibrate
        them (:func:`~mnas.weights.recalibrate_batchnorm`) before measuring accuracy.

    Raises:
        MnasInputError: ``arch`` is not a subnet of ``supernet`` (names what does not fit).
    """
    subnet = supernet.match(arch)
    out: dict[str, torch.Tensor] = {}
    out["stem.conv.weight"] = weights["first_conv.conv.weight"].clone()
    _copy_bn(out, "stem.bn", weights, "first_conv.bn", supernet.stem)
    first = "blocks.0.conv"
    out["blocks.0.0.conv_dw.conv.weight"] = weights[f"{first}.depth_conv.conv.weight"].clone()
    _copy_bn(out, "blocks.0.0.conv_dw.bn", weights, f"{first}.depth_conv.bn", supernet.stem)
    out["blocks.0.0.conv_pw.conv.weight"] = weights[f"{first}.point_linear.conv.weight"].clone()
    _copy_bn(out, "blocks.0.0.conv_pw.bn", weights, f"{first}.point_linear.bn", supernet.first)
    sizes = sorted(supernet.kernels)
    slot = 0
    for s, stage in enumerate(supernet.stages):
        for b, block in enumerate(arch.stages[s + 1]):
            src = f"blocks.{supernet.block_index(s, b)}.conv"
            dst = f"blocks.{s + 1}.{b}"
            mid, cin, cout = block.mid_channels, block.in_channels, block.out_channels
            kernel = subnet.kernels[slot + b]
            assert kernel == block.kernel
            out[f"{dst}.conv_pw.conv.weight"] = weights[
                f"{src}.inverted_bottleneck.conv.conv.weight"][:mid, :cin].clone()
            _copy_bn(out, f"{dst}.conv_pw.bn", weights, f"{src}.inverted_bottleneck.bn.bn", mid)
            matrices = {(large, small): weights[f"{src}.depth_conv.conv.{large}to{small}_matrix"]
                        for small, large in zip(sizes, sizes[1:], strict=False)}
            out[f"{dst}.conv_dw.conv.weight"] = transformed_kernel(
                weights[f"{src}.depth_conv.conv.conv.weight"][:mid], kernel, matrices).clone()
            _copy_bn(out, f"{dst}.conv_dw.bn", weights, f"{src}.depth_conv.bn.bn", mid)
            if block.has_se:
                squeeze = make_divisible(mid // 4, 8)
                assert squeeze == block.se_channels
                se = f"{src}.depth_conv.se.fc"
                out[f"{dst}.se.conv_reduce.weight"] = weights[
                    f"{se}.reduce.weight"][:squeeze, :mid].clone()
                out[f"{dst}.se.conv_reduce.bias"] = weights[f"{se}.reduce.bias"][:squeeze].clone()
                out[f"{dst}.se.conv_expand.weight"] = weights[
                    f"{se}.expand.weight"][:mid, :squeeze].clone()
                out[f"{dst}.se.conv_expand.bias"] = weights[f"{se}.expand.bias"][:mid].clone()
            out[f"{dst}.conv_pwl.conv.weight"] = weights[
                f"{src}.point_linear.conv.conv.weight"][:cout, :mid].clone()
            _copy_bn(out, f"{dst}.conv_pwl.bn", weights, f"{src}.point_linear.bn.bn", cout)
        slot += max(stage.depths)
    if supernet.final_expand is not None:
        last = f"blocks.{len(arch.stages) - 1}.0.conv"
        out[f"{last}.conv.weight"] = weights["final_expand_layer.conv.weight"].clone()
        _copy_bn(out, f"{last}.bn", weights, "final_expand_layer.bn", supernet.final_expand)
        mix = weights["feature_mix_layer.conv.weight"]
        out["head_hidden.weight"] = mix.reshape(mix.shape[0], mix.shape[1]).clone()
        out["head_hidden.bias"] = torch.zeros(mix.shape[0])
    else:
        out["head_conv.conv.weight"] = weights["feature_mix_layer.conv.weight"].clone()
        _copy_bn(out, "head_conv.bn", weights, "feature_mix_layer.bn", supernet.last_channel)
    out["classifier.weight"] = weights["classifier.linear.weight"].clone()
    out["classifier.bias"] = weights["classifier.linear.bias"].clone()
    _check_against_model(out, arch)
    return out


def _check_against_model(state: Mapping[str, torch.Tensor], arch: Arch) -> None:
    """mnas's model of ``arch`` has exactly these names and shapes (a change of the model's
    layer names must fail here, not in a user's export)."""
    from mnas.models import build

    with torch.device("meta"):
        expected = build(arch).state_dict()
    assert set(expected) == set(state), sorted(set(expected) ^ set(state))[:5]
    for key, tensor in expected.items():
        assert tuple(tensor.shape) == tuple(state[key].shape), (key, tensor.shape,
                                                               state[key].shape)
