"""Exceptions raised by mnas.

Every error meant for a user derives from :class:`MnasError`. Input problems
(:class:`MnasInputError`, also a :class:`ValueError`) make the CLI exit with
code 2 and a single line naming the problem and the fix.
"""

from __future__ import annotations

__all__ = ["MnasError", "MnasInputError", "MissingLatencyKeyError", "caused_by_interrupt"]


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


class MnasError(Exception):
    """Base class of every error mnas raises on purpose.

    Its text is always one line: line breaks that reach a message from user input (a
    field name in a file, say) are shown escaped, as ``\\n``.
    """

    def __str__(self) -> str:
        return _one_line(super().__str__())


class MnasInputError(MnasError, ValueError):
    """Bad user input: a malformed file, an unknown name, an impossible value.

    The message names the offending field or file, the value received and what
    is allowed, so that the CLI can print it as one line and exit with code 2.
    """


class MissingLatencyKeyError(MnasInputError, KeyError):
    """A latency table has no entry for an operator key the prediction needs."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return _one_line(str(self.args[0])) if self.args else ""


def caused_by_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is Ctrl-C, or an error raised while Ctrl-C was being handled.

    A KeyboardInterrupt that lands inside a library's cleanup (Optuna releasing its journal
    lock, say) can surface as that cleanup's own error (a FileNotFoundError) with the
    interrupt as its context; it is still the user's Ctrl-C, not a failure.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
