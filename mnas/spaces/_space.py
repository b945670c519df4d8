"""Search spaces: a YAML skeleton of stages and per-block choice sets, sampled into an ``Arch``.

``SearchSpace.sample(trial)`` is define-by-run over Optuna's trial API with flat,
stable parameter names (``width``, ``resolution``, ``s2_depth``, ``s2_b1_kernel``,
``s2_b1_expansion``, ``s2_b1_se``, ``s2_b1_act``; stage and block numbers start at 1;
a stage that shares its choices uses ``s2_kernel`` and so on). The same function
serves Optuna, Ray Tune's OptunaSearch, replay of a finished trial
(``optuna.trial.FixedTrial(params)``) and plain random sampling
(:meth:`SearchSpace.random_arch`). It does no computation beyond building the Arch.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mnas.arch import Arch, Block, Head, Stem, make_divisible, se_squeeze_channels
from mnas.errors import MnasInputError

__all__ = ["FixedBlock", "OpChoice", "SearchSpace", "StageSpec", "TrialLike", "random_trial"]

#: One block's choices while sampling: (channels, kernel, expansion, se, act, identity).
_BlockChoice = tuple[int, int, float, bool, str, bool]


class TrialLike(Protocol):
    """The part of Optuna's trial API that :meth:`SearchSpace.sample` uses."""

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        """Choose one of ``choices`` for parameter ``name``."""


class _RandomTrial:
    """A trial that draws every categorical uniformly from its own ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.params: dict[str, Any] = {}

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        value = choices[self._rng.randrange(len(choices))]
        self.params[name] = value
        return value


def random_trial(rng: random.Random) -> _RandomTrial:
    """A trial-like object drawing uniformly at random; its ``params`` record the draws."""
    return _RandomTrial(rng)


@dataclass(frozen=True, kw_only=True)
class OpChoice:
    """One alternative of a per-layer operation choice (NAS-Bench-Macro's layers).

    Attributes:
        label: Parameter value (``identity``, ``k3_e3``...).
        kernel: Kernel of the ``ir`` block (unused for identity).
        expansion: Expansion of the ``ir`` block (unused for identity).
        identity: The layer is skipped; where it must change the shape (the first layer
            of a strided stage) it is a 1x1 conv-BN without activation, as in
            NAS-Bench-Macro (Su et al., CVPR 2021).
    """

    label: str
    kernel: int = 1
    expansion: float = 1.0
    identity: bool = False


@dataclass(frozen=True, kw_only=True)
class StageSpec:
    """One searchable stage.

    Attributes:
        type: Block type of the stage (``ir``, ``ds``, ``dsa``).
        channels: Output-channel choices (before the width multiplier).
        stride: Stride of the first block.
        depth: Choices for the number of blocks.
        kernel: Kernel choices.
        expansion: Expansion choices (``ir``; mid = make_divisible(in x e, 8)).
        se: SE choices (booleans).
        act: Activation choices.
        share: If true, one choice per stage for all its blocks (MnasNet's factorized
            hierarchical space); otherwise one per block.
    """

    type: str
    channels: tuple[int, ...]
    stride: int
    depth: tuple[int, ...]
    kernel: tuple[int, ...]
    expansion: tuple[float, ...]
    se: tuple[bool, ...]
    act: tuple[str, ...]
    share: bool = False
    ops: tuple[OpChoice, ...] = ()

    def block_type(self, expansion: float) -> str:
        """The block type built for ``expansion``: an ``ir`` stage's expansion 1 is a ``ds``.

        As in torchvision's MobileNetV2 and MnasNet (``expand_ratio == 1`` has no 1x1
        expansion conv), a searched expansion of 1 builds a depthwise-separable block.
        """
        return "ds" if self.type == "ir" and expansion == 1 else self.type

    def combos_per_block(self) -> int:
        """Distinct (kernel, expansion, se, act) choices for one block."""
        if self.ops:
            return len(self.ops) * len(self.se) * len(self.act)
        expansion = len(self.expansion) if self.type == "ir" else 1
        return len(self.kernel) * expansion * len(self.se) * len(self.act)


@dataclass(frozen=True, kw_only=True)
class FixedBlock:
    """A block outside the search (e.g. MobileNetV3's final 1x1 conv)."""

    type: str
    channels: int
    kernel: int
    stride: int
    act: str
    expansion: float = 1.0
    se: bool = False
    scale_with_width: bool = True


@dataclass(frozen=True, kw_only=True)
class SearchSpace:
    """A MobileNet-style search space (see ``search_spaces/*.yaml`` and the README).

    Attributes:
        name: Space name.
        description: What it is and where it comes from.
        resolutions: Input resolution choices.
        widths: Width-multiplier choices.
        num_classes: Classifier outputs.
        stem: The stem (channels before the width multiplier).
        stages: Searchable stages, in order; ``before``/``after`` hold fixed blocks.
        before: Fixed blocks between the stem and the first searchable stage.
        after: Fixed blocks after the last searchable stage.
        head: The head (``channels``/``hidden`` before the width multiplier).
        head_scales_with_width: Whether head widths follow the width multiplier.
        se_ratio: SE ratio used when a block has SE.
        se_gate: SE gate.
        se_reduce_from: ``in`` or ``mid``.
        se_act: SE inner activation.
        bn_eps: BatchNorm epsilon.
        bn_momentum: BatchNorm momentum.
    """

    name: str
    description: str
    resolutions: tuple[int, ...]
    widths: tuple[float, ...]
    num_classes: int
    stem: Stem
    stages: tuple[StageSpec, ...]
    before: tuple[FixedBlock, ...]
    after: tuple[FixedBlock, ...]
    head: Head
    head_scales_with_width: bool
    se_ratio: float
    se_gate: str
    se_reduce_from: str
    se_act: str
    bn_eps: float
    bn_momentum: float

    # ------------------------------------------------------------- sampling
    def sample(self, trial: TrialLike) -> Arch:
        """Build the architecture chosen by ``trial`` (define-by-run, flat stable names)."""
        width = self._choose(trial, "width", self.widths)
        resolution = self._choose(trial, "resolution", self.resolutions)
        stage_params: list[list[_BlockChoice]] = []
        for s, stage in enumerate(self.stages, start=1):
            channels = self._choose(trial, f"s{s}_channels", stage.channels)
            depth = self._choose(trial, f"s{s}_depth", stage.depth)
            blocks: list[_BlockChoice] = []
            for b in range(1, depth + 1):
                prefix = f"s{s}" if stage.share else f"s{s}_b{b}"
                if stage.share and b > 1:
                    blocks.append(blocks[0])
                    continue
                identity = False
                if stage.ops:
                    label = self._choose(trial, f"{prefix}_op", tuple(o.label for o in stage.ops))
                    op = next(o for o in stage.ops if o.label == label)
                    kernel, expansion, identity = op.kernel, op.expansion, op.identity
                else:
                    kernel = self._choose(trial, f"{prefix}_kernel", stage.kernel)
                    expansion = (self._choose(trial, f"{prefix}_expansion", stage.expansion)
                                 if stage.type == "ir" else 1.0)
                se = self._choose(trial, f"{prefix}_se", stage.se)
                act = self._choose(trial, f"{prefix}_act", stage.act)
                blocks.append((channels, kernel, expansion, se, act, identity))
            stage_params.append(blocks)
        return self._build(width, resolution, stage_params)

    @staticmethod
    def _choose(trial: TrialLike, name: str, choices: tuple[Any, ...]) -> Any:
        if len(choices) == 1:
            return choices[0]
        return trial.suggest_categorical(name, list(choices))

    def random_arch(self, rng: random.Random) -> Arch:
        """A uniformly random architecture drawn with ``rng`` (owned by the caller)."""
        return self.sample(random_trial(rng))

    def replay(self, params: Mapping[str, Any]) -> Arch:
        """The architecture of a finished trial's ``params`` (like ``FixedTrial``).

        Raises:
            MnasInputError: A parameter is missing or not one of its choices.
        """
        return self.sample(_ReplayTrial(params, self.name))

    def _build(self, width: float, resolution: int,
               stage_params: list[list[_BlockChoice]]) -> Arch:
        def c(channels: int, scale: bool = True) -> int:
            return make_divisible(channels * width, 8) if scale else channels

        stem_channels = c(self.stem.channels)
        channels = stem_channels
        stages: list[tuple[Block, ...]] = []

        def block(kind: str, out: int, kernel: int, stride: int, expansion: float, se: bool,
                  act: str) -> Block:
            mid = (make_divisible(channels * expansion, 8) if kind == "ir"
                   else out if kind == "cn" else channels)
            ratio = self.se_ratio if se else 0.0
            return Block(type=kind, in_channels=channels, mid_channels=mid, out_channels=out,
                         kernel=kernel, stride=stride, act=act, se_ratio=ratio,
                         se_channels=se_squeeze_channels(channels, mid, ratio,
                                                         self.se_reduce_from),
                         skip=kind in ("ir", "ds") and stride == 1 and channels == out)

        for fixed in self.before:
            out = c(fixed.channels, fixed.scale_with_width)
            stages.append((block(fixed.type, out, fixed.kernel, fixed.stride, fixed.expansion,
                                 fixed.se, fixed.act),))
            channels = out
        for stage, params in zip(self.stages, stage_params, strict=True):
            blocks = []
            for i, (out_raw, kernel, expansion, se, act, identity) in enumerate(params):
                out = c(out_raw)
                stride = stage.stride if i == 0 else 1
                if identity and stride == 1 and out == channels:
                    continue  # a skipped layer
                if identity:  # a skipped layer that must change the shape
                    blocks.append(block("cn", out, 1, stride, 1.0, False, "identity"))
                else:
                    blocks.append(block(stage.block_type(expansion), out, kernel, stride,
                                        expansion, se, act))
                channels = out
            if blocks:
                stages.append(tuple(blocks))
        if self.after:
            tail = []
            for fixed in self.after:
                out = c(fixed.channels, fixed.scale_with_width)
                tail.append(block(fixed.type, out, fixed.kernel, fixed.stride, fixed.expansion,
                                  fixed.se, fixed.act))
                channels = out
            stages.append(tuple(tail))
        scale = self.head_scales_with_width
        head = Head(
            type=self.head.type,
            channels=None if self.head.channels is None else c(self.head.channels, scale),
            hidden=None if self.head.hidden is None else c(self.head.hidden, scale),
            act=self.head.act, dropout=self.head.dropout)
        return Arch(
            name=f"{self.name}-sample", resolution=resolution, num_classes=self.num_classes,
            stem=Stem(channels=stem_channels, kernel=self.stem.kernel, stride=self.stem.stride,
                      act=self.stem.act),
            stages=tuple(stages), head=head, se_gate=self.se_gate,
            se_reduce_from=self.se_reduce_from, se_act=self.se_act, bn_eps=self.bn_eps,
            bn_momentum=self.bn_momentum, act_default=self.stem.act)

    # ---------------------------------------------------------------- views
    def parameter_names(self) -> list[str]:
        """Every parameter name the space can suggest (for the deepest choices)."""
        return list(self.parameter_choices())

    def parameter_choices(self) -> dict[str, tuple[Any, ...]]:
        """Every parameter the space can suggest, with its choices, in suggestion order."""
        out: dict[str, tuple[Any, ...]] = {
            n: tuple(choices) for n, choices in (("width", self.widths),
                                                 ("resolution", self.resolutions))
            if len(choices) > 1}
        for s, stage in enumerate(self.stages, start=1):
            if len(stage.channels) > 1:
                out[f"s{s}_channels"] = stage.channels
            if len(stage.depth) > 1:
                out[f"s{s}_depth"] = stage.depth
            for b in range(1, (1 if stage.share else max(stage.depth)) + 1):
                prefix = f"s{s}" if stage.share else f"s{s}_b{b}"
                fields: tuple[tuple[str, tuple[Any, ...]], ...] = (
                    (("op", tuple(o.label for o in stage.ops)),) if stage.ops else
                    (("kernel", stage.kernel), ("expansion", stage.expansion)))
                for field, choices in (*fields, ("se", stage.se), ("act", stage.act)):
                    if field == "expansion" and stage.type != "ir":
                        continue
                    if len(choices) > 1:
                        out[f"{prefix}_{field}"] = tuple(choices)
        return out

    def size(self) -> int:
        """Number of distinct architectures in the space."""
        total = len(self.widths) * len(self.resolutions)
        for stage in self.stages:
            combos = stage.combos_per_block()
            per_depth = sum(combos if stage.share else combos ** d for d in stage.depth)
            total *= per_depth * len(stage.channels)
        return total

    def log10_size(self) -> float:
        """``log10`` of :meth:`size` (spaces are large)."""
        return math.log10(self.size())

    def params_of(self, arch: Arch) -> dict[str, Any] | None:
        """The trial parameters that produce ``arch`` in this space, or None if it is not in it.

        Names and BatchNorm hyper-parameters are ignored (see ``Arch.structure_key``). Used to show that a reference architecture belongs to
        the space (``FixedTrial(params)`` then rebuilds it).
        """
        for width in self.widths:
            for resolution in self.resolutions:
                params = self._match(arch, width, resolution)
                if params is not None:
                    candidate = self.replay(params)
                    if candidate.structure_key() == arch.structure_key():
                        return params
        return None

    def _match(self, arch: Arch, width: float, resolution: int) -> dict[str, Any] | None:
        if arch.resolution != resolution:
            return None
        n_fixed = len(self.before)
        searched = arch.stages[n_fixed:len(arch.stages) - (1 if self.after else 0)]
        if len(searched) != len(self.stages):
            return None
        params: dict[str, Any] = {}
        if len(self.widths) > 1:
            params["width"] = width
        if len(self.resolutions) > 1:
            params["resolution"] = resolution
        for s, (stage, blocks) in enumerate(zip(self.stages, searched, strict=True), start=1):
            if stage.ops:
                if not self._match_ops(stage, s, blocks, width, params):
                    return None
                continue
            if len(blocks) not in stage.depth:
                return None
            if not self._match_stage_size(stage, s, blocks, len(blocks), width, params):
                return None
            for b, blk in enumerate(blocks, start=1):
                if stage.type != "ir" and blk.type != stage.type:
                    return None
                if stage.share and b > 1:
                    continue
                prefix = f"s{s}" if stage.share else f"s{s}_b{b}"
                values = {"kernel": blk.kernel, "se": blk.has_se, "act": blk.act}
                if stage.type == "ir":
                    options = [e for e in stage.expansion
                               if stage.block_type(e) == blk.type
                               and (e == 1 or make_divisible(blk.in_channels * e, 8)
                                    == blk.mid_channels)]
                    if not options:
                        return None
                    values["expansion"] = options[0]
                for field, value in values.items():
                    choices = getattr(stage, field)
                    if value not in choices:
                        return None
                    if len(choices) > 1:
                        params[f"{prefix}_{field}"] = value
        return params


    @staticmethod
    def _match_stage_size(stage: StageSpec, s: int, blocks: tuple[Block, ...], depth: int,
                          width: float, params: dict[str, Any]) -> bool:
        """Record the stage's depth and channel choice; False if its width is not one."""
        if len(stage.depth) > 1:
            params[f"s{s}_depth"] = depth
        out = blocks[0].out_channels
        raw = [ch for ch in stage.channels if make_divisible(ch * width, 8) == out]
        if not raw:
            return False
        if len(stage.channels) > 1:
            params[f"s{s}_channels"] = raw[0]
        return True

    @staticmethod
    def _match_ops(stage: StageSpec, s: int, blocks: tuple[Block, ...], width: float,
                   params: dict[str, Any]) -> bool:
        """Parameters of a stage with op choices; skipped layers are put last (the
        canonical form: the same network whichever position a skipped layer had)."""
        depths = [d for d in stage.depth if d >= len(blocks)]
        if not depths or not blocks:
            return False
        depth = min(depths)
        if not SearchSpace._match_stage_size(stage, s, blocks, depth, width, params):
            return False
        identity = next((o for o in stage.ops if o.identity), None)
        labels: list[str] = []
        for i, blk in enumerate(blocks):
            if blk.type == "cn" and i == 0 and blk.kernel == 1 and identity is not None:
                labels.append(identity.label)
                continue
            op = next((o for o in stage.ops if not o.identity and blk.type == "ir"
                       and blk.kernel == o.kernel
                       and make_divisible(blk.in_channels * o.expansion, 8) == blk.mid_channels),
                      None)
            if op is None:
                return False
            labels.append(op.label)
        if len(labels) < depth:
            if identity is None:
                return False
            labels += [identity.label] * (depth - len(labels))
        if len(stage.ops) > 1:
            for b, label in enumerate(labels, start=1):
                params[f"s{s}_b{b}_op"] = label
        return True


class _ReplayTrial:
    def __init__(self, params: Mapping[str, Any], space_name: str) -> None:
        self._params = params
        self._space = space_name

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        if name not in self._params:
            raise MnasInputError(
                f"parameter {name!r} of space {self._space!r} is missing from the trial's "
                f"params; pass every parameter the space suggests")
        value = self._params[name]
        if value not in choices:
            raise MnasInputError(
                f"parameter {name!r} of space {self._space!r} is {value!r}; allowed: "
                f"{list(choices)}")
        return value

