"""``mnas.search.Run``: the run folder both backends fill, and the rules they share."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mnas.errors import MnasInputError
from mnas.search import Run, SearchConfig
from mnas.search._outputs import zoo_model_scored
from mnas.search._run import package_versions, study_directions

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import CountingProxy


def _config(tmp_path: Path, *, seed: int = 0, name: str = "") -> SearchConfig:
    return SearchConfig(target="pixel4", budget_ms=20.0, trials=3, proxy="flops", seed=seed,
                        name=name, runs_dir=str(tmp_path))


def test_a_new_run_records_provenance_once_and_a_resumed_one_keeps_it(tmp_path: Path) -> None:
    run = Run.open(_config(tmp_path))
    assert run.config.name == "pixel4-20ms-flops" and run.dir == tmp_path / "pixel4-20ms-flops"
    assert run.load_stored() is None and not run.resumed
    config = run.record(proxy=CountingProxy(), command="mnas search ...", versions=("ray",),
                        extra={"backend": "ray"})
    extra = config.extra
    assert list(extra) == ["created", "command", "versions", "table", "space_size_log10",
                           "fastest", "backend", "estimator_name", "estimator", "estimate",
                           "inputs"]
    assert extra["estimate"] == {}  # a proxy, not a multi-recipe model: no recipe, no evidence
    assert list(extra["versions"]) == ["mnas", "optuna", "torch", "ray", "python"]
    assert extra["table"]["target"] == "pixel4" and extra["table"]["provenance"] == "estimated"
    assert extra["fastest"]["latency_ms"] == run.fastest.latency_ms < 20.0
    with run.locked() as folder:
        stored = json.loads((folder / "config.json").read_text())
        assert stored["extra"]["created"] == extra["created"]
        with pytest.raises(MnasInputError, match="another search is running"):
            with Run.open(_config(tmp_path)).locked():
                pass

    again = Run.open(_config(tmp_path))
    assert again.load_stored() is not None and again.resumed
    kept = again.record(proxy=CountingProxy(), command="another command line")
    assert kept.extra["created"] == extra["created"] and kept.extra["command"] == "mnas search ..."


def test_a_run_with_other_settings_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    run = Run.open(_config(tmp_path))
    run.load_stored()
    run.record(proxy=CountingProxy(), command="")
    with run.locked():
        pass
    other = Run.open(_config(tmp_path, seed=1, name="pixel4-20ms-flops"))
    with pytest.raises(MnasInputError, match="seed: stored 0, now 1"):
        other.load_stored()


def test_the_zoo_rule_and_the_directions_are_the_same_for_both_backends() -> None:
    class Training(CountingProxy):
        cost = "train"

    assert zoo_model_scored(CountingProxy(), fits=False)  # analytic: every model
    assert not zoo_model_scored(Training(), fits=False)  # a network-running proxy: fits only
    assert zoo_model_scored(Training(), fits=True)
    assert study_directions(SearchConfig(target="t", budget_ms=1.0)) == ["maximize"]
    assert study_directions(SearchConfig(target="t", budget_ms=1.0, pareto=True,
                                         sampler="nsga2")) == ["maximize", "minimize"]
    assert set(package_versions()) == {"mnas", "optuna", "torch", "python"}
