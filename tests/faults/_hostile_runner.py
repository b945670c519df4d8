"""Runs hostile-input cases through the real CLI in one child process, each bounded.

``python -m tests.faults._hostile_runner CASES.json RESULTS.json``: the child sets
``RLIMIT_DATA`` to :data:`MEMORY_LIMIT` (a regression that allocates without bound
fails with MemoryError instead of taking the machine) and gives every case
:data:`CASE_SECONDS` of wall time (SIGALRM: a read that blocks forever, on a FIFO say,
is interrupted). One child for all cases pays torch's import once. Each result
records the exit code, stdout, stderr, seconds and the peak RSS after the case.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import resource
import signal
import sys
import time
import traceback
from typing import Any

MEMORY_LIMIT = 1536 << 20
"""Bytes of private memory (heap and anonymous maps) the child may hold: 1.5 GiB."""
CASE_SECONDS = 10.0
"""Wall time of one case."""


class CaseTimeout(BaseException):
    """Raised by SIGALRM inside a case that ran past :data:`CASE_SECONDS`."""


def _alarm(_signum: int, _frame: Any) -> None:
    raise CaseTimeout


def _clip(text: str, keep: int = 8000) -> str:
    """``text``, its middle cut out when it is long (the start and the end both matter)."""
    return text if len(text) <= 2 * keep else f"{text[:keep]} [...] {text[-keep:]}"


def _stdout(kind: str) -> tuple[Any, Any]:
    """The stdout a case writes to, and how to read it back afterwards.

    ``text``: a string buffer; ``ascii``: a real text stream that can only encode ASCII
    (``PYTHONIOENCODING=ascii``); ``broken``: a pipe whose reader has gone (``| head``).
    """
    if kind == "ascii":
        raw = io.BytesIO()
        stream = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
        return stream, lambda: (stream.flush(), raw.getvalue().decode("ascii"))[1]
    if kind == "broken":
        read_end, write_end = os.pipe()
        os.close(read_end)
        stream = io.TextIOWrapper(os.fdopen(write_end, "wb"), encoding="utf-8")
        return stream, lambda: ""
    stream = io.StringIO()
    return stream, stream.getvalue


def run_case(argv: list[str], stdout: str = "text") -> dict[str, Any]:
    """Run ``mnas ARGV`` in this process within the time bound; never raises."""
    from mnas.cli import main

    out, read_out = _stdout(stdout)
    err = io.StringIO()
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code: int | str = main(argv)
    except CaseTimeout:
        code = "timeout"
    except BaseException:  # noqa: BLE001 - a traceback is what the case must not produce
        code = "traceback"
        err.write(traceback.format_exc())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    seconds = time.monotonic() - started
    gc.collect()
    try:
        text = read_out()
    except (OSError, ValueError) as exc:  # what the case left in its stdout is unreadable
        text = f"<stdout unreadable: {exc!r}>"
    return {"code": code, "stdout": _clip(text), "stderr": _clip(err.getvalue()),
            "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(cases_path: str, results_path: str) -> None:
    """Run every ``{"id": ..., "argv": [...]}`` case of ``cases_path``; write the results."""
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT, MEMORY_LIMIT))
    signal.signal(signal.SIGALRM, _alarm)
    import mnas.cli  # noqa: F401 - imported once, outside the cases' time bound

    with open(cases_path, encoding="utf-8") as handle:
        cases = json.load(handle)
    results = {case["id"]: run_case(case["argv"], case.get("stdout", "text")) for case in cases}
    with open(results_path, "w", encoding="utf-8") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
