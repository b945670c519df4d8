"""The names of the shipped accuracy models and of the default estimate (no heavy imports:
the CLI's help reads them)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_ESTIMATOR", "list_shipped_models", "shipped_models_dir"]

#: The ``--proxy`` value of the default estimate.
DEFAULT_ESTIMATOR = "default"


def shipped_models_dir() -> Path:
    """The folder of the shipped model files (``mnas/accuracy/models``)."""
    return Path(__file__).resolve().parent / "models"


def list_shipped_models() -> list[str]:
    """Names of the shipped accuracy models."""
    return sorted(p.stem for p in shipped_models_dir().glob("*.json"))
