"""Op keys and whole networks as ONNX graphs, written directly: what ``torch.onnx`` exports,
node for node.

The onnxruntime runner times a key as a tiny standalone model. Exporting that model
from PyTorch (:func:`mnas.latency.runners.export_onnx_bytes`) costs 40-150 ms per key on
this project's 2-core VMs, against about 10 ms to time it: it was most of a table's
build. The graph of one unit is small and regular, so it is written here directly with
``onnx.helper`` in about a millisecond: the nodes the TorchScript exporter emits for
:func:`mnas.latency.key_model` (BatchNorm folded into each convolution's bias; ReLU,
``Clip`` for ReLU6, ``HardSwish``, ``Sigmoid`` + ``Mul`` for swish; squeeze-excitation as
``GlobalAveragePool``, two biased 1x1 ``Conv`` and ``HardSigmoid``/``Sigmoid`` + ``Mul``;
the residual ``Add``; the head's ``GlobalAveragePool``, ``Flatten`` and ``Gemm``), opset
17, with seeded random weights. The weights' values differ from the exporter's (a
dense fp32 kernel does the same work for any finite values); the graph onnxruntime runs
after its optimisations is the same (``tests/latency/test_onnx_graphs.py`` compares them
for every kind, activation, gate, residual and head type).

A whole network is its units' graphs one after the other (:func:`network_onnx_bytes`, what
``torch.onnx`` exports for :func:`mnas.models.build`, compared the same way on the zoo):
exporting a 224-pixel network costs 1-3 s here, writing it 20-60 ms, which is what
makes the host model's minute and a build's calibration networks cheap. ``mnas latency
validate`` still times networks exported by PyTorch, the models users export.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.latency._opkey import OpKey, op_keys

__all__ = ["OPSET", "key_onnx_bytes", "network_onnx_bytes"]

OPSET = 17
_ACTIVATIONS = ("relu", "relu6", "hswish", "swish", "identity")


class _Graph:
    """Nodes and initializers of one graph being written."""

    def __init__(self, seed: int) -> None:
        from onnx import helper

        self.helper = helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.rng = np.random.default_rng(seed)
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def tensor(self, stem: str, shape: tuple[int, ...], *, fan_in: int) -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        # uniform in +-sqrt(3 / fan_in) (unit variance per output): float32 draws are
        # several times faster than normal ones, and a head has a million weights
        values = self.rng.random(shape, dtype=np.float32)
        values -= np.float32(0.5)
        values *= np.float32(2.0 * (3.0 / max(1, fan_in)) ** 0.5)
        self.initializers.append(numpy_helper.from_array(values, name))
        return name

    def scalar(self, value: float) -> str:
        name = self.name("const")
        self.nodes.append(self.helper.make_node(
            "Constant", [], [name],
            value=self.helper.make_tensor(name + "_value", 1, [], [value])))
        return name

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        out = self.name(op.lower())
        self.nodes.append(self.helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(self, x: str, c_in: int, c_out: int, *, kernel: int, stride: int = 1,
             groups: int = 1) -> str:
        """A biased convolution (a conv with its BatchNorm folded in, as exported)."""
        fan_in = c_in // groups * kernel * kernel
        weight = self.tensor("w", (c_out, c_in // groups, kernel, kernel), fan_in=fan_in)
        bias = self.tensor("b", (c_out,), fan_in=fan_in)
        pad = kernel // 2
        return self.node("Conv", [x, weight, bias], dilations=[1, 1], group=groups,
                         kernel_shape=[kernel, kernel], pads=[pad, pad, pad, pad],
                         strides=[stride, stride])

    def act(self, x: str, act: str) -> str:
        if act == "relu":
            return self.node("Relu", [x])
        if act == "relu6":
            return self.node("Clip", [x, self.scalar(0.0), self.scalar(6.0)])
        if act == "hswish":
            return self.node("HardSwish", [x])
        if act == "swish":
            return self.node("Mul", [x, self.node("Sigmoid", [x])])
        if act == "identity":
            return x
        raise MnasInputError(f"no ONNX graph for activation {act!r}; known: "
                             f"{', '.join(_ACTIVATIONS)}")

    def gate(self, x: str, gate: str) -> str:
        if gate == "hard_sigmoid":
            return self.node("HardSigmoid", [x], alpha=1.0 / 6.0)
        return self.node("Sigmoid", [x])

    def squeeze_excite(self, x: str, channels: int, squeeze: int, se_act: str, gate: str
                       ) -> str:
        pooled = self.node("GlobalAveragePool", [x])
        reduced = self.act(self.conv(pooled, channels, squeeze, kernel=1), se_act)
        scale = self.gate(self.conv(reduced, squeeze, channels, kernel=1), gate)
        return self.node("Mul", [x, scale])

    def gemm(self, x: str, c_in: int, c_out: int) -> str:
        weight = self.tensor("w", (c_out, c_in), fan_in=c_in)
        bias = self.tensor("b", (c_out,), fan_in=c_in)
        return self.node("Gemm", [x, weight, bias], alpha=1.0, beta=1.0, transB=1)


def _unit(graph: _Graph, key: OpKey, x: str) -> str:
    """The unit's nodes from input ``x``; returns the output's name."""
    if key.kind == "stem":
        return graph.act(graph.conv(x, key.in_channels, key.out_channels, kernel=key.kernel,
                                    stride=key.stride), key.act)
    if key.kind == "head":
        width = key.in_channels
        if key.head_type == "pool_conv_act":
            x = graph.node("GlobalAveragePool", [x])
        if key.mid_channels:
            x = graph.act(graph.conv(x, width, key.mid_channels, kernel=1), key.act)
            width = key.mid_channels
        if key.head_type != "pool_conv_act":
            x = graph.node("GlobalAveragePool", [x])
        x = graph.node("Flatten", [x], axis=1)
        if key.hidden:
            x = graph.act(graph.gemm(x, width, key.hidden), key.act)
            width = key.hidden
        return graph.gemm(x, width, key.out_channels)
    inp = x
    if key.kind == "cn":
        x = graph.act(graph.conv(x, key.in_channels, key.out_channels, kernel=key.kernel,
                                 stride=key.stride), key.act)
    elif key.kind in ("ir", "ds", "dsa"):
        mid = key.in_channels
        if key.kind == "ir":
            mid = key.mid_channels
            x = graph.act(graph.conv(x, key.in_channels, mid, kernel=1), key.act)
        x = graph.act(graph.conv(x, mid, mid, kernel=key.kernel, stride=key.stride,
                                 groups=mid), key.act)
        if key.se_channels:
            x = graph.squeeze_excite(x, mid, key.se_channels, key.se_act, key.se_gate)
        x = graph.conv(x, mid, key.out_channels, kernel=1)
        if key.kind == "dsa":
            x = graph.act(x, key.act)
    else:
        raise MnasInputError(f"no ONNX graph for op key kind {key.kind!r} (key {key}); known: "
                             "stem, ir, ds, dsa, cn, head")
    return graph.node("Add", [x, inp]) if key.skip else x


def _model_bytes(graph: _Graph, out: str, *, in_shape: list[int], out_shape: list[int]
                 ) -> bytes:
    from onnx import TensorProto, helper

    assert graph.nodes[-1].output[0] == out  # every unit ends with the node of its output
    graph.nodes[-1].output[0] = "output"
    model = helper.make_model(
        helper.make_graph(
            graph.nodes, "mnas",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
            graph.initializers),
        opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mnas")
    return bytes(model.SerializeToString())


def _seed(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def key_onnx_bytes(key: OpKey, *, batch: int = 1) -> bytes:
    """The serialized ONNX model (opset 17) of one unit, input ``input`` (NCHW, float32),
    output ``output``, weights seeded from the key.

    Raises:
        MnasInputError: An op kind or activation this builder does not know.
    """
    graph = _Graph(_seed(str(key)))
    out = _unit(graph, key, "input")
    out_shape = ([batch, key.out_channels] if key.kind == "head"
                 else [batch, key.out_channels, key.out_size, key.out_size])
    return _model_bytes(graph, out, in_shape=[batch, key.in_channels, key.in_size, key.in_size],
                        out_shape=out_shape)


def network_onnx_bytes(arch: Arch, *, batch: int = 1) -> bytes:
    """The serialized ONNX model of a whole network: its units' graphs in order (stem,
    blocks, head), input ``input`` (NCHW image), output ``output`` (logits), weights seeded
    from the network's keys.

    Raises:
        MnasInputError: An op kind or activation this builder does not know.
    """
    keys = op_keys(arch)
    graph = _Graph(_seed("|".join(str(k) for k in keys)))
    out = "input"
    for key in keys:
        out = _unit(graph, key, out)
    return _model_bytes(graph, out, in_shape=[batch, 3, arch.resolution, arch.resolution],
                        out_shape=[batch, arch.num_classes])
