"""The seam between a search run and what runs its trials.

:func:`run_search` is the whole pipeline of a search, the same for every backend: open
the :class:`~mnas.search.Run` (space, predictor, budget check), read the search already
in the folder, let the backend refuse what it cannot continue, build the estimator
and let it refuse a space it cannot score, record provenance, and, holding the folder's lock, let the backend run the missing
trials, then write every output from the finished study. A :class:`Backend` only
chooses and evaluates trials: :class:`~mnas.search.OptunaBackend` in this process,
:class:`~mnas.search.RayBackend` on Ray Tune workers.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

from mnas.proxies import AccuracyProxy
from mnas.search._config import SearchConfig
from mnas.search._objective import make_proxy
from mnas.search._run import Run, SearchResult, TrialsRun

__all__ = ["Backend", "TrialsRun", "run_search"]


class Backend(abc.ABC):
    """How the trials of a search are chosen and evaluated.

    Attributes:
        name: The ``--backend`` value (``config.json`` records it, except the default).
        versions: Packages whose versions the run's provenance records besides mnas's.
    """

    name: ClassVar[str]
    versions: ClassVar[tuple[str, ...]] = ()

    def check(self, run: Run) -> None:  # noqa: B027 - optional hook, nothing to check by default
        """Refuse, before anything is written, a run folder this backend cannot continue.

        Raises:
            MnasInputError: The folder holds another backend's search, or the like.
        """

    def make_proxy(self, config: SearchConfig, given: AccuracyProxy | None) -> AccuracyProxy:
        """The estimator that scores candidates (``given`` when a caller passed one).

        Raises:
            MnasInputError: Unknown estimator, or one this backend cannot use.
        """
        if given is not None:
            return given
        return make_proxy(config.proxy, data=config.data, seed=config.seed)

    def settings(self) -> Mapping[str, Any]:
        """The backend's settings, recorded in ``config.json`` (``extra``)."""
        return {}

    @abc.abstractmethod
    def run_trials(self, run: Run, proxy: AccuracyProxy, *, progress: bool) -> TrialsRun:
        """Run the trials the run still misses; called holding the run folder's lock,
        after ``config.json`` is written. May write ``zoo.csv`` (:meth:`Run.write_zoo`)."""


def run_search(config: SearchConfig, backend: Backend, *, progress: bool = True,
               command: str | None = None, proxy: AccuracyProxy | None = None) -> SearchResult:
    """Run (or resume) the search ``config`` with ``backend`` and write its run folder.

    Args:
        config: The search settings.
        backend: What runs the trials.
        progress: Show progress on stderr.
        command: The command line, recorded in ``config.json``.
        proxy: A ready estimator (tests, benchmarks); default: the one ``config`` names.

    Raises:
        MnasInputError: Bad settings, a budget below the fastest architecture, a run
            folder created with other settings or by another backend.
        KeyboardInterrupt: Interrupted; the outputs of the finished trials were written.
    """
    run = Run.open(config)
    run.load_stored()
    backend.check(run)
    estimator = backend.make_proxy(run.config, proxy)
    estimator.check_space(run.space)  # e.g. labels of another space: refused before writing
    run.record(proxy=estimator, command=command, versions=backend.versions,
               extra=backend.settings())
    with run.locked():
        trials = backend.run_trials(run, estimator, progress=progress)
        ranked, finished = run.finish(trials, estimator)
        if trials.interrupted:
            raise KeyboardInterrupt
    return run.result(ranked, finished=finished, before=trials.before, resumed=trials.resumed,
                      batched=trials.evaluations is not None)
