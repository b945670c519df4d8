"""The search pipeline's one seam: a :class:`mnas.search.Backend` runs only the trials.

A backend written here (Optuna's random sampler, in this process) gets the whole run
folder from :func:`mnas.search.run_search` without writing any of it itself.
"""

from __future__ import annotations

import csv
import functools
import json
import sys
from pathlib import Path

import optuna
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _helpers import tiny_space

from mnas.errors import MnasInputError
from mnas.proxies import AccuracyProxy
from mnas.search import (
    Backend,
    Run,
    SearchConfig,
    SearchContext,
    TrialsRun,
    objective,
    run_search,
)
from mnas.search._run import study_directions


class _RandomBackend(Backend):
    """Random trials in this process, in memory; stops "interrupted" after ``stop_after``."""

    name = "random-here"

    def __init__(self, *, refuse: bool = False, stop_after: int | None = None) -> None:
        self.refuse = refuse
        self.stop_after = stop_after
        self.calls: list[str] = []

    def check(self, run: Run) -> None:
        self.calls.append("check")
        if self.refuse:
            raise MnasInputError(f"{run.dir} is not for this backend")

    def settings(self) -> dict[str, str]:
        return {"backend": self.name}

    def run_trials(self, run: Run, proxy: AccuracyProxy, *, progress: bool) -> TrialsRun:
        self.calls.append("run_trials")
        assert (run.dir / "config.json").exists()  # written before the trials, under the lock
        study = optuna.create_study(directions=study_directions(run.config),
                                    sampler=optuna.samplers.RandomSampler(seed=run.config.seed))
        context = SearchContext(config=run.config, predictor=run.predictor, proxy=proxy)
        n = run.config.trials if self.stop_after is None else self.stop_after
        study.optimize(functools.partial(objective, run.space, run.config, context=context),
                       n_trials=n)
        return TrialsRun(study=study, before=0, interrupted=self.stop_after is not None)


def _config(tmp_path: Path, **kw: object) -> SearchConfig:
    fields = dict(target="pixel4", budget_ms=5.0, space=tiny_space(tmp_path), proxy="flops",
                  trials=12, seed=0, runs_dir=str(tmp_path / "runs"), name="r")
    fields.update(kw)
    return SearchConfig(**fields)  # type: ignore[arg-type]


def test_a_backend_gets_the_whole_run_folder_from_the_pipeline(tmp_path: Path) -> None:
    backend = _RandomBackend()
    result = run_search(_config(tmp_path), backend, progress=False, command="test")
    assert backend.calls == ["check", "run_trials"]
    assert result.finished == 12 and result.new == 12 and result.best is not None
    stored = json.loads((result.run_dir / "config.json").read_text())
    assert stored["extra"]["backend"] == "random-here"
    assert stored["extra"]["command"] == "test" and "inputs" in stored["extra"]
    for name in ("trials.csv", "zoo.csv", "report.md", "best/arch.json", "best/model.py"):
        assert (result.run_dir / name).exists(), name
    with open(result.run_dir / "trials.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 12
    assert result.best.latency_ms <= 5.0


def test_a_backend_refusal_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(MnasInputError, match="not for this backend"):
        run_search(_config(tmp_path), _RandomBackend(refuse=True), progress=False)
    assert not (tmp_path / "runs" / "r").exists()


def test_an_interrupted_backend_keeps_what_finished(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        run_search(_config(tmp_path), _RandomBackend(stop_after=5), progress=False)
    with open(tmp_path / "runs" / "r" / "trials.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 5
    assert (tmp_path / "runs" / "r" / "best" / "arch.json").exists()
