"""once-for-all's accuracy predictor as an mnas estimator (the benchmarks' ImageNet-scale oracle).

The predictor (Cai et al., "Once-for-All", ICLR 2020; ``han-cai/files ofa/acc_predictor.pth``,
kept in ``../shared/data/ofa_acc_predictor``) is an MLP ``128 -> 400 -> 400 -> 400 -> 1``
(ReLU) over a one-hot of an OFA-MobileNetV3 w1.2 subnet: 20 block slots (5 stages x 4), per
slot in use a kernel one-hot at ``slot * 3 + {3: 0, 5: 1, 7: 2}[k]`` and an expansion
one-hot at ``60 + slot * 3 + {3: 0, 4: 1, 6: 2}[e]``, and the resolution at ``120 + (r -
112) // 16`` (``shared/data/README.md``; once-for-all's ``tutorial/accuracy_predictor.py``).
It predicts the subnet's top-1 with the supernet's weights on 10k held-out ImageNet
training images: a learned surrogate, not a measurement.

:class:`OfaOracle` scores in percent (``100 x`` the predictor's fraction). Loaded with
``torch.load(weights_only=True)`` and evaluated with numpy (float32, as the original), so
its batch scorer scores ~10^5 code rows of the ``ofa-mbv3`` space per second; ``score(arch)``
works for any member of the space (others are refused).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.proxies import AccuracyProxy, BatchScorer
from mnas.spaces import ParamCodec, SearchSpace, load_space

__all__ = ["ORACLE_PATH", "OfaOracle", "OfaFeatures"]

ORACLE_PATH = (Path(__file__).resolve().parents[2] / "shared" / "data" / "ofa_acc_predictor"
               / "acc_predictor.pth")
_KERNELS = {3: 0, 5: 1, 7: 2}
_EXPANSIONS = {3: 0, 4: 1, 6: 2}
_STAGES, _SLOTS = 5, 4


class OfaFeatures:
    """The predictor's 128 inputs from code rows of an OFA-MobileNetV3 w1.2 space.

    Args:
        space: The ``ofa-mbv3`` space, or a variant with fewer resolutions.

    Raises:
        MnasInputError: ``space`` is not OFA-MobileNetV3 w1.2's (5 searched stages of
            depth 2-4, kernel 3/5/7, expansion 3/4/6, resolutions of 112-224 in steps of 16).
    """

    def __init__(self, space: SearchSpace) -> None:
        stages = space.stages
        ok = (len(stages) == _STAGES and len(space.widths) == 1
              and all(set(st.kernel) <= set(_KERNELS) and set(st.expansion) <= set(_EXPANSIONS)
                      and set(st.depth) <= {1, 2, 3, 4} and not st.share and not st.ops
                      and len(st.channels) == 1 for st in stages)
              and all(112 <= r <= 224 and (r - 112) % 16 == 0 for r in space.resolutions))
        if not ok:
            raise MnasInputError(f"space {space.name!r} is not OFA-MobileNetV3 w1.2's; the OFA "
                                 "accuracy predictor scores members of ofa-mbv3 only")
        self.codec = ParamCodec(space)
        codec = self.codec
        self._res = np.array([120 + (r - 112) // 16 for r in space.resolutions], dtype=np.int64)
        self._slots = []  # (stage, slot in stage, kernel col/map, expansion col/map)
        for s, (stage, cols) in enumerate(zip(stages, codec.stages, strict=True)):
            for b, (k_col, e_col, _, _) in enumerate(cols.slots):
                k_map = np.array([_KERNELS[k] for k in stage.kernel], dtype=np.int64)
                e_map = np.array([_EXPANSIONS[int(e)] for e in stage.expansion], dtype=np.int64)
                self._slots.append((s, b, k_col, k_map, e_col, e_map))
        self._space = space

    def __call__(self, codes: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        codes = np.asarray(codes, dtype=np.int64)
        n = len(codes)
        out = np.zeros((n, 128), dtype=np.float32)
        rows = np.arange(n)
        depths = self.codec.depths(codes)
        for s, b, k_col, k_map, e_col, e_map in self._slots:
            active = (depths[s] > b).astype(np.float32)
            slot = s * _SLOTS + b
            k = k_map[codes[:, k_col]] if k_col is not None else np.full(n, k_map[0])
            e = e_map[codes[:, e_col]] if e_col is not None else np.full(n, e_map[0])
            out[rows, slot * 3 + k] = active
            out[rows, 60 + slot * 3 + e] = active
        res_col = self.codec.resolution_col
        res = self._res[codes[:, res_col]] if res_col is not None else np.full(n, self._res[0])
        out[rows, res] = 1.0
        return out


class OfaOracle(AccuracyProxy):
    """once-for-all's accuracy predictor, in percent (analytic: a 3-layer MLP).

    Args:
        path: ``acc_predictor.pth`` (a torch state_dict, loaded with ``weights_only=True``).
        seed: Accepted for a uniform interface (the predictor is deterministic).
    """

    name = "ofa-oracle"
    cost = "analytic"

    def __init__(self, *, path: str | Path = ORACLE_PATH, seed: int = 0) -> None:
        import torch

        state = torch.load(Path(path), weights_only=True, map_location="cpu")
        self.layers = [(state[f"{i}.weight"].numpy().T.astype(np.float32).copy(),
                        state[f"{i}.bias"].numpy().astype(np.float32).copy())
                       for i in (0, 2, 4, 6)]
        self.seed = seed
        self._space: SearchSpace | None = None
        self._features: dict[int, OfaFeatures] = {}

    def predict(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Top-1 in percent of each row of 128 predictor inputs."""
        x = features
        for i, (weight, bias) in enumerate(self.layers):
            x = x @ weight + bias
            if i < len(self.layers) - 1:
                np.maximum(x, 0, out=x)
        return 100.0 * x[:, 0].astype(np.float64)

    def _features_of(self, space: SearchSpace) -> OfaFeatures:
        features = self._features.get(id(space))
        if features is None:
            features = self._features[id(space)] = OfaFeatures(space)
        return features

    def batch_scorer(self, space: SearchSpace) -> BatchScorer | None:
        features = self._features_of(space)

        def score(codes: npt.NDArray[np.int64], /
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
            return self.predict(features(codes)), np.zeros(len(codes))

        return score

    def check_space(self, space: SearchSpace) -> None:
        self._features_of(space)

    def score(self, arch: Arch) -> float:
        """The predictor's top-1 (%) of ``arch``, a member of the ``ofa-mbv3`` space."""
        space = self._space or load_space("ofa-mbv3")
        self._space = space
        params = space.params_of(arch)
        if params is None:
            raise MnasInputError(f"architecture {arch.name!r} is not a member of ofa-mbv3; the "
                                 "OFA accuracy predictor scores OFA-MobileNetV3 w1.2 subnets only")
        features = self._features_of(space)
        return float(self.predict(features(features.codec.encode_many([params])))[0])

    def describe(self) -> str:
        return ("ofa-oracle: once-for-all's accuracy predictor (Cai et al., ICLR 2020), "
                "top-1 (%) with the supernet's weights on 10k ImageNet training images; a "
                "learned surrogate")


def torch_reference(path: str | Path, features: npt.NDArray[np.float32]) -> Any:
    """The same predictor in torch (for checking the numpy evaluation)."""
    import torch

    state = torch.load(Path(path), weights_only=True, map_location="cpu")
    net = torch.nn.Sequential(
        torch.nn.Linear(128, 400), torch.nn.ReLU(), torch.nn.Linear(400, 400), torch.nn.ReLU(),
        torch.nn.Linear(400, 400), torch.nn.ReLU(), torch.nn.Linear(400, 1))
    net.load_state_dict(state)
    with torch.no_grad():
        return 100.0 * net(torch.from_numpy(features))[:, 0].numpy()
