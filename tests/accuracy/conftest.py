"""Fixtures: real Accel-NASBench labels from ``../shared`` (skipped where absent)."""

from __future__ import annotations

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
