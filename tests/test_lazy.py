"""Lazy package attributes: the same API as eager imports, and a CLI that starts light."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "mnas"
LAZY = ["mnas", "mnas.accuracy", "mnas.latency", "mnas.models", "mnas.proxies", "mnas.search",
        "mnas.search._batched", "mnas.weights"]


def _init(package: str) -> ast.Module:
    path = PACKAGE_DIR.joinpath(*package.split(".")[1:], "__init__.py")
    return ast.parse(path.read_text())


def _type_checking_names(tree: ast.Module) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                names.update({alias.name: imp.module for alias in imp.names})
    return names


def test_every_package_with_lazy_attributes_is_listed() -> None:
    found = []
    for path in PACKAGE_DIR.rglob("__init__.py"):
        if "lazy_attributes" in path.read_text():
            parts = path.parent.relative_to(PACKAGE_DIR.parent).parts
            found.append(".".join(parts))
    assert sorted(found) == sorted(LAZY)


@pytest.mark.parametrize("package", LAZY)
def test_lazy_exports_match_the_typed_imports_and_all(package: str) -> None:
    module = importlib.import_module(package)
    typed = _type_checking_names(_init(package))
    lazy = {name: origin for origin, names in module._EXPORTS.items() for name in names}
    assert typed == lazy
    assert set(module.__all__) == set(lazy)
    for name, origin in lazy.items():
        assert getattr(module, name) is getattr(importlib.import_module(origin), name)
        assert name in dir(module)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        module.not_a_name  # noqa: B018


def test_from_import_and_subpackage_attribute_work_in_a_fresh_process() -> None:
    code = ("import mnas; from mnas import build, get_arch; "
            "print(mnas.arch_costs(get_arch('mobilenet_v3_small')).params, "
            "type(build(get_arch('mobilenet_v3_small'))).__name__, "
            "mnas.export.export.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["2542856", "MobileNet", "export"]  # torchvision's mobilenet_v3_small params


def test_the_cli_parser_builds_without_torch_scipy_or_optuna() -> None:
    code = ("import sys; from mnas.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'scipy', 'optuna', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
