"""What ``mnas latency build`` measures, as a typed value, and the function that measures it.

:class:`TableBuildOptions` names the device and runtime, the spaces and architectures
whose keys to time and the timing settings; :func:`build_latency_table` chooses the
runner, enumerates the keys, samples the calibration networks and runs the
:class:`~mnas.latency.TableBuilder` (which resumes a table half built).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.latency._builder import (
    BuildReport,
    BuildSettings,
    build_table,
    calibration_archs,
    enumerate_space_keys,
)
from mnas.latency._host import host_table_name
from mnas.latency._host_model import HostModelSettings
from mnas.latency._opkey import OpKey, unique_op_keys
from mnas.latency._predictor import default_tables_dir
from mnas.latency.runners import Runner, make_host_runner
from mnas.spaces import DEFAULT_SPACE

__all__ = ["TableBuildOptions", "build_latency_table", "estimate_latency_table",
           "format_budget_s", "key_priority", "parse_time_budget"]


def parse_time_budget(text: str) -> float:
    """Seconds of a time budget: ``10m``, ``90s``, ``1.5h``, ``600`` (seconds).

    Raises:
        MnasInputError: Not a positive duration.
    """
    units = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
    value = text.strip().lower()
    number, unit = value, "s"
    for suffix in ("min", "s", "m", "h"):
        if value.endswith(suffix):
            number, unit = value[: -len(suffix)], suffix
            break
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 < seconds <= 7 * 24 * 3600):
        raise MnasInputError(f"--time-budget must be a duration such as 10m, 90s or 1h (at most "
                             f"a week), got {text!r}")
    return seconds


def format_budget_s(seconds: float) -> str:
    """``10m`` for 600, ``90s`` for 90: the form :func:`parse_time_budget` reads back."""
    return f"{seconds / 60:g}m" if seconds % 60 == 0 else f"{seconds:g}s"


@dataclass(frozen=True, kw_only=True)
class TableBuildOptions:
    """One latency-table build (the flags of ``mnas latency build``).

    Attributes:
        target: Table name; ``host`` names it after this CPU, runtime and threads.
        out: Table file, or None for ``latency_tables/<target name>.json``.
        spaces: Search spaces whose keys to measure; None: the default space unless
            ``archs`` is given.
        archs: Architectures whose keys to measure as well.
        zoo: Also cover the reference zoo.
        resolutions: Measure at these resolutions instead of the spaces' own.
        device: ``host`` or ``adb:SERIAL`` (an Android phone over adb).
        runner: Runtime; None: ``onnxruntime`` on the host, ``executorch`` over adb.
        runner_binary: With adb: the local ``executor_runner`` / ``benchmark_model``.
        cpu_mask: With adb: taskset mask on the phone.
        threads: Runtime threads.
        clock: ``cpu`` or ``wall``; None: the runner's default.
        cpus: Pin the host process to these CPUs.
        warmup: Untimed runs per key.
        repeats: Timed runs per key.
        drift_tolerance: Sentinel slowdown that triggers a re-time.
        passes: Most timing passes per key; None: 4 on the host, 2 on a phone.
        min_passes: Passes every key gets; later ones only while its fastest run improves.
        time_budget_s: Stop measuring keys when only the whole networks fit in what is
            left of this many seconds (None: measure everything).
        statistic: ``min`` or ``median``; None: ``min`` on the host, ``median`` on a phone.
        recalibrate: Time the calibration's whole networks again and re-fit.
        calibration_networks: Whole networks timed for the calibration.
        key_samples: Most architectures sampled to enumerate a space's keys.
        seed: Seed of the key order and of the samples.
        progress: Show a progress bar on stderr.
        host_model: What the host model's estimate times (a new host table starts as one).
    """

    target: str = "host"
    out: Path | None = None
    spaces: tuple[str, ...] | None = None
    archs: tuple[Arch, ...] = ()
    zoo: bool = True
    resolutions: tuple[int, ...] | None = None
    device: str = "host"
    runner: str | None = None
    runner_binary: str | None = None
    cpu_mask: str | None = None
    threads: int = 1
    clock: str | None = None
    cpus: tuple[int, ...] | None = None
    warmup: int = 5
    repeats: int = 25
    drift_tolerance: float = 0.05
    passes: int | None = None
    min_passes: int = 2
    time_budget_s: float | None = None
    statistic: str | None = None
    recalibrate: bool = False
    calibration_networks: int = 24
    key_samples: int = 60000
    seed: int = 0
    progress: bool = False
    host_model: HostModelSettings = field(default_factory=HostModelSettings)

    def __post_init__(self) -> None:
        if not (self.on_host or self.device == "adb" or self.device.startswith("adb:")):
            raise MnasInputError(f"--device must be 'host' or adb:SERIAL, got {self.device!r}")
        if self.target == "host" and not self.on_host:
            raise MnasInputError("--target host names this machine's table; with --device "
                                 "adb:... pass --target NAME (e.g. --target my-pixel4)")

    @property
    def on_host(self) -> bool:
        """Whether the keys are timed on this machine (not on a phone)."""
        return self.device == "host"

    @property
    def runner_name(self) -> str:
        """The runtime, defaults filled in."""
        return self.runner or ("onnxruntime" if self.on_host else "executorch")

    def settings(self) -> BuildSettings:
        """The builder's timing settings, host or phone defaults filled in."""
        return BuildSettings(
            warmup=self.warmup, repeats=self.repeats, drift_tolerance=self.drift_tolerance,
            passes=self.passes if self.passes is not None else 4 if self.on_host else 2,
            min_passes=self.min_passes, time_budget_s=self.time_budget_s,
            statistic=self.statistic or ("min" if self.on_host else "median"),
            calibration_networks=self.calibration_networks, seed=self.seed)

    def command(self) -> str:
        """The command line that measures this table (recorded in its header)."""
        command = f"mnas latency build --target {self.target}"
        if not self.on_host:
            command += f" --device {self.device}"
        if self.runner_name != "onnxruntime":
            command += f" --runner {self.runner_name}"
        if self.threads != 1:
            command += f" --threads {self.threads}"
        command += "".join(f" --space {name}" for name in self.spaces or ())
        if self.time_budget_s is not None:
            command += f" --time-budget {format_budget_s(self.time_budget_s)}"
        return command


def _make_runner(options: TableBuildOptions) -> Runner:
    if options.on_host:
        return make_host_runner(options.runner_name, threads=options.threads,
                                clock=options.clock,
                                cpus=None if options.cpus is None else list(options.cpus))
    from mnas.latency.runners._android import make_android_runner

    return make_android_runner(options.device, options.runner_name, options.runner_binary,
                               options.cpu_mask, threads=options.threads)


def _space_keys(options: TableBuildOptions, spaces: tuple[str, ...], settings: BuildSettings,
                ) -> tuple[list[OpKey], list[Arch], dict[str, Any], dict[str, int]]:
    """Keys, calibration networks, header notes and key uses of the spaces to cover."""
    from mnas.spaces import load_space

    keys: list[OpKey] = []
    networks: list[Arch] = []
    notes: dict[str, Any] = {}
    uses: dict[str, int] = {}
    resolutions = list(options.resolutions) if options.resolutions else None
    for name in spaces:
        space = load_space(name)
        space_keys, coverage = enumerate_space_keys(
            space, seed=options.seed, max_samples=options.key_samples, resolutions=resolutions)
        keys.extend(space_keys)
        for text, count in coverage.uses.items():
            uses[text] = uses.get(text, 0) + count
        notes[space.name] = {
            "keys": coverage.keys, "samples": coverage.samples,
            "last_new_key_at_sample": coverage.last_new_at,
            "resolutions": list(resolutions or space.resolutions)}
        per_space = max(2, settings.calibration_networks // len(spaces))
        calib = calibration_archs(space, per_space, seed=options.seed)
        if resolutions:
            calib = [a.replace(resolution=resolutions[i % len(resolutions)])
                     for i, a in enumerate(calib)]
        networks.extend(calib)
    return keys, networks, notes, uses


def key_priority(keys: list[OpKey], uses: dict[str, int], first: set[str],
                 model: Any = None) -> dict[str, float]:
    """How soon each key is timed: the explicitly named architectures' keys (the zoo) first,
    then a space's keys by how much latency they add over a search (the architectures
    sampled that use them x their estimated time: the device model's where the table has
    one, else their MACs)."""
    from mnas.latency._builder import estimate_macs

    priority = {}
    for key in keys:
        text = str(key)
        cost = model.predict_ms(key) if model is not None else estimate_macs(key) / 1e6
        priority[text] = math.inf if text in first else uses.get(text, 1) * cost
    return priority


def _host_model_of(path: Path) -> Any:
    """The device model of the table at ``path`` (None: no file, or a table without one)."""
    if not path.exists():
        return None
    from mnas.latency._device_model import load_device_model
    from mnas.latency._table import load_table

    table = load_table(path)
    return load_device_model(table.device_model) if table.device_model else None


def estimate_latency_table(options: TableBuildOptions,
                           on_status: Callable[[str], None] | None = None) -> Path:
    """The host table ``options`` names, estimated now if its file does not exist yet (the
    host model, about a minute: :func:`mnas.latency._host_estimate.estimate_host_table`).

    Returns:
        The table file.

    Raises:
        MnasInputError: ``options`` is not a host build, or its runner is not installed.
    """
    if not options.on_host:
        raise MnasInputError("only this host's table can be estimated from its own speed; "
                             "a phone's is measured with `mnas latency build --device ...`")
    runner = _make_runner(options)
    info = runner.info()
    target = (host_table_name(info.runtime, info.threads) if options.target == "host"
              else options.target)
    out = options.out or default_tables_dir() / f"{target}.json"
    if not out.exists():
        from mnas.latency._host_estimate import estimate_host_table
        from mnas.spaces import load_space

        estimate_host_table(runner=runner, path=out, target=target,
                            space=load_space((options.spaces or (DEFAULT_SPACE,))[0]),
                            how_to_measure=options.command(), settings=options.host_model,
                            on_status=on_status)
    return out


def build_latency_table(options: TableBuildOptions,
                        on_status: Callable[[str], None] | None = None) -> BuildReport:
    """Measure (or finish measuring) the latency table ``options`` describes.

    On the host, a space's table that does not exist yet starts as the host model's estimate
    (about a minute: :func:`mnas.latency._host_estimate.estimate_host_table`), so that it
    answers every key at once; the build then replaces its estimates with measured
    entries, most used keys first, and at the end re-fits the host model on all of them
    (:func:`~mnas.latency._host_estimate.finish_host_table`). It times every op key of the
    spaces, the architectures and (with ``zoo``) the reference zoo, then whole sampled
    networks for the calibration.

    Args:
        options: What to build.
        on_status: Called with a line at each step before the timing starts.

    Returns:
        The builder's report (where the table is, what was measured, the calibration).

    Raises:
        MnasInputError: Unknown device, runner or space, a runner that is not
            installed, or a table file measured on another setup.
    """
    started = time.monotonic()
    status = on_status or (lambda _text: None)
    runner = _make_runner(options)
    info = runner.info()
    target = (host_table_name(info.runtime, info.threads) if options.target == "host"
              else options.target)
    out = options.out or default_tables_dir() / f"{target}.json"
    archs = list(options.archs)
    spaces = (options.spaces if options.spaces is not None
              else () if archs else (DEFAULT_SPACE,))
    settings = options.settings()
    if options.on_host and spaces and not out.exists():
        from mnas.latency._host_estimate import estimate_host_table
        from mnas.spaces import load_space

        status(f"no table yet: estimating {out.name} from this machine's speed first "
               "(about a minute)")
        estimate_host_table(runner=runner, path=out, target=target,
                            space=load_space((spaces or (DEFAULT_SPACE,))[0]),
                            how_to_measure=options.command(), settings=options.host_model,
                            on_status=status)
    status(f"enumerating the keys of {', '.join(spaces) or 'the architectures'}")
    keys, networks, space_notes, uses = _space_keys(options, spaces, settings)
    if options.zoo:
        from mnas.models import get_arch, list_archs

        archs.extend(get_arch(name) for name in list_archs())
    named: list[OpKey] = []
    for arch in archs:
        variants = ([arch.replace(resolution=r) for r in options.resolutions]
                    if options.resolutions else [arch])
        named.extend(unique_op_keys(variants))
    keys.extend(named)
    if not spaces:
        networks.extend(archs[: settings.calibration_networks])
    priority = key_priority(keys, uses, {str(k) for k in named}, _host_model_of(out))
    report = build_table(path=out, runner=runner, target=target, keys=keys, networks=networks,
                         settings=settings, how_to_measure=options.command(),
                         progress=options.progress, header_notes={"spaces": space_notes},
                         recalibrate=options.recalibrate, priority=priority, started=started)
    if options.on_host and spaces:  # a space's table: the host model answers what is not
        from mnas.latency._host_estimate import finish_host_table

        finish_host_table(out, weights_threshold=runner.weights_threshold,
                          how_to_measure=options.command())
    return report
