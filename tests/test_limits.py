"""Both sides of the bounds in ``mnas._limits`` (the loaders' tests cover their own fields)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnas._limits import (
    MAX_INT_DIGITS,
    MAX_NESTING,
    MAX_YAML_NODES,
    load_yaml_text,
    parse_json,
    read_input_bytes,
)
from mnas.errors import MnasInputError


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nesting_at_and_over_the_bound() -> None:
    assert parse_json(_nested(MAX_NESTING), "f") is not None
    with pytest.raises(MnasInputError, match="nested more than 32"):
        parse_json(_nested(MAX_NESTING + 1), "f")


def test_integer_digits_at_and_over_the_bound() -> None:
    assert parse_json(str(10**MAX_INT_DIGITS - 1), "f") == 10**MAX_INT_DIGITS - 1
    with pytest.raises(MnasInputError, match="digits"):
        parse_json(str(10**MAX_INT_DIGITS), "f")
    with pytest.raises(MnasInputError, match="digits"):
        load_yaml_text("a: " + "9" * (MAX_INT_DIGITS + 1), "f")


def test_yaml_nodes_at_and_over_the_bound() -> None:
    # nodes: the mapping, its key, the sequence, then one per item
    ok = "a: [" + ", ".join(["1"] * (MAX_YAML_NODES - 3)) + "]"
    assert len(load_yaml_text(ok, "f")[0]["a"]) == MAX_YAML_NODES - 3
    with pytest.raises(MnasInputError, match="more than 20,000 nodes"):
        load_yaml_text("a: [" + ", ".join(["1"] * (MAX_YAML_NODES - 2)) + "]", "f")


def test_yaml_alias_expansion_over_the_bound() -> None:
    text = "a: &a [" + ", ".join(["1"] * 1000) + "]\nb: [" + ", ".join(["*a"] * 20) + "]\n"
    with pytest.raises(MnasInputError, match="expands to more than 20,000"):
        load_yaml_text(text, "f")


def test_yaml_aliases_count_once_per_use() -> None:
    text = "x: &x [1, 2, 3]\ny: [*x, *x]\n"
    assert load_yaml_text(text, "f")[0]["y"] == [[1, 2, 3], [1, 2, 3]]


def test_read_at_and_over_the_size_bound(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps("x" * 98))  # 100 bytes
    assert len(read_input_bytes(path, what="file", limit=100)) == 100
    with pytest.raises(MnasInputError, match="over the 99-byte bound"):
        read_input_bytes(path, what="file", limit=99)
