"""Size bounds on everything mnas reads, and the one bounded way to read an input file.

Every bound lives here and is stated, with its reason, in the README ("Input bounds").
They are checked where a file is loaded, before anything is built or allocated, so that
a hostile or mistaken input gets one line naming the file and the bound instead of
exhausting memory, hanging, or a traceback. Each is generous for real networks:
several times the largest value in a published MobileNet/EfficientNet-family network.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from mnas.errors import MnasInputError

__all__ = [
    "MAX_BLOCKS", "MAX_CHANNELS", "MAX_CHOICES", "MAX_CLASSES", "MAX_DOC_BYTES",
    "MAX_EXPANSION", "MAX_INT_DIGITS", "MAX_KERNEL", "MAX_LATENCY_MS", "MAX_NESTING",
    "MAX_REPEATS", "MAX_RESOLUTION", "MAX_SPACE_LOG10", "MAX_STAGES", "MAX_STRIDE",
    "MAX_TABLE_BYTES", "MAX_TOKEN_CHARS", "MAX_YAML_NODES", "check_regular_file",
    "check_tree", "load_json_file", "load_yaml_text", "parse_json", "read_input_bytes",
    "read_input_text",
]

#: Channels of any layer (stem, block output, expanded mid, head). Largest in the zoo
#: family: 1,280 (head), 3,840 (EfficientNet-B7 mid); one 1x1 conv at the bound holds
#: 67 M weights (256 MB).
MAX_CHANNELS = 8192
#: ``e`` of an inverted-residual block (real networks use 1-6; spaces allow up to 16).
MAX_EXPANSION = 32.0
#: ``r`` of one token and the ``depth`` of one space stage (real stages: 1-8 blocks).
MAX_REPEATS = 64
#: Blocks of one network after repeats are expanded (MobileNetV3-Large: 15).
MAX_BLOCKS = 1024
#: Input resolution (ImageNet models: 128-600; detection backbones: up to 1,536).
MAX_RESOLUTION = 2048
#: Classifier outputs (ImageNet-21k: 21,843).
MAX_CLASSES = 100_000
#: Convolution kernel size (real networks: 3-7; some spaces try 9).
MAX_KERNEL = 15
#: Stride of a block or the stem (real: 1-2; patchify stems: 4).
MAX_STRIDE = 8
#: Characters of one block token (the longest real one,
#: ``ir_r1_k5_s2_e6_c160_se0.25_nhs``, has 30).
MAX_TOKEN_CHARS = 200
#: Searchable stages of one space (real spaces: 5-7).
MAX_STAGES = 64
#: Items of one choice list in a space (kernel, expansion, depth, ...; real: 2-5).
MAX_CHOICES = 64
#: ``log10`` of the number of architectures in a space (the default space: about 10^19).
MAX_SPACE_LOG10 = 1000.0
#: A latency table entry or a calibration intercept, in ms (about 17 minutes per
#: operator: any real one is under a second).
MAX_LATENCY_MS = 1e6
#: Bytes read from an arch, space, run config or measurement file (real: a few KB).
MAX_DOC_BYTES = 1 << 20
#: Bytes read from a latency table (the host table of 4,072 keys is 0.9 MB).
MAX_TABLE_BYTES = 32 << 20
#: Nesting depth of a JSON or YAML document (mnas formats nest at most 4 deep).
MAX_NESTING = 32
#: Digits of one integer in a JSON or YAML file (real values have at most 10).
MAX_INT_DIGITS = 18
#: YAML nodes, and nodes after aliases are expanded (a space file has a few hundred):
#: stops "billion laughs" documents whose aliases expand exponentially, and keeps
#: PyYAML's pure-Python parse of any accepted file within a few seconds.
MAX_YAML_NODES = 20_000

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _a(what: str) -> str:
    """``what`` with its indefinite article (``an arch file``, ``a latency table``)."""
    return f"{'an' if what[:1] in 'aeiou' else 'a'} {what}"


def read_input_bytes(path: str | os.PathLike[str], *, what: str, limit: int,
                     missing_hint: str = "pass an existing file") -> bytes:
    """Read a whole input file, refusing anything but a regular file of at most ``limit`` bytes.

    The file is opened without blocking (a FIFO with no writer cannot hang the read) and
    checked with ``fstat`` before a byte is read.

    Args:
        path: The file.
        what: What the file is, for messages (``"arch file"``).
        limit: Largest accepted size in bytes.
        missing_hint: The fix to suggest when the file does not exist.

    Returns:
        The file's bytes.

    Raises:
        MnasInputError: Missing, not a regular file, larger than ``limit``, or unreadable;
            the message names the file and what it is.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise MnasInputError(f"{path}: no such {what}; {missing_hint}") from None
    except IsADirectoryError:
        raise MnasInputError(f"{path}: expected {_a(what)}, got a directory; pass a regular "
                             "file") from None
    except OSError as err:
        raise MnasInputError(f"{path}: cannot read {what} ({err.strerror or err}); check its "
                             "permissions") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
            raise MnasInputError(f"{path}: expected {_a(what)}, got {kind}; pass a regular "
                                 "file")
        if info.st_size > limit:
            raise MnasInputError(f"{path}: {what} is {info.st_size:,} bytes, over the "
                                 f"{limit:,}-byte bound; pass the right file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as err:
        raise MnasInputError(f"{path}: cannot read {what} ({err.strerror or err})") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # grew while being read
        raise MnasInputError(f"{path}: {what} is over the {limit:,}-byte bound; pass the "
                             "right file")
    return data


def check_regular_file(path: str | os.PathLike[str], *, what: str,
                       missing_hint: str = "pass an existing file") -> Path:
    """Refuse a path that is missing or not a regular file (for readers that open the file
    themselves, such as ``torch.load``); ``stat`` never blocks, even on a FIFO.

    Raises:
        MnasInputError: Naming the path and what it is.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise MnasInputError(f"{path}: no such {what}; {missing_hint}") from None
    except OSError as err:
        raise MnasInputError(f"{path}: cannot read {what} ({err.strerror or err})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
        raise MnasInputError(f"{path}: expected {_a(what)}, got {kind}; pass a regular file")
    return path


def read_input_text(path: str | os.PathLike[str], *, what: str, limit: int = MAX_DOC_BYTES,
                    missing_hint: str = "pass an existing file") -> str:
    """:func:`read_input_bytes` decoded as UTF-8 (a leading byte-order mark is dropped)."""
    data = read_input_bytes(path, what=what, limit=limit, missing_hint=missing_hint)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise MnasInputError(f"{path}: {what} is not UTF-8 text (byte {err.start}); pass the "
                             "right file") from None


def _parse_int(source: str) -> Any:
    def parse(text: str) -> int:
        if len(text.lstrip("-")) > MAX_INT_DIGITS:
            raise MnasInputError(f"{source}: an integer has {len(text.lstrip('-'))} digits, over "
                                 f"the bound of {MAX_INT_DIGITS}; fix the file")
        return int(text)
    return parse


def check_tree(data: Any, source: str) -> Any:
    """Check parsed JSON/YAML content: nesting depth, integer size, text encodable as UTF-8.

    Iterative, so it is safe on any depth. Returns ``data`` unchanged.

    Raises:
        MnasInputError: Naming ``source`` and the bound broken.
    """
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_NESTING:
                raise MnasInputError(f"{source}: nested more than {MAX_NESTING} levels deep; "
                                     "fix the file")
            values = list(item.keys()) + list(item.values()) if isinstance(item, dict) else item
            stack.extend((value, depth + 1) for value in values)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise MnasInputError(f"{source}: text {item[:40]!r} holds a lone surrogate "
                                     "(not valid Unicode); fix the file") from None
        elif (isinstance(item, int) and not isinstance(item, bool)
              and abs(item) >= 10 ** MAX_INT_DIGITS):
            raise MnasInputError(f"{source}: an integer has more than {MAX_INT_DIGITS} digits; "
                                 "fix the file")
    return data


def parse_json(text: str, source: str, *, hint: str = "fix the file") -> Any:
    """Parse JSON text within the bounds (see :func:`check_tree`); errors name ``source``."""
    try:
        data = json.loads(text, parse_int=_parse_int(source))
    except json.JSONDecodeError as err:
        raise MnasInputError(f"{source}: not valid JSON ({err.msg} at line {err.lineno}, "
                             f"column {err.colno}); {hint}") from None
    except RecursionError:
        raise MnasInputError(f"{source}: nested more than {MAX_NESTING} levels deep; fix the "
                             "file") from None
    return check_tree(data, source)


def load_json_file(path: str | os.PathLike[str], *, what: str, limit: int = MAX_DOC_BYTES,
                   missing_hint: str = "pass an existing file", hint: str = "fix the file"
                   ) -> Any:
    """Read and parse a JSON input file within every bound of this module."""
    text = read_input_text(path, what=what, limit=limit, missing_hint=missing_hint)
    return parse_json(text, str(path), hint=hint)


def _count_nodes(root: yaml.Node, source: str) -> None:
    """Refuse a composed YAML graph whose expansion is over :data:`MAX_YAML_NODES` nodes
    or :data:`MAX_NESTING` deep (aliases count once per use, as loading expands them)."""
    count = 0
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_YAML_NODES:
            raise MnasInputError(f"{source}: YAML expands to more than {MAX_YAML_NODES:,} "
                                 "nodes (aliases of aliases?); fix the file")
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if depth > MAX_NESTING:
                raise MnasInputError(f"{source}: nested more than {MAX_NESTING} levels deep; "
                                     "fix the file")
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    stack.append((key, depth + 1))
                    stack.append((value, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in node.value)
        elif (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":int")
              and len(node.value.lstrip("+-")) > MAX_INT_DIGITS):
            raise MnasInputError(f"{source}: an integer has more than {MAX_INT_DIGITS} digits; "
                                 "fix the file")


class _CountingLoader(yaml.SafeLoader):
    """The safe loader, refusing a document past :data:`MAX_YAML_NODES` nodes or
    :data:`MAX_NESTING` levels while it is composed (not after: a 1 MiB flat list would
    take PyYAML a minute to compose)."""

    def __init__(self, text: str, source: str) -> None:
        super().__init__(text)
        self._source = source
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # PyYAML's hook
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            raise MnasInputError(f"{self._source}: YAML has more than {MAX_YAML_NODES:,} "
                                 "nodes; fix the file")
        self._depth += 1
        try:
            if self._depth > MAX_NESTING + 1:
                raise MnasInputError(f"{self._source}: nested more than {MAX_NESTING} levels "
                                     "deep; fix the file")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml_text(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """Parse YAML with the safe loader within the bounds; returns (data, root node).

    The document is composed once, its expanded size and depth checked, then constructed
    from the same nodes (no second parse).

    Raises:
        MnasInputError: Malformed YAML (with its line), or a bound broken.
    """
    loader = None
    try:
        loader = _CountingLoader(text, source)  # the reader checks the characters right away
        node = loader.get_single_node()
        if node is None:
            return None, None
        _count_nodes(node, source)
        data = loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise MnasInputError(f"{source}{where}: malformed YAML ({problem}); fix the file"
                             ) from None
    except RecursionError:
        raise MnasInputError(f"{source}: nested more than {MAX_NESTING} levels deep; fix "
                             "the file") from None
    finally:
        if loader is not None:
            loader.dispose()
    return check_tree(data, source), node
