"""timm-style arch_def tokens: strict parsing and exact formatting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnas.arch import Block, format_token, parse_token
from mnas.errors import MnasInputError


def test_parse_full_token():
    tok = parse_token("ir_r3_k5_s2_e3_c40_se0.25_nre")
    assert (tok.type, tok.repeats, tok.kernel, tok.stride, tok.expansion, tok.out_channels,
            tok.se_ratio, tok.act, tok.skip) == ("ir", 3, 5, 2, 3.0, 40, 0.25, "relu", None)


def test_options_in_any_order_and_skip_flags():
    tok = parse_token("ds_c16_noskip_k3_s1_r1")
    assert tok.skip is False and tok.out_channels == 16
    assert parse_token("cn_r1_k1_s1_c64_skip").skip is True


def test_timm_e1_on_ds_is_accepted():
    assert parse_token("ds_r1_k3_s1_e1_c16").expansion is None


@pytest.mark.parametrize("token,fragment", [
    ("xx_r1_k3_s1_c16", "unknown block type 'xx'"),
    ("ir_r1_k3_s1_e6_c16_a1", "unknown option 'a1'"),
    ("ir_r1_k3_s1_e6_c16_nzz", "unknown activation code 'nzz'"),
    ("ir_r1_k3_s1_c16", "missing required option 'e'"),
    ("ds_r1_k3_c16", "missing required option 's'"),
    ("ir_r1_k3_k5_s1_e6_c16", "given twice"),
    ("ir_r1_k4_s1_e6_c16", "kernel must be odd"),
    ("ds_r1_k3_s1_e6_c16", "option 'e' is only for 'ir' blocks"),
    ("cn_r1_k3_s1_c16_se0.25", "'cn' blocks take no 'se'"),
    ("ir_r0_k3_s1_e6_c16", "must be >= 1"),
])
def test_bad_tokens_name_the_problem(token, fragment):
    with pytest.raises(MnasInputError, match=fragment):
        parse_token(token)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="irdscnaek0123456789_.rsehwpy", max_size=40))
def test_parser_never_crashes_on_garbage(text):
    try:
        parse_token(text)
    except MnasInputError:
        pass


@pytest.mark.parametrize("in_ch,mid", [(16, 64), (24, 72), (24, 88), (80, 200), (80, 184),
                                      (40, 240), (16, 48), (96, 576)])
def test_expansion_text_reproduces_mid(in_ch, mid):
    block = Block(type="ir", in_channels=in_ch, mid_channels=mid, out_channels=in_ch, kernel=3,
                  stride=1, act="hswish", skip=True)
    token = format_token(block)
    parsed = parse_token(token)
    from mnas.arch import make_divisible

    assert make_divisible(in_ch * parsed.expansion, 8) == mid
    assert "skip" not in token.split("_")  # default residual is not written


def test_unexpressible_mid_is_an_error():
    block = Block(type="ir", in_channels=16, mid_channels=20, out_channels=16, kernel=3,
                  stride=1, act="relu", skip=True)
    with pytest.raises(MnasInputError, match="cannot be written as an 'e' token"):
        format_token(block)



@pytest.mark.parametrize(("at_bound", "over_bound"), [
    ("ir_r64_k3_s1_e6_c16", "ir_r65_k3_s1_e6_c16"),
    ("ir_r1_k15_s1_e6_c16", "ir_r1_k17_s1_e6_c16"),
    ("ir_r1_k3_s8_e6_c16", "ir_r1_k3_s9_e6_c16"),
    ("ir_r1_k3_s1_e32_c16", "ir_r1_k3_s1_e32.5_c16"),
    ("ds_r1_k3_s1_c8192", "ds_r1_k3_s1_c8193"),
])
def test_token_bounds_both_sides(at_bound: str, over_bound: str) -> None:
    parse_token(at_bound)
    with pytest.raises(MnasInputError, match="over the bound"):
        parse_token(over_bound)


def test_token_length_bound() -> None:
    parse_token("ir_r1_k3_s1_e1.5555555555555555_c16_se0.5555555555555555_nhs_noskip")
    with pytest.raises(MnasInputError, match="201 characters long, over the bound of 200"):
        parse_token("ir_r1_k3_s1_e6_c16_" + "x" * 182)
