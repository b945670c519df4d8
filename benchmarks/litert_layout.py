"""Benchmark: what the key models' input/output layout does to LiteRT's sum of blocks.

A whole network converted by litert-torch keeps PyTorch's NCHW input and output: one
``TRANSPOSE`` at each end, NHWC between its layers. A key model converted the same way
pays those two transposes around every block. This times, for a few ``mobilenetv1``
validation networks (seed 0), every key model converted both ways (``nchw``: PyTorch's
layout at the ends; ``nhwc``: ``litert_torch.to_channel_last_io``, the table's layout)
and the whole network as ``mnas export --format tflite`` writes it (NCHW), all round-robin
in LiteRT's interpreter (XNNPACK, 1 thread, fastest run), and reports per network the
sum of its blocks over the whole network's time, raw (no calibration), and per distinct
key the NCHW / NHWC ratio.

    .venv/bin/python benchmarks/litert_layout.py [--networks 8 15 19 20] [--rounds 20]

Conversions go through the on-disk cache (``~/.cache/mnas/tflite``). Reported in the
README (LiteRT section) and benchmarks/RESULTS-latency.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time

import torch

from mnas._io import atomic_write_json
from mnas.latency import op_keys
from mnas.latency._builder import arch_id, call_overhead_ms
from mnas.latency._key_model import IO_ATTR, key_example, key_model, seed_of
from mnas.latency._validate import validation_archs
from mnas.latency.runners import make_host_runner
from mnas.models import build
from mnas.spaces import load_space


def _nchw_key_model(key: object) -> torch.nn.Module:
    """The key model without its layout mark: converted with NCHW input and output."""
    model = key_model(key)  # type: ignore[arg-type]
    delattr(model, IO_ATTR)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="mobilenetv1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--networks", type=int, nargs="+", default=[8, 15, 19, 20],
                        help="indices among the 30 validation networks of --seed")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", default="benchmarks/results/litert_layout.json")
    args = parser.parse_args()
    space = load_space(args.space)
    archs = [validation_archs(space, 30, seed=args.seed)[i] for i in args.networks]
    runner = make_host_runner("litert")
    load_before = os.getloadavg()
    start = time.monotonic()
    keys = {str(k): k for arch in archs for k in op_keys(arch)}
    items: dict[str, tuple[torch.nn.Module, torch.Tensor]] = {}
    for text, key in keys.items():
        items[f"nchw {text}"] = (_nchw_key_model(key), key_example(key))
        items[f"nhwc {text}"] = (key_model(key), key_example(key))
    for arch in archs:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed_of(arch_id(arch)))  # time_networks' weights: cached
            items[f"net {arch.name}"] = (build(arch).eval(), key_example(op_keys(arch)[0]))
    converted = runner.convert_ahead(list(items.values()))
    convert_s = time.monotonic() - start
    overhead = call_overhead_ms(runner)
    prepared = {name: runner.prepare(model, x) for name, (model, x) in items.items()}
    best = {name: float("inf") for name in prepared}
    for _ in range(args.rounds):
        for name, item in prepared.items():
            best[name] = min(best[name], item.time(warmup=1, repeats=args.repeats).min_ms)
    for item in prepared.values():
        item.close()
    per_key = {text: {"nchw_ms": best[f"nchw {text}"], "nhwc_ms": best[f"nhwc {text}"],
                      "ratio": best[f"nchw {text}"] / best[f"nhwc {text}"]}
               for text in keys}
    networks = []
    for arch in archs:
        texts = [str(k) for k in op_keys(arch)]
        whole = best[f"net {arch.name}"]
        sums = {layout: sum(best[f"{layout} {t}"] - overhead for t in texts) + overhead
                for layout in ("nchw", "nhwc")}
        networks.append({"name": arch.name, "whole_ms": whole, "blocks": len(texts),
                         "sum_nchw_ms": sums["nchw"], "sum_nhwc_ms": sums["nhwc"],
                         "ratio_nchw": sums["nchw"] / whole, "ratio_nhwc": sums["nhwc"] / whole,
                         "stem_channels": arch.stem.channels,
                         "resolution": arch.resolution})
    data = {"date": dt.datetime.now(dt.UTC).isoformat(), "space": args.space,
            "seed": args.seed, "indices": args.networks, "rounds": args.rounds,
            "repeats": args.repeats, "converted": converted, "convert_s": convert_s,
            "seconds": time.monotonic() - start, "call_overhead_ms": overhead,
            "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
            "networks": networks, "keys": per_key}
    out = atomic_write_json(args.out, data)
    print(f"{len(keys)} keys, {converted} converted in {convert_s:.0f} s, "
          f"{data['seconds']:.0f} s in all, load {load_before[0]:.1f} -> "
          f"{data['loadavg_after'][0]:.1f}; wrote {out}")
    for net in networks:
        print(f"{net['name']} ({net['resolution']} px, {net['blocks']} units): whole "
              f"{net['whole_ms']:.3f} ms; sum of keys NCHW-io {net['sum_nchw_ms']:.3f} ms "
              f"(x{net['ratio_nchw']:.3f}), NHWC-io {net['sum_nhwc_ms']:.3f} ms "
              f"(x{net['ratio_nhwc']:.3f})")
    ratios = sorted(v["ratio"] for v in per_key.values())
    print(f"per key NCHW-io / NHWC-io: median {statistics.median(ratios):.3f}, "
          f"range {ratios[0]:.3f}-{ratios[-1]:.3f}")
    for text, value in sorted(per_key.items(), key=lambda kv: -kv[1]["ratio"])[:8]:
        print(f"  {text}: {value['nchw_ms']:.3f} / {value['nhwc_ms']:.3f} ms "
              f"= {value['ratio']:.3f}")


if __name__ == "__main__":
    main()
