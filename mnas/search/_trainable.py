"""The Ray Tune trainable of ``mnas search --backend ray``, and what its workers need.

Everything a worker imports lives here, in the package (Ray workers cannot import
test files), and everything it needs arrives in its arguments: the trial's sampled
parameters (``config``, as Ray Tune passes them) and a :class:`TrainablePayload`
bound with ``tune.with_parameters``. There is no module-level state: each trial
loads the space, the latency table and the proxy itself, in its own process.

One trial evaluates one architecture exactly like the in-process backend
(:func:`mnas.search.evaluate_arch`: predicted latency, feasibility, proxy score).
A cheap proxy reports once. A training proxy (a
:class:`~mnas.proxies.TrainingProxy`) reports after every epoch, so that Ray's ASHA
scheduler can stop a poor candidate early; every report is a complete result
(latency, feasibility, the accuracy curve so far), so the last one received is
the trial's result whether the trial finished or was stopped.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mnas.arch import Arch
from mnas.proxies import AccuracyProxy, TrainingProxy
from mnas.search._config import SearchConfig

__all__ = [
    "META_KEY",
    "score_arch",
    "TrainablePayload",
    "mnas_trainable",
]

#: Key of the constants the define-by-run space adds to a Tune trial's config.
META_KEY = "mnas_meta"
#: Metric names the trainable reports (the searcher's and the scheduler's metric).
OBJECTIVE_METRIC = "objective"
LATENCY_METRIC = "latency_ms"
#: Stand-in objective of an infeasible candidate a training proxy did not score.
UNSCORED_VALUE = -math.inf


@dataclass(frozen=True, kw_only=True)
class TrainablePayload:
    """What every trial of one search receives (bound with ``tune.with_parameters``).

    Attributes:
        config: ``SearchConfig.to_dict()`` of the search.
        proxy: A ready proxy instance (pickled to the workers), or None to build the
            proxy named in ``config`` in each worker (the usual case).
        proxy_kwargs: Extra constructor arguments of the proxy (e.g. ``epochs``).
        threads: Torch intra-op threads per trial (the trial's CPUs).
    """

    config: dict[str, Any]
    proxy: AccuracyProxy | None = None
    proxy_kwargs: dict[str, Any] = field(default_factory=dict)
    threads: int = 1


def build_proxy(payload: TrainablePayload, config: SearchConfig) -> AccuracyProxy:
    """The payload's proxy, or the one named in ``config`` built with ``proxy_kwargs``.

    Raises:
        MnasInputError: Unknown proxy or an argument it does not take.
    """
    if payload.proxy is not None:
        return payload.proxy
    if not payload.proxy_kwargs:
        from mnas.search._objective import make_proxy

        return make_proxy(config.proxy, data=config.data, seed=config.seed)
    from mnas.proxies import get_proxy

    kwargs = dict(payload.proxy_kwargs)
    kwargs.setdefault("seed", config.seed)  # every registered proxy takes a seed
    if config.data is not None:
        kwargs.setdefault("data", config.data)
    return get_proxy(config.proxy, **kwargs)


def score_arch(payload: TrainablePayload, arch_data: dict[str, Any]) -> float:
    """Score one architecture (``Arch.to_dict()``) with the payload's proxy (a Ray task).

    Used to score the reference zoo on the workers when the proxy is expensive.
    """
    import torch

    from mnas.arch import arch_from_dict

    torch.set_num_threads(max(1, int(payload.threads)))
    config = SearchConfig.from_dict(payload.config, source="Ray task payload")
    return float(build_proxy(payload, config).score(arch_from_dict(arch_data)))


class _ReportingProxy(AccuracyProxy):
    """Wraps a training proxy so that ``score(arch)`` reports every epoch to a callback."""

    name = "reporting"
    cost = "train"

    def __init__(self, proxy: TrainingProxy, on_epoch: Callable[[int, float], None]) -> None:
        self._proxy = proxy
        self._on_epoch = on_epoch

    def score(self, arch: Arch) -> float:
        def report(epoch: int, accuracy: float) -> bool:
            self._on_epoch(int(epoch), float(accuracy))
            return False  # Tune stops a trial itself (it ends the trial's process)

        return float(self._proxy.score(arch, report=report))


def mnas_trainable(config: dict[str, Any], *, payload: TrainablePayload) -> None:
    """Evaluate the architecture of one Tune trial and report it.

    Args:
        config: The trial's sampled parameters (flat space names such as
            ``s2_b1_kernel``) plus :data:`META_KEY` (trial number and, for an
            architecture evaluated before, that evaluation).
        payload: The search settings and proxy (see :class:`TrainablePayload`).

    Every result holds ``objective`` (the value the searcher maximises; ``-inf`` for an
    infeasible candidate a training proxy skips), ``score``, ``latency_ms``, ``band``,
    ``feasible``, ``constraint`` (latency - budget), ``arch_hash``, ``epoch`` /
    ``epochs`` / ``curve`` (JSON list of per-epoch accuracies; empty for cheap
    proxies), ``unscored``, ``duplicate_of`` (-1 if none), and the worker's process id
    and host name (``worker_pid``, ``worker_host``).
    """
    import torch
    from ray import tune

    from mnas.search._objective import (
        Evaluation,
        SearchContext,
        arch_hash,
        evaluate_arch,
        objective_values,
    )
    from mnas.spaces import load_space

    torch.set_num_threads(max(1, int(payload.threads)))
    search_config = SearchConfig.from_dict(payload.config, source="Ray trial payload")
    meta: Mapping[str, Any] = config.get(META_KEY) or {}
    params = {k: v for k, v in config.items() if k != META_KEY}
    space = load_space(search_config.space)
    arch = space.replay(params)
    digest = arch_hash(arch)
    started = time.time()
    base = {"worker_pid": os.getpid(), "worker_host": socket.gethostname(), "arch_hash": digest,
            "number": int(meta.get("number", -1)), "duplicate_of": -1}

    def result(evaluation_score: float | None, latency: float, band: float, feasible: bool,
               *, epoch: int, epochs: int, curve: list[float]) -> dict[str, Any]:
        evaluation = Evaluation(score=evaluation_score, latency_ms=latency, band=band,
                                feasible=feasible, arch_hash=digest)
        unscored = evaluation_score is None
        if unscored:
            value: float | tuple[float, float] = UNSCORED_VALUE
        else:
            value = objective_values(evaluation, search_config)
        return {
            **base,
            OBJECTIVE_METRIC: float(value[0] if isinstance(value, tuple) else value),
            "score": evaluation_score, LATENCY_METRIC: latency, "band": band,
            "feasible": feasible, "constraint": latency - search_config.budget_ms,
            "unscored": unscored, "epoch": epoch, "epochs": epochs,
            "curve": json.dumps([round(a, 6) for a in curve]),
            "eval_s": round(time.time() - started, 4),
        }

    duplicate = meta.get("duplicate")
    if duplicate:  # evaluated by an earlier trial: report its numbers, run nothing
        out = result(duplicate.get("score"), float(duplicate["latency_ms"]),
                     float(duplicate.get("band", 0.0)), bool(duplicate["feasible"]),
                     epoch=0, epochs=0, curve=[])
        out["duplicate_of"] = int(duplicate["number"])
        tune.report(out)
        return

    context = SearchContext.from_config(search_config,
                                        proxy=build_proxy(payload, search_config))
    if isinstance(context.proxy, TrainingProxy):
        latency = context.predictor.predict_ms(arch)
        band = float(context.predictor.table.header.error_band)
        feasible = latency <= search_config.budget_ms
        epochs = int(context.proxy.epochs)
        curve: list[float] = []

        def on_epoch(epoch: int, accuracy: float) -> None:
            curve.append(accuracy)
            tune.report(result(accuracy, latency, band, feasible, epoch=epoch,
                               epochs=max(epochs, epoch), curve=curve))

        context.proxy = _ReportingProxy(context.proxy, on_epoch)
        evaluation = evaluate_arch(arch, context=context)
        if evaluation.score is None or not curve or evaluation.score != curve[-1]:
            # no epoch reported (skipped, infeasible), or the final score differs
            last = len(curve)
            tune.report(result(evaluation.score, latency, band, feasible,
                               epoch=last, epochs=max(epochs, last), curve=curve))
        return
    evaluation = evaluate_arch(arch, context=context)
    tune.report(result(evaluation.score, evaluation.latency_ms, evaluation.band,
                       evaluation.feasible, epoch=1 if evaluation.score is not None else 0,
                       epochs=1, curve=[]))
