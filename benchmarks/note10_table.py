"""Build the shipped ``note10`` target from once-for-all's measured Samsung Galaxy Note10 table.

Source: once-for-all (Cai et al., "Once-for-All: Train One Network and Specialize it for
Efficient Deployment", ICLR 2020), repository han-cai/files, ``ofa/note10/{160,176,192,
224}_lookup_table.yaml``: every unit of the OFA-MobileNetV3 w1.2 space timed on the phone
(TFLite fp32, batch 1; one large core, inferred from the speed of the blocks), read from
``../shared/data/ofa_note10_lut`` (how the keys map: ``_note10.py``).

The table (``latency_tables/note10.json``) holds:

* every unit once-for-all timed, as a **measured** entry (OFA's mean of ``n`` runs, their
  std). A key that two resolutions reach with the same shape (176 and 192 px both give
  6x6 at the last stage) keeps both measurements, keyed by resolution (``<key>@176px``,
  ``<key>@192px``; :func:`mnas.latency.resolution_key`);
* a device model (:class:`mnas.latency.PhoneCpuModel`, the fit of ``fit_pixel4.py`` on
  the same 376 Note10 units) for every key once-for-all did not time: other resolutions,
  other widths, other spaces. Each prediction's units say which they are (``mnas predict
  --target note10 --per-block``: ``table`` = measured, ``device_model`` = estimated).

Its error band is measured, not assumed: whole networks are predicted with part of the
measurements left out and compared with once-for-all's own latency (the sum of its
measured units, as its ``LatencyTable`` computes it):

* each resolution's table left out in turn (device model and entries fitted on the other
  three; the networks of that resolution are then almost all device model);
* 5 folds of the measured entries left out (keys of the fold predicted by the model
  fitted without them);
* ``--holdout PATH``: the 208 px table (``ofa/note10/208_lookup_table.yaml``, kept back,
  never fitted): networks at 208 px predicted by the shipped table.

The band written is the worst whole-network error of the left-out tests (the 208 px test
excluded, so that it stays a test), rounded up to a whole percent, plus 2 points for what
these tests cannot see (run-to-run spread of the phone). Run from the project root::

    .venv/bin/python benchmarks/note10_table.py                   # print the errors
    .venv/bin/python benchmarks/note10_table.py --holdout /path/208_lookup_table.yaml
    .venv/bin/python benchmarks/note10_table.py --write           # latency_tables/note10.json
"""

from __future__ import annotations

import argparse
import datetime
import math
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _note10 import NOTE10_DIR, RESOLUTIONS, Note10Entry, read_note10, read_note10_file  # noqa: E402
from fit_pixel4 import fit_blocks  # noqa: E402

from mnas.arch import Arch  # noqa: E402
from mnas.latency import TablePredictor, op_keys, resolution_key  # noqa: E402
from mnas.latency._device_model import PhoneCpuModel  # noqa: E402
from mnas.latency._table import Calibration, LatencyEntry, LatencyTable, TableHeader  # noqa: E402
from mnas.spaces import ParamCodec, load_space  # noqa: E402

SPACE = "ofa-mbv3"
NETWORKS = 200  # random OFA subnets per resolution in each test
FOLDS = 5
#: Added to the worst left-out error: the phone's run-to-run spread, which the left-out
#: tests (one session's means against one session's means) do not see.
MARGIN = 0.02
#: The band of a prediction made of measured entries only: the entries' run-to-run spread
#: (std / mean: median 2.5%, p90 3.5%) rounded up; once-for-all's data holds no whole
#: networks timed on the phone to check a sum of units against.
ENTRIES_BAND = 0.05
HOW_TO_MEASURE = (
    "time your own phone: `mnas latency build --device adb:SERIAL --runner tflite "
    "--runner-binary PATH/TO/benchmark_model --cpu-mask 80 --threads 1 --target "
    "note10-measured` (keys it lacks are measured, a resumed build keeps what it has)")


def table_entries(entries: Sequence[Note10Entry]) -> dict[str, LatencyEntry]:
    """Entries keyed by operator key; a key measured at several resolutions with different
    values keeps each value, keyed by resolution."""
    by_key: dict[str, list[Note10Entry]] = defaultdict(list)
    for e in entries:
        by_key[str(e.key)].append(e)
    out: dict[str, LatencyEntry] = {}
    for text, group in by_key.items():
        distinct = {round(e.mean_ms, 9) for e in group}
        for e in group:
            key = text if len(distinct) == 1 else resolution_key(text, e.resolution)
            ms = round(e.mean_ms, 6)
            out[key] = LatencyEntry(median_ms=ms, p90_ms=ms, n=e.count,
                                    std_ms=round(e.std_ms, 6))
    return out


def make_table(entries: Sequence[Note10Entry], model: PhoneCpuModel, *, band: float,
               notes: str = "", fit: dict[str, object] | None = None) -> LatencyTable:
    """The ``note10`` table: measured ``entries`` plus ``model`` for every other key."""
    header = TableHeader(
        target="note10", device="Samsung Galaxy Note10, one large core",
        cpu="Qualcomm Snapdragon 855 (the US Note10; the SoC and the one large core are "
            "inferred: once-for-all does not say)",
        runtime="tflite", runtime_version="as timed by once-for-all in 2019 (not published)",
        threads=1, cpu_mask=None, dtype="float32", batch=1,
        date=datetime.date.today().isoformat(), provenance="estimated", error_band=band,
        missing_keys="device_model", statistic="median", how_to_measure=HOW_TO_MEASURE,
        notes=notes,
        extra={"source": "once-for-all (Cai et al., ICLR 2020): han-cai/files "
                         "ofa/note10/{160,176,192,224}_lookup_table.yaml, converted by "
                         "benchmarks/note10_table.py",
               "entries_are": "measured on the phone by once-for-all: each entry's median_ms "
                               "and p90_ms hold their mean of n runs (neither median nor p90 "
                               "was published), std_ms their std; keys without an entry are "
                               "estimated by device_model (fitted to these entries)",
               "measured_resolutions": list(RESOLUTIONS),
               # a prediction made of entries only is measured (and has their band); one
               # that needs the device model is estimated, with the measured error_band
               "entries": "measured", "entries_error_band": ENTRIES_BAND,
               "model_error_band": band, "error_band_from": fit or {}})
    return LatencyTable(header=header, entries=dict(table_entries(entries)),
                        calibration=Calibration(source="identity: a network's latency is "
                                                "the sum of its units, as once-for-all's "
                                                "LatencyTable computes it"),
                        device_model=model.to_dict())


def subnets(resolution: int, n: int, seed: int) -> list[Arch]:
    """``n`` random OFA-MobileNetV3 w1.2 subnets at ``resolution`` (the ``ofa-mbv3`` space)."""
    space = load_space(SPACE)
    codec = ParamCodec(space)
    rng = np.random.default_rng([seed, resolution])
    archs = []
    for row in codec.random(rng, n):
        params = codec.decode(row)
        params["resolution"] = resolution
        archs.append(space.replay(params))
    return archs


def truth_ms(arch: Arch, measured: dict[str, float]) -> float:
    """once-for-all's latency of ``arch``: the sum of its measured units at its resolution."""
    return sum(measured[str(key)] for key in op_keys(arch))


def network_errors(table: LatencyTable, archs: Sequence[Arch],
                   measured: dict[str, float]) -> np.ndarray:
    """Signed relative errors of the table's predictions against once-for-all's latency."""
    predictor = TablePredictor(table)
    return np.array([predictor.predict_ms(a) / truth_ms(a, measured) - 1 for a in archs])


def per_resolution(entries: Sequence[Note10Entry]) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = defaultdict(dict)
    for e in entries:
        out[e.resolution][str(e.key)] = e.mean_ms
    return out


def _fit(entries: Sequence[Note10Entry]) -> PhoneCpuModel:
    return fit_blocks([(e.key, e.mean_ms, e.resolution) for e in entries], "sum")


def left_out_resolutions(entries: Sequence[Note10Entry], n: int) -> dict[int, np.ndarray]:
    """Per resolution: network errors when its table is left out of the entries and the fit."""
    measured = per_resolution(entries)
    out = {}
    for res in RESOLUTIONS:
        kept = [e for e in entries if e.resolution != res]
        table = make_table(kept, _fit(kept), band=0.5)
        out[res] = network_errors(table, subnets(res, n, seed=1), measured[res])
    return out


def left_out_entries(entries: Sequence[Note10Entry], n: int, folds: int = FOLDS) -> np.ndarray:
    """Network errors at the measured resolutions when a fold of the keys (all their
    resolutions) is left out of the entries and the fit, per fold."""
    measured = per_resolution(entries)
    keys = sorted({str(e.key) for e in entries})
    rng = np.random.default_rng(0)
    fold_of = dict(zip(keys, rng.permutation(len(keys)) % folds, strict=True))
    errors = []
    for fold in range(folds):
        kept = [e for e in entries if fold_of[str(e.key)] != fold]
        table = make_table(kept, _fit(kept), band=0.5)
        for res in RESOLUTIONS:
            errors.append(network_errors(table, subnets(res, n // folds, seed=2 + fold),
                                         measured[res]))
    return np.concatenate(errors)


def holdout(table: LatencyTable, path: Path, n: int, resolution: int = 208
            ) -> tuple[np.ndarray, float]:
    """Errors of ``table`` on networks at the kept-back resolution, and the share of their
    units that the table holds as measured."""
    measured = {str(e.key): e.mean_ms for e in read_note10_file(path, resolution)}
    archs = subnets(resolution, n, seed=3)
    predictor = TablePredictor(table)
    units = [b.source for a in archs for b in predictor.predict(a).per_block]
    return (network_errors(table, archs, measured),
            sum(u == "table" for u in units) / len(units))


def predict_cli(path: Path, n: int, resolution: int = 208) -> tuple[int, int, float, float]:
    """``mnas predict --target note10 --json`` on ``n`` subnets at the kept-back resolution:
    (within the band it states, n, worst error, the stated band)."""
    import json
    import subprocess
    import tempfile

    from mnas.arch import save_arch

    measured = {str(e.key): e.mean_ms for e in read_note10_file(path, resolution)}
    within, worst, band = 0, 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i, arch in enumerate(subnets(resolution, n, seed=4)):
            file = Path(tmp) / f"ofa_{i}.json"
            save_arch(arch.replace(name=f"ofa-subnet-{i}"), file)
            out = subprocess.run([sys.executable, "-m", "mnas.cli", "predict", "--target",
                                  "note10", "--arch", str(file), "--json"], check=True,
                                 capture_output=True, text=True, cwd=ROOT).stdout
            estimate = json.loads(out)
            truth = truth_ms(arch, measured)
            band = float(estimate["band"])
            worst = max(worst, abs(estimate["latency_ms"] / truth - 1))
            within += estimate["low_ms"] <= truth <= estimate["high_ms"]
    return within, n, worst, band


def _describe(errors: np.ndarray) -> str:
    return (f"MAPE {np.mean(np.abs(errors)) * 100:.1f}%, worst {np.max(np.abs(errors)) * 100:.1f}%"
            f", mean {np.mean(errors) * 100:+.1f}% (n={len(errors)})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write latency_tables/note10.json")
    parser.add_argument("--holdout", type=Path, default=None,
                        help="once-for-all's 208 px table (208_lookup_table.yaml), a test only")
    parser.add_argument("--predict-cli", type=int, default=0, metavar="N",
                        help="with --holdout: also run `mnas predict --target note10` on N "
                             "subnets at 208 px (the shipped table)")
    parser.add_argument("--networks", type=int, default=NETWORKS,
                        help=f"random subnets per resolution per test (default {NETWORKS})")
    args = parser.parse_args(argv)
    if not NOTE10_DIR.is_dir():
        print(f"error: {NOTE10_DIR} not found; this script needs ../shared/data", file=sys.stderr)
        return 2
    entries = read_note10()
    model = _fit(entries)
    keys = table_entries(entries)
    by_res = sum("@" in k for k in keys)
    print(f"once-for-all Note10 units: {len(entries)} at {', '.join(map(str, RESOLUTIONS))} px "
          f"-> {len(keys)} entries ({by_res} keyed by resolution: the same shape measured at "
          "two resolutions)")
    res_errors = left_out_resolutions(entries, args.networks)
    for res, err in res_errors.items():
        print(f"  {res} px table left out: {_describe(err)}")
    fold_errors = left_out_entries(entries, args.networks)
    print(f"  {FOLDS} folds of the keys left out: {_describe(fold_errors)}")
    worst = max(float(np.max(np.abs(e))) for e in (*res_errors.values(), fold_errors))
    band = round(math.ceil(worst * 100) / 100 + MARGIN, 2)
    print(f"error band ±{band * 100:.0f}% (worst left-out network {worst * 100:.1f}%, rounded up, "
          f"+{MARGIN * 100:.0f} points)")
    fit: dict[str, object] = {"left_out_resolution_network_max_abs_err":
           {str(r): round(float(np.max(np.abs(e))), 4) for r, e in res_errors.items()},
           "left_out_resolution_network_mape":
           {str(r): round(float(np.mean(np.abs(e))), 4) for r, e in res_errors.items()},
           "left_out_keys_network_max_abs_err": round(float(np.max(np.abs(fold_errors))), 4),
           "left_out_keys_network_mape": round(float(np.mean(np.abs(fold_errors))), 4),
           "networks_per_test": args.networks, "margin": MARGIN}
    block_err = np.array([model.predict_ms(e.key) / e.mean_ms - 1 for e in entries])
    fit["per_block_mape"] = round(float(np.mean(np.abs(block_err))), 4)
    notes = (f"Units once-for-all timed on the phone are measured entries ({len(keys)}); every "
             f"other key comes from the device model fitted to them (per-block MAPE "
             f"{np.mean(np.abs(block_err)) * 100:.1f}%). Error band ±{band * 100:.0f}%: "
             f"the worst whole-network error against once-for-all's own latency (the sum of "
             f"its measured units) with a resolution's table left out ("
             + ", ".join(f"{r} px {v * 100:.1f}%" for r, v in
                         fit["left_out_resolution_network_max_abs_err"].items())  # type: ignore[union-attr]
             + f") or a fifth of the keys left out ({worst * 100:.1f}% worst overall), "
             f"rounded up, plus {MARGIN * 100:.0f} points for the phone's run-to-run spread.")
    table = make_table(entries, model.with_(
        source="least squares on log(predicted/measured) over once-for-all's Note10 units "
               "(benchmarks/fit_pixel4.py's fit_blocks, combine sum)"), band=band, notes=notes,
        fit=fit)
    if args.holdout is not None:
        err, share = holdout(table, args.holdout, args.networks)
        inside = float(np.mean(np.abs(err) <= band))
        print(f"  208 px (kept back, never fitted; {share * 100:.0f}% of units measured): "
              f"{_describe(err)}; within ±{band * 100:.0f}%: {inside * 100:.0f}%")
    if args.holdout is not None and args.predict_cli:
        within, n, worst, stated = predict_cli(args.holdout, args.predict_cli)
        print(f"  `mnas predict --target note10` on {n} subnets at 208 px: {within} of {n} "
              f"within the ±{stated * 100:.0f}% it states (worst {worst * 100:.1f}%)")
    if args.write:
        path = table.save(ROOT / "latency_tables" / "note10.json")
        print(f"wrote {path} ({len(table.entries)} entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
