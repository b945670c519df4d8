"""Read and write the ``mnas-arch/1`` file format (README: "Arch files").

A small JSON envelope (stem, head, SE and BN conventions) around timm-style
block tokens. Reading follows the format exactly: defaults as documented,
unknown top-level fields kept (and written back), any listed field with a
wrong type or value an error naming it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mnas._limits import (
    MAX_BLOCKS,
    MAX_CHANNELS,
    MAX_CLASSES,
    MAX_KERNEL,
    MAX_RESOLUTION,
    MAX_STRIDE,
    load_json_file,
)
from mnas.arch._arch import ACTIVATIONS, Arch, Block, Head, Stem, se_squeeze_channels
from mnas.arch._divisible import make_divisible
from mnas.arch._tokens import format_token, parse_token
from mnas.errors import MnasInputError

__all__ = ["FORMAT", "arch_from_dict", "arch_to_dict", "load_arch", "save_arch"]

FORMAT = "mnas-arch/1"
_KNOWN_FIELDS = (
    "format", "name", "resolution", "num_classes", "stem", "blocks", "head",
    "act_default", "se_gate", "se_reduce_from", "se_act", "bn",
)
_ACT_ALIASES = {"hard_swish": "hswish", "silu": "swish", "none": "identity"}


def _type_error(source: str, field: str, value: Any, expected: str) -> MnasInputError:
    return MnasInputError(f"{source}: field {field!r} must be {expected}, got {value!r}")


def _get_int(source: str, data: Mapping[str, Any], key: str, field: str,
             default: Any = ..., minimum: int = 1, nullable: bool = False,
             maximum: int | None = None) -> Any:
    if key not in data:
        if default is ...:
            raise MnasInputError(f"{source}: required field {field!r} is missing")
        return default
    value = data[key]
    if value is None and nullable:
        return None
    if (isinstance(value, bool) or not isinstance(value, int) or value < minimum
            or (maximum is not None and value > maximum)):
        expected = (f"an integer >= {minimum}" if maximum is None
                    else f"an integer in [{minimum}, {maximum}]") + (" or null" if nullable else "")
        raise _type_error(source, field, value, expected)
    return value


def _get_number(source: str, data: Mapping[str, Any], key: str, field: str, default: float,
                low: float, high: float, high_open: bool = False,
                low_open: bool = False) -> float:
    value = data.get(key, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and (
        low < value if low_open else low <= value) and (
        value < high if high_open else value <= high)
    if not ok:
        bracket = ")" if high_open else "]"
        opening = "(" if low_open else "["
        raise _type_error(source, field, value, f"a number in {opening}{low}, {high}{bracket}")
    return float(value)


def _get_act(source: str, data: Mapping[str, Any], key: str, field: str, default: str) -> str:
    value = data.get(key, default)
    if isinstance(value, str):
        value = _ACT_ALIASES.get(value, value)
    if value not in ACTIVATIONS:
        raise _type_error(source, field, value, "one of " + ", ".join(ACTIVATIONS))
    return str(value)


def _get_choice(source: str, data: Mapping[str, Any], key: str, default: str,
                choices: tuple[str, ...], field: str | None = None) -> str:
    value = data.get(key, default)
    if value not in choices:
        raise _type_error(source, field or key, value, "one of " + ", ".join(choices))
    return str(value)


def _get_object(source: str, data: Mapping[str, Any], key: str, required: bool
                ) -> dict[str, Any]:
    if key not in data:
        if required:
            raise MnasInputError(f"{source}: required field {key!r} is missing")
        return {}
    value = data[key]
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _type_error(source, key, value, "an object")
    return value


def _check_keys(source: str, obj: Mapping[str, Any], prefix: str, allowed: tuple[str, ...]) -> None:
    for key in obj:
        if key not in allowed:
            raise MnasInputError(
                f"{source}: unknown field '{prefix}.{key}'; allowed: {', '.join(allowed)}")


def arch_from_dict(data: Mapping[str, Any], *, source: str = "arch") -> Arch:
    """Build an :class:`Arch` from ``mnas-arch/1`` content.

    Args:
        data: The parsed JSON object.
        source: Names the file in error messages.

    Returns:
        The architecture, with every block's final channel counts resolved.

    Raises:
        MnasInputError: Naming the field (or token) and what is allowed.
    """
    if not isinstance(data, Mapping):
        raise MnasInputError(f"{source}: an arch file must hold a JSON object, got "
                             f"{type(data).__name__}")
    fmt = data.get("format")
    if fmt != FORMAT:
        raise _type_error(source, "format", fmt, f'"{FORMAT}"')
    name = data.get("name")
    if not isinstance(name, str):
        raise _type_error(source, "name", name, "a string")
    resolution = _get_int(source, data, "resolution", "resolution", maximum=MAX_RESOLUTION)
    num_classes = _get_int(source, data, "num_classes", "num_classes", maximum=MAX_CLASSES)
    act_default = _get_act(source, data, "act_default", "act_default", "relu")
    se_gate = _get_choice(source, data, "se_gate", "sigmoid", ("sigmoid", "hard_sigmoid"))
    se_reduce_from = _get_choice(source, data, "se_reduce_from", "in", ("in", "mid"))
    se_act = _get_act(source, data, "se_act", "se_act", "relu")

    bn = _get_object(source, data, "bn", required=False)
    _check_keys(source, bn, "bn", ("eps", "momentum"))
    bn_eps = _get_number(source, bn, "eps", "bn.eps", 1e-5, 0.0, 1.0, high_open=True,
                         low_open=True)
    bn_momentum = _get_number(source, bn, "momentum", "bn.momentum", 0.1, 0.0, 1.0,
                              low_open=True)

    stem_data = _get_object(source, data, "stem", required=True)
    _check_keys(source, stem_data, "stem", ("channels", "stride", "kernel", "act"))
    stem_kernel = _get_int(source, stem_data, "kernel", "stem.kernel", default=3,
                           maximum=MAX_KERNEL)
    if stem_kernel % 2 == 0:
        raise _type_error(source, "stem.kernel", stem_kernel, "an odd integer")
    stem = Stem(
        channels=_get_int(source, stem_data, "channels", "stem.channels",
                          maximum=MAX_CHANNELS),
        stride=_get_int(source, stem_data, "stride", "stem.stride", default=2,
                        maximum=MAX_STRIDE),
        kernel=stem_kernel,
        act=_get_act(source, stem_data, "act", "stem.act", act_default),
    )

    head_data = _get_object(source, data, "head", required=False)
    _check_keys(source, head_data, "head", ("type", "channels", "hidden", "act", "dropout"))
    head = Head(
        type=_get_choice(source, head_data, "type", "conv_bn_act_pool",
                         ("conv_bn_act_pool", "pool_conv_act"), field="head.type"),
        channels=_get_int(source, head_data, "channels", "head.channels", default=None,
                          nullable=True, maximum=MAX_CHANNELS),
        hidden=_get_int(source, head_data, "hidden", "head.hidden", default=None, nullable=True,
                        maximum=MAX_CHANNELS),
        act=_get_act(source, head_data, "act", "head.act", act_default),
        dropout=_get_number(source, head_data, "dropout", "head.dropout", 0.0, 0.0, 1.0,
                            high_open=True),
    )

    blocks = data.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        raise _type_error(source, "blocks", blocks, "a non-empty list of stages")
    parsed_stages = []
    total_blocks = 0
    for s, stage_tokens in enumerate(blocks):
        if not isinstance(stage_tokens, list) or not stage_tokens:
            raise _type_error(source, f"blocks[{s}]", stage_tokens,
                              "a non-empty list of token strings")
        if len(stage_tokens) > MAX_BLOCKS:
            raise _type_error(source, f"blocks[{s}]", f"<{len(stage_tokens)} tokens>",
                              f"at most {MAX_BLOCKS} tokens")
        parsed_stage = []
        for t, token in enumerate(stage_tokens):
            where = f"{source}: blocks[{s}][{t}]"
            parsed = parse_token(token, where=where)
            total_blocks += parsed.repeats
            if total_blocks > MAX_BLOCKS:
                raise MnasInputError(f"{where} {token!r}: the network has more than "
                                     f"{MAX_BLOCKS} blocks (repeats counted), over the bound; "
                                     "use fewer or smaller repeats")
            parsed_stage.append((where, token, parsed))
        parsed_stages.append(parsed_stage)
    channels = stem.channels
    stages: list[tuple[Block, ...]] = []
    for parsed_stage in parsed_stages:
        stage: list[Block] = []
        for where, token, parsed in parsed_stage:
            act = parsed.act or act_default
            for r in range(parsed.repeats):
                stride = parsed.stride if r == 0 else 1
                in_ch = channels
                out_ch = parsed.out_channels
                if parsed.type == "ir":
                    assert parsed.expansion is not None
                    mid = make_divisible(in_ch * parsed.expansion, 8)
                    if mid > MAX_CHANNELS:
                        raise MnasInputError(
                            f"{where} {token!r}: expanded channels {in_ch} x "
                            f"{parsed.expansion:g} = {mid}, over the bound of {MAX_CHANNELS}; "
                            "use a smaller 'e'")
                elif parsed.type == "cn":
                    mid = out_ch
                else:
                    mid = in_ch
                default_skip = parsed.type in ("ir", "ds") and stride == 1 and in_ch == out_ch
                if parsed.skip is None:
                    skip = default_skip
                elif parsed.skip:
                    if parsed.type == "dsa" or stride != 1 or in_ch != out_ch:
                        raise MnasInputError(
                            f"{where} {token!r}: 'skip' needs stride 1 and equal input and "
                            f"output channels (repeat {r + 1}: stride {stride}, "
                            f"{in_ch} -> {out_ch}); remove 'skip'")
                    skip = True
                else:
                    skip = False
                se_channels = se_squeeze_channels(in_ch, mid, parsed.se_ratio, se_reduce_from)
                stage.append(Block(
                    type=parsed.type, in_channels=in_ch, mid_channels=mid,
                    out_channels=out_ch, kernel=parsed.kernel, stride=stride, act=act,
                    se_ratio=parsed.se_ratio, se_channels=se_channels, skip=skip))
                channels = out_ch
        stages.append(tuple(stage))

    extra = {k: v for k, v in data.items() if k not in _KNOWN_FIELDS}
    try:
        return Arch(
            name=name, resolution=resolution, num_classes=num_classes, stem=stem,
            stages=tuple(stages), head=head, se_gate=se_gate, se_reduce_from=se_reduce_from,
            se_act=se_act, bn_eps=bn_eps, bn_momentum=bn_momentum, act_default=act_default,
            extra=extra)
    except MnasInputError as err:
        raise MnasInputError(f"{source}: {err}") from None


def arch_to_dict(arch: Arch) -> dict[str, Any]:
    """The ``mnas-arch/1`` content of ``arch``; ``arch_from_dict`` of it gives ``arch`` back."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "name": arch.name,
        "resolution": arch.resolution,
        "num_classes": arch.num_classes,
        "stem": {"channels": arch.stem.channels, "stride": arch.stem.stride,
                 "kernel": arch.stem.kernel, "act": arch.stem.act},
        "blocks": [[format_token(block) for block in stage] for stage in arch.stages],
        "head": {"type": arch.head.type, "channels": arch.head.channels,
                 "hidden": arch.head.hidden, "act": arch.head.act,
                 "dropout": arch.head.dropout},
        "act_default": arch.act_default,
        "se_gate": arch.se_gate,
        "se_reduce_from": arch.se_reduce_from,
        "se_act": arch.se_act,
        "bn": {"eps": arch.bn_eps, "momentum": arch.bn_momentum},
    }
    for key, value in arch.extra.items():
        if key not in data:
            data[key] = value
    return data


def load_arch(path: str | os.PathLike[str]) -> Arch:
    """Read an ``mnas-arch/1`` JSON file.

    Raises:
        MnasInputError: The file is missing, is not JSON, or breaks the format;
            the message names the file and the problem.
    """
    path = Path(path)
    data = load_json_file(path, what="arch file",
                          missing_hint="pass an existing file or a zoo name (`mnas zoo list`)")
    return arch_from_dict(data, source=str(path))


def save_arch(arch: Arch, path: str | os.PathLike[str]) -> Path:
    """Write ``arch`` as an ``mnas-arch/1`` file atomically (temp file + rename)."""
    from mnas._io import atomic_write_text

    return atomic_write_text(path, json.dumps(arch_to_dict(arch), indent=1) + "\n")
