"""The benchmark spaces reproduce their benchmarks exactly (files from ``../shared``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnas.arch import load_arch
from mnas.proxies import arch_costs
from mnas.spaces import load_space

_OPS = {"0": "identity", "1": "k3_e3", "2": "k5_e6"}


def _files(folder: Path) -> list[Path]:
    files = [p for p in sorted(folder.glob("*.json")) if p.name != "index.json"]
    if not files:
        pytest.skip(f"no arch files in {folder}")
    return files


def test_every_accel_nasbench_network_is_a_member(shared_dir: Path) -> None:
    space = load_space("accel-nasbench")
    files = _files(shared_dir / "data" / "accel_nasbench" / "archs")[::8]
    for path in files:
        arch = load_arch(path)
        params = space.params_of(arch)
        assert params is not None, path
        assert space.replay(params).structure_key() == arch.structure_key()
    assert len(files) > 600
    assert space.size() == 48 ** 7  # per stage 4 depths x 3 expansions x 2 kernels x 2 SE


def test_expansion_one_is_a_depthwise_separable_block() -> None:
    space = load_space("accel-nasbench")
    params = {n: c[0] for n, c in space.parameter_choices().items()}
    params["s2_expansion"] = 1.0
    arch = space.replay(params)
    assert arch.stages[1][0].type == "ds" and arch.stages[0][0].type == "ds"
    params["s2_expansion"] = 4.0
    assert space.replay(params).stages[1][0].type == "ir"


def test_nas_bench_macro_files_are_members_with_their_keys(shared_dir: Path) -> None:
    space = load_space("nas-bench-macro")
    names = space.parameter_names()
    assert space.size() == 3 ** 8 and len(names) == 8
    for path in _files(shared_dir / "data" / "nas_bench_macro" / "archs"):
        arch = load_arch(path)
        params = space.params_of(arch)
        assert params is not None, path
        key = "".join({v: k for k, v in _OPS.items()}[params[n]] for n in names)
        assert key == arch.extra["source"]["key"]
        assert space.replay(params).structure_key() == arch.structure_key()


def test_nas_bench_macro_param_counts_match_the_benchmark(shared_dir: Path) -> None:
    bench = json.loads((shared_dir / "data" / "nas_bench_macro" /
                        "nas-bench-macro_cifar10.json").read_text())
    space = load_space("nas-bench-macro")
    names = space.parameter_names()
    for key in sorted(bench)[::13]:
        arch = space.replay({n: _OPS[c] for n, c in zip(names, key, strict=True)})
        assert arch_costs(arch).params == bench[key]["params"], key


def test_skipped_layers_build_the_same_network_wherever_they_sit() -> None:
    space = load_space("nas-bench-macro")
    names = space.parameter_names()
    a = space.replay({n: _OPS[c] for n, c in zip(names, "10120021", strict=True)})
    b = space.replay({n: _OPS[c] for n, c in zip(names, "10102021", strict=True)})
    assert a.structure_key() == b.structure_key()
    params = space.params_of(a)
    assert params is not None and params["s2_b3_op"] == "identity"  # skipped layers last
