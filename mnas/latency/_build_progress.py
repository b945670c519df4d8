"""What a table build shows while it works: a line from its first second, then a bar with an
honest time left.

The bar counts timings (one per key and pass). How many a build makes is not known in
advance (a key is re-timed only while its fastest run keeps improving), so the total shown
is the plan: every key's remaining passes up to the minimum, plus the re-timings the keys
seen so far have needed. Time left is that plan at the measured seconds per timing (an
average of the recent ones), plus the whole networks still to time, capped by the time
budget. Without a terminal it draws nothing unless ``MNAS_PROGRESS=1`` (a log file).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

__all__ = ["BuildProgress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``45 s``, ``4 min 10 s``, ``2 h 05 min``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class BuildProgress:
    """The build's status line and bar on stderr (silent when disabled).

    Args:
        enabled: Show anything at all.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and (sys.stderr.isatty() or os.environ.get("MNAS_PROGRESS") == "1")
        self._progress: Any = None
        self._task: Any = None
        self._convert: Any = None
        self._rate: float | None = None
        self._last: float | None = None
        self._done = 0
        self._planned = 0
        self._networks_s = 0.0
        self._deadline: float | None = None

    def __enter__(self) -> BuildProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            console = Console(stderr=True)
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
                                      console=console, transient=False,
                                      disable=not console.is_terminal
                                      and os.environ.get("MNAS_PROGRESS") != "1")
            self._progress.start()
            self._task = self._progress.add_task("starting", total=None, detail="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    # ---------------------------------------------------------------- text
    def status(self, text: str) -> None:
        """What the build is doing now (shown at once)."""
        if self._progress is not None:
            self._progress.update(self._task, description=text)

    def note(self, text: str) -> None:
        """A line that stays (a resume summary, the end of a phase)."""
        if self._progress is not None:
            self._progress.console.print(text)

    # ---------------------------------------------------------------- timings
    def plan(self, *, done: int, planned: int, networks_s: float,
             deadline: float | None) -> None:
        """Timings done and planned in all, seconds of whole networks still to come, and the
        monotonic deadline of the time budget."""
        self._done, self._planned = done, max(planned, done)
        self._networks_s, self._deadline = networks_s, deadline
        self._refresh()

    def timed(self, drift: float, pass_index: int) -> None:
        """One timing finished (``drift``: the sentinel ratio; ``pass_index``: 0-based)."""
        now = time.monotonic()
        if self._last is not None:
            step = now - self._last
            self._rate = step if self._rate is None else 0.95 * self._rate + 0.05 * step
        self._last = now
        self._done += 1
        self._planned = max(self._planned, self._done)
        self._refresh(f"pass {pass_index + 1}, drift {(drift - 1) * 100:+.1f}%")

    def pause(self) -> None:
        """Timing stops for a while (networks): the next step is not a timing's length."""
        self._last = None

    def seconds_left(self) -> float | None:
        """Time left by the plan (None before the first timings)."""
        if self._rate is None:
            return None
        left = (self._planned - self._done) * self._rate + self._networks_s
        if self._deadline is not None:
            left = min(left, max(0.0, self._deadline - time.monotonic()))
        return left

    def _refresh(self, detail: str = "") -> None:
        if self._progress is None:
            return
        left = self.seconds_left()
        eta = "time left: measuring" if left is None else f"left {format_duration(left)}"
        self._progress.update(self._task, completed=self._done, total=self._planned,
                              detail=f"{detail}  {eta}".strip())

    def converting(self, done: int, total: int) -> None:
        """Conversions ahead of timing: ``done`` of ``total`` (a task shown once needed)."""
        if self._progress is None or total == 0:
            return
        if self._convert is None:
            self._convert = self._progress.add_task("converting", total=total, detail="")
        self._progress.update(self._convert, completed=done, total=total)
