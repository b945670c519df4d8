"""What ``mnas latency build`` measures, as a typed value, and the function that measures it.

:class:`TableBuildOptions` names the device and runtime, the spaces and architectures
whose keys to time and the timing settings; :func:`build_latency_table` chooses the
runner, enumerates the keys, samples the calibration networks and runs the
:class:`~mnas.latency.TableBuilder` (which resumes a table half built).
"""

from __future__ import annotations

from dataclasses import dataclass
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
from mnas.latency._opkey import OpKey, unique_op_keys
from mnas.latency._predictor import default_tables_dir
from mnas.latency.runners import Runner, make_host_runner
from mnas.spaces import DEFAULT_SPACE

__all__ = ["TableBuildOptions", "build_latency_table"]


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
        passes: Timing passes over all keys; None: 4 on the host, 2 on a phone.
        statistic: ``min`` or ``median``; None: ``min`` on the host, ``median`` on a phone.
        recalibrate: Time the calibration's whole networks again and re-fit.
        calibration_networks: Whole networks timed for the calibration.
        key_samples: Most architectures sampled to enumerate a space's keys.
        seed: Seed of the key order and of the samples.
        progress: Show a progress bar on stderr.
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
    statistic: str | None = None
    recalibrate: bool = False
    calibration_networks: int = 24
    key_samples: int = 60000
    seed: int = 0
    progress: bool = False

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
        return command + "".join(f" --space {name}" for name in self.spaces or ())


def _make_runner(options: TableBuildOptions) -> Runner:
    if options.on_host:
        return make_host_runner(options.runner_name, threads=options.threads,
                                clock=options.clock,
                                cpus=None if options.cpus is None else list(options.cpus))
    from mnas.latency.runners._android import make_android_runner

    return make_android_runner(options.device, options.runner_name, options.runner_binary,
                               options.cpu_mask, threads=options.threads)


def _space_keys(options: TableBuildOptions, spaces: tuple[str, ...], settings: BuildSettings,
                ) -> tuple[list[OpKey], list[Arch], dict[str, Any]]:
    """Keys, calibration networks and header notes of the spaces to cover."""
    from mnas.spaces import load_space

    keys: list[OpKey] = []
    networks: list[Arch] = []
    notes: dict[str, Any] = {}
    resolutions = list(options.resolutions) if options.resolutions else None
    for name in spaces:
        space = load_space(name)
        space_keys, coverage = enumerate_space_keys(
            space, seed=options.seed, max_samples=options.key_samples, resolutions=resolutions)
        keys.extend(space_keys)
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
    return keys, networks, notes


def build_latency_table(options: TableBuildOptions) -> BuildReport:
    """Measure (or finish measuring) the latency table ``options`` describes.

    Times every op key of the spaces, the architectures and (with ``zoo``) the
    reference zoo, then whole sampled networks for the calibration.

    Returns:
        The builder's report (where the table is, what was measured, the calibration).

    Raises:
        MnasInputError: Unknown device, runner or space, a runner that is not
            installed, or a table file measured on another setup.
    """
    runner = _make_runner(options)
    info = runner.info()
    target = (host_table_name(info.runtime, info.threads) if options.target == "host"
              else options.target)
    out = options.out or default_tables_dir() / f"{target}.json"
    archs = list(options.archs)
    spaces = (options.spaces if options.spaces is not None
              else () if archs else (DEFAULT_SPACE,))
    settings = options.settings()
    keys, networks, space_notes = _space_keys(options, spaces, settings)
    if options.zoo:
        from mnas.models import get_arch, list_archs

        archs.extend(get_arch(name) for name in list_archs())
    for arch in archs:
        variants = ([arch.replace(resolution=r) for r in options.resolutions]
                    if options.resolutions else [arch])
        keys.extend(unique_op_keys(variants))
    if not spaces:
        networks.extend(archs[: settings.calibration_networks])
    return build_table(path=out, runner=runner, target=target, keys=keys, networks=networks,
                       settings=settings, how_to_measure=options.command(),
                       progress=options.progress, header_notes={"spaces": space_notes},
                       recalibrate=options.recalibrate)
