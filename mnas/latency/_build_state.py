"""Where a table's build stands, kept in its header, and the one line a command prints about it.

A host table goes through: ``estimate`` (the host model, fitted in about a minute:
:mod:`mnas.latency._host_model`), ``running`` (``mnas latency build`` is adding measured
entries; written with the builder's process id at every checkpoint), then ``complete``
(every key asked for measured) or ``stopped`` (its ``--time-budget`` ran out first). A
``running`` table whose process is gone was **interrupted** (killed, Ctrl-C, a crash): the
entries it saved are measured, the rest still come from the host model, and rerunning the
recorded command resumes it.

The record is the header's ``build`` field::

    "build": {"state": "running", "command": "mnas latency build --target host",
              "keys": 4297, "measured": 1095, "pid": 4242, "host": "vm",
              "time_budget_s": null}
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnas.latency._table import LatencyTable

__all__ = ["BUILD_FIELD", "STATES", "BuildState", "build_record", "build_state", "status_note"]

BUILD_FIELD = "build"
STATES = ("estimate", "running", "stopped", "complete")


@dataclass(frozen=True, kw_only=True)
class BuildState:
    """A table's build, as recorded and as it stands now.

    Attributes:
        state: ``estimate``, ``running`` (its process is alive), ``interrupted`` (recorded
            as running, its process is gone), ``stopped`` (time budget) or ``complete``.
        command: The command that (re)builds the table.
        keys: Keys the build was asked to measure.
        measured: Keys of those measured at least once when the record was written.
        pid: The building process (``running``).
        time_budget_s: The budget the build had, if any.
    """

    state: str
    command: str
    keys: int = 0
    measured: int = 0
    pid: int | None = None
    time_budget_s: float | None = None


def build_record(state: str, *, command: str, keys: int = 0, measured: int = 0,
                 time_budget_s: float | None = None) -> dict[str, Any]:
    """The header record of a build in ``state`` (a running one names this process)."""
    if state not in STATES:
        raise ValueError(f"build state must be one of {', '.join(STATES)}, got {state!r}")
    record: dict[str, Any] = {"state": state, "command": command, "keys": keys,
                              "measured": measured, "time_budget_s": time_budget_s}
    if state == "running":
        record.update(pid=os.getpid(), host=socket.gethostname())
    return record


def _alive(pid: int, host: str) -> bool:
    """Whether process ``pid`` on ``host`` still runs (another host's: assume it does)."""
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process holds the id
    try:  # a recycled id: not a Python process any more
        return b"python" in Path(f"/proc/{pid}/cmdline").read_bytes() or b"mnas" in Path(
            f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def build_state(table: LatencyTable) -> BuildState | None:
    """The table's build record, ``running`` turned ``interrupted`` when its process is gone;
    None for a table without one (built before builds were recorded, or shipped)."""
    record = table.header.extra.get(BUILD_FIELD)
    if not isinstance(record, dict) or record.get("state") not in STATES:
        return None
    state = str(record["state"])
    pid = record.get("pid")
    if state == "running" and isinstance(pid, int) and not _alive(pid, str(record.get("host"))):
        state = "interrupted"
    budget = record.get("time_budget_s")
    return BuildState(state=state, command=str(record.get("command") or
                                               "mnas latency build --target host"),
                      keys=int(record.get("keys") or 0), measured=int(record.get("measured") or 0),
                      pid=pid if isinstance(pid, int) else None,
                      time_budget_s=float(budget) if isinstance(budget, int | float) else None)


def _band_text(table: LatencyTable) -> str:
    band = table.header.extra.get("model_error_band", table.header.error_band)
    return f"±{float(band) * 100:.0f}%"


def status_note(table: LatencyTable) -> str | None:
    """One line about an unfinished build of ``table`` (None when it is complete or has no
    record): what its predictions are made of and the command that finishes it."""
    state = build_state(table)
    if state is None or state.state == "complete":
        return None
    where = table.path or table.header.target
    done = (f"{state.measured:,} of {state.keys:,} keys measured, the rest estimated "
            f"{_band_text(table)}" if state.keys else "")
    if state.state == "interrupted":
        return (f"the latency build of {where} was interrupted ({done}); rerun "
                f"`{state.command}` to finish it")
    if state.state == "running":
        return (f"a latency build of {where} is running (process {state.pid}; {done}); "
                "predictions use what it has saved so far")
    if state.state == "stopped":
        budget = (f"its {state.time_budget_s / 60:g} min time budget"
                  if state.time_budget_s else "its time budget")
        return (f"{where} was built within {budget} ({done}); `{state.command}` measures "
                "the rest")
    return (f"{where} is an estimate from this machine's own speed ({_band_text(table)} on "
            f"networks it did not fit); `{state.command}` measures it")
