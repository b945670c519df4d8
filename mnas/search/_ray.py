"""``mnas search --backend ray``: the same search on Ray Tune, on this machine or a cluster.

Ray Tune runs the trials (:func:`mnas.search._trainable.mnas_trainable`) in worker
processes; Optuna still chooses them, through Ray's ``OptunaSearch`` with the same
define-by-run ``space.sample(trial)``, the same seeded sampler
(:func:`mnas.search.make_sampler`) and the same latency constraint, recorded on each
Optuna trial with ``set_constraint`` when its result arrives. When Tune finishes,
every Tune trial is copied into the run folder's Optuna study (``study.log``)
with the same user attributes as the in-process backend, and the run folder is
written by the same code (:func:`mnas.search._outputs.write_outputs`): trials.csv,
pareto.csv/png, best/, top/, report.md.

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

import contextlib
import datetime as _dt
import json
import os
import platform
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import optuna

from mnas._io import atomic_write_json
from mnas.accuracy import estimator_for_space
from mnas.errors import MnasInputError
from mnas.search._config import SearchConfig
from mnas.search._driver import (
    STUDY_FILE,
    STUDY_NAME,
    SearchResult,
    make_sampler,
    open_storage,
    prepare,
    run_lock,
    stored_config,
)
from mnas.search._inputs import input_hashes
from mnas.search._outputs import rank_candidates, write_outputs, write_zoo
from mnas.search._ray_options import RayOptions, require_ray, split_address
from mnas.search._trainable import (
    LATENCY_METRIC,
    META_KEY,
    OBJECTIVE_METRIC,
    TrainablePayload,
    build_proxy,
    mnas_trainable,
    score_arch,
)
from mnas.spaces import SearchSpace

__all__ = ["TUNE_DIR", "run_ray_search"]

#: The Tune experiment's folder inside the run folder.
TUNE_DIR = "tune"


def _check_reachable(address: str, timeout_s: float = 3.0) -> None:
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as err:
        raise MnasInputError(
            f"no Ray cluster answers at --address {address} ({err.strerror or err}); start one "
            f"there with `ray start --head --port {port}` or fix the address") from None


@contextlib.contextmanager
def _ray_runtime(options: RayOptions) -> Iterator[None]:
    """Connect to ``options.address``, or start a local runtime; shut down what we started."""
    ray = require_ray()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # results go to JSON and CSV (added in _fit); TensorBoard files would need tensorboardX
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    if ray.is_initialized():  # the caller owns a runtime: use it, leave it running
        yield
        return
    if options.address is not None:
        _check_reachable(options.address)
        try:
            ray.init(address=options.address, log_to_driver=False,
                     configure_logging=False)
        except (ConnectionError, RuntimeError) as err:
            raise MnasInputError(
                f"could not join the Ray cluster at --address {options.address} "
                f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); check it "
                "with `ray status --address ...` or start one with `ray start --head`") from None
    else:
        cpus = max(1, int(round(options.workers * options.cpus_per_trial)))
        ray.init(num_cpus=cpus, num_gpus=int(options.gpus_per_trial * options.workers + 0.999),
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


class SpaceFunction:
    """The define-by-run space handed to ``OptunaSearch``: ``space.sample(trial)``.

    Returns the trial's constants under :data:`META_KEY`: its number and, when the
    sampled architecture was already evaluated by a finished trial, that evaluation
    (so the worker does not evaluate it again). A plain class so that Tune can
    pickle it with the searcher's state.

    Attributes:
        space: The search space.
        seen: Architecture digest -> the first finished trial's evaluation.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.seen: dict[str, dict[str, Any]] = {}

    def __call__(self, trial: Any) -> dict[str, Any]:
        from mnas.search._objective import arch_hash

        arch = self.space.sample(trial)
        meta: dict[str, Any] = {"number": int(trial.number)}
        hit = self.seen.get(arch_hash(arch))
        if hit is not None:
            meta["duplicate"] = hit
        return {META_KEY: meta}


def _searcher_class() -> type:
    """``OptunaSearch`` that records each result's latency constraint before ``tell``."""
    from ray.tune.search.optuna import OptunaSearch

    class ConstrainedOptunaSearch(OptunaSearch):  # type: ignore[misc, valid-type]
        """Ray's ``OptunaSearch`` with mnas's latency constraint and dedup bookkeeping."""

        def __init__(self, *, space_function: SpaceFunction, constrained: bool,
                     **kwargs: Any) -> None:
            super().__init__(space=space_function, **kwargs)
            self._mnas_space = space_function
            self._mnas_constrained = constrained

        def on_trial_result(self, trial_id: str, result: dict) -> None:
            if result.get("unscored"):
                return
            super().on_trial_result(trial_id, result)

        def on_trial_complete(self, trial_id: str, result: dict | None = None,
                              error: bool = False) -> None:
            ot_trial = self._ot_trials.get(trial_id)
            if (ot_trial is not None and result and trial_id not in self._completed_trials
                    and "constraint" in result):
                if self._mnas_constrained:
                    ot_trial.set_constraint("latency", float(result["constraint"]))
                digest = result.get("arch_hash")
                if (digest and result.get("duplicate_of", -1) < 0
                        and digest not in self._mnas_space.seen
                        and result.get("epoch", 0) >= result.get("epochs", 0)):
                    self._mnas_space.seen[str(digest)] = {
                        "number": int(result.get("number", ot_trial.number)),
                        "score": result.get("score"), "latency_ms": result[LATENCY_METRIC],
                        "band": result.get("band", 0.0), "feasible": result.get("feasible")}
                if result.get("unscored"):
                    self._ot_study.tell(ot_trial, None, state=optuna.trial.TrialState.PRUNED)
                    self._completed_trials.add(trial_id)
                    return
            super().on_trial_complete(trial_id, result=result, error=error)

    return ConstrainedOptunaSearch


def _make_callback(*, total: int, done: int, enabled: bool,
                   on_trial: Callable[[Mapping[str, Any]], None] | None = None) -> Any:
    """A Tune callback that shows a progress line per finished trial on stderr.

    ``on_trial`` (called with each finished trial's last result, on the driver) is
    not saved with the experiment: a restored experiment runs without it.
    """
    from ray.tune import Callback

    class Progress(Callback):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            self.finished = done
            self.best: tuple[float, float] | None = None
            self.started = time.monotonic()
            self.on_trial = on_trial

        def __getstate__(self) -> dict[str, Any]:
            return {**self.__dict__, "on_trial": None}

        def _tick(self, result: Mapping[str, Any] | None, failed: bool) -> None:
            self.finished += 1
            if result and result.get("feasible") and result.get("score") is not None:
                value = float(result[OBJECTIVE_METRIC])
                if self.best is None or value > self.best[0]:
                    self.best = (value, float(result[LATENCY_METRIC]))
            if self.on_trial is not None:
                self.on_trial(dict(result or {}))
            if not enabled:
                return
            best = ("no feasible trial yet" if self.best is None else
                    f"best {self.best[0]:.4g} @ {self.best[1]:.2f} ms")
            note = " (failed)" if failed else ""
            print(f"trials {self.finished}/{total}{note}: {best} "
                  f"[{time.monotonic() - self.started:.0f} s]", file=sys.stderr, flush=True)

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._tick(trial.last_result, failed=False)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._tick(trial.last_result, failed=True)

    return Progress()


def _provenance(config: SearchConfig, predictor: Any, space: SearchSpace, fastest: Any,
                options: RayOptions, command: str | None) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "unknown"

    header = predictor.table.header
    return {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": command or "",
        "versions": {"mnas": ver("mnas"), "optuna": optuna.__version__, "torch": ver("torch"),
                     "ray": ver("ray"), "python": platform.python_version()},
        "table": {"path": str(predictor.table.path or ""), "target": header.target,
                  "device": header.device, "provenance": header.provenance,
                  "error_band": header.error_band, "runtime": header.runtime,
                  "runtime_version": header.runtime_version, "threads": header.threads},
        "space_size_log10": round(space.log10_size(), 3),
        "fastest": {"latency_ms": fastest.latency_ms, "params": fastest.params},
        "backend": "ray",
        "ray": {k: v for k, v in options.to_dict().items() if k != "resume"},
    }


def _distributions(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna distributions of ``params``, read from the space's own choices."""
    dists: dict[str, Any] = {}

    class Recorder:
        def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
            dists[name] = optuna.distributions.CategoricalDistribution(list(choices))
            return params[name]

    space.sample(Recorder())
    return dists


def _frozen_trial(result: Any, *, space: SearchSpace, config: SearchConfig,
                  numbers: Mapping[int, int]) -> optuna.trial.FrozenTrial | None:
    """The run-folder Optuna trial of one finished, stopped or failed Tune trial."""
    tune_config = dict(result.config or {})
    meta = tune_config.pop(META_KEY, {}) or {}
    params = {k: v for k, v in tune_config.items() if not k.startswith("__")}
    metrics = dict(result.metrics or {})
    try:
        dists = _distributions(space, params)
    except (KeyError, MnasInputError):
        return None  # a trial created by another search space: not ours
    attrs: dict[str, Any] = {
        "ray_trial_id": metrics.get("trial_id") or Path(str(result.path or "")).name,
        "ray_number": int(meta.get("number", -1)),
    }
    values: list[float] | None = None
    constraints: dict[str, float] | None = None
    state = optuna.trial.TrialState.FAIL
    intermediate: dict[int, float] = {}
    if "arch_hash" in metrics and LATENCY_METRIC in metrics:
        latency = float(metrics[LATENCY_METRIC])
        attrs.update({"arch_hash": str(metrics["arch_hash"]), "latency_ms": latency,
                      "band": float(metrics.get("band", 0.0)),
                      "feasible": bool(metrics["feasible"]), "score": metrics.get("score"),
                      "constraint": float(metrics["constraint"]),
                      "worker_pid": int(metrics.get("worker_pid", -1)),
                      "worker_host": str(metrics.get("worker_host", ""))})
        if int(metrics.get("duplicate_of", -1)) >= 0:
            attrs["duplicate_of"] = numbers.get(int(metrics["duplicate_of"]),
                                                int(metrics["duplicate_of"]))
        curve = json.loads(metrics.get("curve") or "[]")
        if curve:
            intermediate = {i: float(a) for i, a in enumerate(curve, start=1)}
            attrs["epochs"] = len(curve)
        if config.objective == "hard" or config.pareto:
            constraints = {"latency": float(metrics["constraint"])}
        epoch, epochs = int(metrics.get("epoch", 0)), int(metrics.get("epochs", 0))
        if result.error is None:
            if metrics.get("unscored"):
                state = optuna.trial.TrialState.PRUNED
            elif epoch < epochs:
                state = optuna.trial.TrialState.PRUNED
                attrs["stopped_at_epoch"] = epoch
            else:
                state = optuna.trial.TrialState.COMPLETE
            if not metrics.get("unscored"):
                objective = float(metrics[OBJECTIVE_METRIC])
                values = [objective, latency] if config.pareto else [objective]
    if result.error is not None:
        state = optuna.trial.TrialState.FAIL
        values = None
        attrs["error"] = (str(result.error).strip().splitlines() or [type(result.error)
                                                                     .__name__])[0][:300]
    # a stopped (PRUNED) trial keeps its last value, as Optuna's pruned trials do
    trial = optuna.trial.create_trial(
        state=state, values=None if state == optuna.trial.TrialState.FAIL else values,
        params=params, distributions=dists, user_attrs=attrs,
        intermediate_values=intermediate or None, constraints=constraints)
    end = metrics.get("timestamp")
    took = metrics.get("time_total_s")
    if end is not None and took is not None:
        complete = _dt.datetime.fromtimestamp(float(end))
        trial.datetime_complete = complete
        trial.datetime_start = complete - _dt.timedelta(seconds=float(took))
    return trial


def _export_study(run_dir: Path, results: list[Any], *, space: SearchSpace,
                  config: SearchConfig) -> optuna.Study:
    """Rebuild the run folder's study from every Tune trial, in sampling order.

    Written through :func:`mnas.search._driver.open_storage` into a scratch folder and
    moved over the old study file in one ``rename``, so a kill leaves the old or new one.
    """
    import shutil

    scratch = run_dir / ".study-export"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()

    def order(result: Any) -> tuple[int, str]:
        meta = (result.config or {}).get(META_KEY) or {}
        return int(meta.get("number", 1 << 30)), str(result.path or "")

    ordered = sorted(results, key=order)
    numbers: dict[int, int] = {}
    for result in ordered:
        meta = (result.config or {}).get(META_KEY) or {}
        if "number" in meta:
            numbers[int(meta["number"])] = len(numbers)
    directions = ["maximize", "minimize"] if config.pareto else ["maximize"]
    study = optuna.create_study(storage=open_storage(scratch), study_name=STUDY_NAME,
                                directions=directions)
    trials = [t for t in (_frozen_trial(r, space=space, config=config, numbers=numbers)
                          for r in ordered) if t is not None]
    study.add_trials(trials)
    del study
    os.replace(scratch / STUDY_FILE, run_dir / STUDY_FILE)
    shutil.rmtree(scratch, ignore_errors=True)
    (run_dir / (STUDY_FILE + ".lock")).unlink(missing_ok=True)
    return optuna.load_study(study_name=STUDY_NAME, storage=open_storage(run_dir))


def run_ray_search(config: SearchConfig, *, options: RayOptions, progress: bool = True,
                   command: str | None = None, proxy: Any = None,
                   on_trial: Callable[[Mapping[str, Any]], None] | None = None,
                   ) -> SearchResult:
    """Run (or, with ``options.resume``, continue) a search on Ray Tune.

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
    started = time.monotonic()
    ray = require_ray()
    if options.address is not None and not ray.is_initialized():
        _check_reachable(options.address)  # before anything is written
    config, space, predictor, fastest = prepare(config)
    run_dir = Path(config.runs_dir) / config.name
    tune_dir = run_dir / TUNE_DIR
    inputs = input_hashes(space=space, table=predictor.table, proxy=config.proxy)
    stored = stored_config(run_dir, config, inputs)
    if stored is not None and (run_dir / STUDY_FILE).exists() and not tune_dir.exists():
        raise MnasInputError(
            f"run folder {run_dir} belongs to a search of the optuna backend; continue it "
            "without --backend ray, or pick another --name")
    if options.resume and not tune_dir.exists():
        raise MnasInputError(f"--resume: {run_dir} holds no interrupted Ray search "
                             f"({tune_dir} is missing); run without --resume to start one")
    if not options.resume and tune_dir.exists():
        raise MnasInputError(f"run folder {run_dir} already holds a Ray search; add --resume "
                             "to continue it, or pick another --name")
    payload_proxy = proxy
    proxy_kwargs = {"epochs": options.epochs} if options.epochs is not None else {}
    driver_proxy = build_proxy(TrainablePayload(config=config.to_dict(), proxy=proxy,
                                                proxy_kwargs=proxy_kwargs), config)
    training = getattr(driver_proxy, "cost", "analytic") == "train"
    if options.scheduler == "asha":
        if not training:
            raise MnasInputError(
                f"--scheduler asha stops trials between training epochs, but proxy "
                f"{config.proxy!r} does not train; use a training proxy or --scheduler fifo")
        if config.pareto:
            raise MnasInputError("--scheduler asha ranks trials on one metric and cannot be "
                                 "combined with --pareto; use --scheduler fifo")
    if stored is not None:
        config = config.replace(extra={**stored.extra, "inputs": inputs})
    else:
        config = config.replace(extra={
            **_provenance(config, predictor, space, fastest, options, command),
            **dict(zip(("estimator_name", "estimator"),
                       estimator_for_space(driver_proxy, space), strict=True)),
            "inputs": inputs})
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(run_dir):
        atomic_write_json(run_dir / "config.json", config.to_dict())
        payload = TrainablePayload(config=config.to_dict(), proxy=payload_proxy,
                                   proxy_kwargs=proxy_kwargs,
                                   threads=max(1, int(options.cpus_per_trial)))
        with _ray_runtime(options):
            results, before = _fit(config, space, options, payload, driver_proxy, tune_dir,
                                   progress=progress, on_trial=on_trial)
            if (not (run_dir / "zoo.csv").exists()
                    and getattr(driver_proxy, "cost", "analytic") == "train"):
                write_zoo(run_dir, predictor=predictor, budget_ms=config.budget_ms,
                          proxy=_score_zoo_on_workers(payload, driver_proxy, predictor,
                                                      config.budget_ms, options))
        study = _export_study(run_dir, results, space=space, config=config)
        finished_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        trials = study.get_trials(deepcopy=False, states=finished_states)
        ranked = rank_candidates(trials, space, config)
        write_outputs(run_dir, config=config, study=study, space=space, predictor=predictor,
                      proxy=driver_proxy, ranked=ranked)
    return SearchResult(run_dir=run_dir, config=config, best=ranked[0] if ranked else None,
                        top=ranked[:config.top_k], finished=len(trials),
                        new=len(trials) - before, elapsed_s=time.monotonic() - started,
                        fastest=fastest, resumed=options.resume)


class _ScoredProxy:
    """A proxy whose scores of some architectures were computed elsewhere (on the workers)."""

    def __init__(self, proxy: Any, scores: Mapping[str, float]) -> None:
        self._proxy = proxy
        self._scores = dict(scores)
        self.cost = getattr(proxy, "cost", "analytic")

    def score(self, arch: Any) -> float:
        hit = self._scores.get(arch.canonical_key())
        return float(self._proxy.score(arch)) if hit is None else hit


def _score_zoo_on_workers(payload: TrainablePayload, proxy: Any, predictor: Any,
                          budget_ms: float, options: RayOptions) -> _ScoredProxy:
    """Score the zoo models that ``zoo.csv`` needs as parallel Ray tasks.

    Same selection as :func:`mnas.search._outputs.zoo_entries`: a training proxy
    scores only the models within the budget.
    """
    import ray

    from mnas.models import get_arch, list_archs

    expensive = getattr(proxy, "cost", "analytic") == "train"
    wanted = {}
    for name in list_archs():
        arch = get_arch(name)
        try:
            latency = predictor.predict_ms(arch)
        except MnasInputError:
            continue
        if latency <= budget_ms or not expensive:
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
         payload: TrainablePayload, driver_proxy: Any, tune_dir: Path, *,
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
        before = sum(1 for r in tuner.get_results()
                     if r.error is None and r.metrics and "arch_hash" in r.metrics)
        callbacks = []
    else:
        searcher_cls = _searcher_class()
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

            epochs = int(getattr(driver_proxy, "epochs", 0) or options.epochs or 1)
            scheduler = ASHAScheduler(time_attr="training_iteration", metric=OBJECTIVE_METRIC,
                                      mode="max", max_t=max(epochs, options.grace_epochs),
                                      grace_period=options.grace_epochs,
                                      reduction_factor=options.reduction_factor)
        from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

        callbacks = [_make_callback(total=config.trials, done=0, enabled=progress,
                                    on_trial=on_trial),
                     JsonLoggerCallback(), CSVLoggerCallback()]
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=searcher, scheduler=scheduler, num_samples=config.trials,
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
