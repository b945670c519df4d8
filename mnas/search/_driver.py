"""The in-process driver: run folder, storage, resume, dedup and progress of Optuna trials.

(An analytic estimate is searched in batches instead, :mod:`mnas.search._batched`; what
follows is about the trials of an expensive one.)

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
import functools
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from mnas._io import drop_torn_tail
from mnas._progress import progress_bar
from mnas.errors import MnasInputError, caused_by_interrupt
from mnas.proxies import AccuracyProxy
from mnas.search._backend import Backend, TrialsRun, run_search
from mnas.search._config import SearchConfig
from mnas.search._objective import SearchContext, objective
from mnas.search._run import (
    FINISHED_STATES,
    STUDY_FILE,
    STUDY_NAME,
    Run,
    SearchResult,
    study_directions,
)

if TYPE_CHECKING:
    from mnas.search._batched import BatchProgress

__all__ = ["OptunaBackend", "load_study", "make_sampler", "open_storage", "search"]

_STORED_STATES = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
                  optuna.trial.TrialState.FAIL)


class _NoInterruptTraceback(logging.Filter):
    """Drops Optuna's two warnings about a trial stopped by Ctrl-C ("Trial N failed with
    parameters ... KeyboardInterrupt" with its traceback, then "Trial N failed with value
    None"): Ctrl-C is not a failure of the trial, and the CLI says in one line what
    happened. The same for a trial stopped by an input error (an architecture the
    ``labels:`` proxy lacks): the run stops and the CLI prints that error in one line.
    Every other warning passes."""

    def __init__(self) -> None:
        super().__init__()
        self._interrupted: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if isinstance(record.exc_info, tuple) else record.exc_info
        words = str(record.msg).split()
        trial = words[1] if len(words) > 1 and words[0] == "Trial" else None
        if isinstance(exc, BaseException) and (caused_by_interrupt(exc)
                                               or isinstance(exc, MnasInputError)):
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
    strong NAS baseline); regularized evolution (Real et al., AAAI 2019) and the
    predictor-guided sampler (White et al., AAAI 2021) seed themselves per trial
    (:class:`mnas.search._samplers.EvolutionSampler`, :class:`~mnas.search._samplers.
    PredictorSampler`).
    """
    budget = config.budget_ms if config.objective == "hard" else None
    kind = config.sampler
    if kind == "batch":
        raise MnasInputError("--sampler batch evaluates candidates in batches, not as Optuna "
                             "trials: it runs in this process (no --backend ray); use --sampler "
                             "auto or predictor")
    if kind == "auto":  # one trial per candidate: the estimate is expensive, or Ray runs it
        kind = "nsga2" if config.pareto else "predictor"
    if kind == "evolution":
        from mnas.search._samplers import EvolutionSampler

        return EvolutionSampler(space=config.space, target=config.target, seed=config.seed,
                                budget_ms=budget)
    if kind == "predictor":
        from mnas.search._samplers import PredictorSampler

        return PredictorSampler(space=config.space, target=config.target, seed=config.seed,
                                budget_ms=budget, prior=config.prior)
    return TrialSeededSampler(_SamplerFactory(kind), seed=config.seed)


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

    def __init__(self, factory: Callable[[int], optuna.samplers.BaseSampler], *,
                 seed: int) -> None:
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


class OptunaBackend(Backend):
    """The in-process backend: Optuna's ``study.optimize`` here, one trial at a time.

    Args:
        on_trial: Called after every finished trial (benchmarks).
        on_batch: Called after every batch of a batched search (benchmarks).
    """

    name = "optuna"

    def __init__(self, *, on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None]
                 | None = None, on_batch: Callable[[BatchProgress], None] | None = None) -> None:
        self.on_trial = on_trial
        self.on_batch = on_batch

    def run_trials(self, run: Run, proxy: AccuracyProxy, *, progress: bool) -> TrialsRun:
        """Score the zoo, then run the missing trials, each appended to the journal as it
        finishes (see the module docstring); with an analytic estimate (``--sampler auto``
        or ``batch``), evaluate the missing candidates in batches instead
        (:func:`mnas.search._batched.run_batches`)."""
        from mnas.search._batched import EVALUATIONS_FILE, run_batches, uses_batches

        config, run_dir = run.config, run.dir
        batched = uses_batches(config, proxy)
        other = run_dir / (STUDY_FILE if batched else EVALUATIONS_FILE)
        if other.exists():
            raise MnasInputError(
                f"run folder {run_dir} holds {other.name}, the record of a search "
                f"{'of Optuna trials' if batched else 'in batches'}, and this one would run "
                f"{'in batches' if batched else 'Optuna trials'}; pick another --name")
        if batched:
            return run_batches(run, proxy, progress=progress, on_batch=self.on_batch)
        context = SearchContext(config=config, predictor=run.predictor, proxy=proxy)
        directions = study_directions(config)
        stale_lock = run_dir / (STUDY_FILE + ".lock")
        if stale_lock.is_symlink() or stale_lock.exists():
            stale_lock.unlink()  # we hold the run lock: its writer is dead
        drop_torn_tail(run_dir / STUDY_FILE)
        try:
            durable = optuna.create_study(storage=open_storage(run_dir), study_name=STUDY_NAME,
                                          directions=directions, load_if_exists=True)
        except ValueError as err:
            raise _damaged_journal(run_dir / STUDY_FILE, err) from None
        _fail_stale_trials(durable)
        # Trials run in memory; each finished trial is appended to the journal as one line.
        study = optuna.create_study(directions=directions, sampler=make_sampler(config))
        study.add_trials(durable.get_trials(deepcopy=False, states=_STORED_STATES))
        finished = study.get_trials(deepcopy=False, states=FINISHED_STATES)
        context.remember(finished)
        before = len(finished)
        remaining = max(0, config.trial_count() - before)
        func = functools.partial(objective, run.space, config, context=context)

        def persist(_study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            durable.add_trial(trial)

        callbacks: list[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = [persist]
        if self.on_trial is not None:
            callbacks.append(self.on_trial)
        interrupted = False
        # The zoo is scored first, within half the time limit (what is left is scored
        # by the next invocation): with a forward-pass proxy it costs a dozen trials.
        run.write_zoo(context.proxy, deadline=None if config.timeout_s is None
                      else run.started + config.timeout_s / 2)
        timeout = (None if config.timeout_s is None
                   else max(1e-3, config.timeout_s - (time.monotonic() - run.started)))
        if remaining:
            with _progress(enabled=progress, total=config.trial_count(), done=before,
                           config=config, study=study) as tick:
                callbacks.append(tick)
                try:
                    study.optimize(func, n_trials=remaining, timeout=timeout,
                                   callbacks=callbacks, gc_after_trial=False)
                except BaseException as exc:
                    if not caused_by_interrupt(exc):
                        raise
                    interrupted = True  # write the folder from what finished, then re-raise
        return TrialsRun(study=study, before=before, interrupted=interrupted)


def search(config: SearchConfig, *, progress: bool = True, command: str | None = None,
           proxy: AccuracyProxy | None = None,
           on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
           on_batch: Callable[[BatchProgress], None] | None = None) -> SearchResult:
    """Run (or resume) a search in this process and write its run folder.

    The same ``config`` (same run name) resumes a stopped search: finished trials are
    kept, trials killed mid-way are marked failed, and only the missing trials run.
    ``run_search(config, OptunaBackend(on_trial=on_trial), ...)``.

    Args:
        config: The search settings.
        progress: Show a rich progress bar on stderr.
        command: The command line, recorded in ``config.json``.
        proxy: A ready proxy instance (tests, benchmarks); default: built from config.
        on_trial: Called after every finished trial (benchmarks).
        on_batch: Called after every batch of a batched search (benchmarks).

    Raises:
        MnasInputError: Bad settings, a budget below the fastest architecture, or a run
            folder created with different settings.
    """
    return run_search(config, OptunaBackend(on_trial=on_trial, on_batch=on_batch),
                      progress=progress, command=command, proxy=proxy)


def _fail_stale_trials(study: optuna.Study) -> None:
    """Mark trials left ``RUNNING`` (by other tools writing the study) as ``FAIL``.

    Safe because the caller holds the run folder's lock.
    """
    storage = study._storage  # Optuna exposes no public setter for this
    for trial in study.get_trials(deepcopy=False,
                                  states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_state_values(trial._trial_id,
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
    with progress_bar("[bold]trials", detail="{task.description}") as bar:
        task = bar.add_task(describe(), total=total, completed=done)

        def tick(_study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            update_best(trial)
            bar.update(task, advance=1, description=describe())

        yield tick
