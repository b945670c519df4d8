"""An import path that holds exactly torch and the packages torch declares it needs.

Run a script with ``python -I -S`` (no site-packages, no PYTHONPATH, no current
folder) and put this folder first on ``sys.path``: only torch and its dependency
closure (read from the installed distributions' metadata, markers evaluated) can be
imported. That is what a virtual environment with only torch installed holds.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

__all__ = ["torch_only_path"]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(root: str) -> list[metadata.Distribution]:
    found: dict[str, metadata.Distribution] = {}
    extras_of: dict[str, set[str]] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while todo:
        name, extras = todo.pop()
        key = _canonical(name)
        known = extras_of.setdefault(key, set())
        if key in found and extras <= known:
            continue
        known |= extras
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # optional or another platform's dependency, not installed here
        found[key] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            environments = [{"extra": e} for e in ({""} | set(known))]
            if req.marker is not None and not any(req.marker.evaluate(env)
                                                  for env in environments):
                continue
            todo.append((req.name, frozenset(req.extras)))
    return list(found.values())


def torch_only_path(folder: Path) -> list[str]:
    """Fill ``folder`` with links to torch and its dependencies; returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    for dist in _closure("torch"):
        names.append(dist.metadata["Name"])
        site = Path(str(dist.locate_file("")))
        for file in dist.files or []:
            top = file.parts[0]
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            link = folder / top
            if not link.exists():
                link.symlink_to(site / top)
    return sorted(names)
