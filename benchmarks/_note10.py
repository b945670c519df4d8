"""once-for-all's Samsung Galaxy Note10 lookup tables as mnas operator keys.

The tables (Cai et al., "Once-for-All", ICLR 2020; repository han-cai/files, folder
``ofa/note10``; one YAML per input resolution, ``{key: {count, mean, std}}`` in ms, TFLite
fp32, batch 1) time every unit of the OFA-MobileNetV3 w1.2 space. Their keys map to mnas
keys (:class:`mnas.latency.OpKey`):

* ``expanded_conv-input:HxWxC-output:HxWxC'-expand:MID-kernel:k-stride:s-idskip:0|1-se:0|1-hs:0|1``
  is a block: ``MID == C`` is OFA's first (expand-ratio 1) block, a depthwise-separable
  ``ds`` block, else an ``ir`` block; SE is ``make_divisible(MID / 4, 8)`` with ReLU and
  hard-sigmoid (OFA's ``SEModule``); ``hs:1`` is h-swish, else ReLU.
* ``Conv`` is the stem (3x3, stride 2, h-swish), ``Conv_1`` the 1x1 conv to 1152 (a ``cn``
  unit), and ``AvgPool2D + Conv_2 + Logits`` form the MobileNetV3 head (pool, 1152 ->
  1536 with h-swish, 1536 -> 1000): one mnas unit, the sum of the three.

Read by ``fit_pixel4.py`` (the device model behind ``pixel4``), ``note10_table.py`` (the
shipped ``note10`` target) and ``search_vs_evolution.py``. The YAML files stay in
``../shared/data/ofa_note10_lut``; only numbers derived from them are committed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from mnas.arch import make_divisible
from mnas.latency import OpKey

__all__ = ["NOTE10_DIR", "RESOLUTIONS", "Note10Entry", "read_note10", "read_note10_file"]

NOTE10_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "ofa_note10_lut"
#: The resolutions of the tables in ``../shared`` (208 px is kept back as a test).
RESOLUTIONS = (160, 176, 192, 224)
_BLOCK = re.compile(
    r"expanded_conv-input:(\d+)x\d+x(\d+)-output:(\d+)x\d+x(\d+)-expand:(\d+)-kernel:(\d+)"
    r"-stride:(\d+)-idskip:([01])-se:([01])-hs:([01])")
_SHAPE = re.compile(r"(\w+)-input:(\d+)x\d+x(\d+)-output:(?:(\d+)x\d+x)?(\d+)")


@dataclass(frozen=True)
class Note10Entry:
    """One unit of a Note10 table.

    Attributes:
        key: The mnas operator key.
        mean_ms: OFA's mean over ``count`` runs (the head: the sum of its three parts).
        std_ms: Their standard deviation (the head: the root sum of squares).
        count: Runs timed (the head: the fewest of its three parts).
        resolution: The input resolution of the table it comes from.
    """

    key: OpKey
    mean_ms: float
    std_ms: float
    count: int
    resolution: int


def read_note10_file(path: Path, resolution: int) -> list[Note10Entry]:
    """The units of one Note10 table file (``yaml.safe_load``; nothing is executed).

    Raises:
        ValueError: A key of an unknown form, or no head.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: list[Note10Entry] = []
    head: list[tuple[float, float, int]] = []
    head_in: tuple[int, int] | None = None
    hidden = classes = 0
    for name, stats in data.items():
        mean, std, count = float(stats["mean"]), float(stats["std"]), int(stats["count"])
        m = _BLOCK.fullmatch(name)
        if m:
            h, c, oh, oc, mid, k, s, skip, se, hs = map(int, m.groups())
            key = OpKey(kind="ds" if mid == c else "ir", in_size=h, in_channels=c,
                        out_size=oh, out_channels=oc, mid_channels=mid, kernel=k, stride=s,
                        skip=bool(skip), se_channels=make_divisible(mid / 4, 8) if se else 0,
                        se_act="relu", se_gate="hard_sigmoid" if se else "sigmoid",
                        act="hswish" if hs else "relu")
            out.append(Note10Entry(key, mean, std, count, resolution))
            continue
        m = _SHAPE.fullmatch(name)
        if not m:
            raise ValueError(f"{path}: unknown Note10 key {name!r}")
        op, h, c, oh, oc = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4), int(
            m.group(5))
        if op == "Conv":
            out.append(Note10Entry(OpKey(kind="stem", in_size=h, in_channels=c,
                                         out_size=int(oh), out_channels=oc, kernel=3, stride=2,
                                         act="hswish"), mean, std, count, resolution))
        elif op == "Conv_1":
            out.append(Note10Entry(OpKey(kind="cn", in_size=h, in_channels=c, out_size=int(oh),
                                         out_channels=oc, mid_channels=oc, kernel=1, stride=1,
                                         act="hswish"), mean, std, count, resolution))
        elif op in ("AvgPool2D", "Conv_2", "Logits"):
            head.append((mean, std, count))
            if op == "AvgPool2D":
                head_in = (h, c)
            elif op == "Conv_2":
                hidden = oc
            else:
                classes = oc
        else:
            raise ValueError(f"{path}: unknown Note10 unit {op!r} in {name!r}")
    if head_in is None or len(head) != 3:
        raise ValueError(f"{path}: the head needs AvgPool2D, Conv_2 and Logits entries")
    out.append(Note10Entry(
        OpKey(kind="head", in_size=head_in[0], in_channels=head_in[1], out_size=1,
              out_channels=classes, head_type="pool_conv_act", hidden=hidden, act="hswish"),
        sum(m for m, _, _ in head), math.sqrt(sum(s * s for _, s, _ in head)),
        min(n for _, _, n in head), resolution))
    return out


def read_note10(folder: Path = NOTE10_DIR,
                resolutions: tuple[int, ...] = RESOLUTIONS) -> list[Note10Entry]:
    """The units of the tables ``{folder}/{r}_lookup_table.yaml`` for each resolution ``r``."""
    out: list[Note10Entry] = []
    for res in resolutions:
        out += read_note10_file(folder / f"{res}_lookup_table.yaml", res)
    return out
