"""Fixtures: real Accel-NASBench labels from ``../shared`` (skipped where absent)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from mnas.accuracy import LabelSet, load_labels


@pytest.fixture(scope="session")
def accel_dir(shared_dir: Path) -> Path:
    folder = shared_dir / "data" / "accel_nasbench" / "archs"
    if not folder.is_dir():
        pytest.skip(f"Accel-NASBench arch files are absent from {folder}")
    return folder


@pytest.fixture(scope="session")
def accel_labels(accel_dir: Path) -> LabelSet:
    """All 4,825 labelled Accel-NASBench networks (ImageNet top-1)."""
    return load_labels(accel_dir)


@pytest.fixture(scope="session")
def accel_small(accel_labels: LabelSet) -> LabelSet:
    """Every 16th network (302 labels), for fits that must stay fast."""
    return replace(accel_labels, items=accel_labels.items[::16])


@pytest.fixture
def accel_folder(accel_dir: Path, tmp_path: Path) -> Path:
    """A folder with copies of 40 labelled arch files (tests may damage them)."""
    out = tmp_path / "labels"
    out.mkdir()
    files = [p for p in sorted(accel_dir.glob("*.json")) if p.name != "index.json"]
    for path in files[:40]:
        shutil.copy(path, out / path.name)
    return out
