"""Lazy package attributes (PEP 562), so that ``mnas --help`` does not import torch.

A package lists what it exports, module by module; each name is imported from its
module the first time it is read (``from mnas import build`` or ``mnas.build``), then
kept on the package. Type checkers read the same names from an ``if TYPE_CHECKING:``
import block beside the list (``tests/test_lazy.py`` checks that the two agree).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, exports: Mapping[str, Sequence[str]],
                    submodules: Sequence[str] = ()) -> tuple[Callable[[str], Any],
                                                             Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    Args:
        package: The package's ``__name__``.
        exports: Module path -> the names the package re-exports from it.
        submodules: Subpackages reachable as attributes (``mnas.export``) before anyone
            imported them.
    """
    origin = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        module = origin.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(origin) | set(submodules))

    return __getattr__, __dir__
