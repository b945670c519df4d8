"""Predict an architecture's latency on a target from its latency table."""

from __future__ import annotations

import abc
import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mnas._limits import MAX_LATENCY_MS
from mnas.arch import Arch
from mnas.errors import MissingLatencyKeyError, MnasInputError
from mnas.latency._opkey import OpKey, op_keys, resolution_key
from mnas.latency._table import LatencyTable, load_table

__all__ = [
    "BlockLatency",
    "DeviceModel",
    "Estimate",
    "LatencyPredictor",
    "TablePredictor",
    "default_tables_dir",
    "list_targets",
    "predict",
    "resolve_target",
]


class DeviceModel(Protocol):
    """An analytic model that estimates one operator key's latency (used by estimated tables)."""

    def predict_ms(self, key: OpKey) -> float:
        """Estimated latency of ``key`` in ms."""


@dataclass(frozen=True, kw_only=True)
class BlockLatency:
    """One unit's share of a prediction.

    Attributes:
        key: The operator key string.
        ms: Its latency from the table (before whole-network calibration).
        source: ``table`` (a tabulated entry) or ``device_model`` (computed).
        weights: Its weight count (:attr:`OpKey.weights`), for the calibration's weights
            term.
    """

    key: str
    ms: float
    source: str
    weights: int = 0


@dataclass(frozen=True, kw_only=True)
class Estimate:
    """A predicted latency with its band and where it comes from.

    Attributes:
        latency_ms: Calibrated whole-network prediction.
        low_ms: Lower end of the band the table declares.
        high_ms: Upper end of the band.
        band: The band as a fraction (0.1 = ±10%).
        provenance: ``measured`` (table measured on the device) or ``estimated``.
        target: The target name.
        device: The device and runtime, in words.
        per_block: Every unit's latency, stem first, head last.
    """

    latency_ms: float
    low_ms: float
    high_ms: float
    band: float
    provenance: str
    target: str
    device: str
    per_block: tuple[BlockLatency, ...]

    def describe(self) -> str:
        """One line such as ``18.4 ms (estimated ±15% on Pixel 4, TFLite 1 thread)``."""
        return (f"{self.latency_ms:.2f} ms ({self.provenance} ±{self.band * 100:.0f}% on "
                f"{self.device})")

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``mnas predict --json``)."""
        return {
            "latency_ms": self.latency_ms,
            "low_ms": self.low_ms,
            "high_ms": self.high_ms,
            "band": self.band,
            "provenance": self.provenance,
            "target": self.target,
            "device": self.device,
            "per_block": [{"key": b.key, "ms": b.ms, "source": b.source, "weights": b.weights}
                          for b in self.per_block],
        }


class LatencyPredictor(abc.ABC):
    """Predicts the latency of an :class:`Arch` on one target.

    Contract: ``predict`` is a pure function of the arch (no I/O, no randomness), raises
    :class:`~mnas.errors.MissingLatencyKeyError` naming the key and the command that
    measures it rather than guessing, and labels its result ``measured`` only when every
    number behind it was measured on the device.
    """

    target: str

    @abc.abstractmethod
    def predict(self, arch: Arch) -> Estimate:
        """The latency estimate of ``arch``."""


class TablePredictor(LatencyPredictor):
    """Sum of per-key table entries, corrected by the table's whole-network calibration.

    The prediction is ``a * sum(entries) + c * max(0, weights / 1e6 - w0) + b`` where the
    entries are the table's ``statistic`` (median or min) less the runtime's per-call
    overhead (header ``call_overhead_ms``, measured by the builder; 0 if absent) and ``a``,
    ``b``, ``c``, ``w0`` its calibration (``w0 = 0``: every weight is charged).

    Args:
        table: The latency table.
        space_hint: Named in the "how to measure" command of a missing-key error.
    """

    def __init__(self, table: LatencyTable, *, space_hint: str | None = None) -> None:
        self.table = table
        self.target = table.header.target
        self._space_hint = space_hint
        self._entries = {key: table.unit_ms(key) for key in table.entries}
        # entries keyed by resolution (``<key>@<R>px``): looked up before the plain key
        self._by_resolution = any("@" in key for key in self._entries)
        self._cache: dict[str, float] = {}
        self._units_cache: dict[tuple[Any, ...], BlockLatency] = {}
        self._model: DeviceModel | None = None
        if table.header.missing_keys == "device_model":
            from mnas.latency._device_model import load_device_model

            self._model = load_device_model(table.device_model or {})
        header = table.header
        self._device = (f"{header.device}, {header.runtime} {header.runtime_version}, "
                        f"{header.threads} thread{'s' if header.threads != 1 else ''}")
        self._provenance = header.provenance
        self._band = float(header.error_band)
        # per prediction: measured only when every unit is an entry measured on the device
        # (header ``entries: measured`` says so of an estimated host table's entries); the
        # band of such a prediction and of one that needed the device model may differ
        self._entries_measured = (header.provenance == "measured"
                                  or header.extra.get("entries") == "measured")
        self._entries_band = _fraction(header.extra.get("entries_error_band"), self._band)
        self._model_band = _fraction(header.extra.get("model_error_band"), self._band)
        cal = table.calibration
        self._a = cal.a if cal else 1.0
        self._b = cal.b if cal else 0.0
        self._c = (cal.c if cal else 0.0) / 1e6  # per weight
        self._w0 = (cal.w0 if cal else 0.0) * 1e6  # weights the term does not charge

    def _lookup(self, key: OpKey, resolution: int | None = None) -> BlockLatency:
        """One unit's latency: the table's entry for ``key`` inside networks of input
        ``resolution`` if it has one, else its plain entry, else the device model's value."""
        text = str(key)
        if self._by_resolution and resolution is not None:
            qualified = resolution_key(text, resolution)
            value = self._entries.get(qualified)
            if value is not None:
                return BlockLatency(key=qualified, ms=value, source="table",
                                    weights=key.weights)
        value = self._entries.get(text)
        if value is not None:
            return BlockLatency(key=text, ms=value, source="table", weights=key.weights)
        if self._model is not None:
            value = self._cache.get(text)
            if value is None:
                value = float(self._model.predict_ms(key))
                if not 0 <= value <= MAX_LATENCY_MS:  # also False for NaN
                    raise MnasInputError(
                        f"{self.table.path or 'latency table'}: its device_model predicts "
                        f"{value!r} ms for key {text!r}, outside [0, {MAX_LATENCY_MS:g}] ms; "
                        "fix the device model's constants or regenerate the table")
                self._cache[text] = value
            return BlockLatency(key=text, ms=value, source="device_model",
                                weights=key.weights)
        space = f" --space {self._space_hint}" if self._space_hint else ""
        location = f" {self.table.path}" if self.table.path else ""
        from mnas.latency._build_state import build_state

        state = build_state(self.table)
        if state is not None and state.state in ("interrupted", "running", "stopped"):
            why = {"interrupted": "was interrupted", "running": "is still running",
                   "stopped": "stopped at its time budget"}[state.state]
            raise MissingLatencyKeyError(
                f"the latency build of{location} {why} before it measured key {text!r} "
                f"({state.measured:,} of {state.keys:,} keys measured); rerun "
                f"`{state.command}{space if space not in state.command else ''}` to finish it")
        raise MissingLatencyKeyError(
            f"latency table{location} for target {self.target!r} has no entry for key "
            f"{text!r}; measure it on the device with `mnas latency build --target "
            f"{self.target}{space}` (it only measures what is missing)")

    def _units(self, arch: Arch) -> list[BlockLatency]:
        """Every unit's latency, memoised on plain tuples of the fields a key depends on.

        Building and formatting an :class:`OpKey` costs microseconds per unit, and so
        does hashing a ``Block`` dataclass; a search sees the same blocks at the same sizes
        over and over, so the memo is keyed on a tuple of the block's ints and strings
        and its input size (about 1 us per unit).
        """
        units = self._units_cache
        size = arch.resolution
        res = size if self._by_resolution else None  # part of every memo key then
        stem = arch.stem
        ident: tuple[Any, ...] = (size, stem.channels, stem.kernel, stem.stride, stem.act)
        unit = units.get(ident)
        keys: list[OpKey] | None = None
        if unit is None:
            keys = op_keys(arch)
            unit = units[ident] = self._lookup(keys[0], res)
        out = [unit]
        size = (size - 1) // stem.stride + 1
        se = (arch.se_act, arch.se_gate)
        index = 0
        for stage in arch.stages:
            for block in stage:
                index += 1
                stride = block.stride
                ident = (block.type, size, block.in_channels, block.mid_channels,
                         block.out_channels, block.kernel, stride, block.act, block.skip,
                         block.se_channels, se if block.se_channels else None, res)
                unit = units.get(ident)
                if unit is None:
                    keys = keys or op_keys(arch)
                    unit = units[ident] = self._lookup(keys[index], res)
                out.append(unit)
                size = (size - 1) // stride + 1
        head = arch.head
        ident = ("head", size, arch.stages[-1][-1].out_channels, arch.num_classes, head.type,
                 head.channels, head.hidden, head.act, res)
        unit = units.get(ident)
        if unit is None:
            keys = keys or op_keys(arch)
            unit = units[ident] = self._lookup(keys[-1], res)
        out.append(unit)
        return out

    def predict(self, arch: Arch) -> Estimate:
        """The calibrated latency of ``arch`` with the table's error band."""
        per_block = tuple(self._units(arch))
        total = (self._a * sum(b.ms for b in per_block)
                 + self._c * max(0.0, sum(b.weights for b in per_block) - self._w0) + self._b)
        from_entries = all(b.source == "table" for b in per_block)
        provenance = "measured" if self._entries_measured and from_entries else "estimated"
        band = self._entries_band if from_entries else self._model_band
        return Estimate(
            latency_ms=total, low_ms=total * (1 - band), high_ms=total * (1 + band),
            band=band, provenance=provenance, target=self.target, device=self._device,
            per_block=per_block)

    def predict_ms(self, arch: Arch) -> float:
        """Just the calibrated latency in ms (the search's hot path)."""
        total = 0.0
        weights = 0
        for unit in self._units(arch):
            total += unit.ms
            weights += unit.weights
        return self._a * total + self._c * max(0.0, weights - self._w0) + self._b


def _fraction(value: Any, default: float) -> float:
    """A header band that the loader checked (a fraction), or ``default`` when absent."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else default


def default_tables_dir() -> Path:
    """Where shipped and built tables live: ``$MNAS_TABLES`` or the project's ``latency_tables/``."""
    env = os.environ.get("MNAS_TABLES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "latency_tables"


def host_target_name() -> str:
    """The file stem of this host's default table (CPU model, onnxruntime, 1 thread)."""
    from mnas.latency._host import host_table_name

    return host_table_name()


def list_targets() -> list[str]:
    """Target names of the tables in :func:`default_tables_dir`."""
    folder = default_tables_dir()
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


@functools.lru_cache(maxsize=32)
def _cached_table(path: str, mtime: float) -> LatencyTable:
    return load_table(path)


def resolve_target(target: str) -> LatencyTable:
    """The latency table of ``target``: a table file path, ``host``, or a shipped name.

    Raises:
        MnasInputError: Unknown target, naming the known ones and how to build a table.
    """
    candidate = Path(target)
    if candidate.suffix == ".json" or os.sep in target or (
            target != "host" and target not in list_targets() and candidate.exists()):
        if not candidate.is_file():  # missing, a folder, a FIFO, a device: say which
            return load_table(candidate)
        return _cached_table(str(candidate.resolve()), candidate.stat().st_mtime)
    if target == "host":
        name = host_target_name()
        path = default_tables_dir() / f"{name}.json"
        if not path.exists():
            raise MnasInputError(
                f"no latency table for this host ({name}, {platform.processor() or 'cpu'}) in "
                f"{default_tables_dir()}; `mnas predict --target host` or `mnas search "
                "--target host` estimates one from this machine's speed in about a minute, "
                "`mnas latency build --target host` measures it")
        return _cached_table(str(path), path.stat().st_mtime)
    path = default_tables_dir() / f"{target}.json"
    if path.exists():
        return _cached_table(str(path), path.stat().st_mtime)
    known = ", ".join(["host", *list_targets()])
    raise MnasInputError(
        f"unknown target {target!r}; use one of: {known}, or a path to a latency table "
        "(build one on your device with `mnas latency build`)")


def predict(arch: Arch, *, target: str) -> Estimate:
    """Predict the latency of ``arch`` on ``target`` (see :func:`resolve_target`)."""
    return TablePredictor(resolve_target(target)).predict(arch)
