"""Content hashes a resumed search compares: space definition, table, proxy file or folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnas.errors import MnasInputError
from mnas.latency import resolve_target
from mnas.search._inputs import check_inputs, input_hashes, path_hash
from mnas.spaces import load_space


def test_hashes_follow_definitions_not_names() -> None:
    space, table = load_space("mobilenetv3"), resolve_target("pixel4")
    first = input_hashes(space=space, table=table, proxy="params")
    assert set(first) == {"space", "table"}  # "params" names no file
    assert first == input_hashes(space=load_space("mobilenetv3"), table=table, proxy="params")
    other = input_hashes(space=load_space("mobilenetv2"), table=resolve_target("pixel4-4big"),
                         proxy="params")
    assert other["space"] != first["space"] and other["table"] != first["table"]


@pytest.mark.parametrize("prefix", ["", "labels:"])
def test_a_proxy_file_or_folder_is_hashed_by_content(tmp_path: Path, prefix: str) -> None:
    space, table = load_space("mobilenetv3"), resolve_target("pixel4")
    model = tmp_path / "acc.json"
    model.write_text('{"w": [1, 2]}')
    before = input_hashes(space=space, table=table, proxy=prefix + str(model))
    model.write_text('{"w": [1, 3]}')
    after = input_hashes(space=space, table=table, proxy=prefix + str(model))
    assert before["proxy"] != after["proxy"]
    with pytest.raises(MnasInputError, match=r"proxy or accuracy-model file \(--proxy\)"):
        check_inputs(before, after, run_dir=tmp_path)
    check_inputs(after, dict(after), run_dir=tmp_path)  # unchanged: no error


def test_folder_hash_sees_names_sizes_and_both_ends(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    big = tmp_path / "d" / "big.bin"
    big.write_bytes(b"a" * 300_000)
    first = path_hash(tmp_path / "d")
    big.write_bytes(b"a" * 299_999 + b"b")  # last byte
    second = path_hash(tmp_path / "d")
    (tmp_path / "d" / "more.txt").write_text("x")
    third = path_hash(tmp_path / "d")
    assert len({first, second, third}) == 3
