"""The mnas-arch/1 file format, read exactly as ../shared/reference/arch-format.md specifies."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnas.arch import arch_from_dict, load_arch, save_arch
from mnas.errors import MnasInputError
from mnas.models import build


# --------------------------------------------------------------------------------------
# An independent parameter counter written from the format document alone (no mnas code).
def _divisible(v: float) -> int:
    new = max(8, int(v + 4) // 8 * 8)
    return new + 8 if new < 0.9 * v else new


def _independent_param_count(doc: dict) -> int:
    stem = doc["stem"]
    k = stem.get("kernel", 3)
    c = stem["channels"]
    total = 3 * c * k * k + 2 * c
    se_from = doc.get("se_reduce_from", "in")
    for stage in doc["blocks"]:
        for token in stage:
            parts = token.split("_")
            kind = parts[0]
            opts = {}
            for p in parts[1:]:
                for prefix in ("se", "r", "k", "s", "e", "c", "n"):
                    if p.startswith(prefix) and p not in ("skip", "noskip"):
                        opts[prefix] = p[len(prefix):]
                        break
            for _ in range(int(opts["r"])):
                kk, out = int(opts["k"]), int(opts["c"])
                ratio = float(opts.get("se", 0))
                if kind == "ir":
                    mid = _divisible(c * float(opts["e"]))
                    total += c * mid + 2 * mid
                elif kind == "cn":
                    total += c * out * kk * kk + 2 * out
                    c = out
                    continue
                else:
                    mid = c
                total += mid * kk * kk + 2 * mid
                if ratio:
                    sq = max(1, math.floor(c * ratio)) if se_from == "in" else _divisible(mid * ratio)
                    total += 2 * mid * sq + sq + mid
                total += mid * out + 2 * out
                c = out
    head = doc.get("head") or {}
    if head.get("channels"):
        total += c * head["channels"] + 2 * head["channels"]
        c = head["channels"]
    if head.get("hidden"):
        total += c * head["hidden"] + head["hidden"]
        c = head["hidden"]
    return total + c * doc["num_classes"] + doc["num_classes"]


def _params(arch) -> int:
    return sum(p.numel() for p in build(arch).parameters())


def test_every_nas_bench_macro_file_builds_its_true_param_count(macro_arch_files):
    for path in macro_arch_files:
        arch = load_arch(path)
        assert _params(arch) == arch.extra["truth"]["params"], path.name


_block = st.tuples(
    st.sampled_from(["ir", "ds", "dsa", "cn"]), st.integers(1, 2), st.sampled_from([1, 3, 5, 7]),
    st.integers(1, 2), st.sampled_from([1, 2.5, 3, 4.5, 6]), st.integers(1, 48),
    st.sampled_from([0, 0.25, 0.5]), st.sampled_from(["", "_nre", "_nhs", "_nr6", "_nsw", "_nid"]),
)


def _token(kind, r, k, s, e, c, se, act) -> str:
    text = f"{kind}_r{r}_k{k}_s{s}_c{c}{act}"
    if kind == "ir":
        text += f"_e{e}"
    if se and kind != "cn":
        text += f"_se{se}"
    return text


@settings(max_examples=60, deadline=None)
@given(stages=st.lists(st.lists(_block, min_size=1, max_size=3), min_size=1, max_size=3),
       stem=st.integers(1, 40), se_from=st.sampled_from(["in", "mid"]),
       head=st.sampled_from([
           {"type": "conv_bn_act_pool", "channels": None, "hidden": None},
           {"type": "conv_bn_act_pool", "channels": 64, "hidden": None, "dropout": 0.1},
           {"type": "pool_conv_act", "channels": None, "hidden": 96, "act": "hswish"},
           {"type": "pool_conv_act", "channels": 40, "hidden": 32}]))
def test_hand_written_files_match_an_independent_implementation(stages, stem, se_from, head):
    doc = {"format": "mnas-arch/1", "name": "fuzz", "resolution": 32, "num_classes": 7,
           "stem": {"channels": stem, "stride": 2, "act": "hswish"},
           "blocks": [[_token(*b) for b in stage] for stage in stages], "head": head,
           "se_reduce_from": se_from, "se_gate": "hard_sigmoid", "source": {"by": "hand"}}
    arch = arch_from_dict(doc)
    assert _params(arch) == _independent_param_count(doc)
    assert arch.extra == {"source": {"by": "hand"}}


def test_documented_example_file(tmp_path: Path):
    doc = {
        "format": "mnas-arch/1", "name": "mobilenet_v3_small_like", "resolution": 224,
        "num_classes": 1000, "stem": {"channels": 16, "stride": 2, "kernel": 3, "act": "hswish"},
        "blocks": [["ds_r1_k3_s2_c16_se0.25_nre"],
                   ["ir_r1_k3_s2_e4.5_c24_nre", "ir_r1_k3_s1_e3.67_c24_nre"],
                   ["ir_r1_k5_s2_e4_c40_se0.25_nhs", "ir_r2_k5_s1_e6_c40_se0.25_nhs"],
                   ["cn_r1_k1_s1_c576_nhs"]],
        "head": {"type": "pool_conv_act", "channels": None, "hidden": 1024, "act": "hswish",
                 "dropout": 0.2},
        "act_default": "relu", "se_gate": "hard_sigmoid", "se_reduce_from": "mid",
        "se_act": "relu", "bn": {"eps": 0.001, "momentum": 0.01}}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    arch = load_arch(path)
    assert [b.mid_channels for b in arch.blocks] == [16, 72, 88, 96, 240, 240, 576]
    assert _params(arch) == _independent_param_count(doc)
    out = save_arch(arch, tmp_path / "b.json")
    assert load_arch(out) == arch


def _doc(**changes) -> dict:
    doc = {"format": "mnas-arch/1", "name": "x", "resolution": 32, "num_classes": 10,
           "stem": {"channels": 16, "stride": 2}, "blocks": [["ir_r1_k3_s1_e6_c16"]]}
    doc.update(changes)
    return doc


@pytest.mark.parametrize("changes,fragment", [
    ({"format": "mnas-arch/2"}, "field 'format' must be \"mnas-arch/1\""),
    ({"resolution": "224"}, "field 'resolution' must be an integer in [1, 2048], got '224'"),
    ({"stem": {"channels": -16, "stride": 2}},
     "field 'stem.channels' must be an integer in [1, 8192]"),
    ({"blocks": [["ir_r1_k3_s1_e6_c16_xx"]]}, "unknown option 'xx'"),
    ({"blocks": []}, "field 'blocks' must be a non-empty list"),
    ({"head": {"type": "pool"}}, "field 'head.type'"),
    ({"se_gate": "relu"}, "field 'se_gate'"),
    ({"bn": {"eps": -1}}, "field 'bn.eps'"),
    ({"stem": {"channels": 16, "strid": 2}}, "unknown field 'stem.strid'"),
    ({"blocks": [["ir_r1_k3_s2_e6_c16_skip"]]}, "'skip' needs stride 1"),
])
def test_bad_fields_are_one_line_errors(changes, fragment):
    with pytest.raises(MnasInputError) as info:
        arch_from_dict(_doc(**changes), source="f.json")
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_malformed_json_names_file_and_position(tmp_path: Path):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "mnas-arch/1", ')
    with pytest.raises(MnasInputError, match=r"bad.json: not valid JSON .* line 1"):
        load_arch(path)


def test_missing_file(tmp_path: Path):
    with pytest.raises(MnasInputError, match="no such arch file"):
        load_arch(tmp_path / "nope.json")


def test_defaults_follow_the_document():
    arch = arch_from_dict(_doc())
    assert (arch.stem.kernel, arch.stem.act, arch.head.type, arch.se_gate, arch.se_reduce_from,
            arch.bn_eps, arch.bn_momentum, arch.head.dropout) == (
        3, "relu", "conv_bn_act_pool", "sigmoid", "in", 1e-5, 0.1, 0.0)
    assert arch.blocks[0].skip is True
