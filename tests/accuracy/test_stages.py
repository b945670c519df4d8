"""The stages encoding: each choice where it sits, and the size anchor."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mnas.accuracy._stages import CHOICES, LEVELS, StageEncoding, level_of_stride
from mnas.arch import arch_costs
from mnas.errors import MnasInputError
from mnas.models import get_arch, list_archs
from mnas.spaces import load_space

ENC = StageEncoding()


def _column(name: str) -> int:
    return ENC.names.index(name)


@pytest.mark.parametrize("name", list_archs())
def test_anchor_is_the_logs_of_arch_costs(name: str) -> None:
    arch = get_arch(name)
    costs = arch_costs(arch)
    vector = ENC.encode(arch)
    assert vector[_column("log_macs")] == pytest.approx(math.log(costs.macs), abs=1e-12)
    assert vector[_column("log_params")] == pytest.approx(math.log(costs.params), abs=1e-12)
    assert vector[_column("log_resolution")] == pytest.approx(math.log(arch.resolution))
    assert np.all(np.isfinite(vector)) and vector.shape == (len(ENC.names),)


def test_mobilenet_v3_large_per_level_as_in_its_paper() -> None:
    # Howard et al. 2019, Table 1: /2 one block; /4 two; /8 three (SE, 5x5); /16 six
    # (h-swish; SE on the two 112-wide of four 80-wide and two 112-wide: a share of
    # 224 / 544 of the level's output channels); /32 three (SE, h-swish, 5x5), then the
    # 1x1 conv (cn, not a choice).
    vector = ENC.encode(get_arch("mobilenet_v3_large"))
    depth = [vector[_column(f"depth@{lvl}")] for lvl in LEVELS]
    assert np.expm1(depth) == pytest.approx([1, 2, 3, 6, 3])
    assert vector[_column("se@/8")] == 1.0
    assert vector[_column("se@/16")] == pytest.approx(224 / 544)
    assert vector[_column("swish@/4")] == 0.0 and vector[_column("swish@/16")] == 1.0
    assert vector[_column("kernel@/8")] == 1.0 and vector[_column("kernel@/16")] == 0.0
    shares = [vector[_column(f"macs_share@{lvl}")] for lvl in LEVELS]
    assert sum(shares) == pytest.approx(1.0)
    assert vector[_column("efficient_head")] == 1.0 and vector[_column("dsa_share")] == 0.0
    assert ENC.encode(get_arch("mobilenet_v1"))[_column("dsa_share")] == 1.0


def test_where_se_and_hswish_sit_changes_the_encoding() -> None:
    # The example run's ranks 1 and 2 differed only in SE at s3_b2 vs s4_b1 and scored the
    # same under the former (whole-network share) encoding.
    space = load_space("mobilenetv3")
    params = {name: choices[0] for name, choices in space.parameter_choices().items()}
    params.update({"s3_depth": 2, "s4_depth": 2, "s3_b2_se": True, "s4_b1_se": False})
    first = space.replay(params)
    second = space.replay({**params, "s3_b2_se": False, "s4_b1_se": True})
    a, b = ENC.encode(first), ENC.encode(second)
    # both stages are at /16 (the 80- and the 112-wide): the share weighs their widths
    changed = {ENC.names[i] for i in np.flatnonzero(a != b)}
    assert "se@/16" in changed
    early = ENC.encode(space.replay({**params, "s1_b1_act": "hswish"}))  # s1: /4
    late = ENC.encode(space.replay({**params, "s5_b1_act": "hswish"}))   # s5: /32
    assert early[_column("swish@/4")] > 0 and early[_column("swish@/32")] == 0
    assert late[_column("swish@/4")] == 0 and late[_column("swish@/32")] > 0


def test_shares_do_not_grow_with_depth() -> None:
    space = load_space("mobilenetv3")
    params = {name: choices[0] for name, choices in space.parameter_choices().items()}
    se_everywhere = {n: True for n in params if n.endswith("_se")}
    shallow = ENC.encode(space.replay({**params, **se_everywhere, "s4_depth": 2}))
    deep = ENC.encode(space.replay({**params, **se_everywhere, "s4_depth": 4}))
    for choice in ("se", "swish", "kernel", "expansion"):
        assert shallow[_column(f"{choice}@/16")] == deep[_column(f"{choice}@/16")]
    assert deep[_column("depth@/16")] > shallow[_column("depth@/16")]


def test_levels_follow_the_output_stride() -> None:
    assert [level_of_stride(s) for s in (1, 2, 4, 8, 16, 32, 64)] == [0, 0, 1, 2, 3, 4, 4]
    assert len(ENC.correction_names) == len(CHOICES) * len(LEVELS) + 2


def test_dict_round_trip_and_refusals() -> None:
    data = ENC.to_dict()
    again = StageEncoding.from_dict(data, source="m.json")
    assert again.names == ENC.names and again.knots == ENC.knots
    with pytest.raises(MnasInputError, match="m.json: its stage-encoding features differ"):
        StageEncoding.from_dict({**data, "features": data["features"][:-1]}, source="m.json")
    with pytest.raises(MnasInputError, match="encoding.knots"):
        StageEncoding.from_dict({**data, "knots": {"macs": [-1]}}, source="m.json")
