"""The tabular benchmarks of ``../shared/data`` as mnas labels (used by several benchmarks).

* NAS-Bench-Macro (Su et al., CVPR 2021): the benchmark's 6,561 keys (one op digit
  per layer) replayed in the ``nas-bench-macro`` space; keys that build the same
  network (skipped layers in other positions) are one network, labelled with the mean
  of their CIFAR-10 accuracies.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mnas.accuracy import LabelledArch, LabelSet
from mnas.arch import Arch
from mnas.spaces import load_space

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
MACRO_DIR = SHARED / "nas_bench_macro" / "archs"
MACRO_JSON = SHARED / "nas_bench_macro" / "nas-bench-macro_cifar10.json"
ACCEL = SHARED / "accel_nasbench" / "archs"
MACRO_OPS = {"0": "identity", "1": "k3_e3", "2": "k5_e6"}


def macro_networks() -> dict[str, list[tuple[Arch, float]]]:
    """Structure key -> the (architecture, CIFAR-10 mean accuracy) of each benchmark key."""
    space = load_space("nas-bench-macro")
    names = space.parameter_names()
    bench = json.loads(MACRO_JSON.read_text(encoding="utf-8"))
    groups: dict[str, list[tuple[Arch, float]]] = {}
    for key, record in bench.items():
        arch = space.replay({n: MACRO_OPS[c] for n, c in zip(names, key, strict=True)})
        groups.setdefault(arch.structure_key(), []).append((arch, float(record["mean_acc"])))
    return groups


def macro_labels(exclude: set[str] | None = None) -> LabelSet:
    """Every distinct NAS-Bench-Macro network (less the structure keys in ``exclude``)."""
    items = tuple(LabelledArch(arch=group[0][0], accuracy=float(np.mean([a for _, a in group])),
                               origin=f"{MACRO_JSON.name} ({len(group)} keys)")
                  for key, group in macro_networks().items() if key not in (exclude or set()))
    return LabelSet(items=items, source=str(MACRO_JSON), kind="folder",
                    description="NAS-Bench-Macro CIFAR-10 test top-1 (mean of 3 runs)",
                    space="nas-bench-macro")
