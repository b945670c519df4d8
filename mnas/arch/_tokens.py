"""timm-style ``arch_def`` block tokens: ``ir_r3_k5_s2_e3_c40_se0.25_nre``.

Parsing is strict: an unknown block type, option or activation code, a repeated
option, or a missing required option is an error naming it (timm skips them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mnas._limits import (
    MAX_CHANNELS,
    MAX_EXPANSION,
    MAX_INT_DIGITS,
    MAX_KERNEL,
    MAX_REPEATS,
    MAX_STRIDE,
    MAX_TOKEN_CHARS,
)
from mnas.arch._arch import BLOCK_TYPES, Block
from mnas.arch._divisible import make_divisible
from mnas.errors import MnasInputError

__all__ = ["ACT_CODES", "BlockToken", "format_token", "parse_token"]

ACT_CODES: dict[str, str] = {
    "re": "relu",
    "r6": "relu6",
    "hs": "hswish",
    "sw": "swish",
    "id": "identity",
}
_CODE_OF_ACT = {name: code for code, name in ACT_CODES.items()}

_INT = r"(0|[1-9][0-9]*)"
_FLOAT = r"([0-9]+(\.[0-9]+)?|\.[0-9]+)"
_OPTION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("noskip", re.compile(r"noskip")),
    ("skip", re.compile(r"skip")),
    ("se", re.compile(r"se" + _FLOAT)),
    ("r", re.compile(r"r" + _INT)),
    ("k", re.compile(r"k" + _INT)),
    ("s", re.compile(r"s" + _INT)),
    ("e", re.compile(r"e" + _FLOAT)),
    ("c", re.compile(r"c" + _INT)),
    ("n", re.compile(r"n([a-z0-9]+)")),
)
_VALID_OPTIONS = "r<int>, k<int>, s<int>, e<float>, c<int>, se<float>, n<code>, skip, noskip"


@dataclass(frozen=True, kw_only=True)
class BlockToken:
    """A parsed token, before channel widths are resolved.

    Attributes:
        type: Block type.
        repeats: ``r``.
        kernel: ``k``.
        stride: ``s`` (first repeat only).
        expansion: ``e`` (``ir`` only), else None.
        out_channels: ``c``.
        se_ratio: ``se`` or 0.
        act: Activation name, or None when the token names none.
        skip: True for ``skip``, False for ``noskip``, None for the default.
    """

    type: str
    repeats: int
    kernel: int
    stride: int
    expansion: float | None
    out_channels: int
    se_ratio: float
    act: str | None
    skip: bool | None


def parse_token(token: str, *, where: str = "token") -> BlockToken:
    """Parse one ``arch_def`` token.

    Args:
        token: e.g. ``"ir_r2_k3_s2_e6_c24_se0.25_nhs"``.
        where: Names the token's place in error messages.

    Returns:
        The parsed token.

    Raises:
        MnasInputError: For an unknown type, option or activation code, a repeated
            option, or a missing required option.
    """
    if not isinstance(token, str) or not token:
        raise MnasInputError(f"{where} must be a non-empty token string, got {token!r}")
    if len(token) > MAX_TOKEN_CHARS:
        raise MnasInputError(f"{where} {token[:40]!r}...: token is {len(token):,} characters "
                             f"long, over the bound of {MAX_TOKEN_CHARS}; fix the file")
    parts = token.split("_")
    block_type = parts[0]
    if block_type not in BLOCK_TYPES:
        raise MnasInputError(
            f"{where} {token!r}: unknown block type {block_type!r}; "
            f"allowed: {', '.join(BLOCK_TYPES)}")
    values: dict[str, str] = {}
    for part in parts[1:]:
        for name, pattern in _OPTION_PATTERNS:  # noqa: B007 - `name` is read after the break
            match = pattern.fullmatch(part)
            if match:
                break
        else:
            raise MnasInputError(
                f"{where} {token!r}: unknown option {part!r}; allowed: {_VALID_OPTIONS}")
        key = "skip" if name == "noskip" else name
        if key in values:
            raise MnasInputError(f"{where} {token!r}: option {part!r} given twice")
        values[key] = part if name in ("skip", "noskip") else match.group(1)
    required = ("r", "k", "s", "c") + (("e",) if block_type == "ir" else ())
    for opt in required:
        if opt not in values:
            raise MnasInputError(
                f"{where} {token!r}: missing required option {opt!r} "
                f"(an '{block_type}' token needs {', '.join(required)})")
    if "e" in values and block_type != "ir" and float(values["e"]) != 1.0:
        # timm writes ``e1`` on ds blocks (no expansion); anything else is meaningless there.
        raise MnasInputError(
            f"{where} {token!r}: option 'e' is only for 'ir' blocks ('{block_type}' blocks "
            "do not expand; 'e1' is accepted); remove it")
    for opt in ("r", "k", "s", "c", "e", "se"):
        if len(values.get(opt, "")) > MAX_INT_DIGITS:
            raise MnasInputError(f"{where} {token!r}: option {opt!r} has "
                                 f"{len(values[opt])} digits; no real value needs that many")
    act = None
    if "n" in values:
        code = values["n"]
        if code not in ACT_CODES:
            raise MnasInputError(
                f"{where} {token!r}: unknown activation code 'n{code}'; allowed: "
                + ", ".join(f"n{c} ({a})" for c, a in ACT_CODES.items()))
        act = ACT_CODES[code]
    skip = None if "skip" not in values else values["skip"] == "skip"
    parsed = BlockToken(
        type=block_type,
        repeats=int(values["r"]),
        kernel=int(values["k"]),
        stride=int(values["s"]),
        expansion=float(values["e"]) if "e" in values and block_type == "ir" else None,
        out_channels=int(values["c"]),
        se_ratio=float(values.get("se", 0.0)),
        act=act,
        skip=skip,
    )
    for name, value in (("r", parsed.repeats), ("k", parsed.kernel), ("s", parsed.stride),
                        ("c", parsed.out_channels)):
        if value < 1:
            raise MnasInputError(f"{where} {token!r}: option {name!r} must be >= 1, got {value}")
    for name, value, bound in (("r", parsed.repeats, MAX_REPEATS), ("k", parsed.kernel, MAX_KERNEL),
                               ("s", parsed.stride, MAX_STRIDE),
                               ("c", parsed.out_channels, MAX_CHANNELS)):
        if value > bound:
            raise MnasInputError(f"{where} {token!r}: option {name!r} is {value}, over the bound "
                                 f"of {bound} (see the README's input bounds)")
    if parsed.kernel % 2 == 0:
        raise MnasInputError(f"{where} {token!r}: kernel must be odd, got k{parsed.kernel}")
    if parsed.expansion is not None and parsed.expansion <= 0:
        raise MnasInputError(f"{where} {token!r}: expansion must be > 0, got {parsed.expansion}")
    if parsed.expansion is not None and parsed.expansion > MAX_EXPANSION:
        raise MnasInputError(f"{where} {token!r}: expansion e{values['e']} is over the bound of "
                             f"{MAX_EXPANSION:g} (see the README's input bounds)")
    if not 0 <= parsed.se_ratio <= 1:
        raise MnasInputError(f"{where} {token!r}: se ratio must be in [0, 1], got "
                             f"{parsed.se_ratio}")
    if parsed.se_ratio and block_type == "cn":
        raise MnasInputError(f"{where} {token!r}: 'cn' blocks take no 'se' option")
    return parsed


def _format_number(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _expansion_text(block: Block) -> str:
    """Shortest decimal ``e`` for which ``make_divisible(in * e, 8)`` gives ``mid``."""
    exact = block.mid_channels / block.in_channels
    for digits in range(0, 7):
        text = f"{exact:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{exact:.0f}"
        value = float(text)
        if value > 0 and make_divisible(block.in_channels * value, 8) == block.mid_channels:
            return text
    raise MnasInputError(
        f"block {block.in_channels}->{block.mid_channels}->{block.out_channels}: mid channels "
        f"{block.mid_channels} cannot be written as an 'e' token (make_divisible(in x e, 8) "
        "never equals it); use a multiple of 8")


def format_token(block: Block, *, act_default: str | None = None) -> str:
    """The ``r1`` token of one block (exact: parsing it gives the same block back).

    Args:
        block: The block.
        act_default: When given, the activation code is left out if it equals this.

    Returns:
        The token string.
    """
    parts = [block.type, "r1", f"k{block.kernel}", f"s{block.stride}"]
    if block.type == "ir":
        parts.append(f"e{_expansion_text(block)}")
    parts.append(f"c{block.out_channels}")
    if block.se_ratio:
        parts.append(f"se{_format_number(block.se_ratio)}")
    if act_default is None or block.act != act_default:
        parts.append(f"n{_CODE_OF_ACT[block.act]}")
    if block.skip != block.default_skip():
        parts.append("skip" if block.skip else "noskip")
    return "_".join(parts)
