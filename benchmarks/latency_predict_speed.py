"""Benchmark: how fast a latency table predicts many architectures.

Samples 10,000 architectures from a space (default ``mobilenetv3``), builds a table
whose entries cover them (synthetic numbers: the lookup cost does not depend on
them), and times ``TablePredictor.predict_ms`` over all of them, cold (first pass,
filling the memo) and warm (second pass), plus ``predict`` (with per-block breakdown).

    .venv/bin/python benchmarks/latency_predict_speed.py [--space NAME] [--n 10000]
"""

from __future__ import annotations

import argparse
import random
import time

from mnas.latency import LatencyEntry, LatencyTable, TableHeader, TablePredictor, op_keys
from mnas.spaces import load_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="mobilenetv3")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    space = load_space(args.space)
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    archs = [space.random_arch(rng) for _ in range(args.n)]
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
    print(f"space {args.space}: {args.n} archs, {len(table.entries)} distinct keys")
    print(f"  sampling the archs           {t_sample:7.3f} s (not part of prediction)")
    print(f"  op_keys + str, for reference {t_keys:7.3f} s ({t_keys / args.n * 1e6:.1f} us/arch)")
    print(f"  predict_ms, cold memo        {cold:7.3f} s ({cold / args.n * 1e6:.1f} us/arch)")
    print(f"  predict_ms, warm memo        {warm:7.3f} s ({warm / args.n * 1e6:.1f} us/arch)")
    print(f"  predict (Estimate, per-block){full:7.3f} s ({full / args.n * 1e6:.1f} us/arch)")


if __name__ == "__main__":
    main()
