"""Latency-constrained architecture search (``mnas search``).

A search is one pipeline (:func:`run_search`: a :class:`Run` folder, provenance, lock,
outputs) with one seam, the :class:`Backend` that evaluates candidates: for an analytic
estimate, batched evolution over code rows (:mod:`mnas.search._batched`, the default);
for an expensive one, Optuna trials in this process (:class:`OptunaBackend`,
:func:`search`) or on Ray Tune (:class:`RayBackend`, :func:`run_ray_search`).
The objective (:func:`objective`) is a plain function of ``(space, config, trial)`` so
that both run the same code. See :mod:`mnas.search._driver` for storage and resume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnas._lazy import lazy_attributes

if TYPE_CHECKING:
    from mnas.search._backend import Backend, TrialsRun, run_search
    from mnas.search._budget import Fastest, fastest_arch, format_budget, parse_budget
    from mnas.search._config import (
        DEFAULT_SAMPLER,
        OBJECTIVES,
        SAMPLERS,
        SearchConfig,
        default_run_name,
    )
    from mnas.search._driver import OptunaBackend, load_study, make_sampler, open_storage, search
    from mnas.search._objective import (
        Evaluation,
        SearchContext,
        arch_hash,
        constraints,
        default_proxy_name,
        evaluate_arch,
        make_proxy,
        objective,
        score_trial,
        soft_reward,
    )
    from mnas.search._outputs import Candidate, ZooEntry, pareto_front, rank_candidates
    from mnas.search._ray import RayBackend, run_ray_search
    from mnas.search._ray_options import BACKENDS, RayOptions
    from mnas.search._report import render_report
    from mnas.search._run import STUDY_FILE, Run, SearchResult, prepare

_EXPORTS = {
    "mnas.search._backend": ("Backend", "TrialsRun", "run_search"),
    "mnas.search._budget": ("Fastest", "fastest_arch", "format_budget", "parse_budget"),
    "mnas.search._config": (
        "DEFAULT_SAMPLER", "OBJECTIVES", "SAMPLERS", "SearchConfig", "default_run_name"
    ),
    "mnas.search._driver": (
        "OptunaBackend", "load_study", "make_sampler", "open_storage", "search"
    ),
    "mnas.search._objective": (
        "Evaluation", "SearchContext", "arch_hash", "constraints", "default_proxy_name",
        "evaluate_arch", "make_proxy", "objective", "score_trial", "soft_reward"
    ),
    "mnas.search._outputs": ("Candidate", "ZooEntry", "pareto_front", "rank_candidates"),
    "mnas.search._ray": ("RayBackend", "run_ray_search"),
    "mnas.search._ray_options": ("BACKENDS", "RayOptions"),
    "mnas.search._report": ("render_report",),
    "mnas.search._run": ("STUDY_FILE", "Run", "SearchResult", "prepare"),
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

__all__ = [
    "BACKENDS",
    "OBJECTIVES",
    "SAMPLERS",
    "DEFAULT_SAMPLER",
    "STUDY_FILE",
    "Backend",
    "Candidate",
    "Evaluation",
    "Fastest",
    "OptunaBackend",
    "RayBackend",
    "RayOptions",
    "Run",
    "SearchConfig",
    "SearchContext",
    "SearchResult",
    "TrialsRun",
    "ZooEntry",
    "arch_hash",
    "constraints",
    "default_proxy_name",
    "default_run_name",
    "evaluate_arch",
    "fastest_arch",
    "format_budget",
    "load_study",
    "make_proxy",
    "make_sampler",
    "open_storage",
    "objective",
    "pareto_front",
    "parse_budget",
    "prepare",
    "rank_candidates",
    "render_report",
    "run_ray_search",
    "run_search",
    "search",
    "score_trial",
    "soft_reward",
]
