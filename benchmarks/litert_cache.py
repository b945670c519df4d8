"""Benchmark: what cache state does to LiteRT key timings, and which model of it predicts networks.

The LiteRT host table's entries are key models timed alone and repeated: warm, with the
key's packed weights and its input in cache. A network with more weights than stay
cached runs slower than the sum of its keys. This times, in one round-robin session,
for the table's 24 calibration networks and the 30 ``mobilenetv1`` validation networks
(seed 0) and every key they use (LiteRT's interpreter, XNNPACK, 1 thread, thread CPU
time, fastest run):

- ``warm``: a key repeated (what the table stores);
- ``cold_l3``: a key run once right after reading a 4 MiB buffer (L2 evicted, most of
  L3 kept) and rewriting its input;
- ``cold``: the same after reading a 64 MiB buffer (larger than L3: weights from memory);
- ``net``: every whole network (NCHW, as exported) repeated, as validation times it;
- ``chain``: every network's key models invoked one after the other, in order, the
  sequence repeated; each key's time in the chain is recorded (its time in context).

The flush and the input rewrite are outside the clock. It writes raw timings and per
network sums to ``--out``; ``--fit`` then fits model variants on the calibration
networks and reports held-out MAPE / Kendall tau on the validation networks.

    .venv/bin/python benchmarks/litert_cache.py [--rounds 12] [--out ...]
    .venv/bin/python benchmarks/litert_cache.py --fit benchmarks/results/litert_cache.json

Conversions come from the on-disk cache (``~/.cache/mnas/tflite``). Reported in the README
(LiteRT section).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mnas.latency import op_keys, resolve_target
from mnas.latency._builder import arch_id, call_overhead_ms
from mnas.latency._key_model import key_example, key_model, seed_of
from mnas.latency._validate import reference_archs, validation_archs
from mnas.latency.runners import make_host_runner
from mnas.latency.runners._litert import litert_interpreter
from mnas.latency.runners._litert_convert import io_example, io_layout
from mnas.models import build
from mnas.spaces import load_space

TABLE = "latency_tables/host-amd-epyc-litert-1t.json"
now = time.thread_time_ns


class _Item:
    """One loaded ``.tflite`` model with its input bound."""

    def __init__(self, data: bytes, model: torch.nn.Module, example: torch.Tensor) -> None:
        self.interpreter = litert_interpreter(data, threads=1)
        detail = self.interpreter.get_input_details()[0]
        self.index = detail["index"]
        self.data = io_example(example.detach().cpu(), io_layout(model)).contiguous(
            ).numpy().astype(np.float32)
        self.interpreter.set_tensor(self.index, self.data)
        self.invoke = self.interpreter.invoke

    def warm(self, repeats: int) -> float:
        invoke = self.invoke
        invoke()
        best = float("inf")
        for _ in range(repeats):
            start = now()
            invoke()
            best = min(best, now() - start)
        return best / 1e6

    def cold(self, flush: np.ndarray, repeats: int) -> float:
        best = float("inf")
        for _ in range(repeats):
            float(flush.sum())  # read it all: evicts what was cached, writes nothing back
            self.interpreter.set_tensor(self.index, self.data)  # the input is hot in a network
            start = now()
            self.invoke()
            best = min(best, now() - start)
        return best / 1e6


def _key_features(key: Any) -> dict[str, int]:
    out = key.out_size if hasattr(key, "out_size") else key.in_size
    return {"weights": int(key.weights),
            "act_in": int(key.in_size * key.in_size * key.in_channels),
            "act_out": int(out * out * key.out_channels) if key.kind != "head"
            else int(key.out_channels),
            "act_mid": int(key.in_size * key.in_size * (key.mid_channels or 0))}


def measure(args: argparse.Namespace) -> None:
    space = load_space("mobilenetv1")
    table = resolve_target(TABLE)
    calib = reference_archs(table, space, 24)
    valid = validation_archs(space, 30, seed=0)
    assert len(calib) == 24
    runner = make_host_runner("litert")
    load_before = os.getloadavg()
    start = time.monotonic()
    keys = {str(k): k for arch in calib + valid for k in op_keys(arch)}
    models: dict[str, tuple[torch.nn.Module, torch.Tensor]] = {
        f"key {text}": (key_model(key), key_example(key)) for text, key in keys.items()}
    for arch in calib + valid:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed_of(arch_id(arch)))  # time_networks' weights: cached
            models[f"net {arch_id(arch)}"] = (build(arch).eval(),
                                              key_example(op_keys(arch)[0]))
    converted = runner.convert_ahead(list(models.values()))
    overhead = call_overhead_ms(runner)
    items = {name: _Item(runner.cache.get(m, x), m, x) for name, (m, x) in models.items()}
    print(f"{len(keys)} keys, {len(calib) + len(valid)} networks loaded ({converted} "
          f"converted) in {time.monotonic() - start:.0f} s; overhead {overhead * 1e3:.1f} us",
          flush=True)
    big = np.ones(64 << 18, dtype=np.float32)  # 64 MiB
    small = np.ones(4 << 18, dtype=np.float32)  # 4 MiB
    best: dict[str, dict[str, float]] = {
        kind: {text: float("inf") for text in keys} for kind in ("warm", "cold_l3", "cold")}
    best["net"] = {arch_id(a): float("inf") for a in calib + valid}
    best["chain"] = {arch_id(a): float("inf") for a in calib + valid}
    in_chain: dict[str, list[float]] = {
        arch_id(a): [float("inf")] * len(op_keys(a)) for a in calib + valid}
    rng = random.Random(0)
    loads = []
    for round_index in range(args.rounds):
        order = list(keys)
        rng.shuffle(order)
        for text in order:
            item = items[f"key {text}"]
            best["warm"][text] = min(best["warm"][text], item.warm(args.repeats))
            best["cold_l3"][text] = min(best["cold_l3"][text], item.cold(small, args.cold))
            best["cold"][text] = min(best["cold"][text], item.cold(big, args.cold))
        nets = list(calib + valid)
        rng.shuffle(nets)
        for arch in nets:
            ident = arch_id(arch)
            best["net"][ident] = min(best["net"][ident], items[f"net {ident}"].warm(args.repeats))
        for arch in nets:
            ident = arch_id(arch)
            chain = [items[f"key {k}"].invoke for k in map(str, op_keys(arch))]
            for invoke in chain:
                invoke()
            for _ in range(args.chain):
                times = []
                for invoke in chain:
                    t0 = now()
                    invoke()
                    times.append((now() - t0) / 1e6)
                best["chain"][ident] = min(best["chain"][ident], sum(times))
                in_chain[ident] = [min(a, b) for a, b in zip(in_chain[ident], times, strict=True)]
        loads.append(os.getloadavg()[0])
        print(f"round {round_index + 1}/{args.rounds} load {loads[-1]:.2f} "
              f"{time.monotonic() - start:.0f} s", flush=True)
    networks = []
    for group, archs in (("calibration", calib), ("validation", valid)):
        for arch in archs:
            ident = arch_id(arch)
            texts = [str(k) for k in op_keys(arch)]
            networks.append({
                "id": ident, "name": arch.name, "group": group, "resolution": arch.resolution,
                "keys": texts, "net_ms": best["net"][ident], "chain_ms": best["chain"][ident],
                "in_chain_ms": in_chain[ident],
                "table_sum_ms": sum(table.unit_ms(t) for t in texts) + table.call_overhead_ms,
                "table_measured_ms": (table.header.extra["calibration_networks"][ident]
                                      ["measured_ms"] if group == "calibration" else None)})
    data = {"date": dt.datetime.now(dt.UTC).isoformat(), "table": TABLE,
            "rounds": args.rounds, "repeats": args.repeats, "cold_repeats": args.cold,
            "chain_repeats": args.chain, "converted": converted,
            "seconds": time.monotonic() - start, "call_overhead_ms": overhead,
            "table_call_overhead_ms": table.call_overhead_ms,
            "loadavg_before": load_before, "loadavg_rounds": loads,
            "loadavg_after": os.getloadavg(),
            "keys": {text: {"warm_ms": best["warm"][text], "cold_l3_ms": best["cold_l3"][text],
                            "cold_ms": best["cold"][text],
                            "table_ms": table.unit_ms(text) + table.call_overhead_ms,
                            **_key_features(key)}
                     for text, key in keys.items()},
            "networks": networks}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out} ({data['seconds']:.0f} s, load {load_before[0]:.2f} -> "
          f"{data['loadavg_after'][0]:.2f})")


# ---------------------------------------------------------------- fitting
L2_BYTES = 512 << 10
"""This host's L2 per core (lscpu)."""


def _sums(data: dict[str, Any], net: dict[str, Any], kind: str,
          keep: Any = None) -> float:
    """Sum of ``kind`` over the network's keys, less the call overhead per key, plus once."""
    overhead = data["call_overhead_ms"]
    total = overhead
    for text in net["keys"]:
        key = data["keys"][text]
        if keep is None or keep(key):
            total += max(0.0, key[f"{kind}_ms"] - overhead)
    return total


def _weights(data: dict[str, Any], net: dict[str, Any]) -> float:
    return sum(data["keys"][t]["weights"] for t in net["keys"]) / 1e6


def _fit(rows: list[list[float]], y: list[float]) -> list[float]:
    """Non-negative coefficients minimising the squared relative error."""
    from scipy.optimize import nnls

    a = np.array([[v / m for v in row] for row, m in zip(rows, y, strict=True)])
    solution, _ = nnls(a, np.ones(len(y)))
    return [float(v) for v in solution]


def _metrics(pred: list[float], y: list[float]) -> dict[str, float]:
    from mnas.latency._validate import accuracy

    return accuracy(pred, y)


def variants(data: dict[str, Any]) -> dict[str, Any]:
    """Feature rows per model variant: name -> function(net) -> list of features."""
    delta = lambda net, kind="cold", keep=None: (  # noqa: E731
        _sums(data, net, kind, keep) - _sums(data, net, "warm", keep))
    keys = data["keys"]
    big_key = lambda key: key["weights"] * 4 > L2_BYTES  # noqa: E731
    out: dict[str, Any] = {
        "warm sum (raw)": None,
        "a*warm + b": lambda n: [_sums(data, n, "warm"), 1.0],
        "a*warm + c*Mw + b (current)": lambda n: [_sums(data, n, "warm"), _weights(data, n),
                                                  1.0],
        "warm + f*(cold-warm)": lambda n: [_sums(data, n, "warm"), delta(n)],
        "a*warm + f*(cold-warm) + b": lambda n: [_sums(data, n, "warm"), delta(n), 1.0],
        "a*warm + f*(cold_l3-warm) + b": lambda n: [_sums(data, n, "warm"),
                                                    delta(n, "cold_l3"), 1.0],
        "a*warm + f3*(l3-warm) + fd*(cold-l3) + b": lambda n: [
            _sums(data, n, "warm"), delta(n, "cold_l3"),
            _sums(data, n, "cold") - _sums(data, n, "cold_l3"), 1.0],
        "a*warm + f*(cold-warm | key w > L2) + b": lambda n: [
            _sums(data, n, "warm"), delta(n, "cold", big_key), 1.0],
        "a*cold + b": lambda n: [_sums(data, n, "cold"), 1.0],
        "chain sum (raw)": "chain",
    }
    del keys
    return out


def _threshold_variants(data: dict[str, Any]) -> dict[str, Any]:
    """Network weight bytes above ``t``: the keys' cold - warm is charged (``t`` fitted)."""
    out = {}
    for mb in (2, 4, 6, 8, 10, 12, 16, 24, 32):
        def row(n: dict[str, Any], mb: int = mb) -> list[float]:
            on = _weights(data, n) * 4 > mb
            return [_sums(data, n, "warm"), _sums(data, n, "cold") - _sums(data, n, "warm")
                    if on else 0.0, 1.0]
        out[f"a*warm + f*(cold-warm if W>{mb}MB) + b"] = row
    return out


def report(data: dict[str, Any], path: str) -> dict[str, Any]:
    """Fit each variant on the calibration networks; held-out metrics on the validation ones."""
    calib = [n for n in data["networks"] if n["group"] == "calibration"]
    valid = [n for n in data["networks"] if n["group"] == "validation"]
    print(f"{path}: {data['date'][:19]} load {data['loadavg_before'][0]:.2f} .. "
          f"{max(data['loadavg_rounds']):.2f}, {data['rounds']} rounds")
    results: dict[str, Any] = {}
    every = {**variants(data), **_threshold_variants(data)}
    for name, row in every.items():
        if row is None or row == "chain":
            pred = {n["id"]: (_sums(data, n, "warm") if row is None else n["chain_ms"])
                    for n in data["networks"]}
            coef: list[float] = []
        else:
            coef = _fit([row(n) for n in calib], [n["net_ms"] for n in calib])
            pred = {n["id"]: float(np.dot(coef, row(n))) for n in data["networks"]}
        ins = _metrics([pred[n["id"]] for n in calib], [n["net_ms"] for n in calib])
        out = _metrics([pred[n["id"]] for n in valid], [n["net_ms"] for n in valid])
        results[name] = {"coef": coef, "calibration": ins, "validation": out}
        print(f"  {name:44s} in {ins['mape'] * 100:5.2f}% tau {ins['kendall_tau']:.3f} | "
              f"held out {out['mape'] * 100:5.2f}% tau {out['kendall_tau']:.3f} "
              f"max {out['max_abs_pct_err'] * 100:4.1f}%  coef "
              + " ".join(f"{c:.4g}" for c in coef))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cold", type=int, default=3, help="cold runs per key per round")
    parser.add_argument("--chain", type=int, default=3, help="chained runs per network per round")
    parser.add_argument("--out", default="benchmarks/results/litert_cache.json")
    parser.add_argument("--fit", nargs="*", help="result files to fit and report (no timing)")
    args = parser.parse_args()
    if args.fit is not None:
        for path in args.fit or [args.out]:
            report(json.loads(Path(path).read_text(encoding="utf-8")), path)
        return
    measure(args)


if __name__ == "__main__":
    main()
