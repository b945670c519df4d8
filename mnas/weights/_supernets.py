"""once-for-all's released supernets: their structure, where to get them, and which
architectures they hold.

Once-for-All (Cai et al., ICLR 2020, arXiv:1908.09791) trains one supernet whose
subnets share weights: per block a kernel (3, 5, 7: the centre of the 7x7 kernel passed
through learned kernel-transformation matrices), an expansion ratio (3, 4, 6: the leading
expanded channels, sorted by importance during training), and per stage a depth (2, 3, 4:
the first blocks of the stage). Three supernets were released with ImageNet weights:
MobileNetV3 at width 1.0 and 1.2, and ProxylessNAS at width 1.3.

This module is torch-free: it describes each supernet (widths computed from the base
widths and the width multiplier as once-for-all does), builds the mnas :class:`Arch` of a
subnet, tells whether an ``Arch`` is a subnet (and which), and lists the parameter names
and shapes of the supernet's checkpoint (the naming of once-for-all's dynamic modules).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mnas.arch import Arch, Block, Head, Stem, make_divisible, se_squeeze_channels
from mnas.errors import MnasInputError

__all__ = [
    "KERNELS",
    "SUPERNETS",
    "RELEASE_COMMIT",
    "Subnet",
    "Supernet",
    "SupernetStage",
    "find_supernets",
    "get_supernet",
    "ofa_mobilenetv3",
    "ofa_proxylessnas",
    "supernet_report_lines",
]

KERNELS: tuple[int, ...] = (3, 5, 7)
"""Elastic kernel sizes of every released supernet (OFA's ``ks_list``)."""
EXPANSIONS: tuple[int, ...] = (3, 4, 6)
"""Elastic expansion ratios (OFA's ``expand_ratio_list``)."""
DEPTHS: tuple[int, ...] = (2, 3, 4)
"""Elastic stage depths (OFA's ``depth_list``)."""
TRAINED_RESOLUTIONS = (128, 224)
"""once-for-all trained its supernets at input sizes 128..224 px (elastic resolution)."""

RELEASE_COMMIT = "a7c9bcd"
"""Commit of the release repository (han-cai/files) whose blob ids are recorded below."""
_RELEASE_URL = "https://raw.githubusercontent.com/han-cai/files/master/ofa/ofa_nets/"


@dataclass(frozen=True, kw_only=True)
class SupernetStage:
    """One elastic stage.

    Attributes:
        channels: Output channels of every block.
        stride: Stride of the first block.
        act: Activation (mnas name).
        se: Whether the blocks have squeeze-excitation.
        depths: Depth choices (the first ``d`` of ``max(depths)`` blocks run).
    """

    channels: int
    stride: int
    act: str
    se: bool
    depths: tuple[int, ...] = DEPTHS


@dataclass(frozen=True, kw_only=True)
class Subnet:
    """A subnet of a supernet, in once-for-all's terms.

    Attributes:
        kernels: Per block slot of the elastic stages (``max(depth)`` slots per stage),
            the kernel; ``None`` for slots the depth leaves out.
        expansions: Per block slot, the expansion ratio (``None`` where unused).
        depths: Per elastic stage, the depth.
        resolution: Input size.
    """

    kernels: tuple[int | None, ...]
    expansions: tuple[int | None, ...]
    depths: tuple[int, ...]
    resolution: int

    def ofa_config(self) -> dict[str, list[int]]:
        """once-for-all's ``set_active_subnet`` arguments (unused slots get 3 and 3, as any
        value there is ignored), plus ``r``: ``{"ks": [...], "e": [...], "d": [...], "r": [r]}``."""
        return {"ks": [k or KERNELS[0] for k in self.kernels],
                "e": [e or EXPANSIONS[0] for e in self.expansions],
                "d": list(self.depths), "r": [self.resolution]}


@dataclass(frozen=True, kw_only=True)
class Supernet:
    """One released once-for-all supernet.

    Attributes:
        name: mnas's name (``ofa-mbv3-w1.2``).
        ofa_id: once-for-all's name (``ofa_mbv3_d234_e346_k357_w1.2``), also its file name.
        family: ``mbv3`` (MobileNetV3: h-swish, SE, efficient head) or ``proxyless``.
        width_mult: The width multiplier.
        stem: Stem output channels (3x3, stride 2).
        stem_act: Stem activation.
        first: Output channels of the first block (3x3 depthwise-separable, stride 1).
        first_act: Its activation.
        stages: The elastic stages.
        final_expand: MobileNetV3: the 1x1 conv-BN-h-swish after the blocks (None for
            ProxylessNAS).
        last_channel: MobileNetV3: the bias-free 1x1 conv + h-swish after pooling (a
            Linear in mnas); ProxylessNAS: the 1x1 conv-BN-ReLU6 before pooling.
        bn_eps: BatchNorm epsilon the supernet was trained with.
        url: Where once-for-all's model zoo downloads the checkpoint.
        git_blob: The git blob id (SHA-1 of ``"blob <size>\\0" + bytes``) of the file in
            the release repository at :data:`RELEASE_COMMIT`.
        sha256: The file's SHA-256 where known (None: not published; the git blob id is
            checked instead).
    """

    name: str
    ofa_id: str
    family: str
    width_mult: float
    stem: int
    stem_act: str
    first: int
    first_act: str
    stages: tuple[SupernetStage, ...]
    final_expand: int | None
    last_channel: int
    bn_eps: float
    url: str
    git_blob: str
    sha256: str | None = None
    num_classes: int = 1000
    se_ratio: float = 0.25
    dropout: float = 0.1
    kernels: tuple[int, ...] = KERNELS
    expansions: tuple[int, ...] = EXPANSIONS

    # ----------------------------------------------------------- structure
    @property
    def first_skip(self) -> bool:
        """Whether the first block adds its input (when its width equals the stem's)."""
        return self.stem == self.first

    @property
    def slots(self) -> int:
        """Block slots of the elastic stages (``len(ks)`` of once-for-all's configs)."""
        return sum(max(stage.depths) for stage in self.stages)

    def mid_channels(self, in_channels: int, expansion: int) -> int:
        """The expanded width: ``make_divisible(round(in * e), 8)`` as once-for-all rounds it."""
        return make_divisible(round(in_channels * expansion), 8)

    def _stage_inputs(self) -> list[int]:
        inputs, width = [], self.first
        for stage in self.stages:
            inputs.append(width)
            width = stage.channels
        return inputs

    # ----------------------------------------------------------- Arch of a subnet
    def arch(self, subnet: Subnet, *, name: str | None = None) -> Arch:
        """mnas's ``Arch`` of ``subnet``.

        Raises:
            MnasInputError: A choice outside the supernet's (names it).
        """
        self._check_subnet(subnet)
        first = Block(type="ds", in_channels=self.stem, mid_channels=self.stem,
                      out_channels=self.first, kernel=3, stride=1, act=self.first_act,
                      skip=self.first_skip)
        stages: list[tuple[Block, ...]] = [(first,)]
        slot, width = 0, self.first
        for stage in self.stages:
            blocks = []
            depth = subnet.depths[len(stages) - 1]
            for b in range(max(stage.depths)):
                kernel, expansion = subnet.kernels[slot + b], subnet.expansions[slot + b]
                if b >= depth:
                    continue
                assert kernel is not None and expansion is not None
                stride = stage.stride if b == 0 else 1
                mid = self.mid_channels(width, expansion)
                ratio = self.se_ratio if stage.se else 0.0
                blocks.append(Block(
                    type="ir", in_channels=width, mid_channels=mid, out_channels=stage.channels,
                    kernel=kernel, stride=stride, act=stage.act, se_ratio=ratio,
                    se_channels=se_squeeze_channels(width, mid, ratio, "mid"),
                    skip=stride == 1 and width == stage.channels))
                width = stage.channels
            slot += max(stage.depths)
            stages.append(tuple(blocks))
        if self.final_expand is not None:
            stages.append((Block(type="cn", in_channels=width, mid_channels=self.final_expand,
                                 out_channels=self.final_expand, kernel=1, stride=1,
                                 act="hswish"),))
            head = Head(type="pool_conv_act", channels=None, hidden=self.last_channel,
                        act="hswish", dropout=self.dropout)
        else:
            head = Head(type="conv_bn_act_pool", channels=self.last_channel, hidden=None,
                        act=self.first_act, dropout=self.dropout)
        return Arch(name=name or f"{self.name}-subnet", resolution=subnet.resolution,
                    num_classes=self.num_classes, stem=Stem(channels=self.stem, kernel=3,
                                                            stride=2, act=self.stem_act),
                    stages=tuple(stages), head=head, bn_eps=self.bn_eps, bn_momentum=0.1,
                    act_default=self.stages[-1].act, se_gate="hard_sigmoid",
                    se_reduce_from="mid", se_act="relu")

    def _check_subnet(self, subnet: Subnet) -> None:
        where = f"subnet of {self.name}"
        if len(subnet.depths) != len(self.stages):
            raise MnasInputError(f"{where}: needs {len(self.stages)} depths (d), got "
                                 f"{len(subnet.depths)}")
        if len(subnet.kernels) != self.slots or len(subnet.expansions) != self.slots:
            raise MnasInputError(f"{where}: needs {self.slots} kernels (ks) and expansions "
                                 f"(e), got {len(subnet.kernels)} and {len(subnet.expansions)}")
        slot = 0
        for s, (stage, depth) in enumerate(zip(self.stages, subnet.depths, strict=True), 1):
            if depth not in stage.depths:
                raise MnasInputError(f"{where}: stage {s} depth {depth} is not one of "
                                     f"{_list(stage.depths)}")
            for b in range(depth):
                k, e = subnet.kernels[slot + b], subnet.expansions[slot + b]
                if k not in self.kernels:
                    raise MnasInputError(f"{where}: stage {s} block {b + 1} kernel {k} is not "
                                         f"one of {_list(self.kernels)}")
                if e not in self.expansions:
                    raise MnasInputError(f"{where}: stage {s} block {b + 1} expansion {e} is "
                                         f"not one of {_list(self.expansions)}")
            slot += max(stage.depths)
        if isinstance(subnet.resolution, bool) or not isinstance(subnet.resolution, int) \
                or subnet.resolution < 32:
            raise MnasInputError(f"{where}: resolution must be an int >= 32, got "
                                 f"{subnet.resolution!r}")

    def subnet_from_ofa_config(self, config: Mapping[str, object], *,
                               resolution: int | None = None) -> Subnet:
        """A :class:`Subnet` from once-for-all's ``{"ks": [...], "e": [...], "d": [...],
        "r": [224]}`` (``r`` may be an int; ``resolution`` overrides it).

        Raises:
            MnasInputError: Missing or malformed fields, or choices outside the supernet.
        """
        def ints(key: str) -> list[int]:
            value = config.get(key)
            if not isinstance(value, list) or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise MnasInputError(f"once-for-all subnet config: {key!r} must be a list of "
                                     f"integers, got {value!r}")
            return list(value)

        ks, es, ds = ints("ks"), ints("e"), ints("d")
        if self.family == "proxyless" and len(ds) == len(self.stages) - 1:
            ds.append(1)  # once-for-all leaves the fixed last stage out of some configs
        r = config.get("r", resolution)
        if resolution is not None:
            r = resolution
        if isinstance(r, list) and len(r) == 1:
            r = r[0]
        if not isinstance(r, int) or isinstance(r, bool):
            raise MnasInputError("once-for-all subnet config: 'r' (resolution) must be an "
                                 f"integer or a one-element list, got {r!r}")
        if len(ds) != len(self.stages):
            raise MnasInputError(f"once-for-all subnet config: {self.name} needs "
                                 f"{len(self.stages)} depths in 'd', got {len(ds)}")
        if len(ks) != self.slots or len(es) != self.slots:
            raise MnasInputError(f"once-for-all subnet config: {self.name} needs {self.slots} "
                                 f"values in 'ks' and 'e', got {len(ks)} and {len(es)}")
        kernels: list[int | None] = []
        expansions: list[int | None] = []
        slot = 0
        for stage, depth in zip(self.stages, ds, strict=True):
            for b in range(max(stage.depths)):
                kernels.append(ks[slot + b] if b < depth else None)
                expansions.append(es[slot + b] if b < depth else None)
            slot += max(stage.depths)
        subnet = Subnet(kernels=tuple(kernels), expansions=tuple(expansions), depths=tuple(ds),
                        resolution=r)
        self._check_subnet(subnet)
        return subnet

    def random_subnet(self, rng: random.Random, *,
                      resolutions: Sequence[int] = (160, 176, 192, 208, 224)) -> Subnet:
        """A uniformly random subnet (kernel, expansion per block, depth per stage)."""
        kernels: list[int | None] = []
        expansions: list[int | None] = []
        depths = []
        for stage in self.stages:
            depth = rng.choice(stage.depths)
            depths.append(depth)
            for b in range(max(stage.depths)):
                k, e = rng.choice(self.kernels), rng.choice(self.expansions)
                kernels.append(k if b < depth else None)
                expansions.append(e if b < depth else None)
        return Subnet(kernels=tuple(kernels), expansions=tuple(expansions), depths=tuple(depths),
                      resolution=rng.choice(list(resolutions)))

    # ----------------------------------------------------------- which subnet an Arch is
    def match(self, arch: Arch) -> Subnet:
        """The subnet ``arch`` is.

        Raises:
            MnasInputError: One line naming the first part of ``arch`` that does not fit.
        """
        def misfit(what: str) -> MnasInputError:
            return MnasInputError(f"arch {arch.name!r} is not a subnet of {self.name}: {what}; "
                                  f"{self.space_hint()}")

        if arch.num_classes != self.num_classes:
            raise misfit(f"{arch.num_classes} classes, the supernet has {self.num_classes}")
        st = arch.stem
        if (st.channels, st.kernel, st.stride, st.act) != (self.stem, 3, 2, self.stem_act):
            raise misfit(f"stem {st.channels} ch k{st.kernel} s{st.stride} {st.act}, the supernet "
                         f"has {self.stem} ch k3 s2 {self.stem_act}")
        expected_stages = 1 + len(self.stages) + (self.final_expand is not None)
        if len(arch.stages) != expected_stages:
            raise misfit(f"{len(arch.stages)} stages, the supernet has {expected_stages} (first "
                         f"block, {len(self.stages)} elastic stages"
                         f"{', final 1x1 conv' if self.final_expand else ''})")
        first = arch.stages[0]
        want_first = Block(type="ds", in_channels=self.stem, mid_channels=self.stem,
                           out_channels=self.first, kernel=3, stride=1, act=self.first_act,
                           skip=self.first_skip)
        if len(first) != 1 or first[0] != want_first:
            raise misfit(f"the first stage must be one 3x3 depthwise-separable block "
                         f"{self.stem} -> {self.first} ch, {self.first_act}"
                         f"{', residual' if self.first_skip else ''}, no SE")
        kernels: list[int | None] = []
        expansions: list[int | None] = []
        depths = []
        width = self.first
        for s, stage in enumerate(self.stages, start=1):
            blocks = arch.stages[s]
            if len(blocks) not in stage.depths:
                raise misfit(f"stage {s} has {len(blocks)} blocks, the supernet allows "
                             f"{_list(stage.depths)}")
            depths.append(len(blocks))
            for b in range(max(stage.depths)):
                if b >= len(blocks):
                    kernels.append(None)
                    expansions.append(None)
                    continue
                block, where = blocks[b], f"stage {s} block {b + 1}"
                stride = stage.stride if b == 0 else 1
                if block.type != "ir":
                    raise misfit(f"{where} is a {block.type!r} block, the supernet has "
                                 "inverted residuals ('ir')")
                if block.in_channels != width or block.out_channels != stage.channels:
                    raise misfit(f"{where} maps {block.in_channels} -> {block.out_channels} ch, "
                                 f"the supernet {width} -> {stage.channels}")
                if block.stride != stride:
                    raise misfit(f"{where} has stride {block.stride}, the supernet {stride}")
                if block.act != stage.act:
                    raise misfit(f"{where} uses {block.act}, the supernet {stage.act}")
                if block.kernel not in self.kernels:
                    raise misfit(f"{where} kernel {block.kernel} is not one of "
                                 f"{_list(self.kernels)}")
                choices = {self.mid_channels(width, e): e for e in self.expansions}
                if block.mid_channels not in choices:
                    raise misfit(f"{where} expands to {block.mid_channels} ch; the supernet "
                                 f"allows {_list(sorted(choices))} (expansion "
                                 f"{_list(self.expansions)})")
                if block.has_se != stage.se:
                    raise misfit(f"{where} {'has' if block.has_se else 'has no'} SE, the "
                                 f"supernet's stage {s} {'has' if stage.se else 'has none'}")
                if block.has_se and (
                        block.se_channels != se_squeeze_channels(width, block.mid_channels,
                                                                 self.se_ratio, "mid")
                        or (arch.se_gate, arch.se_act) != ("hard_sigmoid", "relu")):
                    raise misfit(f"{where} SE is not the supernet's (ratio {self.se_ratio} of "
                                 "the expanded width, relu, hard sigmoid gate)")
                skip = stride == 1 and width == stage.channels
                if block.skip != skip:
                    raise misfit(f"{where} {'adds' if block.skip else 'lacks'} the residual "
                                 "connection the supernet "
                                 f"{'lacks' if block.skip else 'has'}")
                kernels.append(block.kernel)
                expansions.append(choices[block.mid_channels])
                width = stage.channels
        self._match_head(arch, width, misfit)
        if not math.isclose(arch.bn_eps, self.bn_eps, rel_tol=1e-6):
            raise misfit(f"BatchNorm eps {arch.bn_eps:g}, the supernet uses {self.bn_eps:g}")
        return Subnet(kernels=tuple(kernels), expansions=tuple(expansions), depths=tuple(depths),
                      resolution=arch.resolution)

    def _match_head(self, arch: Arch, width: int,
                    fail: Callable[[str], MnasInputError]) -> None:
        head = arch.head
        if self.final_expand is not None:
            last = arch.stages[-1]
            want = Block(type="cn", in_channels=width, mid_channels=self.final_expand,
                         out_channels=self.final_expand, kernel=1, stride=1, act="hswish")
            if len(last) != 1 or last[0] != want:
                raise fail(f"the last stage must be one 1x1 conv-BN-hswish {width} -> "
                           f"{self.final_expand} ch")
            if (head.type, head.channels, head.hidden, head.act) != (
                    "pool_conv_act", None, self.last_channel, "hswish"):
                raise fail(f"the head must pool, then a {self.last_channel}-wide Linear with "
                           "hswish (MobileNetV3's efficient head), then the classifier")
        elif (head.type, head.channels, head.hidden, head.act) != (
                "conv_bn_act_pool", self.last_channel, None, self.first_act):
            raise fail(f"the head must be a 1x1 conv-BN-{self.first_act} to {self.last_channel} "
                       "ch, pool, then the classifier")

    # ----------------------------------------------------------- checkpoint layout
    def layout(self) -> dict[str, tuple[int, ...]]:
        """Parameter and buffer names of the checkpoint with their shapes, in the naming of
        once-for-all's dynamic modules (BatchNorm step counters left out)."""
        out: dict[str, tuple[int, ...]] = {}

        def conv_bn(prefix: str, cout: int, cin: int, k: int, *, dynamic: bool) -> None:
            conv, bn = (".conv.conv.", ".bn.bn.") if dynamic else (".conv.", ".bn.")
            out[f"{prefix}{conv}weight"] = (cout, cin, k, k)
            for name in ("weight", "bias", "running_mean", "running_var"):
                out[f"{prefix}{bn}{name}"] = (cout,)

        conv_bn("first_conv", self.stem, 3, 3, dynamic=False)
        conv_bn("blocks.0.conv.depth_conv", self.stem, 1, 3, dynamic=False)
        conv_bn("blocks.0.conv.point_linear", self.first, self.stem, 1, dynamic=False)
        index, width = 1, self.first
        for stage in self.stages:
            for _ in range(max(stage.depths)):
                mid = self.mid_channels(width, max(self.expansions))
                p = f"blocks.{index}.conv"
                conv_bn(f"{p}.inverted_bottleneck", mid, width, 1, dynamic=True)
                conv_bn(f"{p}.depth_conv", mid, 1, max(self.kernels), dynamic=True)
                sizes = sorted(self.kernels)
                for small, large in zip(sizes, sizes[1:], strict=False):
                    out[f"{p}.depth_conv.conv.{large}to{small}_matrix"] = (small * small,) * 2
                if stage.se:
                    squeeze = make_divisible(mid // 4, 8)
                    out[f"{p}.depth_conv.se.fc.reduce.weight"] = (squeeze, mid, 1, 1)
                    out[f"{p}.depth_conv.se.fc.reduce.bias"] = (squeeze,)
                    out[f"{p}.depth_conv.se.fc.expand.weight"] = (mid, squeeze, 1, 1)
                    out[f"{p}.depth_conv.se.fc.expand.bias"] = (mid,)
                conv_bn(f"{p}.point_linear", stage.channels, mid, 1, dynamic=True)
                index, width = index + 1, stage.channels
        if self.final_expand is not None:
            conv_bn("final_expand_layer", self.final_expand, width, 1, dynamic=False)
            out["feature_mix_layer.conv.weight"] = (self.last_channel, self.final_expand, 1, 1)
        else:
            conv_bn("feature_mix_layer", self.last_channel, width, 1, dynamic=False)
        out["classifier.linear.weight"] = (self.num_classes, self.last_channel)
        out["classifier.linear.bias"] = (self.num_classes,)
        return out

    def block_index(self, stage: int, block: int) -> int:
        """once-for-all's index in ``blocks`` of elastic stage ``stage`` (0-based), block
        ``block`` (0-based); block 0 of the supernet is the first (fixed) block."""
        return 1 + sum(max(s.depths) for s in self.stages[:stage]) + block

    def space_hint(self) -> str:
        """How a user gets an architecture this supernet holds."""
        if self.name == "ofa-mbv3-w1.2":
            return "search with `--space ofa-mbv3` for one it holds"
        return ("pass a once-for-all subnet config ({\"ks\", \"e\", \"d\", \"r\"}) as --arch "
                "for one it holds")

    def download_hint(self) -> str:
        """Where to get the checkpoint and what to check, in one sentence."""
        digest = f"sha256 {self.sha256}" if self.sha256 else (
            f"git blob id {self.git_blob} (sha1 of 'blob <size>\\0' + bytes; once-for-all "
            "publishes no sha256)")
        return (f"download once-for-all's {self.ofa_id} from {self.url} (expect {digest}), or "
                f"run `mnas weights download {self.name}` which checks it")


def _list(values: Sequence[object]) -> str:
    return ", ".join(str(v) for v in values)


def _w(base: int, mult: float) -> int:
    return make_divisible(base * mult, 8)


def ofa_mobilenetv3(mult: float, *, blob: str = "", num_classes: int = 1000,
                    depths: tuple[int, ...] = DEPTHS) -> Supernet:
    """once-for-all's MobileNetV3 supernet at width ``mult`` (the released ones: 1.0, 1.2,
    depths 2/3/4; other widths, class counts and depth lists describe supernets trained
    with its code, ``OFAMobileNetV3(width_mult, n_classes, depth_list=...)``)."""
    # OFA-MobileNetV3: base widths 16 (stem, first block), 24, 40, 80, 112, 160, 960, 1280
    widths = [_w(b, mult) for b in (24, 40, 80, 112, 160)]
    strides = (2, 2, 2, 1, 2)
    acts = ("relu", "relu", "hswish", "hswish", "hswish")
    ses = (False, True, False, True, True)
    ofa_id = f"ofa_mbv3_d234_e346_k357_w{mult}"
    return Supernet(
        name=f"ofa-mbv3-w{mult}", ofa_id=ofa_id, family="mbv3", width_mult=mult,
        stem=_w(16, mult), stem_act="hswish", first=_w(16, mult), first_act="relu",
        stages=tuple(SupernetStage(channels=c, stride=s, act=a, se=se, depths=depths)
                     for c, s, a, se in zip(widths, strides, acts, ses, strict=True)),
        final_expand=_w(960, mult), last_channel=_w(1280, mult), bn_eps=1e-5,
        url=_RELEASE_URL + ofa_id, git_blob=blob, num_classes=num_classes)


def ofa_proxylessnas(mult: float, *, blob: str = "", num_classes: int = 1000) -> Supernet:
    """once-for-all's ProxylessNAS supernet at width ``mult`` (the released one: 1.3)."""
    # OFA-ProxylessNAS: base widths 32 (stem), 16 (first block), 24, 40, 80, 96, 192, 320, 1280
    widths = [_w(b, mult) for b in (24, 40, 80, 96, 192, 320)]
    strides = (2, 2, 2, 1, 2, 1)
    depths = (DEPTHS,) * 5 + ((1,),)
    ofa_id = f"ofa_proxyless_d234_e346_k357_w{mult}"
    return Supernet(
        name=f"ofa-proxyless-w{mult}", ofa_id=ofa_id, family="proxyless", width_mult=mult,
        stem=_w(32, mult), stem_act="relu6", first=_w(16, mult), first_act="relu6",
        stages=tuple(SupernetStage(channels=c, stride=s, act="relu6", se=False, depths=d)
                     for c, s, d in zip(widths, strides, depths, strict=True)),
        final_expand=None, last_channel=_w(1280, mult), bn_eps=1e-3,
        url=_RELEASE_URL + ofa_id, git_blob=blob, num_classes=num_classes)


SUPERNETS: dict[str, Supernet] = {
    s.name: s for s in (
        ofa_mobilenetv3(1.0, blob="55d835981d8acd1053657a951b18887a724ddcbf"),
        ofa_mobilenetv3(1.2, blob="d75a3613bae216091f61fc4b7df77d49cc82ed32"),
        ofa_proxylessnas(1.3, blob="c97035a7a6fe611508f3bb35ffac0ef77262f5e0"),
    )
}
"""The released supernets by mnas name (blob ids from han-cai/files at :data:`RELEASE_COMMIT`)."""


def get_supernet(name: str) -> Supernet:
    """The supernet called ``name`` (mnas's name or once-for-all's id).

    Raises:
        MnasInputError: Unknown name (lists the known ones).
    """
    for supernet in SUPERNETS.values():
        if name in (supernet.name, supernet.ofa_id):
            return supernet
    raise MnasInputError(f"unknown supernet {name!r}; known: {', '.join(SUPERNETS)}")


def find_supernets(arch: Arch) -> list[tuple[Supernet, str | None]]:
    """Every known supernet with ``None`` where ``arch`` is one of its subnets, else why not."""
    out: list[tuple[Supernet, str | None]] = []
    for supernet in SUPERNETS.values():
        try:
            supernet.match(arch)
        except MnasInputError as err:
            out.append((supernet, str(err).split(": ", 1)[-1].rsplit("; ", 1)[0]))
        else:
            out.append((supernet, None))
    return out


def supernet_report_lines(arch: Arch, arch_ref: str) -> list[str]:
    """Report lines (markdown) saying whether ``arch`` has trained weights in a known
    supernet, with the command that extracts them (``arch_ref``: what ``--arch`` takes)."""
    found = find_supernets(arch)
    hits = [s for s, why in found if why is None]
    if hits:
        s = hits[0]
        return [f"- trained weights: available — a subnet of once-for-all's `{s.ofa_id}` "
                f"(ImageNet). `mnas weights extract --supernet {s.name}=PATH --arch {arch_ref} "
                "--data TRAIN_IMAGES` gives them with recalibrated BatchNorm (see "
                "docs/weights.md)."]
    closest = next((why for s, why in found if s.name == "ofa-mbv3-w1.2"), found[0][1])
    return [f"- trained weights: none from a known supernet ({', '.join(SUPERNETS)}); "
            f"e.g. ofa-mbv3-w1.2: {closest}. Train it, or search `--space ofa-mbv3`."]
