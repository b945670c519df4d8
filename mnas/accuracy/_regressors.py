"""Regressors from encoded architectures to accuracy, with an ensemble spread.

Both families are ensembles, so every prediction comes with a spread that a search can
use as uncertainty (BANANAS, White et al., AAAI 2021, uses an ensemble of MLPs):

* ``ridge``: bootstrap ensemble of ridge regressions on standardised features.
* ``mlp``: ensemble of small ReLU MLPs (two hidden layers) trained with Adam from
  different seeds on bootstrap resamples.

They are stored as plain numbers (JSON) and predict with numpy alone; loading
executes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnas._blas import one_blas_thread
from mnas.errors import MnasInputError

__all__ = ["FAMILIES", "Regressor", "finite_array", "fit_regressor", "regressor_from_dict"]

FAMILIES = ("ridge", "mlp")


@dataclass(frozen=True)
class Regressor:
    """A fitted ensemble: standardisation, members, and how to apply them.

    Attributes:
        family: ``ridge`` or ``mlp``.
        x_mean: Feature means of the fitting data.
        x_scale: Feature standard deviations (1 where a feature was constant).
        y_mean: Mean label.
        y_scale: Label standard deviation.
        members: Per member, the list of (weight matrix, bias vector) layers; a ridge
            member has one linear layer, an MLP member three (ReLU between them).
        settings: Hyper-parameters (``alpha``; ``hidden``, ``epochs``, ``lr``...).
    """

    family: str
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: float
    y_scale: float
    members: tuple[tuple[tuple[np.ndarray, np.ndarray], ...], ...]
    settings: dict[str, Any]

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean and standard deviation for each row of ``x`` (accuracy units)."""
        z = (np.atleast_2d(x) - self.x_mean) / self.x_scale
        outputs = []
        for layers in self.members:
            h = z
            for i, (weight, bias) in enumerate(layers):
                h = h @ weight + bias
                if i < len(layers) - 1:
                    h = np.maximum(h, 0.0)
            outputs.append(h[:, 0])
        stacked = np.stack(outputs) * self.y_scale + self.y_mean
        return stacked.mean(axis=0), stacked.std(axis=0)

    def to_dict(self) -> dict[str, Any]:
        """JSON view (lists of floats)."""
        return {"family": self.family, "settings": self.settings,
                "x_mean": self.x_mean.tolist(), "x_scale": self.x_scale.tolist(),
                "y_mean": self.y_mean, "y_scale": self.y_scale,
                "members": [[{"weight": w.tolist(), "bias": b.tolist()} for w, b in layers]
                            for layers in self.members]}


def _standardise(x: np.ndarray, y: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float]:
    x_mean = x.mean(axis=0)
    x_scale = x.std(axis=0)
    x_scale[x_scale < 1e-12] = 1.0
    y_mean = float(y.mean())
    y_scale = float(y.std()) or 1.0
    return (x - x_mean) / x_scale, (y - y_mean) / y_scale, x_mean, x_scale, y_mean, y_scale


def _ridge(z: np.ndarray, t: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    mean = z.mean(axis=0)
    offset = float(t.mean())
    zc = z - mean
    if len(z) < z.shape[1]:  # fewer rows than features: the dual (n x n) system, same solution
        dual = np.linalg.solve(zc @ zc.T + alpha * np.eye(len(z)), t - offset)
        weight = zc.T @ dual
    else:
        weight = np.linalg.solve(zc.T @ zc + alpha * np.eye(z.shape[1]), zc.T @ (t - offset))
    return weight[:, None], np.asarray([offset - float(mean @ weight)])


def _mlp(z: np.ndarray, t: np.ndarray, *, hidden: int, epochs: int, lr: float,
         weight_decay: float, seed: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    import torch

    generator = torch.Generator().manual_seed(seed)
    sizes = [z.shape[1], hidden, hidden, 1]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = 1.0 / math.sqrt(fan_in)
        weight = (torch.rand(fan_in, fan_out, generator=generator, dtype=torch.float32) * 2 - 1)
        params += [(weight * bound).requires_grad_(),
                   torch.zeros(fan_out, dtype=torch.float32, requires_grad=True)]
    xs = torch.as_tensor(z, dtype=torch.float32)
    ys = torch.as_tensor(t, dtype=torch.float32)[:, None]
    optimiser = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same sums in the same order, in any process
    try:
        _train(params, xs, ys, optimiser, epochs)
    finally:
        torch.set_num_threads(threads)
    return tuple((params[i].detach().numpy().astype(float), params[i + 1].detach().numpy()
                  .astype(float)) for i in range(0, len(params), 2))


def _train(params: list[Any], xs: Any, ys: Any, optimiser: Any, epochs: int) -> None:
    import torch

    for _ in range(epochs):
        h = xs
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i < len(params) - 2:
                h = torch.relu(h)
        loss = torch.mean((h - ys) ** 2)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def fit_regressor(x: np.ndarray, y: np.ndarray, *, family: str, seed: int = 0,
                  members: int = 5, alpha: float = 1.0, hidden: int = 64, epochs: int = 300,
                  lr: float = 0.01, weight_decay: float = 1e-3) -> Regressor:
    """Fit an ensemble of ``family`` to rows ``x`` and labels ``y``.

    Members are fitted on bootstrap resamples drawn from ``numpy.random.default_rng(seed)``
    (deterministic for a given seed), with one BLAS and one torch thread.
    """
    if family not in FAMILIES:
        raise MnasInputError(f"unknown model family {family!r}; choose one of "
                             f"{', '.join(FAMILIES)}")
    # One BLAS thread: small systems solve 4-5x faster than with a thread pool fighting
    # for 2 busy cores, and the sums are the same in any process.
    with one_blas_thread():
        z, t, x_mean, x_scale, y_mean, y_scale = _standardise(np.asarray(x, float),
                                                               np.asarray(y, float))
        rng = np.random.default_rng(seed)
        fitted: list[tuple[tuple[np.ndarray, np.ndarray], ...]] = []
        for m in range(members):
            rows = rng.integers(0, len(z), len(z))
            if family == "ridge":
                fitted.append((_ridge(z[rows], t[rows], alpha),))
            else:
                fitted.append(_mlp(z[rows], t[rows], hidden=hidden, epochs=epochs, lr=lr,
                                   weight_decay=weight_decay, seed=seed * 1000 + m))
    settings: dict[str, Any] = ({"alpha": alpha, "members": members} if family == "ridge" else
                                {"hidden": hidden, "epochs": epochs, "lr": lr,
                                 "weight_decay": weight_decay, "members": members})
    return Regressor(family=family, x_mean=x_mean, x_scale=x_scale, y_mean=y_mean,
                     y_scale=y_scale, members=tuple(fitted), settings=settings)


def finite_array(value: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    """``value`` as finite floats of ``shape`` (a stored model's numbers).

    Raises:
        MnasInputError: Not numbers, another shape, or a non-finite value (``where``
            names the field).
    """
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise MnasInputError(f"{where} must be numbers") from None
    if array.shape != shape or not np.all(np.isfinite(array)):
        raise MnasInputError(f"{where} must be finite numbers of shape {shape}, "
                             f"got shape {array.shape}")
    return array


def regressor_from_dict(data: Any, *, n_features: int, source: str) -> Regressor:
    """Read a stored regressor, checking every number and shape.

    Raises:
        MnasInputError: Naming the field that is malformed (e.g. edited by hand).
    """
    where = f"{source}: field 'model"
    if not isinstance(data, dict) or data.get("family") not in FAMILIES:
        raise MnasInputError(f"{where}.family' must be one of {', '.join(FAMILIES)}; "
                             "refit the model with `mnas accuracy fit`")
    members_raw = data.get("members")
    if not isinstance(members_raw, list) or not members_raw:
        raise MnasInputError(f"{where}.members' must be a non-empty list")
    depth = 1 if data["family"] == "ridge" else 3
    members = []
    for m, layers_raw in enumerate(members_raw):
        if not isinstance(layers_raw, list) or len(layers_raw) != depth:
            raise MnasInputError(f"{where}.members[{m}]' must be a list of {depth} layers")
        layers = []
        fan_in = n_features
        for i, layer in enumerate(layers_raw):
            if not isinstance(layer, dict):
                raise MnasInputError(f"{where}.members[{m}][{i}]' must be an object")
            bias = np.asarray(layer.get("bias"), dtype=object)
            fan_out = 1 if i == depth - 1 else (bias.shape[0] if bias.ndim == 1 else -1)
            weight = finite_array(layer.get("weight"), (fan_in, fan_out),
                            f"{where}.members[{m}][{i}].weight'")
            layers.append((weight, finite_array(layer.get("bias"), (fan_out,),
                                          f"{where}.members[{m}][{i}].bias'")))
            fan_in = fan_out
        members.append(tuple(layers))
    y_mean = finite_array(data.get("y_mean"), (), f"{where}.y_mean'")
    y_scale = finite_array(data.get("y_scale"), (), f"{where}.y_scale'")
    x_scale = finite_array(data.get("x_scale"), (n_features,), f"{where}.x_scale'")
    if float(y_scale) <= 0 or np.any(x_scale <= 0):
        raise MnasInputError(f"{where}.x_scale' and 'y_scale' must be positive")
    settings = data.get("settings")
    return Regressor(family=str(data["family"]),
                     x_mean=finite_array(data.get("x_mean"), (n_features,), f"{where}.x_mean'"),
                     x_scale=x_scale, y_mean=float(y_mean), y_scale=float(y_scale),
                     members=tuple(members), settings=settings if isinstance(settings, dict)
                     else {})
