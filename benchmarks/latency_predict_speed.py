"""Benchmark: how fast latency is predicted for many *new* architectures of a space.

Two parts:

1. ``TablePredictor`` on ``Arch`` objects (the search's per-trial path): 10,000
   architectures sampled from a space (default ``mobilenetv3``), a table whose entries
   cover them (synthetic numbers: the lookup cost does not depend on them), timed cold
   (first pass, building the op keys and filling the memo), warm, and ``predict``.
2. Screening (``mnas.latency.ScreeningPredictor``, what candidate pools use) on the real
   tables of ``--targets`` (default ``pixel4`` and ``host``): a fresh predictor (no
   table of unit latencies yet) predicts ``--pool`` new random architectures given as
   flat-parameter codes, end to end: drawing the codes, tabulating the unit latencies
   (op keys built and looked up for every block choice at every width and resolution:
   the one-off cost, included in the first figure) and the vectorised prediction.
   Each figure is measured ``--repeats`` times (min / median / max, this machine is
   shared); the predictions are checked equal to ``predict_ms`` on ``--check`` of them.

    .venv/bin/python benchmarks/latency_predict_speed.py [--space NAME] [--n 10000]
        [--targets pixel4 host] [--pool 100000] [--repeats 3] [--check 300]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np

from mnas.latency import (
    LatencyEntry,
    LatencyTable,
    ScreeningPredictor,
    TableHeader,
    TablePredictor,
    op_keys,
    resolve_target,
)
from mnas.spaces import SearchSpace, load_space


def table_predictor_part(space: SearchSpace, name: str, n: int, seed: int) -> None:
    rng = random.Random(seed)
    t0 = time.perf_counter()
    archs = [space.random_arch(rng) for _ in range(n)]
    t_sample = time.perf_counter() - t0
    table = LatencyTable(header=TableHeader(target="bench", device="-", cpu="-",
                                            runtime="onnxruntime", runtime_version="-"))
    t0 = time.perf_counter()
    for arch in archs:
        for key in op_keys(arch):
            table.entries.setdefault(str(key), LatencyEntry(median_ms=0.1, p90_ms=0.1, n=1,
                                                            std_ms=0.0))
    t_keys = time.perf_counter() - t0
    predictor = TablePredictor(table)
    t0 = time.perf_counter()
    for arch in archs:
        predictor.predict_ms(arch)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for arch in archs:
        predictor.predict_ms(arch)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    for arch in archs:
        predictor.predict(arch)
    full = time.perf_counter() - t0
    print(f"space {name}: {n} archs, {len(table.entries)} distinct keys (synthetic table)")
    print(f"  sampling the archs           {t_sample:7.3f} s (not part of prediction)")
    print(f"  op_keys + str, for reference {t_keys:7.3f} s ({t_keys / n * 1e6:.1f} us/arch)")
    print(f"  predict_ms, cold memo        {cold:7.3f} s ({cold / n * 1e6:.1f} us/arch)")
    print(f"  predict_ms, warm memo        {warm:7.3f} s ({warm / n * 1e6:.1f} us/arch)")
    print(f"  predict (Estimate, per-block){full:7.3f} s ({full / n * 1e6:.1f} us/arch)")


def _spread(rates: list[float]) -> str:
    return (f"{min(rates):>10,.0f} / {statistics.median(rates):>10,.0f} / "
            f"{max(rates):>10,.0f} archs/s")


def screening_part(space: SearchSpace, target: str, pool: int, repeats: int, check: int,
                   seed: int) -> None:
    table = resolve_target(target)
    cold: list[float] = []
    warm: list[float] = []
    tabulate: list[float] = []
    one_off: list[float] = []
    screen: ScreeningPredictor | None = None
    codes = np.zeros((0, 0), dtype=np.int64)
    for rep in range(repeats):
        rng = np.random.default_rng([seed, rep])
        screen = ScreeningPredictor(space, TablePredictor(table))  # nothing tabulated yet
        t0 = time.perf_counter()
        codes = screen.codec.random(rng, pool)
        latency = screen.predict_codes(codes)
        t_cold = time.perf_counter() - t0
        cold.append(pool / t_cold)
        tabulate.append(screen.probes)
        t0 = time.perf_counter()
        codes = screen.codec.random(rng, pool)  # another pool of new architectures
        latency = screen.predict_codes(codes)
        t_warm = time.perf_counter() - t0
        warm.append(pool / t_warm)
        one_off.append(t_cold - t_warm)
        assert np.all(np.isfinite(latency))
    assert screen is not None
    distinct = len({row.tobytes() for row in screen.codec.canonical(codes)})
    reference = TablePredictor(table)
    worst = 0.0
    for row, value in zip(codes[:check], screen.predict_codes(codes[:check]), strict=True):
        expected = reference.predict_ms(space.replay(screen.codec.decode(row)))
        worst = max(worst, abs(value - expected) / expected)
    rng_arch = random.Random(seed)
    archs = [space.random_arch(rng_arch) for _ in range(2000)]
    fresh = TablePredictor(table)
    t0 = time.perf_counter()
    for arch in archs:
        fresh.predict_ms(arch)
    arch_rate = len(archs) / (time.perf_counter() - t0)
    print(f"target {target} ({table.header.target}), space {space.name}: pools of {pool:,} new "
          f"architectures ({distinct:,} distinct), {repeats} repeats (min / median / max)")
    print(f"  first pool, fresh predictor (tabulation included)          {_spread(cold)}")
    print(f"  next pool of new architectures (unit table in place)       {_spread(warm)}")
    print(f"  the one-off tabulation: {int(tabulate[0])} probe archs, "
          f"{min(one_off):.2f}-{max(one_off):.2f} s")
    print(f"  for reference: predict_ms on 2,000 new Arch objects (cold) {arch_rate:>10,.0f} "
          "archs/s")
    print(f"  largest relative difference to predict_ms on {check} of them: {worst:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="mobilenetv3")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", nargs="*", default=["pixel4", "host"])
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--check", type=int, default=300)
    args = parser.parse_args()
    space = load_space(args.space)
    if args.n:
        table_predictor_part(space, args.space, args.n, args.seed)
    for target in args.targets:
        screening_part(space, target, args.pool, args.repeats, args.check, args.seed)


if __name__ == "__main__":
    main()
