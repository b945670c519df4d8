"""Property-based fuzzing of the input parsers: every input is accepted or refused with a
one-line MnasInputError; nothing else escapes and nothing executes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnas.arch import arch_from_dict
from mnas.errors import MnasInputError
from mnas.spaces import load_space, space_from_dict

_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 2000),
                          st.floats(allow_nan=True, allow_infinity=True),
                          st.text(max_size=12))
_json = st.recursive(_json_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=5)),
    max_leaves=20)

_VALID_DOC = {"format": "mnas-arch/1", "name": "x", "resolution": 32, "num_classes": 10,
              "stem": {"channels": 16, "stride": 2}, "blocks": [["ir_r1_k3_s1_e6_c16"]]}


def _one_line_error_or_arch(call) -> None:
    try:
        call()
    except MnasInputError as err:
        assert "\n" not in str(err) and str(err)


@settings(max_examples=150, deadline=None)
@given(_json)
def test_arbitrary_json_is_an_arch_or_a_one_line_error(data):
    _one_line_error_or_arch(lambda: arch_from_dict(data))


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(sorted(_VALID_DOC) + ["head", "bn", "se_gate", "act_default"]),
       value=_json)
def test_one_corrupted_field_is_a_one_line_error(key, value):
    doc = json.loads(json.dumps(_VALID_DOC))
    doc[key] = value
    _one_line_error_or_arch(lambda: arch_from_dict(doc))


_VALID_SPACE = {"name": "t", "resolution": [64], "stem": {"channels": 16},
                "stages": [{"channels": 24, "stride": 2, "depth": [1, 2], "kernel": [3, 5]}]}


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(["name", "resolution", "width", "stem", "stages", "head", "se", "bn",
                            "before", "after", "num_classes"]), value=_json)
def test_space_with_one_corrupted_field_is_a_one_line_error(key, value):
    doc = json.loads(json.dumps(_VALID_SPACE))
    doc[key] = value
    _one_line_error_or_arch(lambda: space_from_dict(doc))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_arbitrary_yaml_text_is_a_space_or_a_one_line_error(tmp_path: Path, text):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    _one_line_error_or_arch(lambda: load_space(path))


@pytest.mark.parametrize("payload", [
    "!!python/object/apply:os.system ['touch {marker}']",
    "name: !!python/object/apply:os.system ['touch {marker}']\nresolution: [64]\n",
    "stages: !!python/object/new:subprocess.Popen [['touch', '{marker}']]\n",
])
def test_yaml_python_tags_never_execute(tmp_path: Path, payload):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.yaml"
    path.write_text(payload.format(marker=marker))
    with pytest.raises(MnasInputError, match="malformed YAML"):
        load_space(path)
    assert not marker.exists()
    with pytest.raises(yaml.YAMLError):  # the loader is the safe one
        yaml.safe_load(path.read_text())
