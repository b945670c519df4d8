"""Fit the phone-CPU device model behind the shipped ``pixel4`` tables, and write them.

Sources (cited in the tables' notes and in benchmarks/RESULTS-pixel4.md):

* Per-block: once-for-all's Samsung Galaxy Note10 lookup tables (Cai et al., ICLR 2020;
  repository han-cai/files, ofa/note10), TFLite fp32, batch 1, one large core of the
  Snapdragon 855 -- the Pixel 4's SoC. Read from ``../shared/data/ofa_note10_lut/``.
* Whole network: ``shared/reference/published.md`` (TF-slim MobileNet README single-core
  Pixel 1/2/3 figures; TFLite benchmarks.md and the EfficientNet-Lite README for Pixel 4,
  4 threads).

Only fitted constants are committed (in the tables' ``device_model``); the data stays in
``../shared``. Run from the project root::

    .venv/bin/python benchmarks/fit_pixel4.py            # fit, print, check
    .venv/bin/python benchmarks/fit_pixel4.py --write    # also (re)write latency_tables/pixel4*.json
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.optimize import least_squares

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mnas.arch import make_divisible  # noqa: E402
from mnas.latency._device_model import PhoneCpuModel  # noqa: E402
from mnas.latency._opkey import OpKey  # noqa: E402

NOTE10_DIR = ROOT.parent / "shared" / "data" / "ofa_note10_lut"
RESOLUTIONS = (160, 176, 192, 224)
_BLOCK = re.compile(
    r"expanded_conv-input:(\d+)x\d+x(\d+)-output:(\d+)x\d+x(\d+)-expand:(\d+)-kernel:(\d+)"
    r"-stride:(\d+)-idskip:([01])-se:([01])-hs:([01])")
_SHAPE = re.compile(r"(\w+)-input:(\d+)x\d+x(\d+)-output:(?:(\d+)x\d+x)?(\d+)")


def note10_entries(folder: Path = NOTE10_DIR) -> list[tuple[OpKey, float, int]]:
    """The Note10 per-block table as ``(OpKey, mean_ms, resolution)``.

    OFA-MobileNetV3 w1.2 blocks map to mnas keys: ``expand == input channels`` is OFA's
    first (expand-ratio 1) block, a depthwise-separable ``ds`` block; SE is
    ``make_divisible(mid / 4, 8)`` with ReLU and hard-sigmoid (OFA's ``SEModule``);
    ``hs:1`` is h-swish, else ReLU. ``Conv`` is the stem (h-swish), ``Conv_1`` the 1x1
    conv to 1152 (a ``cn`` unit), and ``AvgPool2D + Conv_2 + Logits`` form the
    MobileNetV3 head (pool, 1152 -> 1536 with h-swish, 1536 -> 1000).
    """
    out: list[tuple[OpKey, float, int]] = []
    for res in RESOLUTIONS:
        path = folder / f"{res}_lookup_table.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        head_ms = 0.0
        head_in: tuple[int, int] | None = None
        hidden = classes = 0
        for name, stats in data.items():
            ms = float(stats["mean"])
            m = _BLOCK.fullmatch(name)
            if m:
                h, c, oh, oc, mid, k, s, skip, se, hs = map(int, m.groups())
                kind = "ds" if mid == c else "ir"
                out.append((OpKey(
                    kind=kind, in_size=h, in_channels=c, out_size=oh, out_channels=oc,
                    mid_channels=mid, kernel=k, stride=s, skip=bool(skip),
                    se_channels=make_divisible(mid / 4, 8) if se else 0,
                    se_act="relu", se_gate="hard_sigmoid" if se else "sigmoid",
                    act="hswish" if hs else "relu"), ms, res))
                continue
            m = _SHAPE.fullmatch(name)
            if not m:
                raise ValueError(f"{path}: unknown Note10 key {name!r}")
            op, h, c, oh, oc = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4), int(
                m.group(5))
            if op == "Conv":
                out.append((OpKey(kind="stem", in_size=h, in_channels=c, out_size=int(oh),
                                  out_channels=oc, kernel=3, stride=2, act="hswish"), ms, res))
            elif op == "Conv_1":
                out.append((OpKey(kind="cn", in_size=h, in_channels=c, out_size=int(oh),
                                  out_channels=oc, mid_channels=oc, kernel=1, stride=1,
                                  act="hswish"), ms, res))
            elif op == "AvgPool2D":
                head_in = (h, c)
                head_ms += ms
            elif op == "Conv_2":
                hidden = oc
                head_ms += ms
            elif op == "Logits":
                classes = oc
                head_ms += ms
        if head_in is None:
            raise ValueError(f"{path}: no AvgPool2D entry")
        out.append((OpKey(kind="head", in_size=head_in[0], in_channels=head_in[1], out_size=1,
                          out_channels=classes, head_type="pool_conv_act", hidden=hidden,
                          act="hswish"), head_ms, res))
    return out


# ----------------------------------------------------------------------- fitting
_PARAMS = ("conv", "pw", "dw", "fc", "bandwidth_gbs", "eltwise_gbs", "hswish_gbs",
           "overhead_us")
_START = (10.0, 12.0, 5.0, 3.0, 10.0, 8.0, 4.0, 20.0)


def model_from_vector(x: Sequence[float], combine: str, **extra: Any) -> PhoneCpuModel:
    v = dict(zip(_PARAMS, (float(t) for t in x), strict=True))
    return PhoneCpuModel(
        gmacs={k: v[k] for k in ("conv", "pw", "dw", "fc")}, bandwidth_gbs=v["bandwidth_gbs"], eltwise_gbs=v["eltwise_gbs"],
        hswish_gbs=v["hswish_gbs"], overhead_us=v["overhead_us"], combine=combine, **extra)


def fit_blocks(entries: list[tuple[OpKey, float, int]], combine: str) -> PhoneCpuModel:
    """Least squares on log(predicted / measured) over every Note10 entry."""
    keys = [k for k, _, _ in entries]
    y = np.log([ms for _, ms, _ in entries])

    def residual(logx: np.ndarray) -> np.ndarray:
        model = model_from_vector(np.exp(logx), combine)
        return np.log([model.predict_ms(k) for k in keys]) - y

    sol = least_squares(residual, np.log(_START), method="trf", x_scale=1.0)
    return model_from_vector(np.exp(sol.x), combine)


def errors(model: PhoneCpuModel, entries: list[tuple[OpKey, float, int]]) -> np.ndarray:
    """Signed relative errors (predicted / measured - 1) per entry."""
    return np.array([model.predict_ms(k) / ms - 1 for k, ms, _ in entries])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write latency_tables/pixel4*.json")
    args = parser.parse_args(argv)
    entries = note10_entries()
    print(f"Note10 entries: {len(entries)}")
    for combine in ("sum", "max"):
        model = fit_blocks(entries, combine)
        err = errors(model, entries)
        print(f"[{combine}] MAPE {np.mean(np.abs(err)) * 100:.1f}%  max {np.max(np.abs(err)) * 100:.1f}%"
              f"  within10 {np.mean(np.abs(err) <= 0.10) * 100:.0f}%")
        print("   ", {k: round(v, 3) for k, v in model.gmacs.items()},
              {n: round(getattr(model, n), 3) for n in _PARAMS[4:]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
