"""Writers of the binary formats: safetensors, TorchScript, ONNX, ExecuTorch, LiteRT."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from mnas.arch import Arch
from mnas.errors import MnasError, MnasInputError

__all__ = [
    "DEFAULT_OPSET",
    "OPSET_RANGE",
    "check_opset",
    "executorch_available",
    "write_executorch",
    "write_onnx",
    "write_state_dict",
    "write_tflite",
    "write_torchscript",
]

DEFAULT_OPSET = 17
"""ONNX opset written unless asked otherwise (widely supported by mobile runtimes)."""
OPSET_RANGE = (14, 20)
"""Opsets the TorchScript-based ONNX exporter writes with h-swish as one operator."""


def _example(arch: Arch, batch: int = 1) -> torch.Tensor:
    return torch.zeros(batch, 3, arch.resolution, arch.resolution)


def check_opset(opset: object) -> None:
    """Raise :class:`MnasInputError` unless ``opset`` is an int in :data:`OPSET_RANGE`."""
    if isinstance(opset, bool) or not isinstance(opset, int) or not (
            OPSET_RANGE[0] <= opset <= OPSET_RANGE[1]):
        raise MnasInputError(f"opset must be an int in {OPSET_RANGE[0]}..{OPSET_RANGE[1]}, got "
                             f"{opset!r}; pick one in that range (default {DEFAULT_OPSET})")


def write_state_dict(model: nn.Module, path: Path, arch: Arch) -> None:
    """The model's tensors as safetensors, with the arch as metadata (``mnas.arch``)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": "mnas-state-dict/1",
                                            "mnas.arch": arch.to_json()})


def write_torchscript(model: nn.Module, path: Path) -> None:
    """``torch.jit.script`` of the model (any batch size)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.*deprecated", category=Warning)
        scripted = torch.jit.script(model)
        torch.jit.save(scripted, str(path))


def write_onnx(model: nn.Module, path: Path, arch: Arch, opset: int) -> int:
    """ONNX through the TorchScript-based exporter (dynamic batch); returns the opset written.

    The torch.export-based exporter took about 10 s against under 1 s for this one on
    a MobileNetV3-Small (torch 2.14, 2 cores), with the same outputs, so mnas uses this one.
    """
    import onnx

    check_opset(opset)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
        torch.onnx.export(
            model, (_example(arch),), str(path), dynamo=False, opset_version=opset,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    proto = onnx.load(str(path))
    written = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    if written != [opset]:
        raise MnasError(f"the ONNX file records opset {written}, not the {opset} asked for")
    for key, value in (("mnas.arch", arch.to_json()), ("mnas.opset", str(opset))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    return opset


def executorch_available() -> bool:
    """Whether the ExecuTorch exporter can be imported."""
    import importlib.util

    return importlib.util.find_spec("executorch") is not None


def write_executorch(model: nn.Module, path: Path, arch: Arch) -> None:
    """An ExecuTorch program (batch 1) with every supported op delegated to XNNPACK."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exported = torch.export.export(model, (_example(arch),))
        program = to_edge_transform_and_lower(
            exported, partitioner=[XnnpackPartitioner()]).to_executorch()
    path.write_bytes(program.buffer)


def write_tflite(model: nn.Module, path: Path, arch: Arch) -> None:
    """A LiteRT ``.tflite`` flatbuffer (fp32, batch 1, NCHW input as in PyTorch) by litert-torch.

    The same converter as the ``litert`` latency runner and the Android ``tflite`` runner
    (:func:`mnas.latency.runners._litert_convert.convert_tflite_bytes`).
    """
    from mnas.latency.runners._litert_convert import convert_tflite_bytes

    path.write_bytes(convert_tflite_bytes(model, _example(arch)))
