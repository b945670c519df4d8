"""Rank correlation of every accuracy proxy with real accuracy, and its cost.

Two benchmarks (data from the sibling ``../shared/data`` folder, see its README):

1. NAS-Bench-Macro (Su et al., CVPR 2021): 300 CIFAR-10 networks with real trained
   accuracy. Kendall tau of each proxy vs ``truth.accuracy`` over all 300, and within a
   narrow cost band: the archs whose MACs lie within +-10% of the median MACs (the
   search compares candidates of about equal latency, where FLOPs no longer help).
2. OFA-MobileNetV3 w1.2 (Cai et al., ICLR 2020): random subnets ranked by each proxy
   and by OFA's pretrained ImageNet accuracy predictor (a learned oracle).

Usage (``PYTHONPATH=. .venv/bin/python benchmarks/proxy_correlation.py --help``)::

    python benchmarks/proxy_correlation.py                  # default, < 5 min on 2 cores
    python benchmarks/proxy_correlation.py --ofa-archs 100 --with-train
    python benchmarks/proxy_correlation.py --write benchmarks/RESULTS-proxies.md

Prints a markdown table; ``--write`` appends it as a section to a results file.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from scipy.stats import kendalltau

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mnas.arch import Arch, arch_from_dict, load_arch  # noqa: E402
from mnas.proxies import AccuracyProxy, arch_costs, get_proxy  # noqa: E402

__all__ = [
    "OFA_ORACLE",
    "load_macro_archs",
    "main",
    "ofa_arch",
    "ofa_encode",
    "ofa_oracle",
    "sample_ofa_config",
]

SHARED = ROOT / ".." / "shared" / "data"
MACRO_DIR = SHARED / "nas_bench_macro" / "archs"
CIFAR = SHARED / "cifar10_5k.npz"
IMAGENET = SHARED / "imagenet_sample_128.npz"
OFA_ORACLE = SHARED / "ofa_acc_predictor" / "acc_predictor.pth"

# OFA-MobileNetV3 w1.2 space (once-for-all, ofa_mbv3 with width_mult 1.2)
OFA_WIDTHS = (32, 48, 96, 136, 192)
OFA_STRIDES = (2, 2, 2, 1, 2)
OFA_SE = (False, True, False, True, True)
OFA_ACT = ("re", "re", "hs", "hs", "hs")
OFA_KERNELS = (3, 5, 7)
OFA_EXPANDS = (3, 4, 6)
OFA_DEPTHS = (2, 3, 4)
OFA_RESOLUTIONS = tuple(range(160, 225, 16))


def load_macro_archs(limit: int | None = None) -> list[Arch]:
    """The NAS-Bench-Macro arch files (sorted by key), optionally an even subset."""
    files = sorted(p for p in MACRO_DIR.glob("*.json") if p.name != "index.json")
    archs = [load_arch(p) for p in files]
    if limit is not None and limit < len(archs):
        step = len(archs) / limit
        archs = [archs[int(i * step)] for i in range(limit)]
    return archs


def sample_ofa_config(rng: random.Random, resolutions: Sequence[int]) -> dict:
    """A random OFA subnet: per-stage depth, per-block kernel and expansion, resolution."""
    depths = [rng.choice(OFA_DEPTHS) for _ in OFA_WIDTHS]
    blocks = [[(rng.choice(OFA_KERNELS), rng.choice(OFA_EXPANDS)) for _ in range(d)]
              for d in depths]
    return {"blocks": blocks, "resolution": rng.choice(list(resolutions))}


def ofa_arch(config: dict) -> Arch:
    """The ``Arch`` of an OFA-MobileNetV3 w1.2 subnet ``config``."""
    stages: list[list[str]] = [["ds_r1_k3_s1_c24_nre"]]
    for s, blocks in enumerate(config["blocks"]):
        stage = []
        for b, (kernel, expand) in enumerate(blocks):
            stride = OFA_STRIDES[s] if b == 0 else 1
            se = "_se0.25" if OFA_SE[s] else ""
            stage.append(f"ir_r1_k{kernel}_s{stride}_e{expand}_c{OFA_WIDTHS[s]}{se}_n{OFA_ACT[s]}")
        stages.append(stage)
    stages.append(["cn_r1_k1_s1_c1152_nhs"])
    return arch_from_dict({
        "format": "mnas-arch/1",
        "name": "ofa_mbv3_w12_" + "_".join(
            "".join(f"{k}{e}" for k, e in blocks) for blocks in config["blocks"])
        + f"_r{config['resolution']}",
        "resolution": config["resolution"],
        "num_classes": 1000,
        "stem": {"channels": 24, "stride": 2, "kernel": 3, "act": "hswish"},
        "blocks": stages,
        "head": {"type": "pool_conv_act", "channels": 1536, "act": "hswish", "dropout": 0.0},
        "se_gate": "hard_sigmoid",
        "se_reduce_from": "mid",
    }, source="ofa")


def ofa_encode(config: dict) -> torch.Tensor:
    """OFA accuracy-predictor input (128 numbers; see shared/data/README.md)."""
    vec = torch.zeros(128)
    for s, blocks in enumerate(config["blocks"]):
        for b, (kernel, expand) in enumerate(blocks):
            slot = s * 4 + b
            vec[slot * 3 + {3: 0, 5: 1, 7: 2}[kernel]] = 1
            vec[60 + slot * 3 + {3: 0, 4: 1, 6: 2}[expand]] = 1
    vec[120 + (config["resolution"] - 112) // 16] = 1
    return vec


def ofa_oracle() -> Callable[[dict], float]:
    """OFA's pretrained accuracy predictor as a function of a subnet config."""
    state = torch.load(OFA_ORACLE, weights_only=True, map_location="cpu")
    net = torch.nn.Sequential(
        torch.nn.Linear(128, 400), torch.nn.ReLU(), torch.nn.Linear(400, 400), torch.nn.ReLU(),
        torch.nn.Linear(400, 400), torch.nn.ReLU(), torch.nn.Linear(400, 1))
    net.load_state_dict(state)
    net.eval()

    def predict(config: dict) -> float:
        with torch.no_grad():
            return float(net(ofa_encode(config)[None])[0, 0])

    return predict


def _tau(scores: Sequence[float], truth: Sequence[float]) -> float:
    return float(kendalltau(scores, truth).statistic)


def _score_all(proxy: AccuracyProxy, archs: Sequence[Arch]) -> tuple[list[float], float]:
    start = time.perf_counter()
    scores = [proxy.score(a) for a in archs]
    return scores, (time.perf_counter() - start) / len(archs) * 1000


def _band(archs: Sequence[Arch], width: float) -> list[int]:
    macs = [arch_costs(a).macs for a in archs]
    median = statistics.median(macs)
    return [i for i, m in enumerate(macs) if abs(m - median) <= width * median]


def _proxy_specs(args: argparse.Namespace, data: Path) -> list[tuple[str, dict]]:
    specs: list[tuple[str, dict]] = [("params", {}), ("flops", {}), ("zen", {}), ("zen-naswot", {})]
    if data.exists():
        specs += [("naswot", {"data": str(data)}), ("zico", {"data": str(data)})]
    if args.with_train and data.exists():
        specs.append(("train", {"data": str(data), "epochs": args.train_epochs,
                                "train_images": args.train_images}))
    wanted = set(args.proxies.split(",")) if args.proxies else None
    return [(n, kw) for n, kw in specs if wanted is None or n in wanted]


def run_macro(args: argparse.Namespace) -> list[dict]:
    """NAS-Bench-Macro rows: tau over all archs, tau in the MACs band, ms per arch."""
    archs = load_macro_archs(args.macro_archs)
    acc = [a.extra["truth"]["accuracy"] for a in archs]
    band = _band(archs, args.band)
    rows = []
    for name, kwargs in _proxy_specs(args, CIFAR):
        subset = archs
        if name == "train":
            subset = archs[:: max(1, len(archs) // args.train_archs)][: args.train_archs]
        proxy = get_proxy(name, seed=args.seed, **kwargs)
        scores, ms = _score_all(proxy, subset)
        sub_acc = [a.extra["truth"]["accuracy"] for a in subset]
        row = {"proxy": name, "n": len(subset), "tau": _tau(scores, sub_acc), "ms": ms}
        if subset is archs:
            row["tau_band"] = _tau([scores[i] for i in band], [acc[i] for i in band])
            row["n_band"] = len(band)
        rows.append(row)
        print(f"  macro {name:9s} tau={row['tau']:+.3f} band={row.get('tau_band', math.nan):+.3f}"
              f" {ms:8.1f} ms/arch", file=sys.stderr, flush=True)
    return rows


def run_ofa(args: argparse.Namespace) -> list[dict]:
    """OFA rows: tau vs the OFA accuracy predictor over random subnets."""
    rng = random.Random(args.seed)
    resolutions = OFA_RESOLUTIONS if args.ofa_mixed_res else (args.ofa_resolution,)
    configs = [sample_ofa_config(rng, resolutions) for _ in range(args.ofa_archs)]
    oracle = ofa_oracle()
    truth = [oracle(c) for c in configs]
    archs = [ofa_arch(c) for c in configs]
    band = _band(archs, args.band)
    rows = []
    for name, kwargs in _proxy_specs(args, IMAGENET):
        if name == "train" or ("data" in kwargs and not args.ofa_data_driven):
            continue
        if name not in ("params", "flops") and args.proxy_resolution:
            kwargs = {**kwargs, "resolution": args.proxy_resolution}
        proxy = get_proxy(name, seed=args.seed, **kwargs)
        scores, ms = _score_all(proxy, archs)
        rows.append({"proxy": name, "n": len(archs), "tau": _tau(scores, truth), "ms": ms,
                     "tau_band": _tau([scores[i] for i in band], [truth[i] for i in band]),
                     "n_band": len(band)})
        print(f"  ofa   {name:9s} tau={rows[-1]['tau']:+.3f} band={rows[-1]['tau_band']:+.3f}"
              f" {ms:8.1f} ms/arch", file=sys.stderr, flush=True)
    return rows


def render(macro: list[dict], ofa: list[dict], args: argparse.Namespace) -> str:
    """The results as a markdown section."""
    by_name = {r["proxy"]: r for r in ofa}
    lines = [
        f"## Accuracy-proxy correlation ({_dt.date.today().isoformat()}, seed {args.seed})",
        "",
        "Command: `PYTHONPATH=. python benchmarks/proxy_correlation.py "
        + " ".join(args.argv) + "` (torch 1 thread, CPU).",
        "",
        "- NAS-Bench-Macro: Kendall tau vs real CIFAR-10 accuracy over "
        f"{macro[0]['n'] if macro else 0}"
        f" archs; band = archs within +-{args.band:.0%} of the median MACs"
        f" ({macro[0].get('n_band', 0) if macro else 0} archs). Data-driven proxies use"
        " `cifar10_5k.npz`. ms = CPU time per arch (1 thread).",
        f"- OFA-MBV3 w1.2: Kendall tau vs OFA's ImageNet accuracy predictor over {args.ofa_archs}"
        " random subnets (resolution "
        + ("random in 160..224" if args.ofa_mixed_res else str(args.ofa_resolution))
        + (f"; network proxies evaluated at {args.proxy_resolution}px" if args.proxy_resolution
           else "") + "); data-driven proxies use `imagenet_sample_128.npz`;"
        f" band = +-{args.band:.0%} of the median MACs"
        f" ({ofa[0]['n_band'] if ofa else 0} archs).",
        "",
        "| proxy | Macro tau | Macro tau (MACs band) | Macro ms/arch | OFA tau | OFA tau (band) |"
        " OFA ms/arch |",
        "|---|---|---|---|---|---|---|",
    ]

    def fmt(value: float | None, spec: str = "+.3f") -> str:
        return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) \
            else format(value, spec)

    for row in macro:
        o = by_name.get(row["proxy"], {})
        name = row["proxy"] + (f" ({row['n']} archs)" if "tau_band" not in row else "")
        lines.append(
            f"| {name} | {fmt(row['tau'])} | {fmt(row.get('tau_band'))} | {fmt(row['ms'], '.1f')}"
            f" | {fmt(o.get('tau'))} | {fmt(o.get('tau_band'))} | {fmt(o.get('ms'), '.1f')} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--proxies", default="",
                        help="comma-separated subset (default: all; train needs --with-train)")
    parser.add_argument("--full", action="store_true",
                        help="all 300 NAS-Bench-Macro archs, 50 OFA subnets, data-driven proxies"
                        " on OFA too (about 15-30 min on 2 cores)")
    parser.add_argument("--macro-archs", type=int, default=None,
                        help="even subset of the 300 NAS-Bench-Macro archs"
                        " (default 100; --full 300)")
    parser.add_argument("--band", type=float, default=0.10,
                        help="half-width of the MACs band around the median (default 0.10)")
    parser.add_argument("--ofa-archs", type=int, default=None, help="default 30; --full 50")
    parser.add_argument("--ofa-data-driven", action="store_true",
                        help="also run naswot/zico on OFA (slow; implied by --full)")
    parser.add_argument("--ofa-resolution", type=int, default=224)
    parser.add_argument("--ofa-mixed-res", action="store_true",
                        help="sample OFA resolutions in 160..224 (step 16) instead of one")
    parser.add_argument("--proxy-resolution", type=int, default=64,
                        help="input size of network proxies on OFA archs (0 = the arch's own)")
    parser.add_argument("--with-train", action="store_true",
                        help="also run the short-training proxy (slow) on --train-archs archs")
    parser.add_argument("--train-archs", type=int, default=20)
    parser.add_argument("--train-epochs", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=1000)
    parser.add_argument("--skip-ofa", action="store_true")
    parser.add_argument("--write", type=Path, default=None,
                        help="append the table as a section to this markdown file")
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    if args.macro_archs is None:
        args.macro_archs = 300 if args.full else 100
    if args.ofa_archs is None:
        args.ofa_archs = 50 if args.full else 30
    args.ofa_data_driven = args.ofa_data_driven or args.full
    if not MACRO_DIR.exists():
        print(f"error: {MACRO_DIR} not found (needs the sibling shared/ folder)", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    macro = run_macro(args)
    ofa = [] if args.skip_ofa or not OFA_ORACLE.exists() else run_ofa(args)
    text = render(macro, ofa, args)
    print(text)
    if args.write is not None:
        with args.write.open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
