"""Ray Tune's ``OptunaSearch`` adapted to mnas: the define-by-run space, the latency
constraint and dedup bookkeeping on each result, and a progress line per trial.

The searcher subclass reads ``OptunaSearch``'s own ``_ot_trials``, ``_ot_study`` and
``_completed_trials`` (Ray exposes no hook to set a constraint or tell a pruned state
before its ``tell``); ``tests/search/test_evolution.py`` pins the behaviour on the
Ray version of the ``ray`` extra.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import optuna

from mnas.search._trainable import LATENCY_METRIC, META_KEY, OBJECTIVE_METRIC
from mnas.spaces import SearchSpace

__all__ = ["SpaceFunction", "progress_callback", "searcher_class"]


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


def searcher_class() -> type:
    """``OptunaSearch`` that records each result's latency constraint before ``tell``."""
    from ray.tune.search.optuna import OptunaSearch

    class ConstrainedOptunaSearch(OptunaSearch):
        """Ray's ``OptunaSearch`` with mnas's latency constraint and dedup bookkeeping."""

        def __init__(self, *, space_function: SpaceFunction, constrained: bool,
                     **kwargs: Any) -> None:
            super().__init__(space=space_function, **kwargs)
            self._mnas_space = space_function
            self._mnas_constrained = constrained

        def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
            if result.get("unscored"):
                return
            super().on_trial_result(trial_id, result)

        def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None,
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
                    assert self._ot_study is not None  # created by setup, before any trial
                    self._ot_study.tell(ot_trial, None, state=optuna.trial.TrialState.PRUNED)
                    self._completed_trials.add(trial_id)
                    return
            super().on_trial_complete(trial_id, result=result, error=error)

    return ConstrainedOptunaSearch


def progress_callback(*, total: int, done: int, enabled: bool,
                   on_trial: Callable[[Mapping[str, Any]], None] | None = None) -> Any:
    """A Tune callback that shows a progress line per finished trial on stderr.

    ``on_trial`` (called with each finished trial's last result, on the driver) is
    not saved with the experiment: a restored experiment runs without it.
    """
    from ray.tune import Callback

    class Progress(Callback):
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

        def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any,
                              **info: Any) -> None:
            self._tick(trial.last_result, failed=False)

        def on_trial_error(self, iteration: int, trials: list[Any], trial: Any,
                           **info: Any) -> None:
            self._tick(trial.last_result, failed=True)

    return Progress()
