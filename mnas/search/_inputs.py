"""Content hashes of what a search's scores depend on, so that a resumed run can check them.

A run folder's trials were scored under one space definition, one latency table and one
proxy; resuming it after any of them changed would mix trials scored under different
definitions. The identity fields of :class:`~mnas.search.SearchConfig` only hold names
and paths; these hashes hold the content. They are stored in ``config.json`` under
``extra.inputs`` and compared on every resume.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mnas.errors import MnasInputError
from mnas.latency import LatencyTable
from mnas.spaces import SearchSpace

__all__ = ["check_inputs", "input_hashes", "path_hash"]

#: Bytes hashed from each end of one file of a proxy folder (a dataset can be gigabytes;
#: its names, sizes and both ends of every file still change with any real edit).
_FOLDER_FILE_BYTES = 1 << 16
#: Files of a proxy folder taken into its hash (in name order).
_FOLDER_MAX_FILES = 100_000
_WHAT = {"space": "search-space definition (--space)", "table": "latency table (--target)",
         "proxy": "proxy or accuracy-model file (--proxy)"}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=repr).encode()


def path_hash(path: str | os.PathLike[str]) -> str:
    """Content hash of a file, or of a folder (relative names, sizes and file contents;
    files over 128 KiB contribute their first and last 64 KiB)."""
    path = Path(path)
    if path.is_file():
        return _digest(path.read_bytes())
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file())[:_FOLDER_MAX_FILES]
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path).as_posix()}\0{size}\0".encode())
        with open(file, "rb") as handle:
            if size <= 2 * _FOLDER_FILE_BYTES:
                digest.update(handle.read())
            else:
                digest.update(handle.read(_FOLDER_FILE_BYTES))
                handle.seek(size - _FOLDER_FILE_BYTES)
                digest.update(handle.read())
    return "sha256:" + digest.hexdigest()


def _proxy_path(proxy: str) -> Path | None:
    """The file or folder a ``--proxy`` value names (whole, or after ``labels:``), if any."""
    candidates = [proxy]
    if "labels:" in proxy:
        candidates.append(proxy.split("labels:", 1)[1])
    for candidate in candidates:
        if candidate and os.path.exists(candidate):
            return Path(candidate)
    return None


def input_hashes(*, space: SearchSpace, table: LatencyTable, proxy: str) -> dict[str, str]:
    """The hashes stored with a run: the space's definition, the table's content and the
    proxy's file or folder (only when ``proxy`` names one).

    Definitions are hashed as parsed, so reformatting or editing a comment changes nothing;
    a changed kernel choice, entry or calibration does.
    """
    hashes = {"space": _digest(_canonical(dataclasses.asdict(space))),
              "table": _digest(_canonical(table.to_dict()))}
    path = _proxy_path(proxy)
    if path is not None:
        hashes["proxy"] = path_hash(path)
    return hashes


def check_inputs(stored: Mapping[str, Any], now: Mapping[str, str], *, run_dir: Path) -> None:
    """Refuse to resume ``run_dir`` when an input's content changed since it started.

    Args:
        stored: The hashes in the run's ``config.json`` (``extra.inputs``).
        now: :func:`input_hashes` of this invocation.
        run_dir: The run folder (named in the message).

    Raises:
        MnasInputError: Naming what changed and how to start a new run.
    """
    changed = [key for key in sorted(set(stored) | set(now)) if stored.get(key) != now.get(key)]
    if changed:
        what = ", ".join(_WHAT.get(key, key) for key in changed)
        raise MnasInputError(
            f"run folder {run_dir} was scored under another {what} (its content changed "
            "since the run started, so old and new trials would not compare); restore it to "
            "resume, or start a new run with another --name")
