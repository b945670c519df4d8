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
    .venv/bin/python benchmarks/fit_pixel4.py --write    # also write latency_tables/pixel4*.json
"""

from __future__ import annotations

import argparse
import datetime
import math
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import least_squares

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _note10 import NOTE10_DIR, RESOLUTIONS, read_note10  # noqa: E402

from mnas.arch import Arch  # noqa: E402
from mnas.latency._device_model import PhoneCpuModel  # noqa: E402
from mnas.latency._opkey import OpKey, op_keys, unique_op_keys  # noqa: E402
from mnas.latency._table import Calibration, LatencyEntry, LatencyTable, TableHeader  # noqa: E402


def note10_entries(folder: Path = NOTE10_DIR) -> list[tuple[OpKey, float, int]]:
    """The Note10 per-block table as ``(OpKey, mean_ms, resolution)`` (see ``_note10.py``
    for how OFA's keys map to mnas keys)."""
    return [(e.key, e.mean_ms, e.resolution) for e in read_note10(folder, RESOLUTIONS)]


# ----------------------------------------------------------------------- fitting
_PARAMS = ("conv", "pw", "dw", "fc", "bandwidth_gbs", "eltwise_gbs", "hswish_gbs",
           "overhead_us")
_START = (10.0, 12.0, 5.0, 3.0, 10.0, 8.0, 4.0, 20.0)


def model_from_vector(x: Sequence[float], combine: str, **extra: Any) -> PhoneCpuModel:
    v = dict(zip(_PARAMS, (float(t) for t in x), strict=True))
    return PhoneCpuModel(
        gmacs={k: v[k] for k in ("conv", "pw", "dw", "fc")}, bandwidth_gbs=v["bandwidth_gbs"],
        eltwise_gbs=v["eltwise_gbs"],
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



def cross_validate(entries: list[tuple[OpKey, float, int]], combine: str) -> dict[int, float]:
    """Per-block MAPE on each resolution's table when fitted on the other three."""
    out = {}
    for res in RESOLUTIONS:
        train = [e for e in entries if e[2] != res]
        test = [e for e in entries if e[2] == res]
        model = fit_blocks(train, combine)
        out[res] = float(np.mean(np.abs(errors(model, test))))
    return out


def network_ms(model: PhoneCpuModel, arch: Arch) -> float:
    """Sum of the model's unit latencies (what a table with identity calibration predicts)."""
    return sum(model.predict_ms(key) for key in op_keys(arch))


# Four big cores, four threads (TFLite `--num_threads=4`, CPU mask f0). Assumptions that
# are not fitted: the cores share the 2 MB L3 and LPDDR4X-4266 (about 34 GB/s,
# published.md line 56), so memory-bound kernels gain BANDWIDTH_GAIN over one core; each
# kernel pays SYNC_US for waking and joining the worker threads. Fitted: one compute
# speed-up over the prime core, on MobileNetV1 (14.0 ms) and EfficientNet-Lite0 (12 ms).
BANDWIDTH_GAIN = 2.0
SYNC_US = 10.0
BAND_MARGIN = 0.05


def four_big(model: PhoneCpuModel, speedup: float) -> PhoneCpuModel:
    """The four-thread constants for a compute speed-up over the one-core model."""
    return model.with_(
        gmacs={k: v * speedup for k, v in model.gmacs.items()},
        bandwidth_gbs=model.bandwidth_gbs * BANDWIDTH_GAIN,
        eltwise_gbs=model.eltwise_gbs * BANDWIDTH_GAIN,
        hswish_gbs=model.hswish_gbs * BANDWIDTH_GAIN,
        overhead_us=model.overhead_us + SYNC_US, threads=4)


def fit_four_big(model: PhoneCpuModel) -> tuple[PhoneCpuModel, float]:
    """Fit the compute speed-up of four threads to the two anchor figures."""
    from pixel4_agreement import FOUR_THREAD, arch_by_name

    anchors = [(arch_by_name(f.arch), f.ms) for f in FOUR_THREAD
               if f.arch in ("mobilenet_v1", "efficientnet_lite0")]

    def residual(x: np.ndarray) -> np.ndarray:
        m4 = four_big(model, float(np.exp(x[0])))
        return np.array([math.log(network_ms(m4, a) / ms) for a, ms in anchors])

    sol = least_squares(residual, [math.log(2.5)])
    speedup = float(np.exp(sol.x[0]))
    return four_big(model, speedup), speedup


SPACE = "mobilenetv3"
SPACE_SAMPLES = 50


def tabulated_archs() -> list[Arch]:
    """What the shipped tables tabulate: the zoo, EfficientNet-Lite0-4, and a sample of the
    default search space (``SPACE_SAMPLES`` random archs, seed 0)."""
    from pixel4_agreement import efficientnet_lite

    from mnas.models._registry import get_arch, list_archs

    archs = [get_arch(name) for name in list_archs()]
    archs += [efficientnet_lite(v) for v in range(1, 5)]
    try:
        from mnas.spaces import load_space
    except ImportError as err:  # the space API may be missing; the model covers any key
        print(f"(no search-space sample tabulated: {err})")
        return archs
    space = load_space(SPACE)
    rng = random.Random(0)
    archs += [space.random_arch(rng) for _ in range(SPACE_SAMPLES)]
    return archs
    return archs


HOW_TO_MEASURE = (
    "connect the phone (USB debugging on), build ExecuTorch's executor_runner for Android "
    "(arm64-v8a, XNNPACK) and run `mnas latency build --device adb:SERIAL --runner executorch "
    "--runner-binary PATH/TO/executor_runner --cpu-mask {mask} --threads {threads} --target "
    "{target}-measured` (or `--runner tflite --runner-binary PATH/TO/benchmark_model`); or "
    "correct this estimate with a few networks you timed: `mnas latency calibrate --target "
    "{target} --measurements FILE -o OUT.json`")


def make_table(model: PhoneCpuModel, *, target: str, device: str, threads: int, mask: str,
               cpu: str, band: float, notes: str, archs: list[Arch]) -> LatencyTable:
    entries = {}
    for key in unique_op_keys(archs):
        ms = round(model.predict_ms(key), 5)
        entries[str(key)] = LatencyEntry(median_ms=ms, p90_ms=ms, n=0, std_ms=0.0)
    header = TableHeader(
        target=target,
        device=device, cpu=cpu, runtime="tflite",
        runtime_version="modelled on 2019 TFLite fp32 CPU kernels",
        threads=threads, cpu_mask=mask, dtype="float32", batch=1,
        date=datetime.date.today().isoformat(), provenance="estimated", error_band=band,
        missing_keys="device_model",
        how_to_measure=HOW_TO_MEASURE.format(mask=mask, threads=threads, target=target),
        notes=notes,
        extra={"estimated_from": "device model fitted to Samsung Galaxy Note10 per-block "
               "timings (same Snapdragon 855) by benchmarks/fit_pixel4.py",
               "entries_are": "device-model "
               "values (n = 0: not measured), tabulated for the zoo and the default space; "
               "any other key is computed from device_model"})
    return LatencyTable(header=header, entries=entries,
                        calibration=Calibration(source="identity: the device model's sum is "
                                                "the prediction (see notes for its error)"),
                        device_model=model.to_dict())


def main(argv: Sequence[str] | None = None) -> int:
    from pixel4_agreement import FOUR_THREAD, PIXEL3_TO_PIXEL4, SINGLE_CORE, arch_by_name

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write latency_tables/pixel4*.json")
    args = parser.parse_args(argv)
    if not NOTE10_DIR.is_dir():
        print(f"error: {NOTE10_DIR} not found; this script needs ../shared/data", file=sys.stderr)
        return 2
    entries = note10_entries()
    print(f"Note10 per-block entries: {len(entries)} (4 resolutions; AvgPool2D + Conv_2 + "
          "Logits merged into one head unit)")
    fits = {}
    for combine in ("sum", "max"):
        model = fit_blocks(entries, combine)
        err = errors(model, entries)
        cv = cross_validate(entries, combine)
        fits[combine] = (model, err, cv)
        print(f"  combine={combine}: per-block MAPE {np.mean(np.abs(err)) * 100:.1f}%, "
              f"max {np.max(np.abs(err)) * 100:.1f}%, within ±10% "
              f"{np.mean(np.abs(err) <= 0.10) * 100:.0f}%; held-out resolution MAPE "
              + ", ".join(f"{r}: {v * 100:.1f}%" for r, v in cv.items()))
    combine = min(fits, key=lambda c: float(np.mean(np.abs(fits[c][1]))))
    model, err, cv = fits[combine]
    mape = float(np.mean(np.abs(err)))
    print(f"chosen: combine={combine}")
    print("  gmacs " + ", ".join(f"{k} {v:.2f}" for k, v in model.gmacs.items())
          + f"; bandwidth {model.bandwidth_gbs:.2f} GB/s; eltwise {model.eltwise_gbs:.2f} GB/s"
          f"; hswish {model.hswish_gbs:.2f} GB/s; overhead {model.overhead_us:.2f} us/kernel")

    # Whole networks, one prime core, against Pixel 3 / implied speed-up.
    predicted = {f.arch: network_ms(model, arch_by_name(f.arch)) for f in SINGLE_CORE}
    logs = [math.log(f.pixel3 / predicted[f.arch]) for f in SINGLE_CORE if f.pixel3]
    ratio = math.exp(sum(logs) / len(logs))
    net_err = {f.arch: predicted[f.arch] / (f.pixel3 / ratio) - 1 for f in SINGLE_CORE
               if f.pixel3}
    net_mape = float(np.mean(np.abs(list(net_err.values()))))
    net_max = float(np.max(np.abs(list(net_err.values()))))
    print(f"whole networks (1 core): implied Pixel 3 -> Pixel 4 speed-up {ratio:.2f} "
          f"(hardware bounds {PIXEL3_TO_PIXEL4}); vs Pixel 3 / {ratio:.2f}: MAPE "
          f"{net_mape * 100:.1f}%, max {net_max * 100:.1f}%")
    for f in SINGLE_CORE:
        print(f"  {f.arch:28s} {predicted[f.arch]:6.1f} ms  Pixel3/r {f.pixel3 / ratio:6.1f}"
              f"  {net_err[f.arch] * 100:+5.1f}%  (published.md:{f.line})")
    # Band: the worst network error rounded up to 5%, plus BAND_MARGIN for what the fit
    # cannot see (which core and clock the Note10 blocks ran on, runtime version).
    band1 = round(math.ceil(net_max * 20) / 20 + BAND_MARGIN, 2)

    model4, speedup = fit_four_big(model)
    errs4 = {}
    print(f"four big cores, 4 threads: fitted compute speed-up {speedup:.2f}x "
          f"(bandwidth x{BANDWIDTH_GAIN}, +{SYNC_US} us/kernel assumed)")
    for f4 in FOUR_THREAD:
        p = network_ms(model4, arch_by_name(f4.arch))
        errs4[f4.arch] = p / f4.ms - 1
        print(f"  {f4.arch:28s} {p:6.1f} ms vs {f4.ms:5.1f}  {errs4[f4.arch] * 100:+5.1f}%  "
              f"({f4.source})")
    max4 = float(np.max(np.abs(list(errs4.values()))))
    band4 = max(band1, round(math.ceil(max4 * 20) / 20 + BAND_MARGIN, 2))

    fit_common = {"per_block_mape": round(mape, 4),
                  "per_block_max_abs_err": round(float(np.max(np.abs(err))), 4),
                  "per_block_within_10pct": round(float(np.mean(np.abs(err) <= 0.10)), 4),
                  "held_out_resolution_mape": {str(r): round(v, 4) for r, v in cv.items()},
                  "n_blocks": len(entries)}
    source1 = ("least squares on log(predicted/measured) over once-for-all's Samsung Galaxy "
               "Note10 per-block TFLite fp32 table (Cai et al., ICLR 2020; han-cai/files "
               "ofa/note10; 160/176/192/224 px); benchmarks/fit_pixel4.py")
    model1 = model.with_(source=source1, fit={
        **fit_common, "implied_pixel3_to_pixel4": round(ratio, 3),
        "network_mape_vs_pixel3_scaled": round(net_mape, 4),
        "network_max_abs_err_vs_pixel3_scaled": round(net_max, 4)})
    model4 = model4.with_(
        source=source1 + "; four threads: compute x" f"{speedup:.3f} fitted to MobileNetV1 "
        "14.0 ms and EfficientNet-Lite0 12 ms (Pixel 4, TFLite, 4 threads; published.md "
        f"lines 50-51), bandwidth x{BANDWIDTH_GAIN} and +{SYNC_US} us/kernel assumed",
        fit={**fit_common, "four_thread_speedup": round(speedup, 3),
             "four_thread_errors": {k: round(v, 4) for k, v in errs4.items()}})
    print(f"declared error bands: pixel4 ±{band1 * 100:.0f}%, pixel4-4big ±{band4 * 100:.0f}%")
    if not args.write:
        return 0
    archs = tabulated_archs()
    notes1 = (
        f"ESTIMATED, not measured. Device model ({combine} of compute and memory time per "
        f"kernel) fitted to {len(entries)} Note10 per-block timings: per-block MAPE "
        f"{mape * 100:.1f}% (max {np.max(np.abs(err)) * 100:.0f}%). Whole networks vs the "
        f"published Pixel 3 single-core figures (TF-slim MobileNet README, MnasNet README) "
        f"scaled by the implied Pixel 3 -> Pixel 4 speed-up {ratio:.2f} (bounds 1.50-2.27 "
        f"from TFLite benchmarks.md and the A76's doubled NEON width): MAPE "
        f"{net_mape * 100:.1f}%, max {net_max * 100:.0f}%. Error band ±{band1 * 100:.0f}% = "
        "worst network rounded up to 5% plus 5% for what the fit cannot see (the Note10's "
        "core and clock, runtime version); labs disagree by 10-30% (published.md).")
    notes4 = (
        f"ESTIMATED, not measured. The one-core model with a fitted 4-thread compute "
        f"speed-up {speedup:.2f}x; vs published Pixel 4 4-thread TFLite figures: "
        + ", ".join(f"{k} {v * 100:+.0f}%" for k, v in errs4.items())
        + f" (MobileNetV1 and Lite0 were fitted, Lite1-4 held out). Error band "
        f"±{band4 * 100:.0f}%.")
    out = ROOT / "latency_tables"
    t1 = make_table(model1, target="pixel4", device="Google Pixel 4, prime core", threads=1,
                    mask="80",
                    cpu="Qualcomm Snapdragon 855 (Kryo 485), 1x Cortex-A76 prime core @ 2.84 GHz",
                    band=band1, notes=notes1, archs=archs)
    t4 = make_table(model4, target="pixel4-4big", device="Google Pixel 4, 4 big cores",
                    threads=4, mask="f0",
                    cpu="Qualcomm Snapdragon 855 (Kryo 485), 4 big Cortex-A76 cores "
                        "(1x 2.84 GHz + 3x 2.42 GHz)", band=band4, notes=notes4, archs=archs)
    print(f"wrote {t1.save(out / 'pixel4.json')} ({len(t1.entries)} entries)")
    print(f"wrote {t4.save(out / 'pixel4-4big.json')} ({len(t4.entries)} entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
