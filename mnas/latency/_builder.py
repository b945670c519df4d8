"""Build a latency table on the device being measured (``mnas latency build``).

Steps:

1. Enumerate the unique op keys of a search space (by sampling it: see
   :func:`enumerate_space_keys`) and of any named architectures.
2. Time every key that the table does not have yet, each as a tiny standalone model
   (:func:`~mnas.latency._key_model.key_model`) through a :class:`Runner`: warm-up
   runs, then repeats; the entry keeps the median, p90, min, n and standard deviation.
   Keys are timed in a random order, in ``passes`` passes (each its own order); an
   entry combines its passes (fastest run, the calmer pass's median), so a slow spell
   of a shared machine never decides a key. A *sentinel* key stays loaded and is
   re-timed before and after every measurement; when it runs more than
   ``drift_tolerance`` slower than its idle speed (other processes, a busy sibling
   core, a lower clock), the measurement is retried at once.
3. Time a sample of whole networks, round-robin (every network once per round, so the
   machine's slow spells fall on all of them alike; see :func:`time_networks`), and fit
   the calibration ``total = a * sum + c * weights + b``.

Every finished entry is appended to a journal next to the table (``<table>.journal``,
one JSON line, flushed and fsynced before the next key starts); the table itself is
rewritten atomically every ``checkpoint_s`` seconds and at the end, after which the
journal is emptied. A run killed at any point (even SIGKILL) leaves a valid table
file plus a journal; the next run merges both and measures only what is missing.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnas.arch import Arch, Block, Head, Stem, block_cost, head_costs, stem_costs
from mnas.errors import MnasInputError
from mnas.latency._build_progress import BuildProgress
from mnas.latency._build_state import BUILD_FIELD, build_record
from mnas.latency._calibrate import CalibrationPoint, fit_calibration
from mnas.latency._key_model import key_example, key_model
from mnas.latency._opkey import OpKey, op_keys, unique_op_keys
from mnas.latency._table import (
    STATISTICS,
    LatencyEntry,
    LatencyTable,
    TableHeader,
    load_table,
)
from mnas.latency.runners import Prepared, Runner, RunnerInfo, Timing, arch_model

__all__ = [
    "BuildReport",
    "BuildSettings",
    "NETWORK_GROUP",
    "KeyCoverage",
    "NetworkTiming",
    "Sentinel",
    "TableBuilder",
    "build_table",
    "calibration_archs",
    "calibration_points",
    "call_overhead_ms",
    "enumerate_space_keys",
    "estimate_macs",
    "guarded_time",
    "journal_path",
    "new_table_header",
    "time_networks",
]


@dataclass(frozen=True, kw_only=True)
class BuildSettings:
    """How keys and whole networks are timed.

    Attributes:
        warmup: Untimed runs before each key's timed runs.
        repeats: Timed runs per key.
        sentinel_repeats: Timed runs of each sentinel check (before and after every
            measurement).
        drift_tolerance: Sentinel slowdown over its idle speed that counts as drift
            (0.05 = 5%); a measurement taken while drifting is retried.
        attempts: Immediate attempts per key while drifting.
        passes: Most timing passes per key; an entry combines them
            (:meth:`LatencyEntry.merged`). This VM runs 1.3-1.6x slow for seconds to minutes
            at a time; a key is timed in ~10 ms, so with 2 passes about one key in four was
            caught slow both times, with 4 passes about one in 16.
        min_passes: Passes every key gets (at most ``passes``). After them a key is timed
            again only while its last pass lowered its fastest run by more than
            ``stable_tolerance``: a minimum that a new pass no longer moves is stable, and
            the passes go where the noise is.
        stable_tolerance: The improvement of the fastest run that counts as unstable.
        time_budget_s: Stop timing keys when what is left of this many seconds (from the
            start of the run) is what the whole networks need; None: no budget.
        statistic: What the table predicts from: ``min`` (the fastest run: steady on a
            shared machine) or ``median`` (see :data:`mnas.latency.STATISTICS`).
        calibration_networks: Whole networks timed for the calibration.
        network_warmup: Untimed runs per whole network (when it is loaded).
        network_repeats: Timed runs per whole network per round.
        network_rounds: Round-robin rounds over the whole networks.
        checkpoint_s: Rewrite the table file at least this often (the journal holds every
            entry in between).
        seed: Seed of the key order and of the calibration sample.
    """

    warmup: int = 5
    repeats: int = 25
    sentinel_repeats: int = 10
    drift_tolerance: float = 0.05
    attempts: int = 2
    passes: int = 4
    min_passes: int = 2
    stable_tolerance: float = 0.02
    time_budget_s: float | None = None
    statistic: str = "min"
    calibration_networks: int = 20
    network_warmup: int = 3
    network_repeats: int = 20
    network_rounds: int = 10
    checkpoint_s: float = 20.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise MnasInputError(f"statistic must be one of {', '.join(STATISTICS)}, got "
                                 f"{self.statistic!r}")
        for name, low in (("warmup", 0), ("repeats", 1), ("sentinel_repeats", 1),
                          ("attempts", 1), ("passes", 1), ("min_passes", 1),
                          ("calibration_networks", 0),
                          ("network_warmup", 0), ("network_repeats", 1),
                          ("network_rounds", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise MnasInputError(f"{name} must be an integer >= {low}, got {value!r}")
        if not 0 < self.drift_tolerance < 1:
            raise MnasInputError(f"drift_tolerance must be a fraction in (0, 1), got "
                                 f"{self.drift_tolerance!r}")
        if not 0 <= self.stable_tolerance < 1:
            raise MnasInputError(f"stable_tolerance must be a fraction in [0, 1), got "
                                 f"{self.stable_tolerance!r}")
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise MnasInputError(f"the time budget must be a positive number of seconds, got "
                                 f"{self.time_budget_s!r}")
        if not self.checkpoint_s >= 0:
            raise MnasInputError(f"checkpoint_s must be >= 0, got {self.checkpoint_s!r}")


@dataclass(frozen=True, kw_only=True)
class KeyCoverage:
    """How a space's keys were enumerated.

    Attributes:
        space: Space name.
        samples: Architectures sampled.
        keys: Unique keys found.
        last_new_at: The sample index at which the last new key appeared.
        uses: How many sampled architectures used each key (the key string's count):
            how much a search of the space will ask for it.
    """

    space: str
    samples: int
    keys: int
    last_new_at: int
    uses: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class BuildReport:
    """What a build did.

    Attributes:
        path: The table file.
        keys: Keys the table had to cover.
        already: Keys already in the table when the build started.
        measured: Keys timed for the first time by this run.
        retimed: Keys timed again by this run in a later pass.
        drift: Every measurement's sentinel ratio as (measurements done, ratio).
        networks_measured: Whole networks timed by this run.
        calibration: The fitted calibration (None when no network was timed).
        seconds: Wall time of the build.
        kept: Timings (key passes) the table already had when the run started.
        stable: Keys whose fastest run no more passes moved (or that have every pass).
        stopped: The time budget ended the timing of keys before every key was stable.
    """

    path: Path
    keys: int
    already: int
    measured: int
    retimed: int
    drift: tuple[tuple[int, float], ...]
    networks_measured: int
    calibration: Any
    seconds: float
    kept: int = 0
    stable: int = 0
    stopped: bool = False


# ---------------------------------------------------------------- key enumeration
def enumerate_space_keys(space: Any, *, seed: int = 0, chunk: int = 2000,
                         quiet_chunks: int = 2, max_samples: int = 60000,
                         resolutions: Sequence[int] | None = None,
                         ) -> tuple[list[OpKey], KeyCoverage]:
    """The unique op keys of a search space, found by sampling it.

    Architectures are drawn with ``space.random_arch`` in chunks of ``chunk`` until
    ``quiet_chunks`` chunks in a row add no new key (or ``max_samples``): for the
    default space (about 4,400 keys over 4 resolutions and 3 widths) that is some
    15,000 samples, a few seconds. Rare keys are the ones a sampler rarely proposes, so
    a key missed here is a key a search rarely needs; if one is needed,
    :class:`~mnas.errors.MissingLatencyKeyError` names it and ``mnas latency build``
    measures just it.

    Args:
        space: A :class:`mnas.spaces.SearchSpace` (anything with ``name`` and
            ``random_arch(rng)``).
        seed: Seed of the sampler.
        chunk: Samples per chunk.
        quiet_chunks: Stop after this many chunks without a new key.
        max_samples: Hard bound on samples.
        resolutions: If given, every sample is also re-keyed at these resolutions
            (instead of the space's own resolution choices).
    """
    rng = random.Random(seed)
    seen: dict[str, OpKey] = {}
    uses: dict[str, int] = {}
    samples = quiet = last_new = 0
    while samples < max_samples and quiet < quiet_chunks:
        before = len(seen)
        for _ in range(min(chunk, max_samples - samples)):
            arch = space.random_arch(rng)
            samples += 1
            variants = ([arch] if not resolutions
                        else [arch.replace(resolution=r) for r in resolutions])
            for variant in variants:
                for key in op_keys(variant):
                    text = str(key)
                    uses[text] = uses.get(text, 0) + 1
                    if text not in seen:
                        seen[text] = key
                        last_new = samples
        quiet = quiet + 1 if len(seen) == before else 0
    return list(seen.values()), KeyCoverage(space=space.name, samples=samples, keys=len(seen),
                                            last_new_at=last_new, uses=uses)


def calibration_archs(space: Any, n: int, *, seed: int = 0) -> list[Arch]:
    """``n`` architectures of ``space`` for the calibration (a stream apart from validate's)."""
    rng = random.Random(f"mnas-calibration-{seed}")
    return [space.random_arch(rng) for _ in range(n)]


def estimate_macs(key: OpKey) -> int:
    """Multiply-accumulates of one unit, by :mod:`mnas.arch`'s counter (picks the sentinel)."""
    if key.kind == "stem":
        stem = Stem(channels=key.out_channels, kernel=key.kernel, stride=key.stride,
                    act=key.act)
        return stem_costs(stem, key.in_size).macs
    if key.kind == "head":
        head = Head(type=key.head_type, channels=key.mid_channels or None,
                    hidden=key.hidden or None, act=key.act)
        return head_costs(head, in_channels=key.in_channels, in_size=key.in_size,
                          num_classes=key.out_channels).macs
    block = Block(type=key.kind, in_channels=key.in_channels, mid_channels=key.mid_channels,
                  out_channels=key.out_channels, kernel=key.kernel, stride=key.stride,
                  act=key.act, se_channels=key.se_channels, skip=key.skip)
    return block_cost(block, key.in_size).macs


def arch_id(arch: Arch) -> str:
    """A short stable id of an architecture's structure (its op keys)."""
    text = "|".join(str(k) for k in op_keys(arch))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


# ---------------------------------------------------------------- journal
def journal_path(table_path: str | os.PathLike[str]) -> Path:
    """The journal file that holds entries finished since the table was last rewritten."""
    path = Path(table_path)
    return path.with_name(path.name + ".journal")


class _Journal:
    """Append-only JSON lines; a torn last line (killed mid-write) is ignored on reading."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None

    def read(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        records = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
            if isinstance(record, dict):
                records.append(record)
        return records

    def append(self, record: dict[str, Any]) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a", encoding="utf-8")
            if self._handle.tell() > 0:
                self._handle.write("\n")  # end a torn line so the record stays parseable
        self._handle.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def clear(self) -> None:
        self.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


# ---------------------------------------------------------------- sentinel
class Sentinel:
    """A mid-sized key kept loaded and re-timed around every measurement.

    Its fastest median so far is the device's *idle speed*; ``ratio()`` is its current
    median over that. Other processes, a sibling hyper-thread at work, thermal limits
    or a lower clock all show up as a ratio above 1, and the measurement taken at that
    moment is retried. On a quiet device the ratio stays within a percent or two.

    Args:
        runner: The runner being used.
        key: The sentinel key.
        repeats: Timed runs per check.
        baseline_ms: A stored idle-speed median to start from (a resumed build).
    """

    def __init__(self, runner: Runner, key: OpKey, *, repeats: int = 10,
                 baseline_ms: float | None = None, batch: int = 1) -> None:
        self.key = key
        self.repeats = repeats
        self.baseline_ms = baseline_ms
        self._prepared = runner.prepare_key(key, batch=batch)
        self._prepared.time(warmup=3, repeats=1)
        self._last: tuple[float, float] | None = None  # (monotonic time, ratio)

    def ratio(self, *, max_age_s: float = 0.0) -> float:
        """Current median over the fastest median seen (>= 1 means slower than idle).

        Args:
            max_age_s: Reuse the last check if it is at most this old: the check after one
                measurement is the check before the next (it halves the sentinel's runs,
                which cost as much as timing a median key).
        """
        if self._last is not None and time.monotonic() - self._last[0] <= max_age_s:
            return self._last[1]
        now = self._prepared.time(warmup=1, repeats=self.repeats).median_ms
        if self.baseline_ms is None or now < self.baseline_ms:
            self.baseline_ms = now
        self._last = (time.monotonic(), now / self.baseline_ms)
        return self._last[1]

    def close(self) -> None:
        """Release the loaded sentinel model."""
        self._prepared.close()


REUSE_CHECK_S = 0.5
"""A sentinel check this recent (seconds) also serves as the next measurement's before-check."""


def guarded_time(prepared: Prepared, sentinel: Sentinel | None, *, warmup: int, repeats: int,
                 tolerance: float, attempts: int, pause_s: float = 0.0
                 ) -> tuple[Timing, float]:
    """Time ``prepared`` until the sentinel says the device ran at idle speed.

    The sentinel is checked before and after each attempt; the attempt counts as clean
    when both checks are within ``tolerance`` of idle speed. Up to ``attempts`` attempts
    are made (``pause_s`` apart, growing); the cleanest one is returned.

    Returns:
        The timing and its sentinel ratio (the larger of the two checks; 1.0 without a
        sentinel).
    """
    best: tuple[Timing, float] | None = None
    for attempt in range(max(1, attempts)):
        if attempt and pause_s:
            time.sleep(pause_s * attempt)
        # the previous measurement's after-check, when it was just now, is this one's before
        before = sentinel.ratio(max_age_s=REUSE_CHECK_S) if sentinel else 1.0
        timing = prepared.time(warmup=warmup, repeats=repeats)
        ratio = max(before, sentinel.ratio()) if sentinel else 1.0
        if best is None or ratio < best[1]:
            best = (timing, ratio)
        if ratio <= 1 + tolerance:
            break
    assert best is not None  # attempts >= 1
    return best


# ---------------------------------------------------------------- the builder
def _today() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d")


def new_table_header(info: RunnerInfo, *, target: str, how_to_measure: str,
                     statistic: str) -> TableHeader:
    """The header of a new measured table for ``info``'s device and runtime."""
    extra = {"clock": info.clock, "runner": dict(info.extra)}
    what = ("the fastest run of all passes" if statistic == "min"
            else "the median run of the calmer pass")
    return TableHeader(
        target=target, device=info.device, cpu=info.cpu, runtime=info.runtime,
        runtime_version=info.runtime_version, threads=info.threads, cpu_mask=info.cpu_mask,
        dtype=info.dtype, batch=info.batch, date=_today(), provenance="measured",
        error_band=0.1, missing_keys="error", statistic=statistic,
        how_to_measure=how_to_measure,
        notes=f"Per-unit timings of standalone models (entries predict from {what}), guarded "
              "by a sentinel model; whole-network calibration fitted on networks timed "
              "round-robin in the same build.", extra=extra)


def _check_same_setup(table: LatencyTable, info: RunnerInfo, path: Path,
                      statistic: str) -> None:
    header = table.header
    pairs = [("statistic", header.statistic, statistic),
             ("runtime", header.runtime, info.runtime),
             ("runtime_version", header.runtime_version, info.runtime_version),
             ("threads", header.threads, info.threads), ("cpu", header.cpu, info.cpu),
             ("batch", header.batch, info.batch), ("dtype", header.dtype, info.dtype),
             ("clock", header.extra.get("clock", info.clock), info.clock),
             # LiteRT: the layout key models were converted with (absent before it had
             # one: NCHW); entries of two layouts differ by the transposes
             ("key model layout", (header.extra.get("runner") or {}).get("key_io_layout",
                                                                       "nchw"),
              info.extra.get("key_io_layout", "nchw"))]
    for name, have, want in pairs:
        if have != want:
            raise MnasInputError(
                f"{path}: table was measured with {name} {have!r} but this run uses {want!r}; "
                "resuming would mix setups: pass another --out, or delete the file to start "
                "over")


class TableBuilder:
    """Measures the missing entries of one table and fits its calibration.

    Keys are timed in order of ``priority`` (the keys a search will ask for most, first),
    pass by pass: every key gets ``settings.min_passes`` passes, then only keys whose last
    pass still lowered their fastest run get another, up to ``settings.passes``. With a
    time budget the timing stops early enough to time the whole networks and fit the
    calibration; what was not measured stays with the table's device model (a host table)
    or missing.

    Args:
        path: The table file (created, or resumed if it exists).
        runner: Times the models.
        target: The table's target name.
        keys: Keys the table must cover.
        networks: Whole networks for the calibration (their keys are added to ``keys``).
        settings: Timing settings.
        how_to_measure: The command that (re)builds this table, written in its header.
        progress: Show a progress bar (rich) on stderr.
        recalibrate: Forget the whole networks timed before and time them again (the
            machine's speed drifts; the calibration should see the same speed as the
            entries, e.g. after adding passes).
        header_notes: Extra header fields (spaces, coverage), merged into ``extra``.
        priority: Key string -> weight; heavier keys are timed first in every pass (a key
            without one weighs 0). Default: none (key order).
        started: Monotonic time the time budget counts from (default: the run's start),
            so that enumerating keys before the run counts too.
    """

    def __init__(self, *, path: str | os.PathLike[str], runner: Runner, target: str,
                 keys: Iterable[OpKey], networks: Sequence[Arch] = (),
                 settings: BuildSettings | None = None, how_to_measure: str = "",
                 progress: bool = False, header_notes: dict[str, Any] | None = None,
                 recalibrate: bool = False, priority: Mapping[str, float] | None = None,
                 started: float | None = None) -> None:
        self.path = Path(path)
        self.runner = runner
        self.target = target
        self.networks = list(networks)
        self.settings = settings or BuildSettings()
        self.how_to_measure = how_to_measure
        self.progress = progress
        self.header_notes = dict(header_notes or {})
        self.recalibrate = recalibrate
        merged: dict[str, OpKey] = {str(k): k for k in keys}
        for key in unique_op_keys(self.networks):
            merged.setdefault(str(key), key)
        self.keys = merged
        weights = dict(priority or {})
        self._order = sorted(merged, key=lambda k: (-weights.get(k, 0.0), k))
        self._started = started
        self._journal = _Journal(journal_path(self.path))
        self._last_save = 0.0
        self._unstable: set[str] = set()
        self._state = "running"

    # ------------------------------------------------------------ state
    def _load(self, info: RunnerInfo) -> LatencyTable:
        if self.path.exists():
            table = load_table(self.path)
            _check_same_setup(table, info, self.path, self.settings.statistic)
        else:
            table = LatencyTable(header=new_table_header(info, target=self.target,
                                                         how_to_measure=self.how_to_measure,
                                                         statistic=self.settings.statistic))
            table.path = self.path
        networks = ({} if self.recalibrate
                    else dict(table.header.extra.get("calibration_networks") or {}))
        record = table.header.extra.get(BUILD_FIELD)
        if isinstance(record, dict) and isinstance(record.get("unstable"), list):
            self._unstable = {k for k in record["unstable"] if isinstance(k, str)}
        for record in self._journal.read():
            if "key" in record and isinstance(record.get("entry"), dict):
                try:
                    entry = LatencyEntry(**record["entry"])
                except TypeError:
                    continue
                if table.header.statistic == "min" and entry.min_ms is None:
                    continue  # not usable by this table: measured again
                table.entries[record["key"]] = entry
                if record.get("unstable") is True:
                    self._unstable.add(record["key"])
                elif record.get("unstable") is False:
                    self._unstable.discard(record["key"])
            elif "network" in record and not self.recalibrate:
                networks[record["network"]] = {k: v for k, v in record.items()
                                               if k != "network"}
            elif isinstance(record.get("sentinel"), dict):
                table.header.extra["sentinel"] = record["sentinel"]
        table.header.extra["calibration_networks"] = networks
        table.header.extra.update(self.header_notes)
        return table

    def _save(self, table: LatencyTable, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_save < self.settings.checkpoint_s:
            return
        if self._sentinel is not None:
            table.header.extra["sentinel"] = {"key": str(self._sentinel.key),
                                              "baseline_ms": self._sentinel.baseline_ms}
        record = build_record(self._state, command=self.how_to_measure or "mnas latency build",
                              keys=len(self.keys),
                              measured=sum(1 for k in self.keys if k in table.entries),
                              time_budget_s=self.settings.time_budget_s)
        record["unstable"] = sorted(self._unstable & set(self.keys))
        table.header.extra[BUILD_FIELD] = record
        table.save(self.path)
        self._journal.clear()
        self._last_save = now

    def _make_sentinel(self, table: LatencyTable) -> Sentinel:
        stored = table.header.extra.get("sentinel")
        if isinstance(stored, dict) and isinstance(stored.get("key"), str):
            try:
                key = OpKey.parse(stored["key"])
                return Sentinel(self.runner, key, repeats=self.settings.sentinel_repeats,
                                baseline_ms=float(stored["baseline_ms"]), batch=self._info.batch)
            except (MnasInputError, TypeError, ValueError, KeyError):
                pass
        ordered = sorted(self.keys.values(), key=lambda k: (estimate_macs(k), str(k)))
        # a larger-than-median block: long enough (~0.2-0.5 ms) for a steady median of 10
        # runs, short enough to re-time around every measurement
        blocks = [k for k in ordered if k.is_block] or ordered
        key = blocks[(3 * len(blocks)) // 4]
        return Sentinel(self.runner, key, repeats=self.settings.sentinel_repeats,
                        batch=self._info.batch)

    # ------------------------------------------------------------ plan
    def _passes_of(self, table: LatencyTable, text: str) -> int:
        entry = table.entries.get(text)
        return entry.passes if entry is not None else 0

    def _wants(self, table: LatencyTable, text: str, pass_index: int) -> bool:
        """Whether pass ``pass_index`` (0-based) should time ``text``."""
        done = self._passes_of(table, text)
        if done > pass_index or done >= self.settings.passes:
            return False
        return done < min(self.settings.min_passes, self.settings.passes) or (
            text in self._unstable)

    def _todo(self, table: LatencyTable, pass_index: int) -> list[str]:
        """Keys that pass ``pass_index`` still has to time, heaviest first."""
        return [k for k in self._order if self._wants(table, k, pass_index)]

    def _planned(self, table: LatencyTable) -> int:
        """Timings still planned: every key up to the minimum passes, unstable ones once
        more."""
        least = min(self.settings.min_passes, self.settings.passes)
        planned = 0
        for text in self.keys:
            done = self._passes_of(table, text)
            planned += max(0, least - done)
            if done >= least and text in self._unstable and done < self.settings.passes:
                planned += 1
        return planned

    def _networks_seconds(self, table: LatencyTable) -> float:
        """What timing the missing whole networks should take (setup + runs), in wall time.

        The predictions are of one run's CPU time on a calm machine; on a loaded one each run
        also waits for the core, so the estimate is scaled by the load per CPU (1-minute
        load average over the CPUs, at least 1) and a margin: a time budget must leave the
        networks enough (a 5-minute build ran 80 s over at load 6 with the plain estimate).
        """
        from mnas.latency._predictor import TablePredictor

        settings = self.settings
        todo = self._networks_todo_archs(table)
        if not todo:
            return 0.0
        runs = settings.network_rounds * (settings.network_repeats + 1) + settings.network_warmup
        try:
            predictor: TablePredictor | None = TablePredictor(table)
        except MnasInputError:
            predictor = None
        total = 0.0
        for arch in todo:
            try:
                ms = predictor.predict_ms(arch) if predictor is not None else 5.0
            except MnasInputError:
                ms = 5.0
            total += NETWORK_SETUP_S + runs * ms / 1000
        load = os.getloadavg()[0] / max(1, os.cpu_count() or 1)
        return total * max(1.0, load) * NETWORK_MARGIN

    # ------------------------------------------------------------ run
    def run(self, *, on_progress: Callable[[int, int, float], None] | None = None
            ) -> BuildReport:
        """Measure what is missing, time the calibration networks, fit and save.

        Args:
            on_progress: Called as ``(done, total, drift)`` after every entry (tests use it).
        """
        start = time.monotonic()
        budget_start = self._started if self._started is not None else start
        settings = self.settings
        deadline = (budget_start + settings.time_budget_s
                    if settings.time_budget_s is not None else None)
        self._info = self.runner.info()
        self._sentinel: Sentinel | None = None
        table = self._load(self._info)
        already = sum(1 for k in self.keys if k in table.entries)
        self._had_entry = {k for k in self.keys if k in table.entries}
        kept = sum(self._passes_of(table, k) for k in self.keys)
        self._last_save = time.monotonic()
        if not self.path.exists():
            self._save(table, force=True)
        measured = retimed = 0
        drift_log: list[tuple[int, float]] = []
        stopped = False
        bar = BuildProgress(self.progress)
        try:
            with bar:
                if kept:
                    record = table.header.extra.get(BUILD_FIELD) or {}
                    verb = ("measuring on top of the estimate" if record.get("state") ==
                            "estimate" else "resuming")
                    twice = sum(1 for k in self.keys if self._passes_of(table, k) >= 2)
                    bar.note(f"{verb} {self.path}: {kept:,} timings of {already:,} of "
                             f"{len(self.keys):,} keys kept ({twice:,} timed twice or more), "
                             f"{len(table.header.extra['calibration_networks'])} whole "
                             "networks")
                networks_s = self._networks_seconds(table) + (
                    FIT_S if self.networks or table.header.extra["calibration_networks"] else 0)
                planned = self._planned(table)
                bar.plan(done=0, planned=planned, networks_s=networks_s, deadline=deadline)
                if planned or self._networks_todo(table):
                    bar.status("preparing the runtime")
                    # the runner converts every key it is about to time (LiteRT: cached on
                    # disk, in parallel worker processes); the others do nothing here
                    if self.runner.converts_ahead:
                        needed = [k for k in self._order if self._passes_of(table, k) == 0]
                        self.runner.convert_ahead(
                            [(key_model(self.keys[k]), key_example(self.keys[k],
                                                                   batch=self._info.batch))
                             for k in needed], on_progress=bar.converting)
                    self._sentinel = self._make_sentinel(table)
                if "call_overhead_ms" not in table.header.extra:
                    table.header.extra["call_overhead_ms"] = call_overhead_ms(
                        self.runner, batch=self._info.batch)
                for pass_index in range(settings.passes):
                    bar.status(f"timing keys, pass {pass_index + 1}")
                    for text in self._todo(table, pass_index):
                        if deadline is not None and time.monotonic() + networks_s > deadline:
                            stopped = True
                            break
                        ratio = self._time_key(table, text)
                        if pass_index == 0 and text not in self._had_entry:
                            measured += 1
                        else:
                            retimed += 1
                        drift_log.append((measured + retimed, ratio))
                        bar.plan(done=measured + retimed,
                                 planned=measured + retimed + self._planned(table),
                                 networks_s=networks_s, deadline=deadline)
                        bar.timed(ratio, pass_index)
                        if on_progress is not None:
                            on_progress(measured + retimed, planned, ratio)
                        self._save(table)
                    if stopped:
                        break
                if measured or retimed:
                    self._save(table, force=True)
                bar.pause()
                bar.status("timing whole networks (round-robin) for the calibration")
                networks_measured = self._measure_networks(table, bar)
        finally:
            self._journal.close()
            if self._sentinel is not None:
                self._sentinel.close()
        calibration = self._fit(table)
        stable = sum(1 for k in self.keys if not self._wants(table, k, settings.passes - 1)
                     and k in table.entries)
        self._state = "stopped" if stopped else "complete"
        table.header = replace(table.header, date=_today())
        self._save(table, force=True)
        return BuildReport(path=self.path, keys=len(self.keys), already=already,
                           measured=measured, retimed=retimed, drift=tuple(drift_log),
                           networks_measured=networks_measured, calibration=calibration,
                           seconds=time.monotonic() - start, kept=kept, stable=stable,
                           stopped=stopped)

    def _time_key(self, table: LatencyTable, text: str) -> float:
        """Time one key, merge it into its entry, journal it; returns the sentinel ratio.

        The key stays *unstable* (it gets another pass, up to ``settings.passes``) while a
        pass lowers its fastest run by more than ``settings.stable_tolerance``.
        """
        settings = self.settings
        key = self.keys[text]
        prepared = self.runner.prepare_key(key, batch=self._info.batch)
        try:
            timing, ratio = guarded_time(
                prepared, self._sentinel, warmup=settings.warmup, repeats=settings.repeats,
                tolerance=settings.drift_tolerance, attempts=settings.attempts)
        finally:
            prepared.close()
        entry = timing.to_entry()
        old = table.entries.get(text)
        unstable = False
        if old is not None:
            fastest = old.value(table.header.statistic)
            unstable = entry.value(table.header.statistic) < fastest * (
                1 - settings.stable_tolerance)
            entry = old.merged(entry)
        if unstable:
            self._unstable.add(text)
        else:
            self._unstable.discard(text)
        table.entries[text] = entry
        self._journal.append({"key": text, "entry": entry.to_dict(), "drift": round(ratio, 4),
                              "unstable": unstable})
        return ratio

    def _networks_todo_archs(self, table: LatencyTable) -> list[Arch]:
        done = table.header.extra.get("calibration_networks") or {}
        todo = [arch for arch in self.networks if arch_id(arch) not in done]
        return list({arch_id(arch): arch for arch in todo}.values())

    def _networks_todo(self, table: LatencyTable) -> int:
        return len(self._networks_todo_archs(table))

    def _measure_networks(self, table: LatencyTable, bar: BuildProgress) -> int:
        networks: dict[str, Any] = table.header.extra["calibration_networks"]
        todo = self._networks_todo_archs(table)
        if not todo:
            return 0
        statistic = self.settings.statistic
        timings = time_networks(self.runner, todo, settings=self.settings,
                                batch=self._info.batch, on_convert=bar.converting)
        for arch, measured in zip(todo, timings, strict=True):
            record = {"name": arch.name, "measured_ms": measured.timing.value(statistic),
                      "median_ms": measured.timing.median_ms,
                      "min_ms": measured.timing.min_ms, "n": measured.timing.n,
                      "spread": round(measured.spread, 4),
                      "keys": [str(k) for k in op_keys(arch)]}
            ident = arch_id(arch)
            networks[ident] = record
            self._journal.append({"network": ident, **record})
            self._save(table)
        return len(todo)

    def _fit(self, table: LatencyTable) -> Any:
        networks = table.header.extra.get("calibration_networks") or {}
        statistic = table.header.statistic
        points = calibration_points(table, networks)
        if not points:
            return None
        threshold = self.runner.weights_threshold
        calibration = fit_calibration(
            points, weights_term=True, weights_threshold=threshold,
            source=f"{len(points)} whole networks timed round-robin by `mnas latency build` "
                   f"on this device ({self._info.runtime} {self._info.runtime_version}, "
                   f"{statistic} of {self.settings.network_rounds} x "
                   f"{self.settings.network_repeats} runs)"
                   + ("; weights term beyond a fitted w0" if threshold else ""))
        table.calibration = calibration
        band = max(0.05, math.ceil((calibration.max_abs_pct_err or 0) * 100) / 100)
        table.header = replace(table.header, error_band=min(band, 0.5))
        return calibration


def calibration_points(table: LatencyTable, networks: dict[str, dict[str, Any]]
                       ) -> list[CalibrationPoint]:
    """One calibration point per whole network whose every unit ``table`` can predict.

    Each unit counts as a prediction takes it: its entry (less the call overhead), else,
    in a table with ``missing_keys: device_model``, its device model's estimate; a network
    with a unit neither gives is left out.

    Args:
        table: The table whose entries are summed.
        networks: Whole networks by id, each a record with ``keys`` (its op keys),
            ``measured_ms`` and optionally ``name``, as in the header's
            ``calibration_networks``.
    """
    model = None
    if table.header.missing_keys == "device_model" and table.device_model:
        from mnas.latency._device_model import load_device_model

        model = load_device_model(table.device_model)
    points = []
    for ident, record in networks.items():
        keys = record.get("keys") or []
        if not keys or (model is None and not all(k in table.entries for k in keys)):
            continue
        total = 0.0
        for k in keys:
            if k in table.entries:
                total += table.unit_ms(k)
            elif model is not None:
                total += model.predict_ms(OpKey.parse(k))
        weights = sum(OpKey.parse(k).weights for k in keys)
        points.append(CalibrationPoint(sum_ms=total, measured_ms=record["measured_ms"],
                                       name=record.get("name", ident), mweights=weights / 1e6))
    return points


class _PassThrough(nn.Module):
    """The least a runtime can run: one multiply of a 3-value input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 1.0


def call_overhead_ms(runner: Runner, *, batch: int = 1, rounds: int = 5,
                     repeats: int = 200) -> float:
    """The runner's fixed cost of one call (fastest run of a pass-through model), in ms.

    Every table entry includes it, once per unit, but a network pays it once in all; the
    predictor subtracts it from each entry (on this host's onnxruntime about 5 us, i.e.
    0.1 ms over a 20-unit network: 5% of a 2 ms one).
    """
    prepared = runner.prepare(_PassThrough(), torch.zeros(batch, 3, 1, 1))
    try:
        prepared.time(warmup=10, repeats=1)
        return min(prepared.time(warmup=0, repeats=repeats).min_ms for _ in range(rounds))
    finally:
        prepared.close()


@dataclass(frozen=True, kw_only=True)
class NetworkTiming:
    """A whole network timed round-robin with others.

    Attributes:
        timing: All its timed runs, over every round.
        spread: Its slowest round's fastest run over its fastest round's: how much the
            machine's speed moved while it was measured (1.0 = not at all).
    """

    timing: Timing
    spread: float


NETWORK_GROUP = 32
"""Whole networks :func:`time_networks` keeps loaded at once."""

NETWORK_SETUP_S = 0.3
"""Seconds to write and load one whole network for timing (0.05-0.3 s here; a runner
that exports from PyTorch takes 1-3 s, and the budget then keeps less for the keys)."""
NETWORK_MARGIN = 1.5
"""Head room on the whole networks' estimated time under a time budget."""
FIT_S = 10.0
"""Seconds to fit the calibration, re-fit the host model on every entry (a few seconds on
4,000 keys under load) and write the table, kept free under a time budget."""


def time_networks(runner: Runner, archs: Sequence[Arch], *, settings: BuildSettings,
                  batch: int = 1, group: int = NETWORK_GROUP,
                  on_round: Callable[[int], None] | None = None,
                  on_convert: Callable[[int, int], None] | None = None,
                  exported: bool = False) -> list[NetworkTiming]:
    """Time whole networks round-robin: every network once per round, for several rounds.

    A shared machine slows down for seconds at a time; timing one network after the
    other would let such a spell fall on a few networks only. Round-robin spreads every
    network over the whole measurement, and the table's statistic (``min`` by default)
    then takes each network at the machine's calm moments, as the table's entries were.
    Networks are loaded ``group`` at a time to bound memory.

    Args:
        runner: The runner (the table's runtime).
        archs: The networks.
        settings: ``network_warmup``, ``network_repeats`` and ``network_rounds``.
        batch: Batch size of the example input.
        group: Networks loaded at once.
        on_round: Called with the number of rounds done (for a progress bar).
        on_convert: Called with ``(done, total)`` while the runner converts a group ahead
            (:meth:`Runner.convert_ahead`).
        exported: Time the PyTorch network as the runner converts it (what a user
            exports: ``mnas latency validate``), not the runner's fastest equivalent
            (:meth:`Runner.prepare_arch`: onnxruntime writes the same graph directly).
    """
    results: list[NetworkTiming] = []
    for first in range(0, len(archs), group):
        chunk = archs[first:first + group]
        prepared: list[Prepared] = []
        models = []
        if exported or runner.converts_ahead:
            models = [arch_model(arch, batch=batch) for arch in chunk]
            runner.convert_ahead(models, on_progress=on_convert)
        try:
            for index, arch in enumerate(chunk):
                prepared.append(runner.prepare(*models[index]) if models
                                else runner.prepare_arch(arch, batch=batch))
                if settings.network_warmup:
                    prepared[-1].time(warmup=settings.network_warmup - 1, repeats=1)
            rounds: list[list[Timing]] = [[] for _ in chunk]
            for index in range(settings.network_rounds):
                for i, item in enumerate(prepared):
                    rounds[i].append(item.time(warmup=1, repeats=settings.network_repeats))
                if on_round is not None:
                    on_round(index + 1)
        finally:
            for item in prepared:
                item.close()
        for per_round in rounds:
            samples = tuple(x for timing in per_round for x in timing.samples_ms)
            fastest = [timing.min_ms for timing in per_round]
            results.append(NetworkTiming(timing=Timing(samples_ms=samples),
                                         spread=max(fastest) / min(fastest)))
    return results


def build_table(*, path: str | os.PathLike[str], runner: Runner, target: str,
                keys: Iterable[OpKey], networks: Sequence[Arch] = (),
                settings: BuildSettings | None = None, how_to_measure: str = "",
                progress: bool = False, header_notes: dict[str, Any] | None = None,
                recalibrate: bool = False, priority: Mapping[str, float] | None = None,
                started: float | None = None) -> BuildReport:
    """Measure the missing entries of the table at ``path`` and fit its calibration.

    See :class:`TableBuilder` for the arguments; returns its :class:`BuildReport`.
    """
    return TableBuilder(path=path, runner=runner, target=target, keys=keys, networks=networks,
                        settings=settings, how_to_measure=how_to_measure, progress=progress,
                        header_notes=header_notes, recalibrate=recalibrate, priority=priority,
                        started=started).run()
