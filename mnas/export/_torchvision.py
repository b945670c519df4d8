"""``--format torchvision``: a small file that builds a genuine torchvision MobileNet.

The class and its arguments come from :func:`mnas.models.torchvision_compat.torchvision_config`,
which raises an error naming the first block that does not fit. Each argument is
written from checked plain data (ints, floats, bools, the ``"RE"``/``"HS"`` names).
"""

from __future__ import annotations

from typing import Any

from mnas.arch import Arch
from mnas.errors import MnasError
from mnas.export._source import py_bool, py_float, py_int, py_name, sanitize_text

__all__ = ["torchvision_source"]

_V3_ACTS = {"RE": '"RE"', "HS": '"HS"'}
_V3_COLUMNS = ("input_channels", "kernel", "expanded_channels", "out_channels", "use_se",
               "activation", "stride", "dilation", "width_mult")
_V2_COLUMNS = ("t", "c", "n", "s")


def _number(value: Any, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return py_int(value, where=where)
    return py_float(value, where=where)


def _v3_row(row: Any, where: str) -> list[str]:
    if not isinstance(row, tuple | list) or len(row) != len(_V3_COLUMNS):
        raise MnasError(f"{where}: expected {len(_V3_COLUMNS)} InvertedResidualConfig values, "
                        f"got {row!r}")
    in_ch, kernel, mid, out, use_se, act, stride, dilation, width_mult = row
    return [py_int(in_ch, where=where), py_int(kernel, where=where), py_int(mid, where=where),
            py_int(out, where=where), py_bool(use_se, where=where),
            py_name(act, _V3_ACTS, where=where), py_int(stride, where=where),
            py_int(dilation, where=where), py_float(width_mult, where=where)]


def _v2_row(row: Any, where: str) -> list[str]:
    if not isinstance(row, tuple | list) or len(row) != len(_V2_COLUMNS):
        raise MnasError(f"{where}: expected [t, c, n, s], got {row!r}")
    t, c, n, s = row
    return [_number(t, where), _number(c, where), py_int(n, where=where),
            py_int(s, where=where)]


def _aligned(rows: list[list[str]], header: tuple[str, ...], indent: str,
             wrap: tuple[str, str]) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) + 1 for r in rows]) for i, h in enumerate(header)]
    open_, close = wrap
    lines = [indent + "# " + " ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    for row in rows:
        cells = " ".join((c + ",").ljust(w) for c, w in zip(row, widths, strict=True))
        lines.append(indent + open_ + cells.rstrip()[:-1] + close + ",")
    return [line.rstrip() for line in lines]


def torchvision_source(arch: Arch) -> str:
    """A Python file whose ``build()`` returns torchvision's model of ``arch``.

    Raises:
        MnasInputError: ``arch`` does not fit torchvision's MobileNetV3 or MobileNetV2
            (the message names the first block that does not fit).
    """
    from mnas.models.torchvision_compat import torchvision_config

    config = torchvision_config(arch)
    kwargs = dict(config.kwargs)
    setting = kwargs.pop("inverted_residual_setting")
    scalars: list[str] = []
    keywords: list[str] = []
    for key in ("last_channel", "num_classes", "width_mult", "round_nearest", "dropout"):
        if key in kwargs:
            value = kwargs.pop(key)
            text = _number(value, key) if key in ("dropout", "width_mult") else py_int(
                value, where=key)
            scalars.append(f"{key.upper()} = {text}")
            if key != "last_channel":
                keywords.append(f"{key}={key.upper()}")
    if kwargs:
        raise MnasError(f"torchvision config has arguments this exporter does not know: "
                        f"{sorted(kwargs)}")
    name = sanitize_text(arch.name)
    if config.cls == "MobileNetV3":
        rows = [_v3_row(row, f"inverted_residual_setting[{i}]") for i, row in enumerate(setting)]
        imports = ["from torchvision.models import MobileNetV3",
                   "from torchvision.models.mobilenetv3 import InvertedResidualConfig"]
        table = ["# One InvertedResidualConfig per block (the rows of the MobileNetV3 paper's "
                 "tables 1 and 2).", "BNECK = ["]
        table += _aligned(rows, _V3_COLUMNS, "    ", ("(", ")"))
        table.append("]")
        call = ["    setting = [InvertedResidualConfig(*row) for row in BNECK]",
                "    model = MobileNetV3(",
                "        setting,",
                "        LAST_CHANNEL,",
                *[f"        {kw}," for kw in keywords],
                "    )"]
    elif config.cls == "MobileNetV2":
        rows = [_v2_row(row, f"inverted_residual_setting[{i}]") for i, row in enumerate(setting)]
        imports = ["from torchvision.models import MobileNetV2"]
        table = ["# t: expansion, c: output channels, n: repeats, s: stride of the first repeat",
                 "INVERTED_RESIDUAL_SETTING = ["]
        table += _aligned(rows, _V2_COLUMNS, "    ", ("[", "]"))
        table.append("]")
        call = ["    model = MobileNetV2(",
                "        inverted_residual_setting=INVERTED_RESIDUAL_SETTING,",
                *[f"        {kw}," for kw in keywords],
                "    )"]
    else:
        raise MnasError(f"unknown torchvision class {config.cls!r}")
    lines = [
        f'"""torchvision\'s {config.cls} for one architecture, written by '
        "`mnas export --format torchvision`.",
        "",
        f"Architecture: {name}",
        "",
        f"``build()`` returns a genuine ``torchvision.models.{config.cls}``;",
        "``build(\"weights.pt\")`` also loads a state_dict in torchvision's key names (written",
        "beside this file by mnas export --weights).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import torch",
        *imports,
        "",
        '__all__ = ["build"]',
        "",
        f"RESOLUTION = {py_int(arch.resolution, where='resolution')}  # input height = width",
        *scalars,
        "",
        *table,
        "",
        "",
        f"def build(weights: str | None = None) -> {config.cls}:",
        f'    """torchvision\'s {config.cls}, with the state_dict in ``weights`` if given."""',
        *call,
        "    if weights is not None:",
        '        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))',
        "    return model",
        "",
    ]
    return "\n".join(lines)
