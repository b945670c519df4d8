"""The package's layer order, read from the ``import`` statements of every module.

A module may import only from its own layer or a lower one::

    0  mnas.errors, mnas._limits, mnas._io (top-level helpers)
    1  mnas.arch
    2  mnas.models, mnas.spaces
    3  mnas.latency, mnas.proxies, mnas.accuracy, mnas.evaluation, mnas.weights
    4  mnas.search, mnas.export
    5  mnas.cli, and the ``mnas`` package itself (its ``__init__`` re-exports the API)

Imports under ``if TYPE_CHECKING:`` and inside functions count too: a deferred import
is still an arrow from one floor to another. A new subpackage must be given a layer
here; a new top-level module ``mnas/_name.py`` is a helper (layer 0) unless listed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "mnas"

LAYERS: dict[str, int] = {
    "mnas.errors": 0, "mnas._limits": 0, "mnas._io": 0,
    "mnas.arch": 1,
    "mnas.models": 2, "mnas.spaces": 2,
    "mnas.latency": 3, "mnas.proxies": 3, "mnas.accuracy": 3, "mnas.evaluation": 3,
    "mnas.weights": 3,
    "mnas.search": 4, "mnas.export": 4,
    "mnas.cli": 5, "mnas": 5,
}
LAYER_NAMES = {0: "helpers", 1: "arch", 2: "models/spaces", 3: "latency/proxies/accuracy",
               4: "search/export", 5: "cli"}


def module_name(path: Path, root: Path) -> str:
    """``mnas.search._ray`` for ``root/search/_ray.py`` (``root`` is the package folder)."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str, layers: Mapping[str, int] = LAYERS) -> int:
    """The layer of ``module``: its longest listed prefix; an unlisted top-level
    ``mnas._x`` module is a helper (0).

    Raises:
        KeyError: A module of a subpackage no layer names.
    """
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in layers:
            if end == 1 and len(parts) > 1:
                break  # only the package itself is "mnas"; its submodules need a layer
            return layers[prefix]
    if len(parts) == 2 and parts[1].startswith("_"):
        return 0
    raise KeyError(f"{module} is in no layer: add its subpackage to LAYERS in {__file__}")


def imported_modules(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """``(line, module)`` of every import of ``mnas`` in one source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    root = module.split(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target == root:  # ``from mnas import arch``: each name may be a subpackage
                for alias in node.names:
                    yield node.lineno, f"{root}.{alias.name}"
            else:
                yield node.lineno, target


def upward_imports(root: Path, layers: Mapping[str, int] = LAYERS) -> list[str]:
    """Every import, under the package folder ``root``, of a higher layer than the importer's.

    ``from mnas import name`` counts as an import of ``mnas.name`` when that is a
    module or subpackage, else of the ``mnas`` package itself (the top layer).
    """
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        own = layer_of(module, layers)
        for line, target in imported_modules(path, module):
            if target.split(".")[0] != root.name:
                continue
            top = target.split(".")
            if len(top) == 2 and not ((root / top[1]).is_dir()
                                      or (root / f"{top[1]}.py").exists()):
                target = root.name  # ``from mnas import Arch``: the re-exporting package
            theirs = layer_of(target, layers)
            if theirs > own:
                found.append(f"{path.relative_to(root.parent)}:{line}: {module} (layer {own}, "
                             f"{LAYER_NAMES.get(own, '?')}) imports {target} (layer {theirs}, "
                             f"{LAYER_NAMES.get(theirs, '?')})")
    return found


def test_no_module_imports_a_higher_layer() -> None:
    assert upward_imports(PACKAGE_DIR) == []


def test_only_the_cli_imports_the_cli() -> None:
    offenders = [hit for hit in upward_imports(PACKAGE_DIR, {**LAYERS, "mnas.cli": 99})
                 if "imports mnas.cli" in hit and not hit.startswith("mnas/cli/")]
    assert offenders == []


def _package(tmp_path: Path, files: Mapping[str, str]) -> Path:
    root = tmp_path / "mnas"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_checker_finds_a_synthetic_upward_import(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "__init__.py": "from mnas.arch import Arch\n",
        "errors.py": "",
        "arch/__init__.py": "from mnas.errors import MnasError\n",
        "arch/_ok.py": "from . import _tokens\nfrom mnas import errors\n",
        "arch/_tokens.py": "",
        "search/__init__.py": "",
        "search/_run.py": "from mnas.arch import Arch\nfrom ..latency import x\n",
        "latency/__init__.py": "def f():\n    from mnas.search import run  # deferred\n",
        "cli/__init__.py": "",
        "arch/_bad.py": "import os\n\nfrom ..cli import main\nfrom mnas import Arch\n",
    })
    assert upward_imports(root) == [
        "mnas/arch/_bad.py:3: mnas.arch._bad (layer 1, arch) imports mnas.cli (layer 5, cli)",
        "mnas/arch/_bad.py:4: mnas.arch._bad (layer 1, arch) imports mnas (layer 5, cli)",
        "mnas/latency/__init__.py:2: mnas.latency (layer 3, latency/proxies/accuracy) imports "
        "mnas.search (layer 4, search/export)",
    ]


def test_a_new_subpackage_must_be_given_a_layer(tmp_path: Path) -> None:
    root = _package(tmp_path, {"__init__.py": "", "plugins/__init__.py": "", "_helper.py": ""})
    with pytest.raises(KeyError, match="mnas.plugins is in no layer"):
        upward_imports(root)
    assert layer_of("mnas._helper") == 0
