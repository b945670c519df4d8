"""Every ``mnas ...`` command line the README quotes parses with the current CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from mnas.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.S | re.M)
_COMMAND = re.compile(r"^\s*(?:\.venv/bin/)?(mnas\s.*)$")


def readme_commands(text: str) -> list[str]:
    """The ``mnas`` command lines of the README's code blocks: fenced blocks and blocks
    indented by four spaces, continuation lines joined, comments dropped."""
    blocks = [m.group(1) for m in _FENCE.finditer(text)]
    outside = _FENCE.sub("", text)
    blocks += [m.group(0) for m in re.finditer(r"(?:^ {4}\S.*\n?)+", outside, re.M)]
    commands = []
    for block in blocks:
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            match = _COMMAND.match(line)
            if match:
                commands.append(match.group(1))
    return commands


def test_the_readme_quotes_commands() -> None:
    commands = readme_commands(README.read_text(encoding="utf-8"))
    assert len(commands) >= 10
    assert any(c.startswith("mnas search --target pixel4 --budget 20ms") for c in commands)


@pytest.mark.parametrize("command", readme_commands(README.read_text(encoding="utf-8")))
def test_readme_command_parses(command: str) -> None:
    argv = shlex.split(command, comments=True)
    assert argv[0] == "mnas"
    build_parser().parse_args(argv[1:])  # a usage error raises with the reason


def test_extraction_joins_continuations_and_drops_comments() -> None:
    text = ("```bash\nmnas search --target pixel4 \\\n    --budget 4ms   # a comment\n"
            "python benchmarks/x.py\n```\n\n    .venv/bin/mnas zoo list\n")
    assert readme_commands(text) == ["mnas search --target pixel4  --budget 4ms   # a comment",
                                     "mnas zoo list"]
