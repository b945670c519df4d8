"""One search run's folder, the same for both backends (in-process Optuna and Ray Tune).

A :class:`Run` is opened from a :class:`~mnas.search.SearchConfig` (space, predictor and
the budget check), reads the search already in its folder (same settings and inputs,
or an error), records provenance in ``config.json`` once, holds the folder's lock
while a backend runs trials, and writes the outputs (``trials.csv``, ``zoo.csv``,
``best/``, ``report.md``...) from the finished study. A backend only chooses and
evaluates trials.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import math
import platform
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import optuna

from mnas._io import atomic_write_json
from mnas._limits import load_json_file
from mnas.accuracy import estimate_context, estimator_for_space
from mnas.errors import MnasInputError
from mnas.latency import TablePredictor, resolve_target
from mnas.proxies import AccuracyProxy
from mnas.search._batched._outputs import rank_evaluations, write_evaluation_outputs
from mnas.search._budget import Fastest, fastest_arch, fastest_by_shape
from mnas.search._config import SearchConfig, default_run_name
from mnas.search._inputs import check_inputs, input_hashes
from mnas.search._objective import default_proxy_name
from mnas.search._outputs import Candidate, rank_candidates, write_outputs, write_zoo
from mnas.spaces import DEFAULT_SPACE, SearchSpace, load_space

if TYPE_CHECKING:
    from mnas.search._batched._log import Evaluations

__all__ = ["FINISHED_STATES", "STUDY_FILE", "STUDY_NAME", "Run", "SearchResult", "TrialsRun",
           "package_versions", "prepare", "provenance", "run_lock", "stored_config",
           "study_directions"]

STUDY_FILE = "study.log"
STUDY_NAME = "mnas"

#: Trial states that count as finished (a stopped trial keeps its last value).
FINISHED_STATES = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@dataclass(frozen=True, kw_only=True)
class SearchResult:
    """The outcome of a search (either backend).

    Attributes:
        run_dir: The run folder.
        config: The configuration (as stored in ``config.json``).
        best: The best candidate (None if no trial finished).
        top: The top-K distinct candidates.
        finished: Finished trials in the study (all invocations).
        new: Trials finished by this invocation.
        elapsed_s: Wall time of this invocation.
        fastest: The space's fastest architecture on the target.
        resumed: Whether an existing study was continued.
        batched: Whether candidates were evaluated in batches (``finished`` and ``new``
            then count evaluations), not as Optuna trials.
    """

    run_dir: Path
    config: SearchConfig
    best: Candidate | None
    top: list[Candidate]
    finished: int
    new: int
    elapsed_s: float
    fastest: Fastest
    resumed: bool
    batched: bool = False


@dataclass(frozen=True, kw_only=True)
class TrialsRun:
    """What a backend's :meth:`Backend.run_trials` hands back to the pipeline.

    Attributes:
        study: The study holding every trial of the run (all invocations); None for a
            batched search.
        evaluations: A batched search's record of every evaluation (all invocations);
            None for a search of trials.
        before: Finished trials (evaluations) before this invocation.
        interrupted: Ctrl-C stopped the trials: the outputs are written from what
            finished, then ``KeyboardInterrupt`` is raised again.
        resumed: Whether this invocation continued a search (None: the folder held one).
    """

    study: optuna.Study | None
    before: int
    evaluations: Evaluations | None = None
    interrupted: bool = False
    resumed: bool | None = None


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run folder's ``.lock`` (an ``flock`` the OS releases when a process dies).

    Raises:
        MnasInputError: Another search holds it.
    """
    path = run_dir / ".lock"
    handle = open(path, "a+")  # closed below
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise MnasInputError(
                f"another search is running in {run_dir} (it holds {path}); wait for it or "
                "pick another --name") from None
        yield
    finally:
        handle.close()


def prepare(config: SearchConfig) -> tuple[SearchConfig, SearchSpace, TablePredictor, Fastest]:
    """Validate ``config`` and check the budget against the space's fastest architecture.

    Returns the config with a default name filled in, the space, the predictor and the
    fastest architecture.

    Raises:
        MnasInputError: Unknown target/space/proxy, or a budget below the fastest
            architecture (the message says what the fastest is).
    """
    config, space, predictor, by_shape = _prepare(config)
    return config, space, predictor, _fastest(by_shape)


def _fastest(by_shape: Mapping[tuple[float, int], Fastest]) -> Fastest:
    return min(by_shape.values(), key=lambda f: f.latency_ms)


def _prepare(config: SearchConfig) -> tuple[SearchConfig, SearchSpace, TablePredictor,
                                            dict[tuple[float, int], Fastest]]:
    """:func:`prepare`, with the fastest architecture of every (width, resolution)."""
    space = load_space(config.space)
    predictor = TablePredictor(resolve_target(config.target), space_hint=config.space)
    by_shape = (fastest_by_shape(space, predictor) if not any(st.ops for st in space.stages)
                or len(space.widths) * len(space.resolutions) == 1
                else {(0.0, 0): fastest_arch(space, predictor)})
    fastest = _fastest(by_shape)
    if fastest.latency_ms > config.budget_ms:
        shape = ", ".join(f"{k}={v}" for k, v in fastest.params.items()
                          if k in ("width", "resolution"))
        minimum = math.ceil(fastest.latency_ms * 10) / 10
        raise MnasInputError(
            f"budget {config.budget_ms:g} ms is below the fastest architecture of space "
            f"{space.name!r} on {config.target}: {fastest.latency_ms:.2f} ms ({shape}, minimum "
            f"depth and cheapest block choices); use --budget {minimum:g}ms "
            "or more, or a smaller space")
    if not config.name:
        config = config.replace(name=default_run_name(
            config, default_space=DEFAULT_SPACE, default_proxy=default_proxy_name()))
    return config, space, predictor, by_shape


def stored_config(run_dir: Path, config: SearchConfig,
                  inputs: Mapping[str, str] | None = None) -> SearchConfig | None:
    """The config of the search already in ``run_dir`` (None when there is none).

    Both backends call it before touching a run folder.

    Args:
        run_dir: The run folder.
        config: This invocation's settings.
        inputs: :func:`~mnas.search._inputs.input_hashes` of this invocation, compared
            with the stored ones (runs from before hashes were stored have none).

    Raises:
        MnasInputError: ``config.json`` is damaged, or the stored search has other
            settings or other input contents than this one.
    """
    config_path = run_dir / "config.json"
    if not (config_path.exists() or config_path.is_symlink()):
        if (run_dir / STUDY_FILE).exists():
            raise MnasInputError(
                f"run folder {run_dir} has a {STUDY_FILE} but no config.json, so what its "
                "trials were scored under is unknown; restore config.json, or start a new run "
                "with another --name")
        return None
    damaged = ("the run folder's settings are damaged: restore config.json, or start a new "
               "run with another --name")
    data = load_json_file(config_path, what="run config", missing_hint=damaged, hint=damaged)
    stored = SearchConfig.from_dict(data, source=str(config_path))
    mismatch = {k: (v, config.identity()[k]) for k, v in stored.identity().items()
                if v != config.identity()[k]}
    if mismatch:
        what = "; ".join(f"{k}: stored {a!r}, now {b!r}" for k, (a, b) in mismatch.items())
        raise MnasInputError(
            f"run folder {run_dir} holds a search with other settings ({what}); rerun with "
            "the stored settings to resume it, or pick another --name")
    stored_inputs = stored.extra.get("inputs")
    if inputs is not None and isinstance(stored_inputs, Mapping):
        check_inputs(stored_inputs, inputs, run_dir=run_dir)
    return stored


def study_directions(config: SearchConfig) -> list[Literal["maximize", "minimize"]]:
    """The study's objectives: maximise the score (the soft reward), and with ``pareto``
    also minimise the latency."""
    return ["maximize", "minimize"] if config.pareto else ["maximize"]


def package_versions(*extra: str) -> dict[str, str]:
    """Versions of mnas, Optuna, torch, the ``extra`` distributions and Python."""
    import torch

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "unknown"

    return {"mnas": installed("mnas"), "optuna": optuna.__version__, "torch": torch.__version__,
            **{name: installed(name) for name in extra}, "python": platform.python_version()}


def _display_path(path: Path | None) -> str:
    """``path`` relative to the working directory when it lies below it."""
    if path is None:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def provenance(*, predictor: TablePredictor, space: SearchSpace, fastest: Fastest,
               command: str | None, versions: Sequence[str] = ()) -> dict[str, Any]:
    """What a new run records about where it came from (``config.json``'s ``extra``).

    Args:
        predictor: The target's predictor (its table's header is recorded).
        space: The search space.
        fastest: The space's fastest architecture on the target.
        command: The command line, or None.
        versions: Distributions recorded besides mnas, Optuna, torch and Python.
    """
    header = predictor.table.header
    return {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": command or "",
        "versions": package_versions(*versions),
        "table": {"path": _display_path(predictor.table.path), "target": header.target,
                  "device": header.device, "provenance": header.provenance,
                  "error_band": header.error_band, "runtime": header.runtime,
                  "runtime_version": header.runtime_version, "threads": header.threads},
        "space_size_log10": round(space.log10_size(), 3),
        "fastest": {"latency_ms": fastest.latency_ms, "params": fastest.params},
    }


@dataclass(kw_only=True)
class Run:
    """A search's run folder and what both backends need to fill it.

    Open one with :meth:`open`, then :meth:`load_stored` (before anything is written),
    :meth:`record`, and run the trials inside :meth:`locked`; :meth:`finish` writes
    the outputs and :meth:`result` says what happened.

    Attributes:
        config: The settings (a default name filled in; provenance after :meth:`record`).
        space: The search space.
        predictor: The target's latency predictor.
        fastest: The space's fastest architecture on the target.
        started: ``time.monotonic()`` when the run was opened.
        stored: The config already in the folder (None for a new run).
        inputs: Content hashes of the space, table and proxy files.
        by_shape: The fastest architecture of each (width, resolution) of the space.
    """

    config: SearchConfig
    space: SearchSpace
    predictor: TablePredictor
    fastest: Fastest
    started: float
    stored: SearchConfig | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    by_shape: dict[tuple[float, int], Fastest] = field(default_factory=dict)

    @classmethod
    def open(cls, config: SearchConfig) -> Run:
        """Load the space and table of ``config`` and check its budget.

        Raises:
            MnasInputError: See :func:`mnas.search.prepare`.
        """
        started = time.monotonic()
        config, space, predictor, by_shape = _prepare(config)
        return cls(config=config, space=space, predictor=predictor, fastest=_fastest(by_shape),
                   started=started, by_shape=by_shape)

    @property
    def dir(self) -> Path:
        """The run folder."""
        return Path(self.config.runs_dir) / self.config.name

    @property
    def resumed(self) -> bool:
        """Whether the folder already holds this search."""
        return self.stored is not None

    def load_stored(self) -> SearchConfig | None:
        """Read the search already in the folder (and hash this run's inputs).

        Raises:
            MnasInputError: The stored search has other settings or inputs, or a damaged
                ``config.json``.
        """
        self.inputs = input_hashes(space=self.space, table=self.predictor.table,
                                   proxy=self.config.proxy)
        self.stored = stored_config(self.dir, self.config, self.inputs)
        return self.stored

    def record(self, *, proxy: AccuracyProxy, command: str | None, versions: Sequence[str] = (),
               extra: Mapping[str, Any] | None = None) -> SearchConfig:
        """Fill ``config.extra``: the stored provenance when resuming, else new provenance,
        the estimator that scores and ``extra`` (backend settings); returns the config."""
        if self.stored is not None:
            fields = dict(self.stored.extra)
        else:
            fields = {
                **provenance(predictor=self.predictor, space=self.space, fastest=self.fastest,
                             command=command, versions=versions),
                **(extra or {}),
                **dict(zip(("estimator_name", "estimator"),
                           estimator_for_space(proxy, self.space), strict=True)),
                "estimate": estimate_context(proxy, self.space),
            }
        self.config = self.config.replace(extra={**fields, "inputs": self.inputs})
        return self.config

    @contextlib.contextmanager
    def locked(self) -> Iterator[Path]:
        """Create the folder, hold its lock and write ``config.json``; yields the folder.

        Raises:
            MnasInputError: Another search holds the folder's lock.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        with run_lock(self.dir):
            atomic_write_json(self.dir / "config.json", self.config.to_dict())
            yield self.dir

    def write_zoo(self, proxy: AccuracyProxy, *, deadline: float | None = None) -> None:
        """Score the reference zoo into ``zoo.csv`` (see :func:`mnas.search._outputs.write_zoo`)."""
        write_zoo(self.dir, predictor=self.predictor, proxy=proxy,
                  budget_ms=self.config.budget_ms, deadline=deadline)

    def finish(self, trials: TrialsRun, proxy: AccuracyProxy) -> tuple[list[Candidate], int]:
        """Rank what the backend evaluated and write every output file.

        Returns:
            The ranked distinct candidates and the number of finished trials (evaluations).
        """
        if trials.evaluations is not None:
            ranked = rank_evaluations(trials.evaluations, self.space, self.config,
                                      band=self.predictor.table.header.error_band)
            write_evaluation_outputs(self.dir, config=self.config,
                                     evaluations=trials.evaluations, space=self.space,
                                     predictor=self.predictor, proxy=proxy, ranked=ranked)
            return ranked, len(trials.evaluations)
        if trials.study is None:
            raise ValueError("a backend returned neither a study nor evaluations")
        finished = trials.study.get_trials(deepcopy=False, states=FINISHED_STATES)
        ranked = rank_candidates(finished, self.space, self.config)
        write_outputs(self.dir, config=self.config, study=trials.study, space=self.space,
                      predictor=self.predictor, proxy=proxy, ranked=ranked)
        return ranked, len(finished)

    def result(self, ranked: list[Candidate], *, finished: int, before: int,
               resumed: bool | None = None, batched: bool = False) -> SearchResult:
        """The :class:`~mnas.search.SearchResult` of this invocation."""
        return SearchResult(run_dir=self.dir, config=self.config,
                            best=ranked[0] if ranked else None, top=ranked[:self.config.top_k],
                            finished=finished, new=finished - before,
                            elapsed_s=time.monotonic() - self.started, fastest=self.fastest,
                            resumed=self.resumed if resumed is None else resumed,
                            batched=batched)
