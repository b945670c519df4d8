"""An analytic latency model of a phone CPU, behind the ``estimated`` phone tables.

A timed unit (:class:`~mnas.latency.OpKey`) is split into the runtime kernels a
TFLite-style interpreter runs for it (full conv, 1x1 conv, depthwise conv, fully
connected, element-wise passes for h-swish / residual add / SE scaling, pooling),
and each kernel costs::

    t = combine(macs / throughput[kind], bytes / bandwidth) + overhead

where ``combine`` is a sum (``"sum"``) or a roofline ``max`` (``"max"``), bytes are
fp32 activations read and written plus weights, and ``overhead`` is a fixed cost
per kernel launch. Element-wise kernels (h-swish, add, SE multiply, pooling) are
pure memory traffic at their own throughput. ReLU/ReLU6 are fused into the
preceding conv (as TFLite does); h-swish is its own kernel.

The constants of a model are fitted by ``benchmarks/fit_pixel4.py`` to the
once-for-all Note10 per-block table (Cai et al., "Once-for-All", ICLR 2020; data
in ``shared/data/ofa_note10_lut``; Snapdragon 855, the Pixel 4's SoC) and checked
against the whole-network figures in ``shared/reference/published.md``. Only the
fitted constants are stored, in a latency table's ``device_model`` object.

Roofline reasoning follows Williams et al., "Roofline: an insightful visual
performance model" (CACM 2009); per-kernel decomposition with per-kind
efficiencies follows nn-Meter (Zhang et al., MobiSys 2021), which shows that
kernel-level (not FLOPs-level) modelling is what makes CPU latency predictable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from mnas.errors import MnasInputError
from mnas.latency._opkey import OpKey

__all__ = [
    "DEVICE_MODEL_FORMAT",
    "KernelCost",
    "PhoneCpuModel",
    "kernels",
    "load_device_model",
]

DEVICE_MODEL_FORMAT = "mnas-phone-cpu/1"
_BYTES = 4  # fp32
_COMBINES = ("sum", "max")
_KINDS = ("conv", "pw", "dw", "fc")


@dataclass(frozen=True, kw_only=True)
class KernelCost:
    """One runtime kernel of a unit.

    Attributes:
        kind: ``conv`` (full kxk conv), ``pw`` (1x1 conv on a feature map), ``dw``
            (depthwise kxk), ``fc`` (fully connected / 1x1 conv on a 1x1 map), ``eltwise``
            (add, multiply, pooling), ``hswish`` (h-swish as its own kernel).
        macs: Multiply-accumulates (0 for element-wise kernels).
        act_bytes: Activation bytes read and written.
        weight_bytes: Weight bytes read.
        elements: Output elements (for ``dw``, ``eltwise``, ``hswish``).
        kernel: Spatial kernel (for ``dw``).
    """

    kind: str
    macs: float = 0.0
    act_bytes: float = 0.0
    weight_bytes: float = 0.0
    elements: float = 0.0
    kernel: int = 1


def _conv(kind: str, h_in: int, h_out: int, c_in: int, c_out: int, k: int,
          groups_equal: bool = False) -> KernelCost:
    if groups_equal:
        macs = h_out * h_out * c_out * k * k
        weights = c_out * k * k
    else:
        macs = h_out * h_out * c_out * c_in * k * k
        weights = c_out * c_in * k * k
    act = (h_in * h_in * c_in + h_out * h_out * c_out) * _BYTES
    return KernelCost(kind=kind, macs=float(macs), act_bytes=float(act),
                      weight_bytes=float(weights * _BYTES), elements=float(h_out * h_out * c_out),
                      kernel=k)


def _eltwise(kind: str, elements: int, tensors: int) -> KernelCost:
    return KernelCost(kind=kind, act_bytes=float(elements * tensors * _BYTES),
                      elements=float(elements))


def _act(act: str, elements: int) -> list[KernelCost]:
    # ReLU / ReLU6 / identity fuse into the conv; h-swish and swish run as their own kernel.
    if act in ("hswish", "swish"):
        return [_eltwise("hswish", elements, 2)]
    return []


def _fc(c_in: int, c_out: int) -> KernelCost:
    return KernelCost(kind="fc", macs=float(c_in * c_out), act_bytes=float((c_in + c_out) * _BYTES),
                      weight_bytes=float((c_in * c_out + c_out) * _BYTES),
                      elements=float(c_out))


def _se(size: int, channels: int, squeeze: int, gate: str) -> list[KernelCost]:
    elements = size * size * channels
    ops = [_eltwise("eltwise", elements, 1),  # global mean
           _fc(channels, squeeze), _fc(squeeze, channels),  # reduce (+relu fused), expand
           _eltwise("eltwise", channels, 2),  # gate (logistic or hard-sigmoid) on a vector
           _eltwise("eltwise", elements, 3)]  # scale: x * gate
    if gate == "hard_sigmoid":
        ops.append(_eltwise("eltwise", channels, 2))  # hard-sigmoid lowers to two kernels
    return ops


def kernels(key: OpKey) -> list[KernelCost]:
    """The runtime kernels of one timed unit, in execution order.

    Raises:
        MnasInputError: For a key kind the model does not know.
    """
    ops: list[KernelCost] = []
    if key.kind == "stem":
        ops.append(_conv("conv", key.in_size, key.out_size, key.in_channels, key.out_channels,
                         key.kernel))
        ops += _act(key.act, key.out_size ** 2 * key.out_channels)
        return ops
    if key.kind == "head":
        size, width = key.in_size, key.in_channels
        if key.head_type == "conv_bn_act_pool":
            if key.mid_channels:
                ops.append(_conv("pw", size, size, width, key.mid_channels, 1))
                ops += _act(key.act, size * size * key.mid_channels)
                width = key.mid_channels
            ops.append(_eltwise("eltwise", size * size * width, 1))  # global mean
        else:
            ops.append(_eltwise("eltwise", size * size * width, 1))
            if key.mid_channels:
                ops.append(_fc(width, key.mid_channels))
                ops += _act(key.act, key.mid_channels)
                width = key.mid_channels
        if key.hidden:
            ops.append(_fc(width, key.hidden))
            ops += _act(key.act, key.hidden)
            width = key.hidden
        ops.append(_fc(width, key.out_channels))
        return ops
    h_in, h_out = key.in_size, key.out_size
    if key.kind == "cn":
        kind = "pw" if key.kernel == 1 else "conv"
        ops.append(_conv(kind, h_in, h_out, key.in_channels, key.out_channels, key.kernel))
        ops += _act(key.act, h_out * h_out * key.out_channels)
    elif key.kind in ("ir", "ds", "dsa"):
        mid = key.mid_channels if key.kind == "ir" else key.in_channels
        if key.kind == "ir":
            ops.append(_conv("pw", h_in, h_in, key.in_channels, mid, 1))
            ops += _act(key.act, h_in * h_in * mid)
        ops.append(_conv("dw", h_in, h_out, mid, mid, key.kernel, groups_equal=True))
        ops += _act(key.act, h_out * h_out * mid)
        if key.se_channels:
            ops += _se(h_out, mid, key.se_channels, key.se_gate)
        ops.append(_conv("pw", h_out, h_out, mid, key.out_channels, 1))
        if key.kind == "dsa":
            ops += _act(key.act, h_out * h_out * key.out_channels)
    else:
        raise MnasInputError(
            f"the phone device model has no cost for op kind {key.kind!r} (key {key}); "
            "known kinds: stem, ir, ds, dsa, cn, head")
    if key.skip:
        ops.append(_eltwise("eltwise", h_out * h_out * key.out_channels, 3))
    return ops


@dataclass(frozen=True, kw_only=True)
class PhoneCpuModel:
    """Fitted constants of one phone CPU configuration (core set, threads, runtime).

    Attributes:
        gmacs: Effective throughput per kernel kind, GMAC/s: ``conv``, ``pw``, ``dw``, ``fc``.
        bandwidth_gbs: Effective bandwidth for activations and weights, GB/s.
        eltwise_gbs: Bandwidth of element-wise kernels (add, multiply, mean), GB/s.
        hswish_gbs: Bandwidth of the h-swish kernel, GB/s.
        overhead_us: Fixed cost per kernel, microseconds.
        combine: ``sum`` (compute + memory) or ``max`` (roofline).
        scale: Multiplies every unit (core clock / runtime factor relative to the fit data).
        threads: Threads the constants describe (documentation; the constants already
            include the parallel speed-up).
        source: Where the constants come from.
        fit: Fit statistics (per-block MAPE and so on), kept as is.
    """

    gmacs: Mapping[str, float]
    bandwidth_gbs: float
    eltwise_gbs: float
    hswish_gbs: float
    overhead_us: float
    combine: str = "sum"
    scale: float = 1.0
    threads: int = 1
    source: str = ""
    fit: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind in _KINDS:
            value = self.gmacs.get(kind) if isinstance(self.gmacs, Mapping) else None
            if not _positive(value):
                raise MnasInputError(
                    f"device_model.gmacs.{kind} must be a positive number (GMAC/s), got "
                    f"{value!r}; regenerate the table with benchmarks/fit_pixel4.py")
        for name in ("bandwidth_gbs", "eltwise_gbs", "hswish_gbs", "scale"):
            if not _positive(getattr(self, name)):
                raise MnasInputError(
                    f"device_model.{name} must be a positive number, got "
                    f"{getattr(self, name)!r}; regenerate the table with "
                    "benchmarks/fit_pixel4.py")
        if not (_positive(self.overhead_us) or self.overhead_us == 0):
            raise MnasInputError(
                f"device_model.overhead_us must be a number >= 0, got {self.overhead_us!r}")
        if self.combine not in _COMBINES:
            raise MnasInputError(
                f"device_model.combine must be one of {', '.join(_COMBINES)}, got "
                f"{self.combine!r}")

    # ------------------------------------------------------------ predict
    def kernel_ms(self, op: KernelCost) -> float:
        """Latency of one kernel in ms (before ``scale``)."""
        if op.kind in ("eltwise", "hswish"):
            gbs = self.eltwise_gbs if op.kind == "eltwise" else self.hswish_gbs
            return op.act_bytes / (gbs * 1e6) + self.overhead_us * 1e-3
        compute = op.macs / (self.gmacs[op.kind] * 1e6)
        memory = (op.act_bytes + op.weight_bytes) / (self.bandwidth_gbs * 1e6)
        body = compute + memory if self.combine == "sum" else max(compute, memory)
        return body + self.overhead_us * 1e-3

    def predict_ms(self, key: OpKey) -> float:
        """Estimated latency of one timed unit in ms."""
        return self.scale * sum(self.kernel_ms(op) for op in kernels(key))

    # ------------------------------------------------------------- views
    def to_dict(self) -> dict[str, Any]:
        """The ``device_model`` object stored in a latency table."""
        data = asdict(self)
        data["gmacs"] = dict(self.gmacs)
        data["fit"] = dict(self.fit)
        return {"format": DEVICE_MODEL_FORMAT, **data}

    def with_(self, **changes: Any) -> PhoneCpuModel:
        """A copy with some constants changed (validated again)."""
        return replace(self, **changes)


def _positive(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, int | float)
            and math.isfinite(value) and value > 0)


def load_device_model(data: Mapping[str, Any]) -> PhoneCpuModel:
    """The device model stored in a latency table's ``device_model`` object.

    Raises:
        MnasInputError: Wrong format tag, unknown or missing fields, bad values; the
            message names the field and how to regenerate the table.
    """
    if not isinstance(data, Mapping):
        raise MnasInputError(f"device_model must be an object, got {type(data).__name__}")
    tag = data.get("format")
    if tag != DEVICE_MODEL_FORMAT:
        raise MnasInputError(
            f"device_model.format must be {DEVICE_MODEL_FORMAT!r}, got {tag!r}; regenerate "
            "the table with benchmarks/fit_pixel4.py or measure the device with "
            "`mnas latency build`")
    known = {f.name for f in fields(PhoneCpuModel)}
    unknown = sorted(set(data) - known - {"format"})
    if unknown:
        raise MnasInputError(
            f"device_model has unknown field(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(known))}")
    missing = sorted(name for name in ("gmacs", "bandwidth_gbs", "eltwise_gbs", "hswish_gbs",
                                       "overhead_us") if name not in data)
    if missing:
        raise MnasInputError(f"device_model is missing field(s) {', '.join(missing)}")
    if not isinstance(data["gmacs"], Mapping):
        raise MnasInputError(f"device_model.gmacs must be an object, got {data['gmacs']!r}")
    kwargs = {k: v for k, v in data.items() if k in known}
    kwargs["gmacs"] = dict(data["gmacs"])
    kwargs["fit"] = dict(data.get("fit") or {})
    return PhoneCpuModel(**kwargs)
