"""``mnas search --backend ray``: the same search on Ray Tune, on this machine or a cluster.

Ray Tune runs the trials (:func:`mnas.search._trainable.mnas_trainable`) in worker
processes; Optuna still chooses them, through Ray's ``OptunaSearch`` with the same
define-by-run ``space.sample(trial)``, the same seeded sampler
(:func:`mnas.search.make_sampler`) and the same latency constraint, recorded on each
Optuna trial with ``set_constraint`` when its result arrives. When Tune finishes,
every Tune trial is copied into the run folder's Optuna study (``study.log``)
with the same user attributes as the in-process backend, and the run folder is
prepared, recorded and written by the same :class:`mnas.search.Run`: config.json,
trials.csv, pareto.csv/png, zoo.csv, best/, top/, report.md.

This module runs the search; the Ray runtime is :mod:`mnas.search._ray_runtime`, the
searcher adapter :mod:`mnas.search._ray_searcher` and the Tune-to-Optuna trial
converter :mod:`mnas.search._ray_trials`.

Differences from the in-process backend, by design:

* The Tune experiment lives in ``runs/NAME/tune/``; ``--resume`` restores it
  (``Tuner.restore(..., resume_errored=True)``): finished trials are kept, trials
  that were running are run again. ``study.log`` is rebuilt from Tune's trials
  after every invocation (it is an export, not the searcher's state).
* A trial whose worker crashes is a ``FAIL`` trial with the error in its
  ``error`` user attribute; the search goes on.
* Deduplication happens when a trial is *sampled*: an architecture whose earlier
  trial has finished is not evaluated again (the trial reports the earlier
  evaluation and records ``duplicate_of``); two workers may still evaluate the
  same architecture at the same time.
* With ``--scheduler asha`` and a training proxy, ASHA (Li et al., "A System for
  Massively Parallel Hyperparameter Tuning", MLSys 2020) stops poor candidates
  after an epoch rung; such a trial is ``PRUNED`` and keeps its last accuracy as
  its score (``stopped_at_epoch`` says where).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.latency import TablePredictor
from mnas.proxies import AccuracyProxy, TrainingProxy
from mnas.search._backend import Backend, TrialsRun, run_search
from mnas.search._config import SearchConfig
from mnas.search._driver import make_sampler
from mnas.search._outputs import zoo_model_scored
from mnas.search._ray_options import RayOptions, require_ray
from mnas.search._ray_runtime import check_reachable, ray_runtime
from mnas.search._ray_searcher import SpaceFunction, progress_callback, searcher_class
from mnas.search._ray_trials import export_study
from mnas.search._run import STUDY_FILE, Run, SearchResult
from mnas.search._trainable import (
    LATENCY_METRIC,
    OBJECTIVE_METRIC,
    TrainablePayload,
    build_proxy,
    mnas_trainable,
    score_arch,
)
from mnas.spaces import SearchSpace

__all__ = ["TUNE_DIR", "RayBackend", "run_ray_search"]

#: The Tune experiment's folder inside the run folder.
TUNE_DIR = "tune"


class RayBackend(Backend):
    """Trials on Ray Tune workers, on this machine or a cluster (see the module docstring).

    Args:
        options: Cluster, workers, resources, scheduler and resume.
        on_trial: Called on the driver with the last result of every trial that
            finishes or fails in this invocation (benchmarks, tests).
    """

    name = "ray"
    versions = ("ray",)

    def __init__(self, options: RayOptions, *,
                 on_trial: Callable[[Mapping[str, Any]], None] | None = None) -> None:
        self.options = options
        self.on_trial = on_trial
        # the caller's ready proxy (pickled to the workers), set by make_proxy; None: each
        # worker builds the proxy config names, with options.epochs
        self._given: AccuracyProxy | None = None

    @property
    def _proxy_kwargs(self) -> dict[str, Any]:
        return {"epochs": self.options.epochs} if self.options.epochs is not None else {}

    def check(self, run: Run) -> None:
        """Refuse an unreachable ``--address``, another backend's folder, and a
        ``--resume`` that does not match the folder."""
        from mnas.search._batched import EVALUATIONS_FILE

        options = self.options
        if run.config.sampler == "batch":
            raise MnasInputError("--sampler batch evaluates candidates in batches in this "
                                 "process; with --backend ray use --sampler auto or predictor")
        if (run.dir / EVALUATIONS_FILE).exists():
            raise MnasInputError(
                f"run folder {run.dir} holds a search in batches ({EVALUATIONS_FILE}); "
                "continue it without --backend ray, or pick another --name")
        ray = require_ray()
        if options.address is not None and not ray.is_initialized():
            check_reachable(options.address)
        tune_dir = run.dir / TUNE_DIR
        if run.stored is not None and (run.dir / STUDY_FILE).exists() and not tune_dir.exists():
            raise MnasInputError(
                f"run folder {run.dir} belongs to a search of the optuna backend; continue it "
                "without --backend ray, or pick another --name")
        if options.resume and not tune_dir.exists():
            raise MnasInputError(f"--resume: {run.dir} holds no interrupted Ray search "
                                 f"({tune_dir} is missing); run without --resume to start one")
        if not options.resume and tune_dir.exists():
            raise MnasInputError(f"run folder {run.dir} already holds a Ray search; add --resume "
                                 "to continue it, or pick another --name")

    def make_proxy(self, config: SearchConfig, given: AccuracyProxy | None) -> AccuracyProxy:
        """The driver's estimator (``--epochs`` passed to it), checked against the scheduler.

        ``given`` is pickled to every worker; without it each worker builds its own.

        Raises:
            MnasInputError: ASHA without a training proxy or with ``--pareto``.
        """
        self._given = given
        proxy = build_proxy(TrainablePayload(config=config.to_dict(), proxy=given,
                                             proxy_kwargs=self._proxy_kwargs), config)
        if self.options.scheduler == "asha":
            if not isinstance(proxy, TrainingProxy):
                raise MnasInputError(
                    f"--scheduler asha stops trials between training epochs, but proxy "
                    f"{config.proxy!r} does not train; use a training proxy or --scheduler fifo")
            if config.pareto:
                raise MnasInputError("--scheduler asha ranks trials on one metric and cannot "
                                     "be combined with --pareto; use --scheduler fifo")
        return proxy

    def settings(self) -> Mapping[str, Any]:
        """``backend: ray`` and the Ray options (but ``resume``)."""
        return {"backend": "ray",
                "ray": {k: v for k, v in self.options.to_dict().items() if k != "resume"}}

    def run_trials(self, run: Run, proxy: AccuracyProxy, *, progress: bool) -> TrialsRun:
        """Run or restore the Tune experiment, score the zoo on the workers with a
        training proxy, and export the trials into the folder's Optuna study."""
        options, config = self.options, run.config
        payload = TrainablePayload(config=config.to_dict(), proxy=self._given,
                                   proxy_kwargs=self._proxy_kwargs,
                                   threads=max(1, int(options.cpus_per_trial)))
        with ray_runtime(options):
            results, before = _fit(config, run.space, options, payload, proxy,
                                   run.dir / TUNE_DIR, progress=progress, on_trial=self.on_trial)
            if not (run.dir / "zoo.csv").exists() and isinstance(proxy, TrainingProxy):
                # a training proxy scores the zoo on the workers, in parallel
                run.write_zoo(_score_zoo_on_workers(payload, proxy, run.predictor,
                                                    config.budget_ms, options))
        study = export_study(run.dir, results, space=run.space, config=config)
        return TrialsRun(study=study, before=before, resumed=options.resume)


def run_ray_search(config: SearchConfig, *, options: RayOptions, progress: bool = True,
                   command: str | None = None, proxy: AccuracyProxy | None = None,
                   on_trial: Callable[[Mapping[str, Any]], None] | None = None,
                   ) -> SearchResult:
    """Run (or, with ``options.resume``, continue) a search on Ray Tune.

    ``run_search(config, RayBackend(options, on_trial=on_trial), ...)``.

    Args:
        config: The search settings (the same as the in-process backend's).
        options: Cluster, workers, resources, scheduler and resume.
        progress: Print a line per finished trial on stderr.
        command: The command line, recorded in ``config.json``.
        proxy: A ready proxy instance, pickled to every worker (tests, benchmarks);
            default: each worker builds the proxy named in ``config``.
        on_trial: Called on the driver with the last result of every trial that
            finishes or fails in this invocation (benchmarks, tests).

    Returns:
        The same :class:`~mnas.search.SearchResult` as :func:`mnas.search.search`.

    Raises:
        MnasInputError: Ray missing, an unreachable ``--address``, bad settings, ASHA
            without a training proxy or with ``--pareto``, a run folder of the other
            backend or with other settings, or ``--resume`` with nothing to resume.
    """
    return run_search(config, RayBackend(options, on_trial=on_trial), progress=progress,
                      command=command, proxy=proxy)


class _ScoredProxy(AccuracyProxy):
    """A training proxy whose scores of some architectures were computed on the workers."""

    name = "scored-on-workers"
    cost = "train"

    def __init__(self, proxy: AccuracyProxy, scores: Mapping[str, float]) -> None:
        self._proxy = proxy
        self._scores = dict(scores)

    def score(self, arch: Arch) -> float:
        hit = self._scores.get(arch.canonical_key())
        return float(self._proxy.score(arch)) if hit is None else hit


def _score_zoo_on_workers(payload: TrainablePayload, proxy: AccuracyProxy, predictor: TablePredictor,
                          budget_ms: float, options: RayOptions) -> _ScoredProxy:
    """Score the zoo models that ``zoo.csv`` needs as parallel Ray tasks.

    The same selection as ``zoo.csv``'s (:func:`mnas.search._outputs.zoo_model_scored`).
    """
    import ray

    from mnas.models import get_arch, list_archs

    wanted = {}
    for name in list_archs():
        arch = get_arch(name)
        try:
            latency = predictor.predict_ms(arch)
        except MnasInputError:
            continue
        if zoo_model_scored(proxy, fits=latency <= budget_ms):
            wanted[arch.canonical_key()] = arch
    task = ray.remote(num_cpus=options.cpus_per_trial, num_gpus=options.gpus_per_trial,
                      max_retries=0)(score_arch)
    shared = ray.put(payload)  # one copy of the proxy (and its dataset) for all tasks
    refs = {key: task.remote(shared, arch.to_dict()) for key, arch in wanted.items()}
    scores = {}
    for key, ref in refs.items():
        try:
            scores[key] = float(ray.get(ref))
        except Exception:  # noqa: BLE001 - a failed task: score it on the driver instead
            continue
    return _ScoredProxy(proxy, scores)


def _trial_dirname(trial: Any) -> str:
    """Short trial folder names (Tune's default packs every parameter into the name)."""
    return f"trial_{trial.trial_id}"


def _fit(config: SearchConfig, space: SearchSpace, options: RayOptions,
         payload: TrainablePayload, driver_proxy: AccuracyProxy, tune_dir: Path, *,
         progress: bool, on_trial: Callable[[Mapping[str, Any]], None] | None = None,
         ) -> tuple[list[Any], int]:
    """Run or restore the Tune experiment; returns every trial's result and the count before."""
    from ray import tune

    trainable = tune.with_resources(
        tune.with_parameters(mnas_trainable, payload=payload),
        {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial})
    path = str(tune_dir.resolve())
    before = 0
    if options.resume:
        if not tune.Tuner.can_restore(path):
            raise MnasInputError(f"--resume: {tune_dir} holds no restorable Tune experiment; "
                                 "remove it and run without --resume")
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=True)
        restored = tuner.get_results()
        for i in range(len(restored)):  # trials evaluated before this invocation
            metrics = restored[i].metrics or {}
            if restored[i].error is None and "arch_hash" in metrics:
                before += 1
        callbacks = []
    else:
        searcher_cls = searcher_class()
        constrained = config.objective == "hard" or config.pareto
        if config.pareto:
            metric: Any = [OBJECTIVE_METRIC, LATENCY_METRIC]
            mode: Any = ["max", "min"]
        else:
            metric, mode = OBJECTIVE_METRIC, "max"
        searcher = searcher_cls(space_function=SpaceFunction(space), constrained=constrained,
                                metric=metric, mode=mode, sampler=make_sampler(config))
        scheduler = None
        if options.scheduler == "asha":
            from ray.tune.schedulers import ASHAScheduler

            trained = driver_proxy.epochs if isinstance(driver_proxy, TrainingProxy) else 0
            epochs = int(trained or options.epochs or 1)
            scheduler = ASHAScheduler(time_attr="training_iteration", metric=OBJECTIVE_METRIC,
                                      mode="max", max_t=max(epochs, options.grace_epochs),
                                      grace_period=options.grace_epochs,
                                      reduction_factor=options.reduction_factor)
        from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

        callbacks = [progress_callback(total=config.trial_count(), done=0, enabled=progress,
                                    on_trial=on_trial),
                     JsonLoggerCallback(),  # type: ignore[no-untyped-call]  # Ray's are untyped
                     CSVLoggerCallback()]  # type: ignore[no-untyped-call]
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=searcher, scheduler=scheduler, num_samples=config.trial_count(),
                max_concurrent_trials=options.workers, time_budget_s=config.timeout_s,
                reuse_actors=True, trial_dirname_creator=_trial_dirname),
            run_config=tune.RunConfig(
                name=tune_dir.name, storage_path=str(tune_dir.parent.resolve()),
                failure_config=tune.FailureConfig(max_failures=options.max_failures,
                                                  fail_fast=False),
                callbacks=callbacks, verbose=0,
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1)))
    grid = tuner.fit()
    results = [grid[i] for i in range(len(grid))]
    return results, before
