"""Helpers shared by CLI subcommands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mnas.arch import Arch, load_arch
from mnas.errors import MnasInputError

__all__ = ["add_command_group", "positive_int", "print_json", "resolve_arch"]


def resolve_arch(name_or_path: str) -> Arch:
    """An architecture from a zoo name or an arch file path.

    Raises:
        MnasInputError: Neither a zoo name nor a readable arch file.
    """
    from mnas.models import get_arch, list_archs

    if name_or_path in list_archs():
        return get_arch(name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists() or "/" in name_or_path:
        return load_arch(path)
    raise MnasInputError(
        f"unknown architecture {name_or_path!r}: not a zoo name and not a file; see "
        "`mnas zoo list` or pass a path to an mnas-arch/1 JSON file")


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def print_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    json.dump(data, sys.stdout, indent=1)
    sys.stdout.write("\n")


def add_command_group(subparsers: Any, name: str, *, help: str, description: str | None = None,
                      metavar: str = "VERB") -> Any:
    """Add command ``name`` whose own subcommands (verbs) are required; returns their
    subparsers (``args.<name>_command`` names the verb given)."""
    parser = subparsers.add_parser(name, help=help, description=description)
    verbs = parser.add_subparsers(dest=f"{name}_command", metavar=metavar,
                                  parser_class=type(parser))
    verbs.required = True
    return verbs
