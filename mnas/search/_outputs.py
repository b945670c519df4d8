"""What a search leaves in its run folder (besides ``config.json`` and ``study.log``).

``trials.csv`` (every trial), ``pareto.csv`` + ``pareto.png`` (latency vs proxy
score), ``zoo.csv`` (the reference zoo on the same target and proxy),
``top/rank_01.json ...`` and ``best/arch.json`` + ``best/model.py``, and
``report.md`` (see :mod:`mnas.search._report`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import optuna

from mnas._io import atomic_write_bytes, atomic_write_text
from mnas.arch import Arch, load_arch, save_arch
from mnas.errors import MnasError, MnasInputError
from mnas.latency import TablePredictor
from mnas.proxies import AccuracyProxy
from mnas.search._config import SearchConfig
from mnas.search._csv import csv_text, read_csv
from mnas.search._objective import soft_reward
from mnas.spaces import SearchSpace

__all__ = [
    "PLOTTED_POINTS",
    "TRIAL_COLUMNS",
    "Candidate",
    "ParetoPoints",
    "ZooEntry",
    "pareto_front",
    "rank_candidates",
    "read_csv",
    "trial_rows",
    "write_front_and_best",
    "write_outputs",
    "write_zoo",
    "zoo_entries",
    "zoo_model_scored",
]

_FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One distinct evaluated architecture.

    Attributes:
        number: The first trial that evaluated it.
        params: Its trial parameters.
        arch: The architecture (replayed from ``params``).
        score: Proxy score.
        latency_ms: Predicted latency.
        band: Relative error band.
        feasible: Within the budget.
        value: The objective value it was ranked by (score, or the soft reward).
        trials: How many trials sampled it.
    """

    number: int
    params: dict[str, Any]
    arch: Arch
    score: float
    latency_ms: float
    band: float
    feasible: bool
    value: float
    trials: int


@dataclass(frozen=True, kw_only=True)
class ZooEntry:
    """A reference architecture evaluated like a search candidate."""

    name: str
    latency_ms: float | None
    band: float
    fits: bool
    score: float | None
    params: int | None
    macs: int | None
    note: str = ""


def arch_costs(arch: Arch) -> tuple[int, int]:
    """(parameters, MACs) of ``arch`` from the proxies package's analytic counter."""
    from mnas.proxies import arch_costs as costs

    result = costs(arch)
    return int(result.params), int(result.macs)


def _distinct(trials: Iterable[optuna.trial.FrozenTrial],
              ) -> dict[str, list[optuna.trial.FrozenTrial]]:
    groups: dict[str, list[optuna.trial.FrozenTrial]] = {}
    for trial in sorted(trials, key=lambda t: t.number):
        digest = trial.user_attrs.get("arch_hash")
        if trial.state in _FINISHED and digest is not None and "latency_ms" in trial.user_attrs:
            groups.setdefault(str(digest), []).append(trial)
    return groups


def rank_candidates(trials: Sequence[optuna.trial.FrozenTrial], space: SearchSpace,
                    config: SearchConfig, *, limit: int | None = None) -> list[Candidate]:
    """Distinct scored architectures, best first (at most ``limit``, default ``top_k``).

    Hard budget and Pareto mode: feasible candidates only, by proxy score. Soft
    objective: every candidate, by the MnasNet reward.
    """
    limit = config.top_k if limit is None else limit
    rows: list[tuple[float, int, list[optuna.trial.FrozenTrial]]] = []
    for group in _distinct(trials).values():
        first = group[0]
        attrs = first.user_attrs
        if attrs.get("score") is None:
            continue
        score = float(attrs["score"])
        if config.objective == "soft" and not config.pareto:
            value = soft_reward(score, float(attrs["latency_ms"]), config.budget_ms,
                                config.soft_weight)
        else:
            if not attrs.get("feasible"):
                continue
            value = score
        rows.append((value, first.number, group))
    rows.sort(key=lambda r: (-r[0], r[1]))
    result = []
    for value, _, group in rows[:limit]:
        first = group[0]
        attrs = first.user_attrs
        arch = space.replay(first.params).replace(name=f"{config.name}-trial{first.number}")
        result.append(Candidate(number=first.number, params=dict(first.params), arch=arch,
                                score=float(attrs["score"]),
                                latency_ms=float(attrs["latency_ms"]),
                                band=float(attrs.get("band", 0.0)),
                                feasible=bool(attrs["feasible"]), value=value,
                                trials=len(group)))
    return result


#: The columns of ``trials.csv`` before the parameters (both search modes): ``score`` is
#: the estimate (a multi-recipe model's: top-1 % under ``recipe``), ``spread`` its
#: uncertainty where the estimator reports one.
TRIAL_COLUMNS = ["number", "state", "value", "score", "spread", "recipe", "estimator",
                 "latency_ms", "low_ms", "high_ms", "band", "feasible", "duplicate_of",
                 "arch_hash", "duration_s"]


def trial_rows(trials: Sequence[optuna.trial.FrozenTrial], param_names: Sequence[str], *,
               estimator: str = "", recipe: str = "") -> tuple[list[str], list[dict[str, Any]]]:
    """Header and rows of ``trials.csv``: one row per trial, every parameter a column.

    ``estimator`` names what produced the scores (the run's accuracy estimator), ``recipe``
    the training recipe its top-1 answers for (a multi-recipe model's; else empty).
    """
    extra = sorted({p for t in trials for p in t.params} - set(param_names))
    header = TRIAL_COLUMNS + list(param_names) + extra
    rows = []
    for trial in sorted(trials, key=lambda t: t.number):
        attrs = trial.user_attrs
        lat = attrs.get("latency_ms")
        band = attrs.get("band")
        duration = trial.duration.total_seconds() if trial.duration is not None else None
        row: dict[str, Any] = {
            "number": trial.number, "state": trial.state.name,
            "value": ("" if not trial.values else
                      ";".join(f"{v:.6g}" for v in trial.values)),
            "score": attrs.get("score"), "spread": attrs.get("spread"),
            "recipe": recipe if attrs.get("score") is not None else None,
            "estimator": estimator if attrs.get("score") is not None else None,
            "latency_ms": lat,
            "low_ms": None if lat is None or band is None else lat * (1 - band),
            "high_ms": None if lat is None or band is None else lat * (1 + band),
            "band": band, "feasible": attrs.get("feasible"),
            "duplicate_of": attrs.get("duplicate_of"), "arch_hash": attrs.get("arch_hash"),
            "duration_s": None if duration is None else round(duration, 4),
        }
        row.update({name: trial.params.get(name) for name in (*param_names, *extra)})
        rows.append(row)
    return header, rows


def pareto_front(points: Sequence[tuple[float, float, Any]]) -> list[tuple[float, float, Any]]:
    """Non-dominated ``(latency, score, payload)`` points (lower latency, higher score).

    Sorted by latency; O(n log n).
    """
    front: list[tuple[float, float, Any]] = []
    best = -math.inf
    for lat, score, payload in sorted(points, key=lambda p: (p[0], -p[1])):
        if score > best:
            front.append((lat, score, payload))
            best = score
    return front


def zoo_model_scored(proxy: AccuracyProxy, *, fits: bool) -> bool:
    """Whether ``zoo.csv`` scores a reference model: every model with an analytic proxy;
    with a proxy that runs the network (forward passes, training) only the models that
    fit the budget, as the search scores only feasible candidates with it."""
    return fits or proxy.cost == "analytic"


_PENDING = "not scored yet (time limit); rerun the search to score it"


def zoo_entries(predictor: TablePredictor, proxy: AccuracyProxy, budget_ms: float, *,
                known: Mapping[str, float] | None = None,
                deadline: float | None = None) -> list[ZooEntry]:
    """Every zoo architecture's predicted latency, proxy score, params and MACs.

    An architecture the table cannot predict (no entry, no device model) is listed
    with a note instead. A non-analytic proxy only scores the models that fit.

    Args:
        predictor: The target's predictor.
        proxy: The search's proxy.
        budget_ms: The budget.
        known: Scores computed before (reused, not recomputed).
        deadline: ``time.monotonic()`` after which no more models are scored; those
            left are listed as not scored yet.
    """
    from mnas.models import get_arch, list_archs

    known = known or {}
    entries = []
    for name in list_archs():
        arch = get_arch(name)
        params, macs = arch_costs(arch)
        try:
            latency = predictor.predict_ms(arch)
        except MnasInputError as err:
            entries.append(ZooEntry(name=name, latency_ms=None, band=0.0, fits=False,
                                    score=None, params=params, macs=macs,
                                    note=f"not predictable: {err}"[:200]))
            continue
        fits = latency <= budget_ms
        score: float | None = None
        note = ""
        if zoo_model_scored(proxy, fits=fits):
            if name in known:
                score = known[name]
            elif deadline is not None and time.monotonic() > deadline:
                note = _PENDING
            else:
                try:
                    score = float(proxy.score(arch))
                except MnasInputError as err:  # not labelled, or outside a model's space
                    note = f"not scored: {err}"[:200]
        entries.append(ZooEntry(name=name, latency_ms=latency,
                                band=float(predictor.table.header.error_band), fits=fits,
                                score=score, params=params, macs=macs, note=note))
    return entries


def write_zoo(run_dir: Path, *, predictor: TablePredictor, proxy: AccuracyProxy, budget_ms: float,
              deadline: float | None = None) -> Path:
    """Write ``zoo.csv``: each zoo model is scored once per run folder.

    With a ``deadline`` (``time.monotonic()``), models not reached in time are scored
    by a later call (the next invocation of the search).
    """
    zoo_path = run_dir / "zoo.csv"
    rows = read_csv(zoo_path)
    if rows and not any(r["note"] == _PENDING for r in rows):
        return zoo_path
    known = {r["name"]: float(r["score"]) for r in rows if r["score"]}
    zoo = zoo_entries(predictor, proxy, budget_ms, known=known, deadline=deadline)
    header = ["name", "latency_ms", "band", "fits", "score", "params", "macs", "note"]
    atomic_write_text(zoo_path, csv_text(header, (z.__dict__ for z in zoo)))
    return zoo_path


def write_outputs(run_dir: Path, *, config: SearchConfig, study: optuna.Study,
                  space: SearchSpace, predictor: TablePredictor, proxy: AccuracyProxy,
                  ranked: list[Candidate]) -> None:
    """Write every output file of the run folder from the study (idempotent)."""
    trials = study.get_trials(deepcopy=False)
    header, rows = trial_rows(trials, space.parameter_names(),
                              estimator=str(config.extra.get("estimator_name", config.proxy)),
                              recipe=str((config.extra.get("estimate") or {}).get("recipe", "")))
    atomic_write_text(run_dir / "trials.csv", csv_text(header, rows))
    firsts = [g[0] for g in _distinct(trials).values() if g[0].user_attrs.get("score") is not None]
    points = ParetoPoints(
        latency_ms=np.array([float(t.user_attrs["latency_ms"]) for t in firsts]),
        score=np.array([float(t.user_attrs["score"]) for t in firsts]),
        feasible=np.array([bool(t.user_attrs.get("feasible")) for t in firsts], dtype=bool),
        number=np.array([t.number for t in firsts], dtype=np.int64),
        arch_hash=[str(t.user_attrs.get("arch_hash")) for t in firsts])
    write_front_and_best(run_dir, config=config, points=points, predictor=predictor,
                         proxy=proxy, ranked=ranked)


@dataclass(frozen=True, kw_only=True)
class ParetoPoints:
    """The distinct evaluated architectures as ``pareto.csv`` and ``pareto.png`` show them,
    one array entry each (columns: thousands of points of a batched search cost no objects).

    Attributes:
        latency_ms: Predicted latencies.
        score: Estimator scores.
        feasible: Within the budget.
        number: The trial (evaluation) numbers.
        arch_hash: Their digests.
    """

    latency_ms: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64]
    feasible: npt.NDArray[np.bool_]
    number: npt.NDArray[np.int64]
    arch_hash: Sequence[str]

    def front(self) -> npt.NDArray[np.int64]:
        """Indices of the non-dominated points, by latency: :func:`pareto_front` in numpy."""
        order = np.lexsort((-self.score, self.latency_ms))
        ranked = self.score[order]
        before = np.concatenate([[-np.inf], np.maximum.accumulate(ranked)[:-1]])
        return order[ranked > before]


#: Most evaluated architectures drawn in ``pareto.png`` (an even sample beyond; the
#: Pareto front and the best are always drawn, ``pareto.csv`` lists the whole front).
PLOTTED_POINTS = 4000


def write_front_and_best(run_dir: Path, *, config: SearchConfig, points: ParetoPoints,
                         predictor: TablePredictor, proxy: AccuracyProxy,
                         ranked: list[Candidate]) -> None:
    """Write ``zoo.csv`` (if missing), ``pareto.csv``, ``pareto.png``, ``top/``, ``best/`` and
    ``report.md`` from the evaluated ``points`` and the ``ranked`` candidates."""
    from mnas.search._report import render_report

    zoo_path = run_dir / "zoo.csv"
    if not zoo_path.exists():
        write_zoo(run_dir, predictor=predictor, proxy=proxy, budget_ms=config.budget_ms)
    front = points.front()
    pheader = ["number", "latency_ms", "score", "feasible", "arch_hash"]
    atomic_write_text(run_dir / "pareto.csv", csv_text(pheader, (
        {"number": int(points.number[i]), "latency_ms": float(points.latency_ms[i]),
         "score": float(points.score[i]), "feasible": bool(points.feasible[i]),
         "arch_hash": points.arch_hash[i]} for i in front)))
    from mnas.search._plot import pareto_png

    total = len(points.score)
    shown = (np.arange(total) if total <= PLOTTED_POINTS else np.union1d(
        (np.arange(PLOTTED_POINTS) * (total / PLOTTED_POINTS)).astype(np.int64), front))
    atomic_write_bytes(run_dir / "pareto.png", pareto_png(
        points=[(float(points.latency_ms[i]), float(points.score[i]), bool(points.feasible[i]))
                for i in shown],
        front=[(float(points.latency_ms[i]), float(points.score[i])) for i in front],
        zoo=[(z["name"], float(z["latency_ms"]), float(z["score"]))
             for z in read_csv(zoo_path) if z["latency_ms"] and z["score"]],
        best=(ranked[0].latency_ms, ranked[0].score) if ranked else None,
        budget_ms=config.budget_ms, proxy=_score_label(config), device=predictor.target,
        provenance=predictor.table.header.provenance,
        band=ranked[0].band if ranked else None, total=total))

    top_dir = run_dir / "top"
    top_dir.mkdir(exist_ok=True)
    for old in top_dir.glob("rank_*.json"):
        old.unlink()
    from mnas.accuracy import model_estimate

    estimates = [model_estimate(proxy, cand.arch) for cand in ranked[:config.top_k]]
    for rank, (cand, estimate) in enumerate(zip(ranked, estimates, strict=False), start=1):
        save_arch(_with_search_info(cand, config, rank, estimate),
                  top_dir / f"rank_{rank:02d}.json")
    if ranked:
        best = _with_search_info(ranked[0], config, 1, estimates[0])
        best_path, model_path = run_dir / "best" / "arch.json", run_dir / "best" / "model.py"
        unchanged = (best_path.exists() and model_path.exists()
                     and load_arch(best_path).canonical_key() == best.canonical_key())
        save_arch(best, best_path)
        if not unchanged:
            write_model_source(best, model_path)
    render_report(run_dir)


def _score_label(config: SearchConfig) -> str:
    """What the run's scores are, for a plot axis: a multi-recipe model's top-1 % under its
    recipe, else the proxy's name."""
    recipe = (config.extra.get("estimate") or {}).get("recipe")
    return f"estimated top-1 % ({recipe} recipe; {config.proxy})" if recipe else config.proxy


def _with_search_info(cand: Candidate, config: SearchConfig, rank: int,
                      estimate: dict[str, Any] | None = None) -> Arch:
    extra = dict(cand.arch.extra)
    extra["search"] = {
        "run": config.name, "rank": rank, "trial": cand.number, "proxy": config.proxy,
        "score": cand.score, "latency_ms": round(cand.latency_ms, 4), "band": cand.band,
        "target": config.target, "budget_ms": config.budget_ms, "feasible": cand.feasible,
        "objective_value": cand.value, "params": cand.params,
        **({"estimate": estimate} if estimate is not None else {}),
    }
    return cand.arch.replace(extra=extra)


def write_model_source(arch: Arch, path: Path) -> str:
    """Write the standalone PyTorch source of ``arch`` to ``path``; returns how it was checked.

    The file is :func:`mnas.export.export`'s ``pytorch`` format, imported by its path and
    checked against mnas's model in this process on a 64 px batch (a fresh process at the
    network's resolution would add seconds to every search; ``mnas export`` checks so);
    if that check cannot run, the same source is written unchecked.
    """
    from mnas.export import export, pytorch_source

    try:
        export(arch, format="pytorch", path=path, force=True, fresh_process=False,
               check_resolution=64)
        return "mnas.export (checked in this process)"
    except MnasError:
        atomic_write_text(path, pytorch_source(arch))
        return "mnas.export.pytorch_source (unchecked)"
