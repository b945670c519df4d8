"""What the labels of a fitted model say about each choice, and where an estimate goes beyond them.

A correction (``se@/16``, ``swish@/32``...) is learned only from labelled networks that
differ in it *within one recipe*: across recipes, the recipe's own offset would absorb
any difference. So for each correction the evidence is

* ``networks``: labelled networks in recipe groups where the feature varies;
* ``contrasts``: pairs of networks of one recipe whose values differ by at least a quarter
  of the feature's range over all labels;
* ``supported``: the range of values those networks span (outside it, or where nothing
  varies, the estimate extrapolates);
* ``effect`` and ``sd``: the fitted weight (accuracy points per unit of the feature) and
  its posterior standard deviation.

:func:`summarise_evidence` groups them the way people ask ("h-swish in the deep half
(/16-/32): 11 contrasts, +0.9 +-0.4"), and :func:`unsupported` names the choices of one
architecture that no label supports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mnas.accuracy._stages import CHOICES, LEVELS

__all__ = ["measure_evidence", "summarise_evidence", "unsupported"]

_CHOICE_WORDS = {"se": "SE", "swish": "swish-type activation", "kernel": "kernel size",
                 "expansion": "expansion", "depth": "depth", "macs_share": "share of compute",
                 "dsa_share": "MobileNetV1-type blocks", "efficient_head": "efficient head"}
#: The features that are a search's choices (the compute share follows from them).
_CHOSEN = ("se", "swish", "kernel", "expansion", "depth", "dsa_share", "efficient_head")
#: Level groups of the summary: the early (high-resolution) and the deep half.
_HALVES = (("/2-/8", ("/2", "/4", "/8")), ("/16-/32", ("/16", "/32")))


def measure_evidence(x: np.ndarray, names: Sequence[str], recipes: Sequence[str],
                     weights: np.ndarray | None = None, sd: np.ndarray | None = None,
                     *, count_contrasts: bool = True) -> list[dict[str, Any]]:
    """Per correction column of ``x``, its evidence (see the module docstring).

    Args:
        x: The correction columns of the labelled networks.
        names: Their names.
        recipes: Per row, its recipe.
        weights: The fitted correction weights (None: effects left out).
        sd: Their posterior standard deviations.
        count_contrasts: Whether to count contrasts (False: ranges only, for speed).
    """
    groups: dict[str, list[int]] = {}
    for i, recipe in enumerate(recipes):
        groups.setdefault(recipe, []).append(i)
    out = []
    for j, name in enumerate(names):
        column = x[:, j]
        span = float(column.max() - column.min()) if len(column) else 0.0
        step = max(0.25 * span, 1e-9)
        networks = contrasts = 0
        low, high = np.inf, -np.inf
        for rows in groups.values():
            values = column[rows]
            if values.max() - values.min() < step:
                continue
            networks += len(rows)
            low, high = min(low, float(values.min())), max(high, float(values.max()))
            if count_contrasts:
                contrasts += _contrasts(values, step)
        common = float(np.median(column)) if len(column) else 0.0
        entry: dict[str, Any] = {"feature": name, "networks": networks, "contrasts": contrasts,
                                 "supported": [low, high] if networks else [common, common]}
        if weights is not None and sd is not None:
            entry.update(effect=float(weights[j]), sd=float(sd[j]))
        out.append(entry)
    return out


def _contrasts(values: np.ndarray, step: float, limit: int = 2000) -> int:
    """Pairs of ``values`` at least ``step`` apart (large groups: an even subsample, scaled)."""
    sub = values[:: max(1, len(values) // limit)]
    pairs = np.count_nonzero(np.abs(sub[:, None] - sub[None, :]) >= step) // 2
    return int(pairs * (len(values) / len(sub)) ** 2)


def summarise_evidence(evidence: Sequence[dict[str, Any]], covariance: np.ndarray,
                       offset: int) -> list[dict[str, Any]]:
    """Evidence grouped by choice and half of the network.

    The effect of a group is the estimate's change when every level of the group goes
    from 0 to 1 (e.g. SE on every block of /16 and /32), with its posterior sd.

    Args:
        evidence: :func:`measure_evidence`'s output.
        covariance: Posterior covariance of the correction weights' columns (in the
            order of ``evidence``), e.g. the model's covariance block.
        offset: Unused columns before the corrections in ``covariance``.
    """
    index = {e["feature"]: i for i, e in enumerate(evidence)}
    out = []
    for choice in ("se", "swish", "kernel", "expansion"):
        for half, levels in _HALVES:
            cols = [index[f"{choice}@{lvl}"] for lvl in levels if f"{choice}@{lvl}" in index]
            if not cols:
                continue
            effect = float(sum(evidence[c]["effect"] for c in cols))
            block = covariance[np.ix_([offset + c for c in cols], [offset + c for c in cols])]
            out.append({"choice": f"{_CHOICE_WORDS[choice]} at {half}",
                        "contrasts": int(sum(evidence[c]["contrasts"] for c in cols)),
                        "networks": int(max(evidence[c]["networks"] for c in cols)),
                        "effect": effect, "sd": float(np.sqrt(max(block.sum(), 0.0)))})
    for name in ("dsa_share", "efficient_head"):
        if name in index:
            e = evidence[index[name]]
            out.append({"choice": _CHOICE_WORDS[name], "contrasts": e["contrasts"],
                        "networks": e["networks"], "effect": e["effect"], "sd": e["sd"]})
    return out


def unsupported(values: np.ndarray, evidence: Sequence[dict[str, Any]],
                tolerance: float = 0.05) -> list[str]:
    """Choices of one architecture that lie where no label varies (``swish at /4``...).

    Only choices count (SE, activation, kernel, expansion, depth, block type, head), not
    the compute share that follows from them.

    Args:
        values: The architecture's correction columns (as :func:`measure_evidence` saw).
        evidence: The model's evidence.
        tolerance: Slack around the supported range.
    """
    hits: dict[str, list[str]] = {}
    for value, e in zip(values, evidence, strict=True):
        choice, _, level = e["feature"].partition("@")
        if choice not in _CHOSEN:
            continue
        low, high = e["supported"]
        if low - tolerance <= float(value) <= high + tolerance:
            continue
        hits.setdefault(_CHOICE_WORDS.get(choice, choice), []).append(level)
    order = {c: i for i, c in enumerate([*(_CHOICE_WORDS[c] for c in CHOICES),
                                         *_CHOICE_WORDS.values()])}
    return [f"{choice} at {', '.join(lvl for lvl in LEVELS if lvl in levels)}"
            if any(levels) else choice
            for choice, levels in sorted(hits.items(), key=lambda kv: order.get(kv[0], 99))]

