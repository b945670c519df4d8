"""Registry of named reference architectures (a duplicate name raises)."""

from __future__ import annotations

from collections.abc import Callable

from mnas.arch import Arch
from mnas.errors import MnasInputError

__all__ = ["get_arch", "list_archs", "register_arch"]

ArchFactory = Callable[[], Arch]
_REGISTRY: dict[str, ArchFactory] = {}


def register_arch(name: str) -> Callable[[ArchFactory], ArchFactory]:
    """Decorator registering a zero-argument factory that returns an :class:`Arch`.

    Raises:
        ValueError: If ``name`` is already registered.
    """

    def decorator(factory: ArchFactory) -> ArchFactory:
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} is already registered; pick another name")
        _REGISTRY[name] = factory
        return factory

    return decorator


def get_arch(name: str) -> Arch:
    """The registered architecture ``name``.

    Raises:
        MnasInputError: For an unknown name, listing the known ones.
    """
    _ensure_zoo_loaded()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise MnasInputError(
            f"unknown architecture {name!r}; choose one of `mnas zoo list` "
            f"({', '.join(sorted(_REGISTRY))}) or pass an arch file path") from None
    return factory()


def list_archs() -> list[str]:
    """Names of all registered architectures, sorted."""
    _ensure_zoo_loaded()
    return sorted(_REGISTRY)


def _ensure_zoo_loaded() -> None:
    import mnas.models.zoo  # noqa: F401  (registers the reference architectures)
