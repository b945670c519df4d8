"""``caused_by_interrupt``: Ctrl-C seen through the errors a library's cleanup raises."""

from __future__ import annotations

import pytest

from mnas.cli import main
from mnas.errors import caused_by_interrupt


def _cleanup_error_during_interrupt() -> FileNotFoundError:
    try:
        try:
            raise KeyboardInterrupt
        finally:
            raise FileNotFoundError(2, "No such file or directory", "study.log.lock.rename")
    except FileNotFoundError as err:
        return err


def test_an_error_raised_while_handling_ctrl_c_is_the_interrupt() -> None:
    assert caused_by_interrupt(KeyboardInterrupt())
    assert caused_by_interrupt(_cleanup_error_during_interrupt())
    assert not caused_by_interrupt(FileNotFoundError(2, "No such file"))


def test_the_cli_reports_it_as_an_interrupt(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import mnas.cli._zoo as zoo

    def interrupted(_args: object) -> int:
        raise _cleanup_error_during_interrupt()

    def register(subparsers):  # the real CLI, with a `zoo` command interrupted in cleanup
        subparsers.add_parser("zoo").set_defaults(func=interrupted)

    monkeypatch.setattr(zoo, "register", register)
    assert main(["zoo"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("error: interrupted") and len(err.strip().splitlines()) == 1
