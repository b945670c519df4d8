"""The batched search loop: propose, screen, score and record batches until the goal is met.

What a *trial* is here: one **evaluation**, a distinct candidate within the budget whose
accuracy the estimator scored (candidates over the budget are screened out by latency
before scoring and are not counted; no candidate is scored twice). ``--trials N`` asks for
``N`` evaluations in total over every invocation of the run; ``--timeout S`` stops
proposing batches ``S`` seconds after the invocation started (the zoo is scored first,
within half of it; at least one batch always runs). Each batch is recorded
(:class:`~mnas.search._batched.EvaluationLog`) before the next is proposed, and the
algorithm's state is rebuilt from the record on resume, so a resumed run continues as
an uninterrupted one would.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mnas._blas import one_blas_thread
from mnas._progress import progress_bar
from mnas.errors import MnasInputError, caused_by_interrupt
from mnas.proxies import AccuracyProxy
from mnas.search._backend import TrialsRun
from mnas.search._batched._evolution import BatchedEvolution, BatchSettings
from mnas.search._batched._fitness import fitness
from mnas.search._batched._log import EVALUATIONS_FILE, EvaluationLog
from mnas.search._batched._scoring import CodeScorer
from mnas.search._budget import fastest_by_shape
from mnas.search._config import SearchConfig
from mnas.search._run import Run
from mnas.search._samplers._candidates import CandidateGenerator
from mnas.spaces import Codes

__all__ = ["BatchProgress", "check_batched", "run_batches", "uses_batches"]


@dataclass(frozen=True, kw_only=True)
class BatchProgress:
    """What :func:`run_batches` reports after each batch (benchmarks).

    Attributes:
        batch: The batch number.
        evaluations: Candidates evaluated in total (all invocations).
        best: The best fitness so far (the score, or the soft reward).
        elapsed_s: Seconds since the invocation started.
    """

    batch: int
    evaluations: int
    best: float
    elapsed_s: float


def _fastest_rows(run: Run, generator: CandidateGenerator, budget: float | None
                  ) -> dict[tuple[int, int], Codes]:
    """Code row of the fastest network of each (width, resolution) within ``budget``."""
    codec = generator.codec
    out = {}
    for fastest in (run.by_shape or fastest_by_shape(run.space, run.predictor)).values():
        if budget is not None and fastest.latency_ms > budget:
            continue
        row = generator.encode([fastest.params])[0]
        w = int(row[codec.width_col]) if codec.width_col is not None else 0
        r = int(row[codec.resolution_col]) if codec.resolution_col is not None else 0
        out[(w, r)] = row
    return out


def run_batches(run: Run, estimator: AccuracyProxy, *, progress: bool,
                on_batch: Callable[[BatchProgress], None] | None = None,
                settings: BatchSettings | None = None) -> TrialsRun:
    """Evaluate the candidates the run still misses, batch by batch (see the module docs).

    Called holding the run folder's lock, after ``config.json`` is written.

    A Ctrl-C stops the loop and is reported in the result (``interrupted``), so that the
    outputs are written from what finished before it is raised again.

    Raises:
        MnasInputError: A damaged ``evaluations.jsonl``, or one of another space.
    """
    config = run.config
    budget = config.budget_ms if config.objective == "hard" else None
    generator = CandidateGenerator(run.space, run.predictor, budget)
    log = EvaluationLog(run.dir / EVALUATIONS_FILE, generator.codec)
    done = log.read()
    algo = BatchedEvolution(generator, seed=config.seed,
                            fastest=_fastest_rows(run, generator, budget), settings=settings)
    for b in range(done.batches):  # rebuild the algorithm's state from the record
        rows = done.batch == b
        algo.observe(done.codes[rows], fitness(config, done.score[rows], done.latency_ms[rows]))
    before = len(done)
    target = config.evaluations()
    run.write_zoo(estimator, deadline=None if config.timeout_s is None
                  else run.started + config.timeout_s / 2)
    deadline = None if config.timeout_s is None else run.started + config.timeout_s
    scorer = CodeScorer(run.space, generator.codec, estimator)
    new: list[tuple[Codes, npt.NDArray[np.float64], npt.NDArray[np.float64],
                    npt.NDArray[np.float64], float]] = []
    count, batch = before, done.batches
    interrupted = False
    with _progress(enabled=progress, total=target, done=before, algo=algo) as tick:
        try:
            with one_blas_thread():
                while count < target:
                    if deadline is not None and batch > done.batches and \
                            time.monotonic() >= deadline:
                        break
                    start = time.perf_counter()
                    codes = algo.propose(batch, min(algo.batch_size(), target - count))
                    if not len(codes):
                        break  # every network near the budget has been evaluated
                    latency = generator.screen.predict_codes(codes)
                    score, spread = scorer(codes)
                    seconds = time.perf_counter() - start
                    log.append(batch, codes, score, spread, latency, seconds)
                    new.append((codes, score, spread, latency, seconds))
                    algo.observe(codes, fitness(config, score, latency))
                    count += len(codes)
                    tick(len(codes))
                    if on_batch is not None:
                        on_batch(BatchProgress(batch=batch, evaluations=count, best=algo.best,
                                               elapsed_s=time.monotonic() - run.started))
                    batch += 1
        except BaseException as exc:
            if not caused_by_interrupt(exc):
                raise
            interrupted = True  # write the folder from what finished, then re-raise
    done.extend(new)
    return TrialsRun(study=None, evaluations=done, before=before, interrupted=interrupted)


@contextlib.contextmanager
def _progress(*, enabled: bool, total: int, done: int, algo: BatchedEvolution
              ) -> Iterator[Callable[[int], None]]:
    """A rich progress bar of evaluations; yields the function that advances it."""
    if not enabled:
        yield lambda _n: None
        return

    def describe() -> str:
        if math.isinf(algo.best):
            return "search: nothing evaluated yet"
        return f"best {algo.best:.4g}"

    with progress_bar("[bold]evaluations", detail="{task.description}") as bar:
        task = bar.add_task(describe(), total=total, completed=done)

        def tick(n: int) -> None:
            bar.update(task, advance=n, description=describe())

        yield tick


def uses_batches(config: SearchConfig, estimator: AccuracyProxy) -> bool:
    """Whether an in-process search of ``config`` with ``estimator`` runs in batches:
    ``--sampler batch``, or ``auto`` with an analytic estimate and a single objective.

    Raises:
        MnasInputError: ``--sampler batch`` with an estimator that is not analytic.
    """
    check_batched(config, estimator)
    return config.sampler == "batch" or (config.sampler == "auto" and not config.pareto
                                          and estimator.cost == "analytic")


def check_batched(config: SearchConfig, estimator: AccuracyProxy) -> None:
    """Refuse ``--sampler batch`` with an estimator that is not analytic.

    Raises:
        MnasInputError: Naming the estimator's cost and the samplers to use instead.
    """
    if config.sampler == "batch" and estimator.cost != "analytic":
        raise MnasInputError(
            f"--sampler batch scores candidates in batches and needs an analytic estimator "
            f"(an accuracy model, params, flops); {config.proxy!r} costs {estimator.cost!r} per "
            "candidate: use --sampler auto (the default) or predictor")
