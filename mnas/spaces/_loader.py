"""Load and validate search-space YAML files (safe loader; errors name the field and line)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from mnas._limits import (
    MAX_BLOCKS,
    MAX_CHANNELS,
    MAX_CHOICES,
    MAX_CLASSES,
    MAX_KERNEL,
    MAX_REPEATS,
    MAX_RESOLUTION,
    MAX_SPACE_LOG10,
    MAX_STAGES,
    MAX_STRIDE,
    load_yaml_text,
    read_input_text,
)
from mnas.arch import ACTIVATIONS, HEAD_TYPES, SE_GATES, SE_REDUCE_FROM, Head, Stem
from mnas.errors import MnasInputError
from mnas.spaces._space import FixedBlock, OpChoice, SearchSpace, StageSpec

__all__ = ["DEFAULT_SPACE", "default_spaces_dir", "list_spaces", "load_space",
           "space_from_dict"]

#: The space searched and measured when none is named (``search_spaces/mobilenetv3.yaml``).
DEFAULT_SPACE = "mobilenetv3"


def default_spaces_dir() -> Path:
    """The shipped ``search_spaces/`` folder (or ``$MNAS_SPACES``)."""
    env = os.environ.get("MNAS_SPACES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "search_spaces"


def list_spaces() -> list[str]:
    """Names of the shipped search spaces."""
    folder = default_spaces_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def _line_index(node: yaml.Node, path: str = "", index: dict[str, int] | None = None
                ) -> dict[str, int]:
    """Map field paths (``stages[2].kernel``) to 1-based line numbers."""
    index = {} if index is None else index
    index[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            _line_index(value_node, f"{path}.{key}" if path else str(key), index)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, f"{path}[{i}]", index)
    return index


class _Checker:
    def __init__(self, source: str, lines: dict[str, int]) -> None:
        self.source = source
        self.lines = lines

    def fail(self, path: str, value: Any, allowed: str) -> MnasInputError:
        probe = path
        while probe and probe not in self.lines:
            probe = probe.rsplit(".", 1)[0] if "." in probe else ""
        line = self.lines.get(probe)
        where = f"{self.source}, line {line}" if line else self.source
        return MnasInputError(f"{where}: field {path!r} must be {allowed}, got {value!r}")

    def get(self, data: dict[str, Any], key: str, path: str, default: Any = ...) -> Any:
        if key not in data:
            if default is ...:
                raise self.fail(path, None, "present (it is required)")
            return default
        return data[key]

    def int_(self, value: Any, path: str, minimum: int = 1, maximum: int | None = None) -> int:
        if (isinstance(value, bool) or not isinstance(value, int) or value < minimum
                or (maximum is not None and value > maximum)):
            raise self.fail(path, value, f"an integer >= {minimum}" if maximum is None
                            else f"an integer in [{minimum}, {maximum}]")
        return value

    def number(self, value: Any, path: str, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise self.fail(path, value, f"a number in [{low}, {high}]")
        return float(value)

    def choice(self, value: Any, path: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise self.fail(path, value, "one of " + ", ".join(allowed))
        return str(value)

    def choices(self, value: Any, path: str, item_check: Any) -> tuple[Any, ...]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.fail(path, value, "a non-empty list of choices")
        if len(items) > MAX_CHOICES:
            raise self.fail(path, f"<{len(items)} choices>", f"at most {MAX_CHOICES} choices")
        result = tuple(item_check(item, f"{path}[{i}]") for i, item in enumerate(items))
        if len(set(result)) != len(result):
            raise self.fail(path, value, "a list without duplicates")
        return result

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, value, "a mapping")
        for key in value:
            if key not in allowed:
                raise self.fail(f"{path}.{key}" if path else str(key), key,
                                "one of the known fields " + ", ".join(allowed))
        return value


_TOP_FIELDS = ("name", "description", "resolution", "width", "num_classes", "stem", "se", "bn",
               "before", "stages", "after", "head")
_STAGE_FIELDS = ("type", "channels", "stride", "depth", "kernel", "expansion", "se", "act",
                 "share", "ops")
_FIXED_FIELDS = ("type", "channels", "kernel", "stride", "act", "expansion", "se",
                 "scale_with_width")


def space_from_dict(data: Any, *, source: str = "space",
                    lines: dict[str, int] | None = None) -> SearchSpace:
    """Validate parsed YAML content into a :class:`SearchSpace`.

    Raises:
        MnasInputError: Naming the file, line and field, the value and what is allowed.
    """
    ck = _Checker(source, lines or {})
    top = ck.mapping(data, "", _TOP_FIELDS)
    name = ck.get(top, "name", "name")
    if not isinstance(name, str) or not name:
        raise ck.fail("name", name, "a non-empty string")

    def kernel_check(v: Any, p: str) -> int:
        k = ck.int_(v, p, maximum=MAX_KERNEL)
        if k % 2 == 0:
            raise ck.fail(p, v, "an odd integer")
        return k

    def act_check(v: Any, p: str) -> str:
        return ck.choice(v, p, ACTIVATIONS)

    def bool_check(v: Any, p: str) -> bool:
        if not isinstance(v, bool):
            raise ck.fail(p, v, "true or false")
        return v

    resolutions = ck.choices(ck.get(top, "resolution", "resolution"), "resolution",
                             lambda v, p: ck.int_(v, p, 8, MAX_RESOLUTION))
    widths = ck.choices(ck.get(top, "width", "width", [1.0]), "width",
                        lambda v, p: ck.number(v, p, 0.05, 4.0))
    num_classes = ck.int_(ck.get(top, "num_classes", "num_classes", 1000), "num_classes",
                          maximum=MAX_CLASSES)

    stem_d = ck.mapping(ck.get(top, "stem", "stem"), "stem", ("channels", "kernel", "stride", "act"))
    stem = Stem(channels=ck.int_(ck.get(stem_d, "channels", "stem.channels"), "stem.channels",
                                 maximum=MAX_CHANNELS),
                kernel=kernel_check(stem_d.get("kernel", 3), "stem.kernel"),
                stride=ck.int_(stem_d.get("stride", 2), "stem.stride", maximum=MAX_STRIDE),
                act=act_check(stem_d.get("act", "relu"), "stem.act"))

    se_d = ck.mapping(top.get("se", {}), "se", ("ratio", "gate", "reduce_from", "act"))
    bn_d = ck.mapping(top.get("bn", {}), "bn", ("eps", "momentum"))

    def fixed(items: Any, path: str) -> tuple[FixedBlock, ...]:
        if not isinstance(items, list):
            raise ck.fail(path, items, "a list of blocks")
        if len(items) > MAX_BLOCKS:
            raise ck.fail(path, f"<{len(items)} blocks>", f"at most {MAX_BLOCKS} blocks")
        out = []
        for i, item in enumerate(items):
            p = f"{path}[{i}]"
            d = ck.mapping(item, p, _FIXED_FIELDS)
            out.append(FixedBlock(
                type=ck.choice(d.get("type", "cn"), f"{p}.type", ("ir", "ds", "dsa", "cn")),
                channels=ck.int_(ck.get(d, "channels", f"{p}.channels"), f"{p}.channels",
                                 maximum=MAX_CHANNELS),
                kernel=kernel_check(d.get("kernel", 1), f"{p}.kernel"),
                stride=ck.int_(d.get("stride", 1), f"{p}.stride", maximum=MAX_STRIDE),
                act=act_check(d.get("act", stem.act), f"{p}.act"),
                expansion=ck.number(d.get("expansion", 1.0), f"{p}.expansion", 1.0, 16.0),
                se=bool_check(d.get("se", False), f"{p}.se"),
                scale_with_width=bool_check(d.get("scale_with_width", True),
                                            f"{p}.scale_with_width")))
        return tuple(out)

    raw_stages = ck.get(top, "stages", "stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise ck.fail("stages", raw_stages, "a non-empty list of stages")
    if len(raw_stages) > MAX_STAGES:
        raise ck.fail("stages", f"<{len(raw_stages)} stages>", f"at most {MAX_STAGES} stages")

    def op_check(v: Any, p: str) -> OpChoice:
        if v == "identity":
            return OpChoice(label="identity", identity=True)
        op = ck.mapping(v, p, ("kernel", "expansion"))
        kernel = kernel_check(ck.get(op, "kernel", f"{p}.kernel"), f"{p}.kernel")
        expansion = ck.number(ck.get(op, "expansion", f"{p}.expansion"), f"{p}.expansion",
                              1.0, 16.0)
        return OpChoice(label=f"k{kernel}_e{expansion:g}", kernel=kernel, expansion=expansion)

    stages = []
    for i, item in enumerate(raw_stages):
        p = f"stages[{i}]"
        d = ck.mapping(item, p, _STAGE_FIELDS)
        stage_type = ck.choice(d.get("type", "ir"), f"{p}.type", ("ir", "ds", "dsa"))
        ops = ck.choices(d["ops"], f"{p}.ops", op_check) if "ops" in d else ()
        if ops and (stage_type != "ir" or d.get("share", False)):
            raise ck.fail(f"{p}.ops", d["ops"], "used only in an ir stage without share")
        stages.append(StageSpec(
            type=stage_type,
            channels=ck.choices(ck.get(d, "channels", f"{p}.channels"), f"{p}.channels",
                                lambda v, q: ck.int_(v, q, maximum=MAX_CHANNELS)),
            stride=ck.int_(d.get("stride", 1), f"{p}.stride", maximum=MAX_STRIDE),
            depth=ck.choices(d.get("depth", [1]), f"{p}.depth",
                             lambda v, q: ck.int_(v, q, maximum=MAX_REPEATS)),
            kernel=ck.choices(d.get("kernel", [3]), f"{p}.kernel", kernel_check),
            expansion=ck.choices(d.get("expansion", [6] if stage_type == "ir" else [1]),
                                 f"{p}.expansion", lambda v, q: ck.number(v, q, 1.0, 16.0)),
            se=ck.choices(d.get("se", [False]), f"{p}.se", bool_check),
            act=ck.choices(d.get("act", [stem.act]), f"{p}.act", act_check),
            share=bool_check(d.get("share", False), f"{p}.share"), ops=ops))

    head_d = ck.mapping(top.get("head", {}), "head",
                        ("type", "channels", "hidden", "act", "dropout", "scale_with_width"))

    def optional_int(value: Any, path: str) -> int | None:
        return None if value is None else ck.int_(value, path, maximum=MAX_CHANNELS)

    head = Head(type=ck.choice(head_d.get("type", "conv_bn_act_pool"), "head.type", HEAD_TYPES),
                channels=optional_int(head_d.get("channels"), "head.channels"),
                hidden=optional_int(head_d.get("hidden"), "head.hidden"),
                act=act_check(head_d.get("act", stem.act), "head.act"),
                dropout=ck.number(head_d.get("dropout", 0.0), "head.dropout", 0.0, 0.99))
    description = top.get("description", "")
    if not isinstance(description, str):
        raise ck.fail("description", description, "a string")
    space = SearchSpace(
        name=name, description=description.strip(), resolutions=resolutions, widths=widths,
        num_classes=num_classes, stem=stem, stages=tuple(stages),
        before=fixed(top.get("before", []), "before"), after=fixed(top.get("after", []), "after"),
        head=head,
        head_scales_with_width=bool_check(head_d.get("scale_with_width", True),
                                          "head.scale_with_width"),
        se_ratio=ck.number(se_d.get("ratio", 0.25), "se.ratio", 0.01, 1.0),
        se_gate=ck.choice(se_d.get("gate", "sigmoid"), "se.gate", SE_GATES),
        se_reduce_from=ck.choice(se_d.get("reduce_from", "in"), "se.reduce_from", SE_REDUCE_FROM),
        se_act=act_check(se_d.get("act", "relu"), "se.act"),
        bn_eps=ck.number(bn_d.get("eps", 1e-5), "bn.eps", 1e-12, 0.5),
        bn_momentum=ck.number(bn_d.get("momentum", 0.1), "bn.momentum", 1e-6, 1.0))
    _check_size(ck, space)
    return space


def _check_size(ck: _Checker, space: SearchSpace) -> None:
    """Refuse a space whose largest network or whose count of networks is over the bounds."""
    width = max(space.widths)
    deepest = (len(space.before) + len(space.after)
               + sum(max(stage.depth) for stage in space.stages))
    if deepest > MAX_BLOCKS:
        raise ck.fail("stages", f"<{deepest} blocks at the largest depths>",
                      f"at most {MAX_BLOCKS} blocks in one network")
    for i, stage in enumerate(space.stages):
        widest = max(stage.channels) * width * (max(stage.expansion) if stage.type == "ir"
                                                else 1.0)
        if widest > MAX_CHANNELS:
            raise ck.fail(f"stages[{i}].channels", max(stage.channels),
                          f"at most {MAX_CHANNELS} channels after the width multiplier "
                          f"{width:g} and expansion (got {widest:g})")
    fixed: list[tuple[str, float]] = [("stem.channels", space.stem.channels)]
    fixed += [(f"{where}[{i}].channels", block.channels * block.expansion)
              for where, blocks in (("before", space.before), ("after", space.after))
              for i, block in enumerate(blocks)]
    fixed += [(f"head.{name}", value) for name in ("channels", "hidden")
              if (value := getattr(space.head, name)) is not None]
    for path, channels in fixed:
        if channels * width > MAX_CHANNELS:
            raise ck.fail(path, channels, f"at most {MAX_CHANNELS} channels after the width "
                          f"multiplier {width:g} (and expansion)")
    log10 = space.log10_size()
    if log10 > MAX_SPACE_LOG10:
        raise ck.fail("stages", f"<10^{log10:.0f} architectures>",
                      f"a space of at most 10^{MAX_SPACE_LOG10:.0f} architectures")


def load_space(name_or_path: str | os.PathLike[str]) -> SearchSpace:
    """Load a shipped space by name (``mobilenetv3``) or a YAML file by path.

    Raises:
        MnasInputError: Unknown name, unreadable file, malformed YAML (with its line), or
            an invalid field (with its line).
    """
    text_name = str(name_or_path)
    path = Path(text_name)
    if not (path.suffix in (".yaml", ".yml") or path.exists()):
        candidate = default_spaces_dir() / f"{text_name}.yaml"
        if not candidate.exists():
            raise MnasInputError(
                f"unknown search space {text_name!r}; use one of "
                f"{', '.join(list_spaces())} or a path to a space YAML file")
        path = candidate
    text = read_input_text(path, what="search-space file",
                           missing_hint="pass an existing YAML file or a shipped space name")
    data, node = load_yaml_text(text, str(path))
    lines = _line_index(node) if node is not None else {}
    return space_from_dict(data, source=str(path), lines=lines)
