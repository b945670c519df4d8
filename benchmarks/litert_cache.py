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
networks and reports held-out MAPE / Kendall tau on the validation networks (with two
files, also against the other session's measurements of them: fitted in one session,
validated in the next).

    .venv/bin/python benchmarks/litert_cache.py [--table NAME] [--rounds 20] [--out ...]
    PYTHONPATH=. .venv/bin/python benchmarks/litert_cache.py --fit \
        benchmarks/results/litert_cache_s1.json benchmarks/results/litert_cache_s2.json

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

from mnas._io import atomic_write_json
from mnas.latency import host_table_name, op_keys, resolve_target
from mnas.latency._builder import arch_id, call_overhead_ms
from mnas.latency._key_model import key_example, key_model, seed_of
from mnas.latency._validate import reference_archs, validation_archs
from mnas.latency.runners import make_host_runner
from mnas.latency.runners._litert import litert_interpreter
from mnas.latency.runners._litert_convert import io_example, io_layout
from mnas.models import build
from mnas.spaces import load_space

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
    table = resolve_target(args.table)
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
    data = {"date": dt.datetime.now(dt.UTC).isoformat(), "table": str(table.path),
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
    out = atomic_write_json(args.out, data)
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


def _act_beyond_l2(data: dict[str, Any], net: dict[str, Any]) -> float:
    """Millions of activation floats (a key's input + output) beyond L2, over its keys."""
    return sum(max(0, (k["act_in"] + k["act_out"]) * 4 - L2_BYTES)
               for k in (data["keys"][t] for t in net["keys"])) / 4e6


def _fit(rows: list[list[float]], y: list[float]) -> tuple[list[float], float]:
    """Non-negative coefficients minimising the squared relative error, and that error."""
    from scipy.optimize import nnls

    a = np.array([[v / m for v in row] for row, m in zip(rows, y, strict=True)])
    solution, norm = nnls(a, np.ones(len(y)))
    return [float(v) for v in solution], float(norm) ** 2


def _metrics(pred: list[float], y: list[float]) -> dict[str, float]:
    from mnas.latency._validate import accuracy

    return accuracy(pred, y)


Row = Any  # (data, network, w0) -> features


def variants() -> dict[str, tuple[Row, bool]]:
    """Model variants: name -> (features of a network given ``w0``, whether ``w0`` is fitted).

    ``w0`` is fitted as :func:`mnas.latency.fit_calibration` does: 0, each calibration
    network's weight count leaving >= 3 beyond it and the midpoints; least squared error.
    """
    def warm(d: Any, n: Any) -> float:
        return _sums(d, n, "warm")

    def delta(d: Any, n: Any, kind: str = "cold", keep: Any = None) -> float:
        return _sums(d, n, kind, keep) - _sums(d, n, "warm", keep)

    def big_key(key: Any) -> bool:
        return bool(key["weights"] * 4 > L2_BYTES)

    return {
        "a*warm + b": (lambda d, n, w0: [warm(d, n), 1.0], False),
        "a*warm + c*W + b (current)": (lambda d, n, w0: [warm(d, n), _weights(d, n), 1.0],
                                       False),
        "a*warm + f*(cold-warm) + b": (lambda d, n, w0: [warm(d, n), delta(d, n), 1.0], False),
        "a*warm + f*(cold_l3-warm) + b": (
            lambda d, n, w0: [warm(d, n), delta(d, n, "cold_l3"), 1.0], False),
        "a*warm + f*(cold-warm, keys w>L2) + b": (
            lambda d, n, w0: [warm(d, n), delta(d, n, "cold", big_key), 1.0], False),
        "a*warm + f*(cold-warm if W>w0) + b": (
            lambda d, n, w0: [warm(d, n), delta(d, n) if _weights(d, n) > w0 else 0.0, 1.0],
            True),
        "a*warm + c*W*[W>w0] + b": (
            lambda d, n, w0: [warm(d, n), _weights(d, n) * (_weights(d, n) > w0), 1.0], True),
        "a*warm + c*max(0,W-w0) + b (implemented)": (
            lambda d, n, w0: [warm(d, n), max(0.0, _weights(d, n) - w0), 1.0], True),
        "... + e*act beyond L2 (not implemented)": (
            lambda d, n, w0: [warm(d, n), max(0.0, _weights(d, n) - w0),
                              _act_beyond_l2(d, n), 1.0], True),
    }


def _fit_variant(data: dict[str, Any], row: Row, fit_w0: bool
                 ) -> tuple[list[float], float]:
    calib = [n for n in data["networks"] if n["group"] == "calibration"]
    y = [n["net_ms"] for n in calib]
    candidates = [0.0]
    if fit_w0:
        knots = sorted({_weights(data, n) for n in calib})[:-3]
        candidates += sorted({*knots, *((a + b) / 2 for a, b in zip(knots, knots[1:],
                                                                       strict=False))})
    best: tuple[float, list[float], float] | None = None
    for w0 in candidates:
        coef, error = _fit([row(data, n, w0) for n in calib], y)
        if coef[0] > 0 and (best is None or error < best[0] - 1e-12):
            best = (error, coef, w0)
    assert best is not None
    return best[1], best[2]


def report(data: dict[str, Any], path: str, other: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    """Fit each variant on the calibration networks; held-out metrics on the validation ones
    (and, with ``other``, on ``other``'s measurements of them: built in one session,
    validated in another)."""
    calib = [n for n in data["networks"] if n["group"] == "calibration"]
    valid = [n for n in data["networks"] if n["group"] == "validation"]
    print(f"{path}: {data['date'][:19]} load {data['loadavg_before'][0]:.2f}, rounds "
          f"{min(data['loadavg_rounds']):.2f}-{max(data['loadavg_rounds']):.2f}, "
          f"{data['rounds']} rounds")
    later = ({n["id"]: n["net_ms"] for n in other["networks"] if n["group"] == "validation"}
             if other else None)
    results: dict[str, Any] = {}
    raw = {"warm sum (raw)": lambda n: _sums(data, n, "warm"),
           "chain sum (raw)": lambda n: n["chain_ms"]}
    every: dict[str, Any] = {**{k: (v, None) for k, v in raw.items()}, **variants()}
    for name, (row, fit_w0) in every.items():
        coef: list[float] = []
        w0 = 0.0
        if fit_w0 is None:
            pred = {n["id"]: row(n) for n in data["networks"]}
        else:
            coef, w0 = _fit_variant(data, row, fit_w0)
            pred = {n["id"]: float(np.dot(coef, row(data, n, w0))) for n in data["networks"]}
        ins = _metrics([pred[n["id"]] for n in calib], [n["net_ms"] for n in calib])
        out = _metrics([pred[n["id"]] for n in valid], [n["net_ms"] for n in valid])
        cross = (_metrics([pred[n["id"]] for n in valid], [later[n["id"]] for n in valid])
                 if later else None)
        results[name] = {"coef": coef, "w0": w0, "calibration": ins, "validation": out,
                         "validation_other_session": cross}
        print(f"  {name:42s} in {ins['mape'] * 100:5.2f}% | held out {out['mape'] * 100:5.2f}% "
              f"tau {out['kendall_tau']:.3f} max {out['max_abs_pct_err'] * 100:4.1f}%"
              + (f" | other session {cross['mape'] * 100:5.2f}% tau {cross['kendall_tau']:.3f}"
                 if cross else "")
              + (f" | w0 {w0:.2f} M" if fit_w0 else "")
              + ("  coef " + " ".join(f"{c:.3g}" for c in coef) if coef else ""))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=host_table_name("litert", 1),
                        help="the LiteRT table (default: this host's)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cold", type=int, default=3, help="cold runs per key per round")
    parser.add_argument("--chain", type=int, default=3, help="chained runs per network per round")
    parser.add_argument("--out", default="benchmarks/results/litert_cache.json")
    parser.add_argument("--fit", nargs="*", help="result files to fit and report (no timing)")
    args = parser.parse_args()
    if args.fit is not None:
        paths = args.fit or [args.out]
        sessions = [json.loads(Path(path).read_text(encoding="utf-8")) for path in paths]
        for index, (path, data) in enumerate(zip(paths, sessions, strict=True)):
            other = sessions[(index + 1) % len(sessions)] if len(sessions) > 1 else None
            report(data, path, other)
        return
    measure(args)


if __name__ == "__main__":
    main()
