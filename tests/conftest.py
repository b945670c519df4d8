"""Shared test fixtures: the ``../shared`` data folder (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The workplace's shared/ folder beside the repository."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"shared data folder {SHARED / 'data'} is absent (not in this checkout)")
    return SHARED


@pytest.fixture(scope="session")
def macro_arch_files(shared_dir: Path) -> list[Path]:
    """The 300 NAS-Bench-Macro arch files with their true params and accuracy."""
    folder = shared_dir / "data" / "nas_bench_macro" / "archs"
    files = sorted(p for p in folder.glob("*.json") if p.name != "index.json")
    if not files:
        pytest.skip(f"no NAS-Bench-Macro arch files in {folder}")
    return files


@pytest.fixture
def accel_folder(shared_dir: Path, tmp_path: Path) -> Path:
    """A folder with copies of 40 labelled Accel-NASBench arch files (tests may damage them)."""
    import shutil

    source = shared_dir / "data" / "accel_nasbench" / "archs"
    files = [p for p in sorted(source.glob("*.json")) if p.name != "index.json"]
    if not files:
        pytest.skip(f"Accel-NASBench arch files are absent from {source}")
    out = tmp_path / "labels"
    out.mkdir()
    for path in files[:40]:
        shutil.copy(path, out / path.name)
    return out
