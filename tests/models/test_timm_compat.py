"""timm's arch_def strings build in mnas with timm's parameter count."""

from __future__ import annotations

import pytest

timm = pytest.importorskip("timm")

from mnas.arch import arch_from_dict  # noqa: E402
from mnas.models import build  # noqa: E402

# The arch_def of each timm model (timm/models/mobilenetv3.py, efficientnet.py) with the
# stem, head and SE conventions timm's generator function passes alongside it.
TIMM_DEFS = {
    "mobilenetv3_large_100": dict(
        blocks=[["ds_r1_k3_s1_e1_c16_nre"], ["ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"],
                ["ir_r3_k5_s2_e3_c40_se0.25_nre"],
                ["ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"],
                ["ir_r2_k3_s1_e6_c112_se0.25"], ["ir_r3_k5_s2_e6_c160_se0.25"],
                ["cn_r1_k1_s1_c960"]],
        stem={"channels": 16, "stride": 2, "act": "hswish"}, act_default="hswish",
        head={"type": "pool_conv_act", "hidden": 1280, "act": "hswish"},
        se_gate="hard_sigmoid", se_reduce_from="mid"),
    "mobilenetv3_small_100": dict(
        blocks=[["ds_r1_k3_s2_e1_c16_se0.25_nre"],
                ["ir_r1_k3_s2_e4.5_c24_nre", "ir_r1_k3_s1_e3.67_c24_nre"],
                ["ir_r1_k5_s2_e4_c40_se0.25", "ir_r2_k5_s1_e6_c40_se0.25"],
                ["ir_r2_k5_s1_e3_c48_se0.25"], ["ir_r3_k5_s2_e6_c96_se0.25"],
                ["cn_r1_k1_s1_c576"]],
        stem={"channels": 16, "stride": 2, "act": "hswish"}, act_default="hswish",
        head={"type": "pool_conv_act", "hidden": 1024, "act": "hswish"},
        se_gate="hard_sigmoid", se_reduce_from="mid"),
    "mobilenetv2_100": dict(
        blocks=[["ds_r1_k3_s1_c16"], ["ir_r2_k3_s2_e6_c24"], ["ir_r3_k3_s2_e6_c32"],
                ["ir_r4_k3_s2_e6_c64"], ["ir_r3_k3_s1_e6_c96"], ["ir_r3_k3_s2_e6_c160"],
                ["ir_r1_k3_s1_e6_c320"]],
        stem={"channels": 32, "stride": 2, "act": "relu6"}, act_default="relu6",
        head={"type": "conv_bn_act_pool", "channels": 1280, "act": "relu6"}),
    "mobilenetv1_100": dict(
        blocks=[["dsa_r1_k3_s1_c64"], ["dsa_r2_k3_s2_c128"], ["dsa_r2_k3_s2_c256"],
                ["dsa_r6_k3_s2_c512"], ["dsa_r2_k3_s2_c1024"]],
        stem={"channels": 32, "stride": 2, "act": "relu6"}, act_default="relu6",
        head={"type": "conv_bn_act_pool", "act": "relu6"}),
}


@pytest.mark.parametrize("name", sorted(TIMM_DEFS))
def test_timm_arch_def_builds_with_timms_param_count(name):
    spec = TIMM_DEFS[name]
    doc = {"format": "mnas-arch/1", "name": name, "resolution": 224, "num_classes": 1000, **spec}
    ours = build(arch_from_dict(doc))
    theirs = timm.create_model(name, pretrained=False)
    assert sum(p.numel() for p in ours.parameters()) == sum(
        p.numel() for p in theirs.parameters())
