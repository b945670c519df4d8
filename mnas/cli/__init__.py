"""The ``mnas`` command line.

Each subcommand lives in its own module with a ``register(subparsers)`` function.
Exit codes: 0 success, 2 bad usage or input (one line naming the problem and the
fix, no traceback), 1 any other failure.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import io
import os
import sys
from collections.abc import Callable, Sequence

from mnas.errors import MnasError, MnasInputError, caused_by_interrupt

__all__ = ["main"]

_SUBCOMMAND_MODULES = (
    "mnas.cli._zoo",
    "mnas.cli._arch",
    "mnas.cli._space",
    "mnas.cli._latency",
    "mnas.cli._predict",
    "mnas.cli._score",
    "mnas.cli._accuracy",
    "mnas.cli._search",
    "mnas.cli._report",
    "mnas.cli._export",
    "mnas.cli._weights",
    "mnas.cli._evaluate",
)


class _UsageError(Exception):
    pass


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit code 2.

    Attributes:
        describe: Computes the description when help is printed (a description that
            needs heavy imports, such as the proxy registry, costs only that help).
    """

    describe: Callable[[], str] | None = None

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")

    def format_help(self) -> str:
        if self.describe is not None:
            self.description, self.describe = self.describe(), None
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    """The full ``mnas`` argument parser."""
    parser = OneLineParser(
        prog="mnas",
        description="Hardware-aware neural architecture search for MobileNet-family networks.",
        epilog="Main job: mnas search --target pixel4 --budget 20ms",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=OneLineParser)
    subparsers.required = True
    for module_name in _SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def _os_error_hint(err: OSError) -> tuple[int, str]:
    """Exit code and fix for a filesystem error (files already written stay as they were)."""
    if isinstance(err, NotADirectoryError | FileExistsError | IsADirectoryError):
        return 2, "a path given on the command line is of the wrong kind; pass another path"
    if err.errno == errno.ENOSPC:
        return 1, "free some disk space and rerun the same command (finished work was kept)"
    if err.errno == errno.EFBIG:
        return 1, "the file-size limit was reached (ulimit -f); raise it and rerun"
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return 1, "choose a writable folder or fix its permissions; nothing saved was changed"
    return 1, "check the path and rerun; files already saved were not changed"


def _tolerant_streams() -> None:
    """Let stdout and stderr write any text: a character the terminal's encoding lacks
    (``PYTHONIOENCODING=ascii`` and a non-ASCII arch name) is shown escaped, not raised."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # pragma: no cover - a closed or odd stream
                pass


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so that the interpreter's final
    flush does not report the same broken pipe again (Python's documented recipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # not a real file descriptor (captured in tests): nothing will flush it


_OUT_OF_MEMORY = ("error: out of memory (the network or input is too large for this machine); "
                  "use a smaller resolution, width or input, or a machine with more memory")


def _interrupted() -> int:
    print("error: interrupted; rerun the same command to resume where it stopped",
          file=sys.stderr)
    return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code.

    Exit codes: 0 success, 2 bad usage or input, 1 other failures, 130 interrupted
    (Ctrl-C, one line), 141 stdout closed by its reader (``mnas ... | head``: quiet, as
    for any Unix tool killed by SIGPIPE).
    """
    _tolerant_streams()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        result = args.func(args)
        sys.stdout.flush()  # a reader that went away is noticed here, not at exit
        return int(result or 0)
    except _UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except MnasInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except MnasError as err:
        if caused_by_interrupt(err):
            return _interrupted()
        print(f"error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except OSError as err:
        if caused_by_interrupt(err):
            return _interrupted()
        code, hint = _os_error_hint(err)
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}; {hint}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        return _interrupted()
    except MemoryError:
        print(_OUT_OF_MEMORY, file=sys.stderr)
        return 1
    except RuntimeError as err:
        if "can't allocate memory" not in str(err):  # torch's CPU allocator running out
            raise
        print(_OUT_OF_MEMORY, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
