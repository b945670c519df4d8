"""A key's directly written ONNX graph is what onnxruntime would run for the exported model."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from mnas.errors import MnasInputError
from mnas.latency import OpKey, key_example, key_model, op_keys
from mnas.latency.runners import OnnxRuntimeRunner, arch_model, export_onnx_bytes
from mnas.latency.runners._onnx_graphs import key_onnx_bytes, network_onnx_bytes
from mnas.models import get_arch

# every kind, activation (relu, relu6, hswish, swish), SE gate, residual and head type
KEYS = [
    "stem-in:224x224x3-out:112x112x16-k3-s2-hswish",
    "stem-in:224x224x3-out:112x112x32-k3-s2-relu6",
    "stem-in:96x96x3-out:48x48x16-k3-s2-swish",
    "ir-in:28x28x40-out:28x28x40-mid:120-k5-s1-skip1-se32.relu.hsig-hswish",
    "ir-in:28x28x40-out:28x28x40-mid:120-k5-s1-skip1-se32.relu.sig-swish",
    "ir-in:56x56x24-out:28x28x40-mid:72-k7-s2-skip0-se0-relu",
    "ir-in:112x112x16-out:56x56x24-mid:96-k3-s2-skip0-se0-relu6",
    "ds-in:112x112x16-out:112x112x16-mid:16-k3-s1-skip1-se0-relu",
    "ds-in:112x112x16-out:56x56x16-mid:16-k3-s2-skip0-se8.relu.hsig-relu",
    "dsa-in:56x56x64-out:56x56x128-mid:64-k3-s1-skip0-se0-relu",
    "cn-in:7x7x160-out:7x7x960-mid:960-k1-s1-skip0-se0-hswish",
    "cn-in:14x14x32-out:14x14x32-mid:32-k3-s1-skip1-se0-relu",
    "head-in:7x7x160-conv:960-pool_conv_act-hidden:1280-out:1000-hswish",
    "head-in:4x4x480-conv:none-pool_conv_act-hidden:640-out:1000-hswish",
    "head-in:7x7x1024-conv:none-conv_bn_act_pool-hidden:none-out:1000-relu",
    "head-in:7x7x320-conv:1280-conv_bn_act_pool-hidden:none-out:1000-relu6",
]


def _optimized_signature(data: bytes, folder: Path) -> collections.Counter[Any]:
    """The graph onnxruntime runs after its optimisations (this runner's settings): every
    node's type, domain, attributes and initializer shapes, as a multiset."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    path = folder / "optimized.onnx"
    options.optimized_model_filepath = str(path)
    ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    model = onnx.load(path)
    shapes = {i.name: tuple(i.dims) for i in model.graph.initializer}
    signature: collections.Counter[Any] = collections.Counter()
    for node in model.graph.node:
        attrs = tuple(sorted((a.name, str(onnx.helper.get_attribute_value(a)))
                             for a in node.attribute))
        signature[(node.domain, node.op_type, attrs,
                   tuple(shapes[i] for i in node.input if i in shapes))] += 1
    return signature


@pytest.mark.parametrize("text", KEYS)
def test_direct_graph_is_what_onnxruntime_runs_for_the_export(text: str, tmp_path: Path) -> None:
    key = OpKey.parse(text)
    direct = key_onnx_bytes(key)
    onnx.checker.check_model(onnx.load_from_string(direct), full_check=True)
    exported = export_onnx_bytes(key_model(key), key_example(key))
    assert _optimized_signature(direct, tmp_path) == _optimized_signature(exported, tmp_path)


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "mobilenet_v2_050", "mnasnet_a1",
                                  "mobilenet_v1_025", "efficientnet_lite0"])
def test_direct_network_is_what_onnxruntime_runs_for_the_export(name: str,
                                                                tmp_path: Path) -> None:
    arch = get_arch(name).replace(resolution=64)
    direct = network_onnx_bytes(arch)
    onnx.checker.check_model(onnx.load_from_string(direct), full_check=True)
    model, example = arch_model(arch)
    exported = export_onnx_bytes(model, example)
    assert _optimized_signature(direct, tmp_path) == _optimized_signature(exported, tmp_path)


def test_zoo_keys_have_direct_graphs_of_the_right_shape() -> None:
    keys = {str(k): k for name in ("mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small",
                                   "mnasnet_a1", "efficientnet_lite0")
            for k in op_keys(get_arch(name))}
    for key in keys.values():
        session = ort.InferenceSession(key_onnx_bytes(key, batch=2),
                                       providers=["CPUExecutionProvider"])
        x = np.zeros((2, key.in_channels, key.in_size, key.in_size), np.float32)
        (out,) = session.run(None, {"input": x})
        expected = ((2, key.out_channels) if key.kind == "head"
                    else (2, key.out_channels, key.out_size, key.out_size))
        assert out.shape == expected, key


def test_the_runner_times_keys_and_networks_from_direct_graphs() -> None:
    runner = OnnxRuntimeRunner()
    for prepared in (runner.prepare_key(OpKey.parse(KEYS[3])),
                     runner.prepare_arch(get_arch("mobilenet_v3_small").replace(resolution=64))):
        timing = prepared.time(warmup=1, repeats=5)
        assert timing.n == 5 and 0 < timing.min_ms < 100


def test_unknown_activation_is_an_input_error() -> None:
    key = OpKey.parse("stem-in:32x32x3-out:16x16x8-k3-s2-gelu")
    with pytest.raises(MnasInputError, match="activation 'gelu'"):
        key_onnx_bytes(key)
