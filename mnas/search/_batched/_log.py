"""``evaluations.jsonl``: the record of a batched search, one line per evaluated batch.

A batched search (analytic estimators) evaluates tens of thousands of candidates; one
Optuna trial per candidate would cost milliseconds each to store. Its run folder holds
this append-only log instead, as the study of record::

    {"format": "mnas-evaluations/1", "space": "mobilenetv3", "columns": [...], "sizes": [...]}
    {"batch": 0, "codes": ["0120...", ...], "score": [...], "spread": [...],
     "latency_ms": [...], "seconds": 0.012}
    ...

``codes`` are the candidates' code rows (:class:`mnas.spaces.ParamCodec`, one character per
column: the choice's index in base 36), ``score`` and ``spread`` the estimator's, and
``latency_ms`` the screened latency; floats are written exactly (``repr``). Every batch is
appended as one ``write`` and ``fsync``-ed before the next one is proposed, so a ``SIGKILL``
loses at most the batch in flight; a line cut short by a kill or a full disk is dropped
when the run resumes (under the run folder's lock). The candidates are numbered in the
order they appear, from 0.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mnas._io import drop_torn_tail
from mnas.errors import MnasInputError
from mnas.spaces import Codes, ParamCodec

__all__ = ["EVALUATIONS_FILE", "LOG_FORMAT", "Evaluations", "EvaluationLog", "decode_codes",
           "encode_codes"]

EVALUATIONS_FILE = "evaluations.jsonl"
LOG_FORMAT = "mnas-evaluations/1"
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_VALUE = {c: i for i, c in enumerate(_DIGITS)}


def encode_codes(codes: Codes) -> list[str]:
    """One string per row, a character per column (the choice index in base 36)."""
    table = np.frombuffer(_DIGITS.encode(), dtype=np.uint8)
    chars = table[np.asarray(codes, dtype=np.int64)]
    return [row.tobytes().decode() for row in np.ascontiguousarray(chars)]


def decode_codes(texts: Sequence[str], width: int) -> Codes:
    """The rows of :func:`encode_codes` strings.

    Raises:
        ValueError: A string of another length or with a character not a base-36 digit.
    """
    if any(len(t) != width for t in texts):
        raise ValueError(f"a code row is not {width} characters long")
    raw = np.frombuffer("".join(texts).encode(), dtype=np.uint8).reshape(len(texts), width)
    lookup = np.full(256, -1, dtype=np.int64)
    lookup[np.frombuffer(_DIGITS.encode(), dtype=np.uint8)] = np.arange(len(_DIGITS))
    out = lookup[raw]
    if (out < 0).any():
        raise ValueError("a code row holds a character that is not a base-36 digit")
    return out


@dataclass
class Evaluations:
    """Every candidate a batched search evaluated, column by column, in order.

    Attributes:
        codes: ``(n, columns)`` code rows.
        score: The estimator's scores.
        spread: Its uncertainty (zeros when it has none).
        latency_ms: Predicted latency.
        batch: The batch each candidate was evaluated in.
        seconds: Per batch, the seconds its proposal and evaluation took.
    """

    codes: Codes
    score: npt.NDArray[np.float64]
    spread: npt.NDArray[np.float64]
    latency_ms: npt.NDArray[np.float64]
    batch: npt.NDArray[np.int64]
    seconds: list[float] = field(default_factory=list)

    @classmethod
    def empty(cls, width: int) -> Evaluations:
        return cls(codes=np.zeros((0, width), dtype=np.int64), score=np.zeros(0),
                   spread=np.zeros(0), latency_ms=np.zeros(0), batch=np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.score)

    @property
    def batches(self) -> int:
        """Batches recorded."""
        return len(self.seconds)

    def extend(self, parts: Iterable[tuple[Codes, npt.NDArray[np.float64],
                                            npt.NDArray[np.float64], npt.NDArray[np.float64],
                                            float]]) -> None:
        """Append batches ``(codes, score, spread, latency_ms, seconds)`` in order."""
        parts = list(parts)
        if not parts:
            return
        first = self.batches
        self.codes = np.concatenate([self.codes, *(p[0] for p in parts)])
        self.score = np.concatenate([self.score, *(p[1] for p in parts)])
        self.spread = np.concatenate([self.spread, *(p[2] for p in parts)])
        self.latency_ms = np.concatenate([self.latency_ms, *(p[3] for p in parts)])
        self.batch = np.concatenate([self.batch, *(np.full(len(p[0]), first + i, np.int64)
                                                   for i, p in enumerate(parts))])
        self.seconds.extend(float(p[4]) for p in parts)


class EvaluationLog:
    """The append-only ``evaluations.jsonl`` of a run folder.

    Args:
        path: The file.
        codec: The search space's codec (its columns are checked against the file's).
    """

    def __init__(self, path: Path, codec: ParamCodec) -> None:
        self.path = path
        self.codec = codec
        if len(codec.sizes) and int(codec.sizes.max()) > len(_DIGITS):
            raise MnasInputError(f"space {codec.space.name!r} has a parameter with more than "
                                 f"{len(_DIGITS)} choices; a batched search cannot record it: "
                                 "use --sampler predictor")

    def _header(self) -> dict[str, Any]:
        return {"format": LOG_FORMAT, "space": self.codec.space.name,
                "columns": list(self.codec.names), "sizes": [int(s) for s in self.codec.sizes]}

    def read(self) -> Evaluations:
        """Every batch recorded so far (a torn last line is cut off first: call it holding
        the run folder's lock).

        Raises:
            MnasInputError: A damaged file, or one written for other columns.
        """
        out = Evaluations.empty(self.codec.width)
        if not self.path.exists():
            return out
        drop_torn_tail(self.path)
        parts = []
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    record = json.loads(line)
                except ValueError:
                    raise self._damaged(number, "not a JSON line") from None
                if number == 1:
                    if record != self._header():
                        raise MnasInputError(
                            f"{self.path} records another space's parameters than "
                            f"{self.codec.space.name!r} has now; restore the space, or start "
                            "a new run with another --name")
                    continue
                parts.append(self._batch(record, number))
        out.extend(parts)
        return out

    def _batch(self, record: Any, number: int) -> tuple[Codes, npt.NDArray[np.float64],
                                                         npt.NDArray[np.float64],
                                                         npt.NDArray[np.float64], float]:
        try:
            codes = decode_codes(record["codes"], self.codec.width)
            arrays = [np.asarray(record[k], dtype=np.float64)
                      for k in ("score", "spread", "latency_ms")]
            seconds = float(record["seconds"])
        except (KeyError, TypeError, ValueError) as err:
            raise self._damaged(number, str(err)) from None
        if any(a.shape != (len(codes),) for a in arrays) or (codes >= self.codec.sizes).any():
            raise self._damaged(number, "its columns do not match")
        return codes, arrays[0], arrays[1], arrays[2], seconds

    def _damaged(self, line: int, why: str) -> MnasInputError:
        return MnasInputError(f"{self.path} is damaged at line {line} ({why}); delete that line "
                              "and the ones after it to resume from the batches before, or "
                              "start a new run with another --name")

    def append(self, batch: int, codes: Codes, score: npt.NDArray[np.float64],
               spread: npt.NDArray[np.float64], latency_ms: npt.NDArray[np.float64],
               seconds: float) -> None:
        """Append one evaluated batch as one line (written and ``fsync``-ed)."""
        empty = not self.path.exists() or self.path.stat().st_size == 0
        lines = [json.dumps(self._header())] if empty else []
        lines.append(json.dumps({
            "batch": batch, "codes": encode_codes(codes),
            "score": [float(v) for v in score], "spread": [float(v) for v in spread],
            "latency_ms": [float(v) for v in latency_ms], "seconds": round(seconds, 6)}))
        data = ("\n".join(lines) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
