"""Latency budgets: parsing ``20ms`` / ``20`` / ``0.02s``, and the fastest architecture of a space.

The fastest architecture is found exactly, not by sampling. A prediction is
``a * sum(unit latencies) + b`` (:class:`~mnas.latency.TablePredictor`), and a
unit's operator key depends only on its own choices once the width multiplier,
the resolution and the channel counts of its own and the previous stage are fixed
(input size follows from the fixed strides; the residual flag from stride and
channels). So for each (width, resolution) the minimum is a shortest path over
stages whose state is the chosen channel count of the previous stage, and inside a
stage the minimum over depth ``d`` is ``min(first block) + (d - 1) * min(later
block)`` (a stage that shares its choices, MnasNet's factorised space, minimises
``first + (d - 1) * later`` over the shared choice instead). Block latencies are
read off a handful of probe architectures built with :meth:`SearchSpace.replay`,
so the keys are exactly the ones the search predicts, and the result is checked
by predicting the reconstructed fastest architecture.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mnas.arch import Arch
from mnas.errors import MnasError, MnasInputError
from mnas.latency import TablePredictor
from mnas.spaces import SearchSpace, StageSpec

__all__ = ["Fastest", "fastest_arch", "fastest_by_shape", "format_budget", "parse_budget"]

_BUDGET_RE = re.compile(r"^\s*(?P<value>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?P<unit>ms|s)?\s*$")
_MAX_BUDGET_MS = 3_600_000.0  # one hour: anything above is a typo


def parse_budget(text: str | float | int) -> float:
    """A latency budget in milliseconds.

    Accepts ``20ms``, ``20`` (milliseconds), ``0.02s`` or a number.

    Raises:
        MnasInputError: Unparseable, not positive, or above one hour.
    """
    if isinstance(text, bool):
        raise MnasInputError(f"budget must be a latency such as 20ms, 20 or 0.02s, got {text!r}")
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _BUDGET_RE.match(str(text))
        if match is None:
            raise MnasInputError(
                f"cannot parse budget {text!r}: write a latency such as 20ms, 20 (ms) or 0.02s")
        value = float(match.group("value"))
        if match.group("unit") == "s":
            value *= 1000.0
    if math.isnan(value) or value <= 0:
        raise MnasInputError(f"budget must be a positive latency, got {text!r}; e.g. 20ms")
    if value > _MAX_BUDGET_MS:  # inf included: 1e309 overflows to it
        raise MnasInputError(f"budget {text!r} is {value:g} ms, above the one-hour bound; use "
                             "e.g. 20ms")
    return value


def format_budget(ms: float) -> str:
    """``20ms`` style text of a budget in milliseconds (used in run names)."""
    return f"{ms:g}ms"


@dataclass(frozen=True, kw_only=True)
class Fastest:
    """The fastest architecture of a space on one target.

    Attributes:
        arch: The architecture.
        params: Its trial parameters (replayable with :meth:`SearchSpace.replay`).
        latency_ms: Its calibrated predicted latency.
    """

    arch: Arch
    params: dict[str, Any]
    latency_ms: float


def _combos(stage: StageSpec) -> list[tuple[int, float, bool, str]]:
    expansions = stage.expansion if stage.type == "ir" else (1.0,)
    return list(itertools.product(stage.kernel, expansions, stage.se, stage.act))


def _stage_params(s: int, stage: StageSpec, channels: int, depth: int,
                  combo: tuple[int, float, bool, str]) -> dict[str, Any]:
    kernel, expansion, se, act = combo
    params: dict[str, Any] = {f"s{s}_channels": channels, f"s{s}_depth": depth}
    prefixes = [f"s{s}"] if stage.share else [f"s{s}_b{b}" for b in range(1, depth + 1)]
    for prefix in prefixes:
        params.update({f"{prefix}_kernel": kernel, f"{prefix}_expansion": expansion,
                       f"{prefix}_se": se, f"{prefix}_act": act})
    return params


#: Largest space whose fastest architecture is found by predicting every member.
_MAX_ENUMERATED = 100_000


def _fastest_by_enumeration(space: SearchSpace, predictor: TablePredictor) -> Fastest:
    """The fastest member of a small space with layer-operation choices, by enumeration.

    A skipped layer shifts the later layers' positions, so the per-block decomposition
    does not hold there; such spaces (NAS-Bench-Macro: 6,561) are small enough to predict
    every member.
    """
    if space.size() > _MAX_ENUMERATED:
        raise MnasInputError(
            f"space {space.name!r} has layer-operation choices and {space.size():,} members; "
            f"its fastest architecture is found by enumeration only up to {_MAX_ENUMERATED:,}")
    choices = space.parameter_choices()
    best: Fastest | None = None
    for values in itertools.product(*choices.values()):
        params = dict(zip(choices, values, strict=True))
        arch = space.replay(params)
        ms = predictor.predict_ms(arch)
        if best is None or ms < best.latency_ms:
            best = Fastest(arch=arch, params=params, latency_ms=ms)
    assert best is not None  # a space has at least one member
    return best


def fastest_arch(space: SearchSpace, predictor: TablePredictor) -> Fastest:
    """The exact fastest architecture of ``space`` under ``predictor`` (see module docs).

    Cost: ``widths x resolutions x n^2 x max_combos`` predictions, where ``n`` is the
    largest number of channel choices of a stage (a few hundred predictions for the
    shipped spaces).

    Raises:
        MissingLatencyKeyError: The table lacks a key and has no device model.
        MnasError: The calibration slope is not positive (minimising the sum would then
            not minimise the prediction).
    """
    if any(stage.ops for stage in space.stages):
        return _fastest_by_enumeration(space, predictor)
    return min(fastest_by_shape(space, predictor).values(), key=lambda f: f.latency_ms)


def fastest_by_shape(space: SearchSpace, predictor: TablePredictor
                     ) -> dict[tuple[float, int], Fastest]:
    """The exact fastest architecture of ``space`` at each (width, resolution).

    A batched search starts each (width, resolution) from its fastest network, and gives up
    on those whose fastest is over the budget. See :func:`fastest_arch` (the minimum of
    these) for the method and its cost; a space with layer-operation choices has one entry
    per pair found by enumeration.

    Raises:
        MissingLatencyKeyError: The table lacks a key and has no device model.
        MnasError: The calibration slope is not positive.
    """
    if any(stage.ops for stage in space.stages):
        fastest = _fastest_by_enumeration(space, predictor)
        if len(space.widths) * len(space.resolutions) > 1:
            raise MnasInputError(f"space {space.name!r} has layer-operation choices and "
                                 "several widths or resolutions: not supported")
        return {(space.widths[0], space.resolutions[0]): fastest}
    cal = predictor.table.calibration
    slope = cal.a if cal is not None else 1.0
    if slope <= 0:
        raise MnasError(f"latency table calibration slope a={slope} must be > 0 to find the "
                        "fastest architecture; refit the calibration (`mnas latency calibrate`)")
    stages = space.stages
    n_before = len(space.before)
    n_chan = max(len(st.channels) for st in stages)
    combos = [_combos(st) for st in stages]
    n_combo = max(len(c) for c in combos)
    probe_depth = [max(st.depth) for st in stages]
    out: dict[tuple[float, int], Fastest] = {}
    for width, resolution in itertools.product(space.widths, space.resolutions):
        # first[s][(c_prev, c_own, combo)], later[s][(c_own, combo)], fixed[c_last]
        first: list[dict[tuple[Any, Any, int], float]] = [{} for _ in stages]
        later: list[dict[tuple[Any, int], float]] = [{} for _ in stages]
        fixed: dict[Any, float] = {}
        for i, j in itertools.product(range(n_chan), repeat=2):
            chans = [st.channels[(i if s % 2 == 0 else j) % len(st.channels)]
                     for s, st in enumerate(stages)]
            for k in range(n_combo):
                params: dict[str, Any] = {"width": width, "resolution": resolution}
                picks = [k % len(combos[s]) for s in range(len(stages))]
                for s, st in enumerate(stages):
                    params.update(_stage_params(s + 1, st, chans[s], probe_depth[s],
                                                combos[s][picks[s]]))
                per_block = predictor.predict(space.replay(params)).per_block
                ms = [b.ms for b in per_block]
                pos = 1 + n_before  # per_block: stem, before blocks, stages, after, head
                searched = 0.0
                for s in range(len(stages)):
                    prev = chans[s - 1] if s > 0 else None
                    first[s][(prev, chans[s], picks[s])] = ms[pos]
                    searched += ms[pos]
                    if probe_depth[s] > 1:
                        later[s][(chans[s], picks[s])] = ms[pos + 1]
                        searched += ms[pos + 1] * (probe_depth[s] - 1)
                    pos += probe_depth[s]
                fixed[chans[-1]] = sum(ms) - searched
        # shortest path over stages; state = channel choice of the stage
        cost: dict[Any, tuple[float, dict[str, Any]]] = {None: (0.0, {})}
        for s, st in enumerate(stages):
            nxt: dict[Any, tuple[float, dict[str, Any]]] = {}
            for prev, (base, chosen) in cost.items():
                for own in st.channels:
                    stage_best = _best_stage(s, st, prev, own, first[s], later[s], len(combos[s]))
                    total = base + stage_best[0]
                    if own not in nxt or total < nxt[own][0]:
                        params = dict(chosen)
                        params.update(_stage_params(s + 1, st, own, stage_best[1],
                                                    combos[s][stage_best[2]]))
                        if stage_best[3] is not None and not st.share:
                            for b in range(2, stage_best[1] + 1):
                                k2, e2, se2, a2 = combos[s][stage_best[3]]
                                params.update({f"s{s + 1}_b{b}_kernel": k2,
                                               f"s{s + 1}_b{b}_expansion": e2,
                                               f"s{s + 1}_b{b}_se": se2,
                                               f"s{s + 1}_b{b}_act": a2})
                        nxt[own] = (total, params)
            cost = nxt
        total, chosen = min(((t + fixed[last], c) for last, (t, c) in cost.items()),
                            key=lambda tc: tc[0])
        params = {"width": width, "resolution": resolution, **chosen}
        arch = space.replay(params)
        latency = predictor.predict_ms(arch)
        expected = slope * total + (cal.b if cal is not None else 0.0)
        if not math.isclose(latency, expected, rel_tol=1e-9, abs_tol=1e-9):
            raise MnasError(f"internal check failed: the fastest architecture of {space.name!r} "
                            f"predicts {latency} ms, the per-block minimum says {expected} ms")
        out[(width, resolution)] = Fastest(arch=arch, params=params, latency_ms=latency)
    return out


def _best_stage(s: int, st: StageSpec, prev: Any, own: Any,
                first: dict[tuple[Any, Any, int], float], later: dict[tuple[Any, int], float],
                n_combos: int) -> tuple[float, int, int, int | None]:
    """(cost, depth, first-block combo, later-block combo) minimising one stage."""
    choices: Sequence[int] = range(n_combos)
    result: tuple[float, int, int, int | None] | None = None
    for depth in st.depth:
        if st.share:
            for c in choices:
                t = first[(prev, own, c)] + (depth - 1) * (later[(own, c)] if depth > 1 else 0.0)
                if result is None or t < result[0]:
                    result = (t, depth, c, c)
        else:
            c1 = min(choices, key=lambda c: first[(prev, own, c)])
            t = first[(prev, own, c1)]
            c2: int | None = None
            if depth > 1:
                c2 = min(choices, key=lambda c: later[(own, c)])
                t += (depth - 1) * later[(own, c2)]
            if result is None or t < result[0]:
                result = (t, depth, c1, c2)
    if result is None:  # pragma: no cover - depth choices are never empty
        raise MnasError(f"stage s{s + 1} has no depth choice")
    return result
