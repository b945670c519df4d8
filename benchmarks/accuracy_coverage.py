"""Benchmark: would labels of another family teach the space-agnostic model the zoo's ranking?

Issue 13 asks the default estimate to rank the zoo's published top-1 at least as well as a
parameter count (Kendall tau >= 0.81); the shipped ``imagenet-arch`` model, fitted on
Accel-NASBench alone, reaches 0.70. The zoo is a test set, so the only lever is other
labels. The only other ImageNet-scale labels in ``../shared/data`` are once-for-all's
accuracy predictor on OFA-MobileNetV3 subnets (a learned oracle, and the issue's
cross-space test). This fits the arch encoding (``mnas.accuracy``'s features and
regressors: ridge alpha 10, and the MLP the shipped model uses) on

* ``accel``: the Accel-NASBench fit split of ``benchmarks/accuracy_models.py`` (3,864);
* ``accel+ofa``: the same plus ``--ofa`` OFA subnets labelled by the oracle, drawn with
  seed 1 (the test subnets use seed 0); each source's labels z-scored, since the two are
  on different accuracy scales (16-epoch proxy training vs full training);
* ``ofa``: the OFA subnets alone;

and reports, for each, Kendall tau on the zoo (and the top-1 lost picking the best-scored
zoo model under pixel4 budgets of 8-25 ms), on the held-out Accel-NASBench fifth and on
the 300 seed-0 OFA subnets. Nothing here is shipped.

    .venv/bin/python benchmarks/accuracy_coverage.py [--ofa 2000]

Reported in benchmarks/RESULTS-accuracy.md.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _tabular import ACCEL  # noqa: E402
from accuracy_models import ZOO_TOP1, split, zoo_losses  # noqa: E402
from proxy_correlation import OFA_RESOLUTIONS, ofa_arch, ofa_oracle, sample_ofa_config  # noqa: E402

from mnas.accuracy import kendall, load_labels  # noqa: E402
from mnas.accuracy._encoding import ArchEncoding  # noqa: E402
from mnas.accuracy._regressors import fit_regressor  # noqa: E402
from mnas.latency import TablePredictor, resolve_target  # noqa: E402
from mnas.models import get_arch  # noqa: E402
from mnas.proxies import arch_costs  # noqa: E402


def _z(y: np.ndarray) -> np.ndarray:
    return (y - y.mean()) / y.std()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ofa", type=int, default=2000, help="OFA subnets to fit on")
    args = parser.parse_args()
    encoding = ArchEncoding()
    fit, held = split(load_labels(ACCEL))
    x_accel = np.array([encoding.encode(i.arch) for i in fit.items])
    y_accel = np.array([i.accuracy for i in fit.items])
    x_held = np.array([encoding.encode(i.arch) for i in held.items])
    y_held = np.array([i.accuracy for i in held.items])
    oracle = ofa_oracle()

    def ofa(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = random.Random(seed)
        configs = [sample_ofa_config(rng, OFA_RESOLUTIONS) for _ in range(n)]
        return (np.array([encoding.encode(ofa_arch(c)) for c in configs]),
                np.array([oracle(c) for c in configs]))

    x_ofa, y_ofa = ofa(1, args.ofa)
    x_test, y_test = ofa(0, 300)
    rows = list(csv.DictReader(ZOO_TOP1.read_text(encoding="utf-8").splitlines()))
    zoo = [get_arch(r["arch"]) for r in rows]
    truth = [float(r["accuracy"]) for r in rows]
    x_zoo = np.array([encoding.encode(a) for a in zoo])
    predictor = TablePredictor(resolve_target("pixel4"))
    latency = [predictor.predict_ms(a) for a in zoo]
    params = [float(arch_costs(a).params) for a in zoo]
    print(f"zoo: {len(zoo)} models; params tau {kendall(params, truth):.3f}, top-1 lost "
          f"{np.mean(zoo_losses(params, truth, latency)):.2f}")
    print("| fitted on | family | zoo tau | zoo top-1 lost (mean) | Accel-NASBench held out | "
          "OFA test subnets |")
    print("|---|---|---|---|---|---|")
    sets = (("accel", x_accel, _z(y_accel)),
            ("accel+ofa", np.vstack([x_accel, x_ofa]), np.concatenate([_z(y_accel), _z(y_ofa)])),
            ("ofa", x_ofa, _z(y_ofa)))
    for family in ("ridge", "mlp"):
        for name, x, y in sets:
            model = fit_regressor(x, y, family=family, alpha=10.0)
            scores = model.predict(x_zoo)[0]
            lost = np.mean(zoo_losses(list(scores), truth, latency))
            print(f"| {name} | {family} | {kendall(scores, truth):.3f} | {lost:.2f} | "
                  f"{kendall(model.predict(x_held)[0], y_held):.3f} | "
                  f"{kendall(model.predict(x_test)[0], y_test):.3f} |", flush=True)
    names = encoding.names
    for label, x in (("Accel-NASBench", x_accel), ("OFA", x_ofa), ("zoo", x_zoo)):
        spread = {n: float(np.ptp(x[:, i])) for i, n in enumerate(names)
                  if n in ("se_share", "skip_share", "swish_share", "log_resolution")}
        print(f"{label}: range of " + ", ".join(f"{n} {v:.2f}" for n, v in spread.items()))


if __name__ == "__main__":
    main()
