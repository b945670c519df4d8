"""Shared helpers of the export tests."""

from __future__ import annotations

from pathlib import Path

import torch

from mnas.arch import Arch, load_arch
from mnas.export._api import reference_model

ARCHS = Path(__file__).parent / "archs"

SUFFIX = {
    "pytorch": ".py",
    "torchvision": ".py",
    "timm": ".py",
    "state_dict": ".safetensors",
    "torchscript": ".pt",
    "onnx": ".onnx",
    "executorch": ".pte",
    "tflite": ".tflite",
}


def fixture_arch(name: str) -> Arch:
    """One of the fixture arch files in ``archs/``."""
    return load_arch(ARCHS / f"{name}.json")


def trained_like_weights(arch: Arch, seed: int = 7) -> dict[str, torch.Tensor]:
    """A state_dict with non-trivial BatchNorm affine/statistics and unit-scale logits."""
    state = reference_model(arch).state_dict()
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        value = value.clone()
        if key.endswith("bn.weight"):
            value *= 0.8 + 0.4 * torch.rand(value.shape, generator=generator)
        elif key.endswith("bn.bias"):
            value += 0.05 * torch.randn(value.shape, generator=generator)
        elif key in ("classifier.weight", "head_hidden.weight"):
            value = torch.randn(value.shape, generator=generator) / value.shape[1] ** 0.5
        out[key] = value
    return out
