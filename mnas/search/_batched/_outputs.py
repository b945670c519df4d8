"""A batched search's run folder files, from its :class:`Evaluations`.

The same files as a search of trials (``trials.csv``, ``pareto.csv``/``.png``, ``zoo.csv``,
``top/``, ``best/``, ``report.md``; :mod:`mnas.search._outputs` writes what they share),
with one row of ``trials.csv`` per evaluation: ``number`` is the evaluation's number,
``state`` always ``COMPLETE`` (a batch is recorded whole), ``duplicate_of`` always empty
(no candidate is scored twice), ``arch_hash`` a digest of the candidate's canonical code
row (the network's identity within its space) and ``duration_s`` its batch's time divided
by the batch's size.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mnas._io import atomic_write_text
from mnas.latency import TablePredictor
from mnas.proxies import AccuracyProxy
from mnas.search._batched._fitness import fitness
from mnas.search._batched._log import Evaluations
from mnas.search._config import SearchConfig
from mnas.search._outputs import TRIAL_COLUMNS, Candidate, ParetoPoints, write_front_and_best
from mnas.spaces import ParamCodec, SearchSpace

__all__ = ["code_digests", "evaluations_csv", "rank_evaluations", "write_evaluation_outputs"]


def _ranked_value(evaluations: Evaluations, config: SearchConfig
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """(the objective value, whether a row may rank) of every evaluation."""
    value = fitness(config, evaluations.score, evaluations.latency_ms)
    feasible = evaluations.latency_ms <= config.budget_ms
    ok = np.isfinite(value) & (feasible if config.objective == "hard" else True)
    return value, ok


def rank_evaluations(evaluations: Evaluations, space: SearchSpace, config: SearchConfig, *,
                     band: float, limit: int | None = None) -> list[Candidate]:
    """The best evaluations, best first (at most ``limit``, default ``top_k``): by score
    within the budget, or by the soft reward over all."""
    limit = config.top_k if limit is None else limit
    value, ok = _ranked_value(evaluations, config)
    index = np.flatnonzero(ok)
    order = index[np.lexsort((index, -value[index]))][:limit]  # ties: the earlier first
    codec = ParamCodec(space)
    out = []
    for i in order:
        params = codec.decode(evaluations.codes[i])
        arch = space.replay(params).replace(name=f"{config.name}-trial{int(i)}")
        out.append(Candidate(number=int(i), params=params, arch=arch,
                             score=float(evaluations.score[i]),
                             latency_ms=float(evaluations.latency_ms[i]), band=band,
                             feasible=bool(evaluations.latency_ms[i] <= config.budget_ms),
                             value=float(value[i]), trials=1))
    return out


def code_digests(codec: ParamCodec, codes: npt.NDArray[np.int64]) -> list[str]:
    """A short digest per row of its canonical code (equal iff the same network)."""
    canon = np.ascontiguousarray(codec.canonical(codes)).astype(np.uint8)
    prefix = codec.space.name.encode()
    return [hashlib.sha1(prefix + row.tobytes()).hexdigest()[:20] for row in canon]


def _field(text: str) -> str:
    """``text`` as one CSV field (quoted when it needs to be)."""
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def evaluations_csv(evaluations: Evaluations, codec: ParamCodec, config: SearchConfig, *,
                    band: float, estimator: str, recipe: str = "",
                    digests: list[str] | None = None) -> str:
    """``trials.csv`` of a batched search: one row per evaluation (see the module docs)."""
    n = len(evaluations)
    value, _ = _ranked_value(evaluations, config)
    lat = evaluations.latency_ms
    sizes = np.bincount(evaluations.batch, minlength=evaluations.batches) if n else np.zeros(0)
    per = np.asarray(evaluations.seconds)[evaluations.batch] / np.maximum(
        sizes[evaluations.batch], 1) if n else np.zeros(0)
    columns: list[list[str]] = [
        [str(i) for i in range(n)], ["COMPLETE"] * n, [f"{v:.6g}" for v in value],
        [repr(float(v)) for v in evaluations.score],
        [repr(float(v)) for v in evaluations.spread], [_field(recipe)] * n,
        [_field(estimator)] * n,
        [repr(float(v)) for v in lat], [repr(float(v)) for v in lat * (1 - band)],
        [repr(float(v)) for v in lat * (1 + band)], [repr(float(band))] * n,
        ["True" if v else "False" for v in lat <= config.budget_ms], [""] * n,
        digests if digests is not None else code_digests(codec, evaluations.codes),
        [repr(round(float(v), 6)) for v in per]]
    active = codec.active(evaluations.codes)
    for c, choices in enumerate(codec.choices):
        text = np.array([_field(str(v)) for v in choices] + [""], dtype=object)
        index = np.where(active[:, c], evaluations.codes[:, c], len(choices))
        columns.append(list(text[index]))
    lines = [",".join(TRIAL_COLUMNS + [_field(name) for name in codec.names])]
    lines += [",".join(row) for row in zip(*columns, strict=True)]
    return "\n".join(lines) + "\n"


def write_evaluation_outputs(run_dir: Path, *, config: SearchConfig, evaluations: Evaluations,
                             space: SearchSpace, predictor: TablePredictor,
                             proxy: AccuracyProxy, ranked: list[Candidate]) -> None:
    """Write every output file of a batched search's run folder (idempotent)."""
    codec = ParamCodec(space)
    band = float(predictor.table.header.error_band)
    estimator = str(config.extra.get("estimator_name", config.proxy))
    recipe = str((config.extra.get("estimate") or {}).get("recipe", ""))
    digests = code_digests(codec, evaluations.codes)
    atomic_write_text(run_dir / "trials.csv",
                      evaluations_csv(evaluations, codec, config, band=band, estimator=estimator,
                                      recipe=recipe, digests=digests))
    scored = np.flatnonzero(np.isfinite(evaluations.score))
    points = ParetoPoints(latency_ms=evaluations.latency_ms[scored],
                          score=evaluations.score[scored],
                          feasible=evaluations.latency_ms[scored] <= config.budget_ms,
                          number=scored, arch_hash=[digests[i] for i in scored])
    write_front_and_best(run_dir, config=config, points=points, predictor=predictor,
                         proxy=proxy, ranked=ranked)
