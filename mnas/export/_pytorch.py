"""``--format pytorch``: a standalone model file that needs torch alone.

The file is the source of :mod:`mnas.models._torchnet` (the torch-only module that
:func:`mnas.models.build` runs, so the two cannot drift apart), followed by the
architecture as a literal :class:`~mnas.models._torchnet.NetSpec` and a ``build``
function. The literal is written from :func:`mnas.models.network_spec`, value by
value through :mod:`mnas.export._source`: ints, floats, bools and allow-listed names
only; the architecture's free-text name goes, sanitised, into the docstring alone.
"""

from __future__ import annotations

import ast
import inspect
import json
from typing import NamedTuple

from mnas.arch import ACTIVATIONS, BLOCK_TYPES, HEAD_TYPES, SE_GATES, Arch
from mnas.export._source import py_bool, py_float, py_int, py_name, sanitize_text
from mnas.models import _torchnet, network_spec
from mnas.models._torchnet import BlockSpec

__all__ = ["pytorch_source"]

# the allow-list of names a literal may hold, each written as a double-quoted literal
_NAMES = {name: json.dumps(name) for name in (*ACTIVATIONS, *SE_GATES, *BLOCK_TYPES, *HEAD_TYPES)}

_DRIVER = '''

def build(weights: str | None = None, num_classes: int = SPEC.num_classes) -> MobileNet:
    """The network; with ``weights`` (a state_dict saved by ``torch.save``) loaded into it.

    The state_dict's keys are those of mnas's own model of this architecture.
    """
    return load(SPEC._replace(num_classes=num_classes), weights)


if __name__ == "__main__":
    net = build().eval()
    with torch.no_grad():
        logits = net(torch.zeros(1, 3, RESOLUTION, RESOLUTION))
    print(f"{sum(p.numel() for p in net.parameters())} parameters, output {tuple(logits.shape)}")
'''


def _literal(value: object, *, where: str) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return py_bool(value, where=where)
    if isinstance(value, int):
        return py_int(value, where=where)
    if isinstance(value, float):
        return py_float(value, where=where)
    return py_name(value, _NAMES, where=where)


def _call(value: NamedTuple, *, where: str) -> str:
    """``Type(field=literal, ...)`` for a spec tuple of plain values."""
    fields = ", ".join(f"{name}={_literal(item, where=f'{where}.{name}')}"
                       for name, item in value._asdict().items())
    return f"{type(value).__name__}({fields})"


def _stages(stages: tuple[tuple[BlockSpec, ...], ...]) -> list[str]:
    """``STAGES``: one aligned ``BlockSpec(...)`` row per block, one tuple per stage."""
    header = ("type", "in", "mid", "out", "kernel", "stride", "act", "se", "skip")
    rows = [[[_literal(item, where=f"stages[{s}][{b}].{name}")
              for name, item in block._asdict().items()]
             for b, block in enumerate(stage)] for s, stage in enumerate(stages)]
    widths = [len(h) + 1 for h in header]
    for row in (row for stage in rows for row in stage):
        widths = [max(w, len(cell) + 1) for w, cell in zip(widths, row, strict=True)]
    columns = " ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    lines = ["STAGES = (", ("    #" + " " * 13 + columns).rstrip()]
    for s, stage in enumerate(rows):
        lines.append(f"    (  # stage {s}")
        for row in stage:
            cells = " ".join((cell + ",").ljust(w) for cell, w in zip(row, widths, strict=True))
            lines.append("        BlockSpec(" + cells.rstrip()[:-1] + "),")
        lines.append("    ),")
    lines.append(")")
    return lines


def _network_source() -> str:
    """The torch-only network module's source without its docstring and ``__all__``."""
    source = inspect.getsource(_torchnet)
    lines = source.splitlines()
    drop: set[int] = set()
    for node in ast.parse(source).body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        is_future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        is_all = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        if is_doc or is_future or is_all:
            drop.update(range(node.lineno - 1, node.end_lineno or node.lineno))
    return "\n".join(line for i, line in enumerate(lines) if i not in drop).strip() + "\n"


def pytorch_source(arch: Arch) -> str:
    """The standalone PyTorch source of ``arch`` (see the module docstring)."""
    spec = network_spec(arch)
    lines = [
        '"""A MobileNet-family network, written by `mnas export --format pytorch`.',
        "",
        f"Architecture: {sanitize_text(arch.name)}",
        "",
        "Needs only PyTorch. ``build()`` returns the network; ``build(\"weights.pt\")`` also loads",
        "a state_dict saved with ``torch.save`` (its keys are those of mnas's own model).",
        "The classes are mnas's own (mnas.models._torchnet); the architecture is SPEC at the end.",
        "",
        "Blocks: MobileNetV1 depthwise separable (arXiv:1704.04861), MobileNetV2 inverted",
        "residual (arXiv:1801.04381), MobileNetV3 squeeze-excitation and h-swish",
        "(arXiv:1905.02244).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        _network_source(),
        "",
        "# The architecture, generated by mnas from its validated fields.",
        "",
        '__all__ = ["SPEC", "MobileNet", "NetSpec", "build"]',
        "",
        f"RESOLUTION = {py_int(arch.resolution, where='resolution')}  # input height = width",
        "",
        f"STEM = {_call(spec.stem, where='stem')}",
        "",
        *_stages(spec.stages),
        "",
        f"HEAD = {_call(spec.head, where='head')}",
        "",
        f"NORM = {_call(spec.norm, where='norm')}",
        "",
        "SPEC = NetSpec(stem=STEM, stages=STAGES, head=HEAD, "
        f"num_classes={py_int(spec.num_classes, where='num_classes')}, norm=NORM)",
    ]
    return "\n".join(lines) + "\n" + _DRIVER
