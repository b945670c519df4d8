"""How the shipped ``pixel4`` tables agree with published phone latencies.

Every figure below is cited to its line in ``shared/reference/published.md`` and, through
it, to the original source. Run from the project root::

    .venv/bin/python benchmarks/pixel4_agreement.py

It prints, for the reference zoo, the ``pixel4`` (one prime core) prediction next to what
the Pixel 1/2/3 single-core figures imply for a Pixel 4, and the ``pixel4-4big`` (four big
cores, 4 threads) prediction next to the published Pixel 4 four-thread figures.

Pixel 3 -> Pixel 4 scaling (one large core, fp32 TFLite). The Pixel 3's Snapdragon 845
runs its Cortex-A75-class cores at 2.5 GHz (Google's Pixel 3 spec sheet); the Pixel 4's
prime Cortex-A76 runs at 2.84 GHz (published.md line 55). Bounds on the speed-up:

* lower, 1.50: TFLite's own benchmarks.md (Android 10, same binary, 4 threads) measures
  Pixel 3 / Pixel 4 = 23.9/14.0 = 1.71 (MobileNetV1), 56/34.5 = 1.62 (NASNet mobile),
  35.8/23.9 = 1.50 (SqueezeNet), 422/272.6 = 1.55 (Inception-ResNet-V2), 486/324.1 = 1.50
  (Inception-V4). Four threads use the 2.42 GHz gold cores and share memory bandwidth, so
  a single prime core gains at least this much.
* upper, 2.27: the A76 doubles the A75's 128-bit SIMD issue width (Arm's Cortex-A76
  disclosure: "dual 128-bit pipes ... twice the bandwidth" for NEON) at 2.84/2.5 = 1.136x
  the clock, so a fully compute-bound fp32 kernel gains at most 2 x 1.136 = 2.27x.

The device model (fitted on Note10 blocks only) implies a single ratio inside these bounds;
``implied_ratio`` fits it and the agreement is measured against Pixel 3 / ratio.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mnas.arch import Arch, Block, Head, Stem, make_divisible  # noqa: E402
from mnas.latency import TablePredictor, load_table  # noqa: E402

__all__ = [
    "FOUR_THREAD",
    "PIXEL3_TO_PIXEL4",
    "SINGLE_CORE",
    "FourThreadFigure",
    "SingleCoreFigure",
    "efficientnet_lite",
    "implied_ratio",
]

PIXEL3_TO_PIXEL4 = (1.50, 2.27)
"""Bounds of the Pixel 3 -> Pixel 4 single-large-core speed-up (see the module docstring)."""


@dataclass(frozen=True)
class SingleCoreFigure:
    """Published single-large-core TFLite fp32 latencies (ms) of one zoo network."""

    arch: str
    pixel1: float | None
    pixel2: float | None
    pixel3: float | None
    line: int  # line in shared/reference/published.md


# shared/reference/published.md lines 34-43 (tensorflow/models research/slim/nets/mobilenet/
# README.md; MobileNetV3 paper Table 3; MnasNet README). Where two Pixel 1 figures are given
# (MobileNetV2, MnasNet-A1), the MobileNetV3 paper's (Table 3) is used: the paper measured
# them beside its MobileNetV3 figures (the README's V3 Pixel 1 figures equal the paper's),
# while the README's 73.8 ms and the MnasNet README's 78 ms come from other sessions.
SINGLE_CORE: tuple[SingleCoreFigure, ...] = (
    SingleCoreFigure("mobilenet_v3_large", 51.2, 61, 44, 34),
    SingleCoreFigure("mobilenet_v3_large_075", 39.8, 48, 34, 35),
    SingleCoreFigure("mobilenet_v3_large_minimal", 44.1, 51, 35, 36),
    SingleCoreFigure("mobilenet_v3_small", 15.8, 19.4, 14.4, 37),
    SingleCoreFigure("mobilenet_v3_small_075", 12.8, 15.9, 11.6, 38),
    SingleCoreFigure("mobilenet_v3_small_minimal", 12.2, 15.1, 11, 39),
    SingleCoreFigure("mobilenet_v2", 64, 76, 56, 40),
    SingleCoreFigure("mobilenet_v2_035", 19.7, 19.6, 13.9, 41),
    SingleCoreFigure("mnasnet_a1", 71, 86, 61, 42),
)


@dataclass(frozen=True)
class FourThreadFigure:
    """A published Pixel 4 TFLite fp32 latency with 4 CPU threads (ms)."""

    arch: str
    ms: float
    source: str


# shared/reference/published.md line 50 (TFLite g3doc performance/benchmarks.md, Android 10,
# `benchmark_model --num_threads=4`) and lines 51-52 (tensorflow/tpu
# models/official/efficientnet/lite/README.md, "Pixel 4 CPU, 4 threads").
FOUR_THREAD: tuple[FourThreadFigure, ...] = (
    FourThreadFigure("mobilenet_v1", 14.0, "published.md:50, TFLite benchmarks.md"),
    FourThreadFigure("efficientnet_lite0", 12.0, "published.md:51, EfficientNet-Lite README"),
    FourThreadFigure("efficientnet_lite1", 18.0, "published.md:52, EfficientNet-Lite README"),
    FourThreadFigure("efficientnet_lite2", 26.0, "published.md:52, EfficientNet-Lite README"),
    FourThreadFigure("efficientnet_lite3", 41.0, "published.md:52, EfficientNet-Lite README"),
    FourThreadFigure("efficientnet_lite4", 76.0, "published.md:52, EfficientNet-Lite README"),
)

# EfficientNet-Lite scaling: (width, depth, resolution) from the EfficientNet paper's
# compound scaling (Tan & Le, ICML 2019, arXiv:1905.11946; B0-B4 coefficients) as used by
# tensorflow/tpu models/official/efficientnet/lite (efficientnet_lite_builder.py).
_LITE = {0: (1.0, 1.0, 224), 1: (1.0, 1.1, 240), 2: (1.1, 1.2, 260), 3: (1.2, 1.4, 280),
         4: (1.4, 1.8, 300)}
# EfficientNet-B0 MBConv stages (Table 1): kernel, expansion, output channels, stride, repeats.
_B0 = ((3, 1, 16, 1, 1), (3, 6, 24, 2, 2), (5, 6, 40, 2, 2), (3, 6, 80, 2, 3),
       (5, 6, 112, 1, 3), (5, 6, 192, 2, 4), (3, 6, 320, 1, 1))


def efficientnet_lite(variant: int) -> Arch:
    """EfficientNet-Lite0..4 as an :class:`Arch`.

    EfficientNet-B0's MBConv layout without SE and with ReLU6 (the lite README: "remove
    squeeze-and-excite, replace swish with RELU6, fix the stem and head while scaling"):
    stem 32 and head 1280 at every size, the first and last stage unscaled, channels
    ``make_divisible(c * width, 8)``, other repeats ``ceil(n * depth)``. Parameter counts
    4.65 / 5.42 / 6.09 / 8.20 / 13.0 M match the lite README's 4.7 / 5.4 / 6.1 / 8.2 / 13.0 M.
    """
    if variant not in _LITE:
        raise ValueError(f"EfficientNet-Lite variant must be one of 0-4, got {variant!r}")
    width, depth, resolution = _LITE[variant]
    channels = 32
    stages = []
    for index, (kernel, expand, out, stride, repeats) in enumerate(_B0):
        out = make_divisible(out * width, 8)
        if 0 < index < len(_B0) - 1:  # lite fixes the first and last stage ("fix_head_stem")
            repeats = int(math.ceil(repeats * depth))
        stage = []
        for i in range(repeats):
            s = stride if i == 0 else 1
            mid = channels * expand
            stage.append(Block(
                type="ds" if expand == 1 else "ir", in_channels=channels,
                mid_channels=mid, out_channels=out, kernel=kernel, stride=s, act="relu6",
                skip=s == 1 and channels == out))
            channels = out
        stages.append(tuple(stage))
    return Arch(name=f"efficientnet_lite{variant}", resolution=resolution, num_classes=1000,
                stem=Stem(channels=32, stride=2, act="relu6"), stages=tuple(stages),
                head=Head(type="conv_bn_act_pool", channels=1280, act="relu6", dropout=0.2),
                bn_eps=0.001, bn_momentum=0.01)


def arch_by_name(name: str) -> Arch:
    """A zoo architecture, or ``efficientnet_liteN`` built here."""
    if name.startswith("efficientnet_lite"):
        return efficientnet_lite(int(name[-1]))
    from mnas.models._registry import get_arch

    return get_arch(name)


def implied_ratio(predicted: dict[str, float]) -> float:
    """The one Pixel 3 -> Pixel 4 speed-up that best matches ``predicted`` (log least squares)."""
    logs = [math.log(f.pixel3 / predicted[f.arch]) for f in SINGLE_CORE if f.pixel3]
    return math.exp(sum(logs) / len(logs))


def main() -> int:
    tables = ROOT / "latency_tables"
    one = TablePredictor(load_table(tables / "pixel4.json"))
    four = TablePredictor(load_table(tables / "pixel4-4big.json"))
    predicted = {f.arch: one.predict(arch_by_name(f.arch)).latency_ms for f in SINGLE_CORE}
    ratio = implied_ratio(predicted)
    low, high = PIXEL3_TO_PIXEL4
    print(f"pixel4 (1 prime core): implied Pixel 3 -> Pixel 4 speed-up {ratio:.2f} "
          f"(hardware bounds {low}-{high}); band ±{one.table.header.error_band * 100:.0f}%")
    print(f"{'network':28s} {'pred':>6s} {'P3/r':>6s} {'err':>6s}   P1/pred P2/pred P3/pred")
    for f in SINGLE_CORE:
        p = predicted[f.arch]
        implied = f.pixel3 / ratio if f.pixel3 else float("nan")
        ratios = "  ".join(f"{x / p:6.2f}" if x else "     -" for x in (f.pixel1, f.pixel2,
                                                                       f.pixel3))
        print(f"{f.arch:28s} {p:6.1f} {implied:6.1f} {(p / implied - 1) * 100:+5.1f}%   {ratios}"
              f"   (published.md:{f.line})")
    print(f"\npixel4-4big (4 big cores, 4 threads); band ±"
          f"{four.table.header.error_band * 100:.0f}%")
    for f4 in FOUR_THREAD:
        p = four.predict(arch_by_name(f4.arch)).latency_ms
        print(f"{f4.arch:28s} {p:6.1f} vs {f4.ms:5.1f}  {(p / f4.ms - 1) * 100:+5.1f}%  "
              f"({f4.source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
