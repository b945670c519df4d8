"""Batched search: the candidates of an analytic estimate, evaluated in vectorised batches.

When the accuracy estimate costs micro- to milliseconds (a fitted model, a count:
``Cost = "analytic"``), one Optuna trial per candidate (a journal write, a sampler's
bookkeeping) costs more than the estimate. ``mnas search`` then proposes candidates as
code rows (:class:`mnas.spaces.ParamCodec`), screens them against the budget with the
exact vectorised latency (:class:`mnas.latency.ScreeningPredictor`), scores them with the
estimator's batch scorer (:meth:`mnas.proxies.AccuracyProxy.batch_scorer`) and records
every batch in ``evaluations.jsonl``; the algorithm is :class:`BatchedEvolution`.
See ``docs/search.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnas._lazy import lazy_attributes

if TYPE_CHECKING:
    from mnas.search._batched._evolution import BatchedEvolution, BatchSettings
    from mnas.search._batched._fitness import fitness
    from mnas.search._batched._log import (
        EVALUATIONS_FILE,
        EvaluationLog,
        Evaluations,
        decode_codes,
        encode_codes,
    )
    from mnas.search._batched._outputs import (
        code_digests,
        evaluations_csv,
        rank_evaluations,
        write_evaluation_outputs,
    )
    from mnas.search._batched._runner import (
        BatchProgress,
        check_batched,
        run_batches,
        uses_batches,
    )
    from mnas.search._batched._scoring import CodeScorer

# Loaded on first use: the run folder (mnas.search._run) reads the outputs module, and the
# runner reads the run folder.
_EXPORTS = {
    "mnas.search._batched._evolution": ("BatchedEvolution", "BatchSettings"),
    "mnas.search._batched._fitness": ("fitness",),
    "mnas.search._batched._log": ("EVALUATIONS_FILE", "EvaluationLog", "Evaluations",
                                  "decode_codes", "encode_codes"),
    "mnas.search._batched._outputs": ("code_digests", "evaluations_csv", "rank_evaluations",
                                      "write_evaluation_outputs"),
    "mnas.search._batched._runner": ("BatchProgress", "check_batched", "run_batches",
                                     "uses_batches"),
    "mnas.search._batched._scoring": ("CodeScorer",),
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

__all__ = [
    "EVALUATIONS_FILE",
    "BatchProgress",
    "BatchSettings",
    "BatchedEvolution",
    "CodeScorer",
    "EvaluationLog",
    "Evaluations",
    "check_batched",
    "code_digests",
    "decode_codes",
    "encode_codes",
    "evaluations_csv",
    "fitness",
    "rank_evaluations",
    "run_batches",
    "uses_batches",
    "write_evaluation_outputs",
]
