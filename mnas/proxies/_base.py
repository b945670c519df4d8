"""The accuracy-proxy contract and the proxy registry.

An accuracy proxy maps an :class:`~mnas.arch.Arch` to one float that should rank
architectures the way their trained accuracy would (higher = better), at a tiny
fraction of the cost of training them.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from mnas.arch import Arch
from mnas.errors import MnasInputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from mnas.spaces import SearchSpace

__all__ = ["BUILTIN_PROXIES", "DEFAULT_PROXY", "AccuracyProxy", "BatchScorer", "Cost",
           "ReportFn", "TrainingProxy", "get_proxy", "list_proxies", "proxy_class",
           "register_proxy"]

DEFAULT_PROXY = "zen-naswot"
"""The default zero-cost proxy (``mnas.proxies.ZenNaswotProxy``)."""

#: What scoring one architecture costs (see :attr:`AccuracyProxy.cost`).
Cost = Literal["analytic", "forward", "train"]

class BatchScorer(Protocol):
    """Scores many architectures of one search space at once, from their code rows.

    ``scorer(codes) -> (score, spread)``: ``codes`` is an ``int64`` array of shape
    ``(n, columns)`` in the space's :class:`mnas.spaces.ParamCodec` form (one column per
    flat parameter, the value an index into its choices; columns of blocks beyond their
    stage's depth are inactive and must not change the result); ``score`` and ``spread``
    are ``float64`` arrays of shape ``(n,)``: ``score[i]`` equals
    ``proxy.score(space.replay(codec.decode(codes[i])))`` (to 1e-9 relative), ``spread[i]``
    the estimator's own uncertainty of it (an ensemble's standard deviation; zeros when it
    has none). Deterministic, no I/O, no state kept between calls; it may raise
    :class:`~mnas.errors.MnasInputError` for rows it cannot score. A batched search calls it
    with thousands of rows at a time: vectorise it (numpy), never loop over ``Arch`` values.
    """

    def __call__(self, codes: npt.NDArray[np.int64], /
                 ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(score, spread)`` of every row of ``codes``."""
        ...


ReportFn = Callable[[int, float], bool]
"""``report(epoch, accuracy) -> should_stop``: called after every epoch (1-based) with the
held-out accuracy; returning True stops training (an Optuna pruner or Ray ASHA decides)."""


class AccuracyProxy(abc.ABC):
    """Base class of every accuracy proxy.

    Contract (checked for every registered proxy by ``tests/proxies/test_conformance.py``):

    * ``score(arch)`` returns a finite Python ``float``; higher means the proxy expects
      higher accuracy. Scores are comparable between architectures scored by the *same*
      proxy instance only.
    * Deterministic: the same constructor arguments (including ``seed``) and the same
      ``Arch`` give bit-identical scores on CPU, in any call order, in any process.
      Proxies own a ``torch.Generator`` seeded per call and never touch the global
      random state (``torch``, ``numpy`` or ``random``).
    * Constructors take keyword-only arguments, ``seed: int`` among them (a proxy that
      draws nothing ignores it); unknown ones are an error, never ignored.
    * No network I/O: data-driven proxies read a local ``.npz`` file or ImageFolder only.
    * ``score`` does not mutate ``arch`` and keeps no per-arch state, so one instance may
      score thousands of architectures (the search does).

    Attributes:
        name: The registry name (``mnas score --proxy NAME``).
        needs_data: Whether the constructor requires a ``data`` path.
        cost: Rough cost class: ``"analytic"`` (microseconds), ``"forward"`` (a few
            forward/backward passes, ~0.1 s on a CPU core), ``"train"`` (seconds to
            minutes; such a proxy is a :class:`TrainingProxy`).
    """

    name: ClassVar[str] = ""
    needs_data: ClassVar[bool] = False
    cost: ClassVar[Cost] = "analytic"

    @abc.abstractmethod
    def score(self, arch: Arch) -> float:
        """The proxy's score of ``arch``; higher = expected more accurate."""

    def check_space(self, space: SearchSpace) -> None:  # noqa: B027 - optional hook
        """Refuse, before a search of ``space`` starts, a space this estimator cannot score
        (every proxy here scores any architecture; labels of one space do not).

        Raises:
            MnasInputError: The estimator cannot score architectures of ``space``.
        """

    def score_many(self, archs: list[Arch]) -> list[float]:
        """Score several architectures in order (``score`` applied to each)."""
        return [self.score(arch) for arch in archs]

    def batch_scorer(self, space: SearchSpace) -> BatchScorer | None:
        """A vectorised scorer of ``space``'s code rows (see :class:`BatchScorer`), or None.

        Optional hook for analytic estimators: a batched search (``mnas search`` with an
        analytic estimator) scores its candidates through it, tens of thousands per second.
        Without one (None, the default), the search decodes each candidate to an ``Arch``
        and calls :meth:`score_many`. Return None as well for a space the estimator cannot
        vectorise (e.g. another space than the one a model was fitted on).
        """
        return None

    def describe(self) -> str:
        """One line naming the estimator and where its measured quality is documented."""
        return (f"{self.name} (zero-cost proxy, cost {self.cost}; rank correlations measured "
                "in benchmarks/RESULTS-proxies.md)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class TrainingProxy(AccuracyProxy):
    """A proxy that trains each architecture for epochs, and can report every epoch.

    ``score(arch, report=...)`` calls ``report(epoch, accuracy)`` after each epoch, so
    that a scheduler (Ray Tune's ASHA) can stop a poor candidate early; the search
    backends test for this class, never for a signature.

    Attributes:
        epochs: Epochs per architecture.
    """

    cost: ClassVar[Cost] = "train"
    epochs: int

    @abc.abstractmethod
    def score(self, arch: Arch, *, report: ReportFn | None = None) -> float:
        """The held-out accuracy after training; ``report`` is called after each epoch
        (a True return stops training there)."""


_REGISTRY: dict[str, type[AccuracyProxy]] = {}

BUILTIN_PROXIES: dict[str, str] = {
    "params": "mnas.proxies._counts",
    "flops": "mnas.proxies._counts",
    "zen": "mnas.proxies._zen",
    "naswot": "mnas.proxies._naswot",
    "zico": "mnas.proxies._zico",
    "zen-naswot": "mnas.proxies._ensemble",
    "train": "mnas.proxies._train",
}
"""The shipped proxies and the module defining each: a proxy's module (and torch, for the
network-based ones) is imported only when the proxy is asked for, so listing the names or
scoring with ``params`` / ``flops`` never imports torch."""


def register_proxy(cls: type[AccuracyProxy]) -> type[AccuracyProxy]:
    """Class decorator adding a proxy class to the registry under ``cls.name``.

    Raises:
        ValueError: If the name is empty or already registered (a shipped proxy's name
            counts as registered before its module is imported).
    """
    if not cls.name:
        raise ValueError(f"proxy class {cls.__name__} must set a non-empty `name`")
    builtin = BUILTIN_PROXIES.get(cls.name)
    if cls.name in _REGISTRY or (builtin is not None and cls.__module__ != builtin):
        raise ValueError(f"accuracy proxy {cls.name!r} is already registered; pick another name")
    _REGISTRY[cls.name] = cls
    return cls


def list_proxies() -> list[str]:
    """Names of the registered proxies (shipped ones included), sorted."""
    return sorted(set(_REGISTRY) | set(BUILTIN_PROXIES))


def proxy_class(name: str) -> type[AccuracyProxy]:
    """The registered proxy class ``name`` (a shipped one's module is imported now).

    Raises:
        MnasInputError: For an unknown name, listing the known ones.
    """
    if name not in _REGISTRY and name in BUILTIN_PROXIES:
        import importlib

        importlib.import_module(BUILTIN_PROXIES[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        raise MnasInputError(
            f"unknown accuracy proxy {name!r}; choose one of {', '.join(list_proxies())}"
        ) from None


def get_proxy(name: str, **kwargs: Any) -> AccuracyProxy:
    """Construct the registered proxy ``name`` with keyword arguments ``kwargs``.

    Args:
        name: A name from :func:`list_proxies`.
        **kwargs: Passed to the proxy's constructor (e.g. ``seed``, ``data``).

    Raises:
        MnasInputError: Unknown name, an argument the proxy does not take, or a
            data-driven proxy without ``data``.
    """
    cls = proxy_class(name)
    params = inspect.signature(cls.__init__).parameters
    allowed = [p for p in params
               if p != "self" and params[p].kind == inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise MnasInputError(
            f"accuracy proxy {name!r} takes the arguments {', '.join(allowed) or '(none)'}, "
            f"got unknown {', '.join(unknown)}")
    if cls.needs_data and kwargs.get("data") is None:
        raise MnasInputError(
            f"accuracy proxy {name!r} is data-driven and needs a dataset: pass data=PATH "
            "(`--data PATH`, a .npz with x uint8 NHWC and y, or an ImageFolder directory)")
    return cls(**kwargs)


