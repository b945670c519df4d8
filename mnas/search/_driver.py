"""The in-process Optuna driver: run folder, storage, resume, dedup and progress.

Storage: the study lives in ``runs/NAME/study.log``, Optuna's ``JournalStorage`` on
a ``JournalFileBackend`` (an append-only log, one JSON line per operation, each
append ``fsync``-ed). Trials run against an in-memory study and each finished trial
is appended to the journal as ONE line (``add_trial``, a single ``write``) as soon
as it finishes (write-behind); a resumed run replays the journal. Why this survives
``SIGKILL`` best:

* A kill lands either before the ``write`` of a finished trial (the trial is lost,
  nothing else) or after it (kept): a completed ``write(2)`` to a local file is not
  torn by killing the writer, and the log is never rewritten in place.
* No trial is ever ``RUNNING`` on disk, so nothing needs cleaning up on resume.
* The only stale state a kill can leave is Optuna's ``study.log.lock`` (if the kill
  hits the millisecond an append holds it); the live search holds an ``flock`` on
  the run folder's ``.lock`` (released by the OS when a process dies), so on start
  it knows no writer is alive and removes a stale journal lock.

SQLite (``RDBStorage``) is transactional too, but here it cost 0.4-1.1 s of CPU per
finished trial (SQLAlchemy issues about 190 statements to insert one trial with ~60
parameters), and writing each ``suggest_categorical`` through it made a 100-trial
search 15x slower (186 s vs 12 s); the journal append costs about 10 ms.
``optuna-dashboard runs/NAME/study.log`` opens the study.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import functools
import json
import logging
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from mnas._io import atomic_write_json
from mnas._limits import load_json_file
from mnas.accuracy import estimator_for_space
from mnas.errors import MnasInputError, caused_by_interrupt
from mnas.latency import TablePredictor, resolve_target
from mnas.search._budget import Fastest, fastest_arch
from mnas.search._config import SearchConfig, default_run_name
from mnas.search._inputs import check_inputs, input_hashes
from mnas.search._objective import (
    SearchContext,
    default_proxy_name,
    make_proxy,
    objective,
)
from mnas.search._outputs import Candidate, rank_candidates, write_outputs, write_zoo
from mnas.spaces import DEFAULT_SPACE, SearchSpace, load_space

__all__ = ["STUDY_FILE", "STUDY_NAME", "SearchResult", "load_study", "make_sampler",
           "open_storage", "prepare", "search"]

STUDY_FILE = "study.log"
STUDY_NAME = "mnas"
_STORED_STATES = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
                  optuna.trial.TrialState.FAIL)


@dataclass(frozen=True, kw_only=True)
class SearchResult:
    """The outcome of :func:`search`.

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


class _NoInterruptTraceback(logging.Filter):
    """Drops Optuna's two warnings about a trial stopped by Ctrl-C ("Trial N failed with
    parameters ... KeyboardInterrupt" with its traceback, then "Trial N failed with value
    None"): Ctrl-C is not a failure of the trial, and the CLI says in one line what
    happened. Every other warning passes."""

    def __init__(self) -> None:
        super().__init__()
        self._interrupted: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if isinstance(record.exc_info, tuple) else record.exc_info
        words = str(record.msg).split()
        trial = words[1] if len(words) > 1 and words[0] == "Trial" else None
        if isinstance(exc, BaseException) and caused_by_interrupt(exc):
            if trial is not None:
                self._interrupted.add(trial)
            return False
        if trial in self._interrupted and "failed with value" in str(record.msg):
            self._interrupted.discard(trial)
            return False
        return True


logging.getLogger("optuna.study._optimize").addFilter(_NoInterruptTraceback())


def make_sampler(config: SearchConfig) -> optuna.samplers.BaseSampler:
    """The seeded sampler named in ``config`` (constrained unless the objective is soft).

    TPE (Bergstra et al., NeurIPS 2011) is multivariate and grouped (the space is
    define-by-run: depth decides which block parameters exist); Optuna's samplers
    read the latency constraint each trial records (``trial.set_constraint``);
    NSGA-II (Deb et al. 2002) for ``--pareto``; random as the baseline (Bergstra & Bengio, JMLR 2012; Li & Talwalkar, UAI 2019 show it is a
    strong NAS baseline); regularized evolution (Real et al., AAAI 2019) seeds itself per
    trial (:class:`mnas.search._samplers.EvolutionSampler`).
    """
    if config.sampler == "evolution":
        from mnas.search._samplers import EvolutionSampler

        return EvolutionSampler(space=config.space, target=config.target, seed=config.seed,
                                budget_ms=config.budget_ms if config.objective == "hard" else None)
    return TrialSeededSampler(_SamplerFactory(config.sampler), seed=config.seed)


@dataclass(frozen=True)
class _SamplerFactory:
    """Builds the named sampler from a seed (a picklable callable: Ray saves the searcher)."""

    kind: str

    def __call__(self, seed: int) -> optuna.samplers.BaseSampler:
        if self.kind == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if self.kind == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                          n_startup_trials=10)


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """Runs a fresh sampler per trial, seeded from the run's seed and the trial number.

    Optuna's samplers keep their random state in memory, so a search resumed after a kill
    would restart the random stream. Re-seeding per trial makes trial N's suggestion a
    function of (seed, N, the finished trials) only, so a resumed run continues exactly
    as an uninterrupted one would. TPE, NSGA-II and random sampling keep no other state
    between trials (they read the history from the study).

    Args:
        factory: Builds the underlying sampler from a seed.
        seed: The run's seed.
    """

    def __init__(self, factory: Any, *, seed: int) -> None:
        self._factory = factory
        self._seed = seed
        self._inner: optuna.samplers.BaseSampler = factory(seed)

    def _for(self, trial: optuna.trial.FrozenTrial) -> optuna.samplers.BaseSampler:
        return self._factory((self._seed * 1_000_003 + trial.number) % 2**32)

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self._inner = self._for(trial)
        self._inner.before_trial(study, trial)

    def infer_relative_search_space(self, study: optuna.Study,
                                    trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                        search_space: dict[str, Any]) -> dict[str, Any]:
        return self._inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                           param_name: str, param_distribution: Any) -> Any:
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                    state: optuna.trial.TrialState, values: Any) -> None:
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()


def open_storage(run_dir: Path) -> optuna.storages.BaseStorage:
    """The Optuna storage of a run folder (``run_dir/study.log``, a journal file).

    Every backend writing a run folder's study should go through this function.
    """
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(run_dir / STUDY_FILE)))


def _drop_torn_tail(journal: Path) -> None:
    """Cut a journal back to its last complete line (a write killed or cut short by a full
    disk leaves a partial last line; every complete line is a finished record). Call only
    while holding the run lock."""
    try:
        size = journal.stat().st_size
    except FileNotFoundError:
        return
    with open(journal, "rb+") as handle:
        handle.seek(max(0, size - 1))
        if size == 0 or handle.read(1) == b"\n":
            return
        handle.seek(0)
        handle.truncate(handle.read().rfind(b"\n") + 1)
        handle.flush()
        os.fsync(handle.fileno())


def _damaged_journal(journal: Path, err: Exception) -> MnasInputError:
    """The error for a journal Optuna cannot replay, naming the first line that is not a
    record (the fix differs: a bad last line can go, a bad middle line hides what follows)."""
    bad, total = None, 0
    try:
        with open(journal, "rb") as handle:
            for total, line in enumerate(handle, start=1):
                if bad is None:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        record = None
                    if not isinstance(record, dict) or not line.endswith(b"\n"):
                        bad = total
    except OSError:
        pass
    if bad is not None and bad < total:
        return MnasInputError(
            f"{journal} is damaged: line {bad} of {total} is not a journal record, so the "
            "trials after it cannot be read; restore the file from a backup, or start over "
            "with another --name")
    where = f"its last line ({bad})" if bad is not None else "it"
    return MnasInputError(f"{journal} is damaged ({err}); delete {where} to resume from the "
                          "records before it, or start over with another --name")


def load_study(run_dir: Path, config: SearchConfig | None = None) -> optuna.Study:
    """Open the study of a run folder (read-only use: no sampler state matters).

    Raises:
        MnasInputError: No study in the folder.
    """
    if not (run_dir / STUDY_FILE).exists():
        raise MnasInputError(f"{run_dir} has no {STUDY_FILE}: not a run folder written by "
                             "`mnas search`")
    sampler = make_sampler(config) if config is not None else None
    try:
        return optuna.load_study(study_name=STUDY_NAME, storage=open_storage(run_dir),
                                 sampler=sampler)
    except ValueError as err:
        raise _damaged_journal(run_dir / STUDY_FILE, err) from None


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    path = run_dir / ".lock"
    handle = open(path, "a+")  # noqa: SIM115 - closed below
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


def _display_path(path: Path | None) -> str:
    """``path`` relative to the working directory when it lies below it."""
    if path is None:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _versions() -> dict[str, str]:
    import torch

    try:
        from importlib.metadata import version

        mnas_version = version("mnas")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        mnas_version = "unknown"
    return {"mnas": mnas_version, "optuna": optuna.__version__, "torch": torch.__version__,
            "python": platform.python_version()}


def prepare(config: SearchConfig) -> tuple[SearchConfig, SearchSpace, TablePredictor, Fastest]:
    """Validate ``config`` and check the budget against the space's fastest architecture.

    Returns the config with a default name filled in, the space, the predictor and the
    fastest architecture.

    Raises:
        MnasInputError: Unknown target/space/proxy, or a budget below the fastest
            architecture (the message says what the fastest is).
    """
    space = load_space(config.space)
    predictor = TablePredictor(resolve_target(config.target), space_hint=config.space)
    fastest = fastest_arch(space, predictor)
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
    return config, space, predictor, fastest


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


def search(config: SearchConfig, *, progress: bool = True, command: str | None = None,
           proxy: Any = None,
           on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
           ) -> SearchResult:
    """Run (or resume) a search and write its run folder.

    The same ``config`` (same run name) resumes a stopped search: finished trials are
    kept, trials killed mid-way are marked failed, and only the missing trials run.

    Args:
        config: The search settings.
        progress: Show a rich progress bar on stderr.
        command: The command line, recorded in ``config.json``.
        proxy: A ready proxy instance (tests, benchmarks); default: built from config.
        on_trial: Called after every finished trial (benchmarks).

    Raises:
        MnasInputError: Bad settings, a budget below the fastest architecture, or a run
            folder created with different settings.
    """
    started = time.monotonic()
    config, space, predictor, fastest = prepare(config)
    if proxy is None:
        proxy = make_proxy(config.proxy, data=config.data, seed=config.seed)
    run_dir = Path(config.runs_dir) / config.name
    inputs = input_hashes(space=space, table=predictor.table, proxy=config.proxy)
    stored = stored_config(run_dir, config, inputs)
    resumed = stored is not None
    if stored is not None:
        config = config.replace(extra={**stored.extra, "inputs": inputs})
    else:
        header = predictor.table.header
        config = config.replace(extra={
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "command": command or "",
            "versions": _versions(),
            "table": {"path": _display_path(predictor.table.path), "target": header.target,
                      "device": header.device, "provenance": header.provenance,
                      "error_band": header.error_band, "runtime": header.runtime,
                      "runtime_version": header.runtime_version, "threads": header.threads},
            "space_size_log10": round(space.log10_size(), 3),
            "fastest": {"latency_ms": fastest.latency_ms, "params": fastest.params},
            **dict(zip(("estimator_name", "estimator"), estimator_for_space(proxy, space),
                       strict=True)),
            "inputs": inputs,
        })
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(run_dir):
        atomic_write_json(run_dir / "config.json", config.to_dict())
        context = SearchContext(config=config, predictor=predictor, proxy=proxy)
        directions = (["maximize", "minimize"] if config.pareto else ["maximize"])
        stale_lock = run_dir / (STUDY_FILE + ".lock")
        if stale_lock.is_symlink() or stale_lock.exists():
            stale_lock.unlink()  # we hold the run lock: its writer is dead
        _drop_torn_tail(run_dir / STUDY_FILE)
        try:
            durable = optuna.create_study(storage=open_storage(run_dir), study_name=STUDY_NAME,
                                          directions=directions, load_if_exists=True)
        except ValueError as err:
            raise _damaged_journal(run_dir / STUDY_FILE, err) from None
        _fail_stale_trials(durable)
        # Trials run in memory; each finished trial is appended to the journal as one line.
        study = optuna.create_study(directions=directions, sampler=make_sampler(config))
        study.add_trials(durable.get_trials(deepcopy=False, states=_STORED_STATES))
        finished_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        finished = study.get_trials(deepcopy=False, states=finished_states)
        context.remember(finished)
        before = len(finished)
        remaining = max(0, config.trials - before)
        func = functools.partial(objective, space, config, context=context)

        def persist(_study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            durable.add_trial(trial)

        callbacks: list[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = [persist]
        if on_trial is not None:
            callbacks.append(on_trial)
        interrupted = False
        # The zoo is scored first, within half the time limit (what is left is scored
        # by the next invocation): with a forward-pass proxy it costs a dozen trials.
        write_zoo(run_dir, predictor=predictor, proxy=context.proxy, budget_ms=config.budget_ms,
                  deadline=None if config.timeout_s is None
                  else started + config.timeout_s / 2)
        timeout = (None if config.timeout_s is None
                   else max(1e-3, config.timeout_s - (time.monotonic() - started)))
        if remaining:
            with _progress(enabled=progress, total=config.trials, done=before,
                           config=config, study=study) as tick:
                callbacks.append(tick)
                try:
                    study.optimize(func, n_trials=remaining, timeout=timeout,
                                   callbacks=callbacks, gc_after_trial=False)
                except BaseException as exc:
                    if not caused_by_interrupt(exc):
                        raise
                    interrupted = True  # write the folder from what finished, then re-raise
        trials = study.get_trials(deepcopy=False, states=finished_states)
        ranked = rank_candidates(trials, space, config)
        write_outputs(run_dir, config=config, study=study, space=space, predictor=predictor,
                      proxy=context.proxy, ranked=ranked)
        if interrupted:
            raise KeyboardInterrupt
    return SearchResult(run_dir=run_dir, config=config, best=ranked[0] if ranked else None,
                        top=ranked[:config.top_k], finished=len(trials),
                        new=len(trials) - before, elapsed_s=time.monotonic() - started,
                        fastest=fastest, resumed=resumed)


def _fail_stale_trials(study: optuna.Study) -> None:
    """Mark trials left ``RUNNING`` (by other tools writing the study) as ``FAIL``.

    Safe because the caller holds the run folder's lock.
    """
    storage = study._storage  # noqa: SLF001 - Optuna exposes no public setter for this
    for trial in study.get_trials(deepcopy=False,
                                  states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_state_values(trial._trial_id,  # noqa: SLF001
                                       state=optuna.trial.TrialState.FAIL)


@contextlib.contextmanager
def _progress(*, enabled: bool, total: int, done: int, config: SearchConfig,
              study: optuna.Study) -> Iterator[Callable[[optuna.Study,
                                                         optuna.trial.FrozenTrial], None]]:
    """A rich progress bar; yields the Optuna callback that advances it."""
    state: dict[str, Any] = {"best": None}

    def describe() -> str:
        best = state["best"]
        if best is None:
            return "search: no feasible trial yet"
        return f"best {best[0]:.4g} @ {best[1]:.2f} ms"

    def update_best(trial: optuna.trial.FrozenTrial) -> None:
        attrs = trial.user_attrs
        if not attrs.get("feasible") or attrs.get("score") is None:
            return
        value = trial.values[0] if trial.values else None
        if value is None:
            return
        if state["best"] is None or value > state["best"][2]:
            state["best"] = (float(attrs["score"]), float(attrs["latency_ms"]), value)

    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        update_best(trial)
    if not enabled:
        def quiet(_study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            update_best(trial)

        yield quiet
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(file=sys.stderr)
    columns = (TextColumn("[bold]trials"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.description}"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False,
                  disable=not console.is_terminal and os.environ.get("MNAS_PROGRESS") != "1"
                  ) as bar:
        task = bar.add_task(describe(), total=total, completed=done)

        def tick(_study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            update_best(trial)
            bar.update(task, advance=1, description=describe())

        yield tick
