"""The Ray Tune trainable of ``mnas search --backend ray``, and what its workers need.

Everything a worker imports lives here, in the package (Ray workers cannot import
test files), and everything it needs arrives in its arguments: the trial's sampled
parameters (``config``, as Ray Tune passes them) and a :class:`TrainablePayload`
bound with ``tune.with_parameters``. There is no module-level state: each trial
loads the space, the latency table and the proxy itself, in its own process.

One trial evaluates one architecture exactly like the in-process backend
(:func:`mnas.search.evaluate_arch`: predicted latency, feasibility, proxy score).
A cheap proxy reports once. A training proxy (``proxy.cost == "train"`` whose
``score`` accepts ``report=``) reports after every epoch, so that Ray's ASHA
scheduler can stop a poor candidate early; every report is a complete result
(latency, feasibility, the accuracy curve so far), so the last one received is
the trial's result whether the trial finished or was stopped.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mnas.proxies import AccuracyProxy
from mnas.search._objective import proxy_cost

__all__ = [
    "META_KEY",
    "score_arch",
    "SyntheticTrainingProxy",
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
    proxy: Any = None
    proxy_kwargs: dict[str, Any] = field(default_factory=dict)
    threads: int = 1


def _accepts_report(proxy: Any) -> bool:
    score = getattr(proxy, "score", None)
    if score is None:
        return False
    try:
        params = inspect.signature(score).parameters
    except (TypeError, ValueError):
        return False
    return "report" in params


def build_proxy(payload: TrainablePayload, config: Any) -> Any:
    """The payload's proxy, or the one named in ``config`` built with ``proxy_kwargs``.

    Raises:
        MnasInputError: Unknown proxy or an argument it does not take.
    """
    if payload.proxy is not None:
        return payload.proxy
    if not payload.proxy_kwargs:
        from mnas.search._objective import make_proxy

        return make_proxy(config.proxy, data=config.data, seed=config.seed)
    from mnas.proxies import get_proxy, proxy_class

    kwargs = dict(payload.proxy_kwargs)
    accepted = inspect.signature(proxy_class(config.proxy).__init__).parameters
    if "seed" in accepted:
        kwargs.setdefault("seed", config.seed)
    if config.data is not None:
        kwargs.setdefault("data", config.data)
    return get_proxy(config.proxy, **kwargs)


def score_arch(payload: TrainablePayload, arch_data: dict[str, Any]) -> float:
    """Score one architecture (``Arch.to_dict()``) with the payload's proxy (a Ray task).

    Used to score the reference zoo on the workers when the proxy is expensive.
    """
    import torch

    from mnas.arch import arch_from_dict
    from mnas.search._config import SearchConfig

    torch.set_num_threads(max(1, int(payload.threads)))
    config = SearchConfig.from_dict(payload.config, source="Ray task payload")
    return float(build_proxy(payload, config).score(arch_from_dict(arch_data)))


class _ReportingProxy(AccuracyProxy):
    """Wraps a training proxy so that ``score(arch)`` reports every epoch to a callback."""

    name = "reporting"
    cost = "train"  # only a training proxy is wrapped

    def __init__(self, proxy: Any, on_epoch: Callable[[int, float], None]) -> None:
        self._proxy = proxy
        self._on_epoch = on_epoch

    def score(self, arch: Any) -> float:
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

    from mnas.search._config import SearchConfig
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
    training = proxy_cost(context.proxy) == "train"
    if training and _accepts_report(context.proxy):
        latency = context.predictor.predict_ms(arch)
        band = float(context.predictor.table.header.error_band)
        feasible = latency <= search_config.budget_ms
        epochs = int(getattr(context.proxy, "epochs", 0) or 0)
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


class SyntheticTrainingProxy(AccuracyProxy):
    """A deterministic stand-in for a training proxy: real compute, synthetic curves.

    For tests and benchmarks of the Ray backend when no dataset-training proxy is
    wanted. It meets the proxy contract but measures no accuracy, and is not in the
    proxy registry. Per
    epoch it runs ``steps`` SGD steps of the real network on seeded random images at
    ``resolution`` (the CPU cost grows with the architecture, like real training),
    then reports the accuracy of a saturating curve whose ceiling grows with
    log-MACs, ``acc(e) = ceiling * (1 - exp(-(e / 2)))`` where ``ceiling =
    0.5 + 0.05 * log10(MACs)``. Curves of different architectures never cross, so
    an early-stopping scheduler's decision at epoch 1 agrees with the final ranking.

    Args:
        epochs: Epochs per architecture.
        steps: SGD steps per epoch (0: no compute, curves only).
        batch: Batch size of the SGD steps.
        resolution: Input resolution of the SGD steps (small, to keep them cheap).
        seed: Seed of the random images and of the weights.
        sleep_s: Wall time added to every epoch (no CPU), to stand in for slow epochs.
        crash_once_path: Fault injection for tests: the first trial that creates this
            file (atomically) kills its own process after its first epoch.
    """

    name = "synthetic-train"
    cost = "train"
    needs_data = False

    def __init__(self, *, epochs: int = 3, steps: int = 0, batch: int = 8,
                 resolution: int = 32, seed: int = 0, sleep_s: float = 0.0,
                 crash_once_path: str | None = None) -> None:
        for label, value, low in (("epochs", epochs, 1), ("steps", steps, 0),
                                  ("batch", batch, 1), ("resolution", resolution, 8)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"SyntheticTrainingProxy: {label} must be an integer >= {low}, "
                                 f"got {value!r}")
        self.epochs = epochs
        self.steps = steps
        self.batch = batch
        self.resolution = resolution
        self.seed = seed
        if not sleep_s >= 0:
            raise ValueError(f"SyntheticTrainingProxy: sleep_s must be >= 0, got {sleep_s!r}")
        self.sleep_s = float(sleep_s)
        self.crash_once_path = crash_once_path

    def _crash_now(self) -> bool:
        if not self.crash_once_path:
            return False
        try:
            fd = os.open(self.crash_once_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True

    def curve(self, macs: int) -> list[float]:
        """The accuracy after each epoch of an architecture with ``macs`` MACs."""
        ceiling = 0.5 + 0.05 * math.log10(max(macs, 1))
        return [ceiling * (1.0 - math.exp(-(e / 2.0))) for e in range(1, self.epochs + 1)]

    def score(self, arch: Any, *, report: Callable[[int, float], bool] | None = None) -> float:
        """Train (on noise) for ``epochs`` epochs, reporting the synthetic curve.

        Args:
            arch: The architecture.
            report: Called as ``report(epoch, accuracy)`` after each epoch; a True
                return stops training there.
        """
        from mnas.proxies import arch_costs

        accuracies = self.curve(int(arch_costs(arch).macs))
        step = self._sgd_step(arch) if self.steps else None
        crash = self._crash_now()
        accuracy = accuracies[0]
        for epoch, accuracy in enumerate(accuracies, start=1):
            for _ in range(self.steps):
                step()  # type: ignore[misc]
            if self.sleep_s:
                time.sleep(self.sleep_s)
            if crash and epoch >= 1:
                os._exit(17)  # a worker dying mid-trial (fault injection)
            if report is not None and report(epoch, accuracy):
                break
        return accuracy

    def _sgd_step(self, arch: Any) -> Callable[[], None]:
        import torch

        from mnas.models import build

        generator = torch.Generator().manual_seed(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = build(arch.replace(resolution=self.resolution))
        net.train()
        optimiser = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        images = torch.randn(self.batch, 3, self.resolution, self.resolution,
                             generator=generator)
        labels = torch.randint(0, arch.num_classes, (self.batch,), generator=generator)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step() -> None:
            optimiser.zero_grad(set_to_none=True)
            loss_fn(net(images), labels).backward()
            optimiser.step()

        return step
