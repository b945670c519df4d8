"""Tune trials to Optuna trials: the run folder's study rebuilt from a Ray search.

Each finished, stopped or failed Tune trial becomes one Optuna ``FrozenTrial`` with
the same parameters, distributions, user attributes and constraint as the in-process
backend writes, so that every reader of ``study.log`` (outputs, report, dashboard)
serves both backends.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna

from mnas.errors import MnasInputError
from mnas.search._config import SearchConfig
from mnas.search._driver import open_storage
from mnas.search._run import STUDY_FILE, STUDY_NAME, study_directions
from mnas.search._trainable import LATENCY_METRIC, META_KEY, OBJECTIVE_METRIC
from mnas.spaces import SearchSpace

__all__ = ["export_study", "frozen_trial"]


def _distributions(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna distributions of ``params``, read from the space's own choices."""
    dists: dict[str, Any] = {}

    class Recorder:
        def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
            dists[name] = optuna.distributions.CategoricalDistribution(list(choices))
            return params[name]

    space.sample(Recorder())
    return dists


def frozen_trial(result: Any, *, space: SearchSpace, config: SearchConfig,
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


def export_study(run_dir: Path, results: list[Any], *, space: SearchSpace,
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
    study = optuna.create_study(storage=open_storage(scratch), study_name=STUDY_NAME,
                                directions=study_directions(config))
    trials = [t for t in (frozen_trial(r, space=space, config=config, numbers=numbers)
                          for r in ordered) if t is not None]
    study.add_trials(trials)
    del study
    os.replace(scratch / STUDY_FILE, run_dir / STUDY_FILE)
    shutil.rmtree(scratch, ignore_errors=True)
    (run_dir / (STUDY_FILE + ".lock")).unlink(missing_ok=True)
    return optuna.load_study(study_name=STUDY_NAME, storage=open_storage(run_dir))
