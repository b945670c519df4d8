"""Android runner: time op-key models on a phone over adb.

Two runtimes, both driven by a binary the user builds for their phone:

* ``executorch``: each model is lowered to an ExecuTorch ``.pte`` program delegated to
  XNNPACK (:func:`mnas.latency.runners.export_pte_bytes`) and run by ExecuTorch's
  ``executor_runner`` (``examples/portable/executor_runner``, built for arm64-v8a with
  XNNPACK). Recent runners log every iteration (``Iteration i of N: X ms``); older ones
  log one total that includes the cold first run (``Model executed successfully N
  time(s) in X ms.``). The runner is started with ``w + repeats`` executions
  (``w = max(warmup, 1)``): with per-iteration lines the last ``repeats`` are the samples;
  with a total only, it is also started with ``w`` executions, and the difference of the
  totals divided by ``repeats`` is one sample (``batches`` samples per model).
* ``tflite``: each model is converted to ``.tflite`` by litert-torch, with the code and
  the on-disk cache of the host ``litert`` runner (``pip install 'mnas[litert]'``; the
  builder converts every key ahead, in parallel worker processes), and run by LiteRT's
  ``benchmark_model``; its ``Inference (avg)`` over ``repeats`` runs is one sample.

Every run is pinned with ``taskset MASK`` (e.g. ``80`` = the Pixel 4's prime core,
``f0`` = its four big cores). The phone's model, SoC, Android version and CPU governor go
into the table header (:meth:`AndroidRunner.info`). When the phone disappears mid-run the
runner waits up to ``reconnect_timeout_s`` for it, pushes what it needs again, and retries
once; otherwise it raises :class:`DeviceDisconnectedError`, and rerunning the build resumes
from the table's checkpoint.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from mnas.errors import MnasError, MnasInputError
from mnas.latency.runners._adb import Adb, DeviceDisconnectedError, find_adb, list_devices
from mnas.latency.runners._base import Prepared, Runner, RunnerInfo, Timing
from mnas.latency.runners._litert_convert import (
    LITERT_INSTALL,
    TfliteCache,
    convert_tflite_bytes,
    converter_version,
)

__all__ = [
    "ANDROID_RUNTIMES",
    "AndroidRunner",
    "DeviceDisconnectedError",
    "export_tflite_bytes",
    "make_android_runner",
    "parse_benchmark_model",
    "parse_executor_runner",
]

ANDROID_RUNTIMES = ("executorch", "tflite")
REMOTE_DIR = "/data/local/tmp/mnas"
_BUILD_HINT = {
    "executorch": (
        "build ExecuTorch's executor_runner for Android with XNNPACK (cmake with "
        "-DCMAKE_TOOLCHAIN_FILE=$ANDROID_NDK/build/cmake/android.toolchain.cmake "
        "-DANDROID_ABI=arm64-v8a -DEXECUTORCH_BUILD_XNNPACK=ON, target executor_runner) "
        "and pass its path with --runner-binary"),
    "tflite": (
        "download or build LiteRT's benchmark_model for Android arm64 "
        "(bazel build -c opt --config=android_arm64 "
        "//tensorflow/lite/tools/benchmark:benchmark_model) and pass its path with "
        "--runner-binary"),
}
_ITERATION = re.compile(r"Iteration\s+(\d+)\s+of\s+(\d+):\s*([0-9.eE+-]+)\s*ms")
_TOTAL = re.compile(r"Model executed successfully\s+(\d+)\s+time\(s\)\s+in\s+([0-9.eE+-]+)\s*ms")
_AVG = re.compile(r"Inference \(avg\):\s*([0-9.eE+-]+)")
_COUNT = re.compile(r"count=(\d+)\s+first=([0-9.]+)\s+curr=[0-9.]+\s+min=([0-9.]+)\s+"
                    r"max=([0-9.]+)\s+avg=([0-9.eE+-]+)\s+std=([0-9.eE+-]+)")
_MASK = re.compile(r"(0x)?[0-9a-fA-F]+")
_PROP = re.compile(r"^\[([^\]]+)\]: \[(.*)\]\s*$", re.MULTILINE)
T = TypeVar("T")


def _error_lines(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines()
             if ln.startswith("E ") or "failed" in ln.lower() or "error" in ln.lower()
             or "not found" in ln.lower() or "abort" in ln.lower()]
    return "; ".join(lines[:3]) if lines else (output.strip().splitlines() or ["no output"])[-1]


def parse_executor_runner(output: str) -> tuple[list[float], int, float]:
    """Parse ``executor_runner`` logs.

    Returns:
        ``(per_iteration_ms, executions, total_ms)``; ``per_iteration_ms`` is empty for
        runners that log only the total.

    Raises:
        MnasError: No ``Model executed successfully`` line: the run failed; the message
            quotes the runner's error lines.
    """
    match = _TOTAL.search(output)
    if match is None:
        raise MnasError(f"executor_runner did not finish: {_error_lines(output)}")
    iterations = [float(m.group(3)) for m in _ITERATION.finditer(output)]
    return iterations, int(match.group(1)), float(match.group(2))


def parse_benchmark_model(output: str) -> tuple[float, float, int]:
    """Parse LiteRT ``benchmark_model`` output.

    Returns:
        ``(avg_ms, std_ms, count)`` of the timed (non-warm-up) runs.

    Raises:
        MnasError: No ``Inference (avg)`` line: the run failed; the message quotes it.
    """
    avg = _AVG.search(output)
    counts = _COUNT.findall(output)
    if avg is None or not counts:
        raise MnasError(f"benchmark_model did not finish: {_error_lines(output)}")
    count, _first, _lo, _hi, _mean, std = counts[-1]
    return float(avg.group(1)) / 1000.0, float(std) / 1000.0, int(count)


def export_tflite_bytes(model: nn.Module, example: torch.Tensor) -> bytes:
    """Convert ``model`` to a ``.tflite`` flatbuffer (litert-torch, uncached).

    Raises:
        MnasInputError: litert-torch is not installed (names ``pip install 'mnas[litert]'``).
        MnasError: The conversion failed.
    """
    return convert_tflite_bytes(model, example)


def _default_exporter(runtime: str) -> Callable[[nn.Module, torch.Tensor], bytes]:
    """The exporter of ``runtime``, checked to be importable now (not after pushing files)."""
    import importlib.util

    if runtime == "tflite":
        if importlib.util.find_spec("litert_torch") is None:
            raise MnasInputError(
                "--runner tflite needs the PyTorch -> .tflite converter on this computer: "
                f"{LITERT_INSTALL} (Linux x86-64), or use --runner executorch")
        return TfliteCache().get
    if importlib.util.find_spec("executorch") is None:
        raise MnasInputError(
            "--runner executorch needs ExecuTorch on this computer to export .pte programs: "
            "`pip install executorch==1.5.1` (or `pip install -e .[executorch]`)")
    from mnas.latency.runners._executorch import export_pte_bytes

    return export_pte_bytes


def _mask_cpus(mask: str | None) -> list[int]:
    if mask is None:
        return [0]
    value = int(mask, 16)
    return [i for i in range(value.bit_length()) if value >> i & 1] or [0]


class AndroidRunner(Runner):
    """Times models on an Android phone over adb (see the module docstring).

    Args:
        serial: The phone's adb serial.
        runtime: ``executorch`` or ``tflite``.
        runner_binary: Local path of ``executor_runner`` / ``benchmark_model`` for the phone.
        cpu_mask: Hex affinity mask for ``taskset`` (``80``: Pixel 4 prime core), or None.
        threads: Runtime threads (``--cpu_threads`` / ``--num_threads``).
        batches: Samples per model (each a difference of two runs or one
            ``benchmark_model`` average).
        remote_dir: Working folder on the phone.
        reconnect_timeout_s: How long to wait for a phone that disappeared before failing.
        exporter: ``(model, example) -> bytes`` of the program file; default: ExecuTorch
            XNNPACK ``.pte`` or litert-torch ``.tflite`` (cached on disk).
        adb: An :class:`Adb` client (default: one for ``serial``).

    Raises:
        MnasInputError: Bad runtime, mask, threads, missing runner binary, no adb, no such
            device or an unauthorized one; each says what to install or pass.
    """

    name = "android"

    def __init__(self, *, serial: str, runtime: str, runner_binary: str | os.PathLike[str],
                 cpu_mask: str | None = None, threads: int = 1, batches: int = 3,
                 remote_dir: str = REMOTE_DIR, reconnect_timeout_s: float = 60.0,
                 exporter: Callable[[nn.Module, torch.Tensor], bytes] | None = None,
                 adb: Adb | None = None) -> None:
        if runtime not in ANDROID_RUNTIMES:
            raise MnasInputError(f"--runner must be one of {', '.join(ANDROID_RUNTIMES)} for an "
                                 f"adb device, got {runtime!r}")
        if cpu_mask is not None and not _MASK.fullmatch(str(cpu_mask)):
            raise MnasInputError(f"--cpu-mask must be a hex mask as for taskset (e.g. 80 or f0), "
                                 f"got {cpu_mask!r}")
        for name, value in (("threads", threads), ("batches", batches)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MnasInputError(f"{name} must be an int >= 1, got {value!r}")
        binary = Path(runner_binary)
        if not binary.is_file():
            raise MnasInputError(
                f"--runner-binary {str(binary)!r} is not a file; {_BUILD_HINT[runtime]}")
        self.serial = serial
        self.runtime = runtime
        self.binary = binary
        self.cpu_mask = cpu_mask.lower().removeprefix("0x") if cpu_mask else None
        self.threads = threads
        self.batches = batches
        self.remote_dir = remote_dir.rstrip("/")
        self.reconnect_timeout_s = reconnect_timeout_s
        self._adb = adb or Adb(serial)
        self._check_device()  # device problems first, then what this computer lacks
        self._exporter = exporter or _default_exporter(runtime)
        self._binary_sha = hashlib.sha256(binary.read_bytes()).hexdigest()
        self._remote_binary = f"{self.remote_dir}/{binary.name}"
        self._generation = 0  # bumped after every reconnect: programs are pushed again
        self._programs = 0
        self._info: RunnerInfo | None = None
        self._setup()

    # -------------------------------------------------------------- device
    def _check_device(self) -> None:
        devices = list_devices(self._adb.executable)
        state = devices.get(self.serial)
        if state == "device":
            return
        if state == "unauthorized":
            raise MnasInputError(f"device {self.serial} is unauthorized: unlock the phone and "
                                 "accept the USB debugging prompt, then rerun")
        if state is not None:
            raise MnasInputError(f"device {self.serial} is {state}: replug it or run "
                                 "`adb reconnect`, then rerun")
        listed = ", ".join(sorted(devices)) or "none"
        raise MnasInputError(f"no Android device {self.serial!r} (adb devices lists: {listed}); "
                             "connect the phone with USB debugging on and pass "
                             "--device adb:SERIAL")

    def _setup(self) -> None:
        remote_sha = self._adb.shell(f"mkdir -p {self.remote_dir} && sha256sum "
                                     f"{self._remote_binary} 2>/dev/null", check=False
                                     ).stdout.split()
        if not remote_sha or remote_sha[0] != self._binary_sha:
            self._adb.push(str(self.binary), self._remote_binary)
            self._adb.shell(f"chmod 755 {self._remote_binary}")

    def _with_reconnect(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except DeviceDisconnectedError:
            poll = min(1.0, max(0.05, self.reconnect_timeout_s / 10))
            if not self._adb.wait_for(self.reconnect_timeout_s, poll_s=poll):
                raise DeviceDisconnectedError(
                    f"device {self.serial} disconnected and did not come back within "
                    f"{self.reconnect_timeout_s:.0f} s; reconnect it and rerun the same "
                    "command: finished entries are kept") from None
            self._setup()
            self._generation += 1
            return action()

    # ---------------------------------------------------------------- info
    def info(self) -> RunnerInfo:
        """Phone model, SoC, Android version and governor of the pinned cores."""
        if self._info is None:
            self._info = self._with_reconnect(self._read_info)
        return self._info

    def _read_info(self) -> RunnerInfo:
        adb = self._adb
        props = dict(_PROP.findall(adb.shell("getprop", check=False).stdout))
        model = props.get("ro.product.model") or "unknown phone"
        maker = props.get("ro.product.manufacturer", "")
        soc = props.get("ro.soc.model", "")
        platform = props.get("ro.board.platform", "")
        cpu = f"{soc} ({platform})" if soc and platform else (soc or platform or "unknown SoC")
        cpus = _mask_cpus(self.cpu_mask)
        paths = " ".join(f"/sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor"
                         for c in cpus)
        governors = adb.shell(f"cat {paths}", check=False).stdout.split()
        governor = {f"cpu{c}": g for c, g in zip(cpus, governors, strict=False)}
        if self.runtime == "executorch":
            try:
                from importlib.metadata import PackageNotFoundError, version

                exporter_version = version("executorch")
            except PackageNotFoundError:
                exporter_version = "not installed"
            runtime_version = (f"executorch {exporter_version} export, {self.binary.name} "
                               f"sha256 {self._binary_sha[:12]}")
        else:
            runtime_version = (f"{converter_version()} export, {self.binary.name} "
                               f"sha256 {self._binary_sha[:12]}")
        extra: dict[str, Any] = {
            "serial": self.serial, "manufacturer": maker,
            "android_version": props.get("ro.build.version.release", ""),
            "android_sdk": props.get("ro.build.version.sdk", ""),
            "abi": props.get("ro.product.cpu.abi", ""),
            "cpu_governor": governor, "runner_binary": self.binary.name,
            "runner_binary_sha256": self._binary_sha,
            "backend": "XNNPACK" if self.runtime == "executorch" else "TFLite CPU (XNNPACK)",
        }
        if self.runtime == "tflite":  # key models converted as they run inside a network
            extra["key_io_layout"] = "nhwc"
        return RunnerInfo(runtime=self.runtime, runtime_version=runtime_version,
                          threads=self.threads, device=model, cpu=cpu, cpu_mask=self.cpu_mask,
                          clock="device", extra=extra)

    # --------------------------------------------------------------- timing
    def convert_ahead(self, items: Sequence[tuple[nn.Module, torch.Tensor]], *,
                      on_progress: Callable[[int, int], None] | None = None) -> int:
        """``tflite`` with the default converter: convert what the cache lacks, in parallel."""
        cache = getattr(self._exporter, "__self__", None)
        if isinstance(cache, TfliteCache):
            return cache.convert_many(items, on_progress=on_progress)
        return 0

    def prepare(self, model: nn.Module, example: torch.Tensor) -> Prepared:
        """Export ``model`` (``.pte`` / ``.tflite``) and push it to the phone."""
        program = self._exporter(model, example)
        digest = hashlib.sha256(program).hexdigest()[:16]
        suffix = ".pte" if self.runtime == "executorch" else ".tflite"
        # A unique name per prepared program: the same key may be prepared twice (the
        # builder's sentinel), and closing one must not delete the other's file.
        self._programs += 1
        prepared = _PhoneProgram(
            self, program, f"{self.remote_dir}/{digest}-{os.getpid()}-{self._programs}{suffix}")
        self._with_reconnect(prepared.push)
        return prepared

    def _prefix(self) -> str:
        return f"taskset {self.cpu_mask} " if self.cpu_mask else ""

    def _run_binary(self, args: str) -> str:
        result = self._adb.shell(f"{self._prefix()}{self._remote_binary} {args}", check=False)
        output = result.output
        if result.returncode == 127 or "not found" in output and self._remote_binary in output:
            raise MnasInputError(f"{self._remote_binary} is missing or not runnable on "
                                 f"{self.serial}: {_error_lines(output)}; "
                                 f"{_BUILD_HINT[self.runtime]}")
        if "unknown command line flag" in output:
            raise MnasInputError(f"{self.binary.name} rejected a flag ({_error_lines(output)}); "
                                 f"use a recent build: {_BUILD_HINT[self.runtime]}")
        return output

    def _executions(self, remote: str, n: int) -> tuple[list[float], int, float]:
        output = self._run_binary(f"--model_path={remote} --num_executions={n} "
                                  f"--cpu_threads={self.threads}")
        iterations, count, total = parse_executor_runner(output)
        if count != n:
            raise MnasError(f"executor_runner ran {count} executions, asked for {n}")
        return iterations, count, total

    def _time_executorch(self, remote: str, warmup: int, repeats: int) -> Timing:
        # At least one untimed execution: ExecuTorch's first run is cold (page faults,
        # XNNPACK workspace setup), and a total-only log cannot separate it otherwise.
        base = max(warmup, 1)
        iterations, _, first_total = self._executions(remote, base + repeats)
        if len(iterations) == base + repeats:  # per-iteration log: one process is enough
            return Timing(samples_ms=tuple(iterations[-repeats:]))
        _, _, short_total = self._executions(remote, base)
        longs = [first_total] + [self._executions(remote, base + repeats)[2]
                                 for _ in range(self.batches - 1)]
        samples = [(total - short_total) / repeats for total in longs]
        if min(samples) <= 0:
            raise MnasError(
                f"executor_runner totals do not grow with executions ({short_total:.3f} ms for "
                f"{base}, {longs} ms for {base + repeats}); increase repeats or check that "
                "nothing else runs on the pinned cores")
        return Timing(samples_ms=tuple(samples),
                      note=f"each sample = (total of {base + repeats} executions - total of "
                           f"{base}) / {repeats}, from executor_runner's totals")

    def _time_tflite(self, remote: str, warmup: int, repeats: int) -> Timing:
        samples = []
        for _ in range(self.batches):
            output = self._run_binary(
                f"--graph={remote} --num_threads={self.threads} --warmup_runs={warmup} "
                f"--warmup_min_secs=0 --num_runs={repeats} --min_secs=0 --use_xnnpack=true")
            avg_ms, _std, _count = parse_benchmark_model(output)
            samples.append(avg_ms)
        return Timing(samples_ms=tuple(samples),
                      note=f"each sample = benchmark_model's Inference (avg) over {repeats} runs")

    def close(self) -> None:
        """Nothing to release: each prepared program removes itself; the binary stays."""


class _PhoneProgram(Prepared):
    """A program pushed to the phone, timed by the runner binary."""

    def __init__(self, runner: AndroidRunner, program: bytes, remote: str) -> None:
        self._runner = runner
        self._program = program
        self.remote = remote
        self._generation = -1

    def push(self) -> None:
        """Copy the program to the phone (again after a reconnect)."""
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / Path(self.remote).name
            local.write_bytes(self._program)
            self._runner._adb.push(str(local), self.remote)
        self._generation = self._runner._generation

    def time(self, *, warmup: int, repeats: int) -> Timing:
        """Run it on the phone (see the module docstring for how samples are taken)."""
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
        runner = self._runner

        def measure() -> Timing:
            if self._generation != runner._generation:
                self.push()
            if runner.runtime == "executorch":
                return runner._time_executorch(self.remote, warmup, repeats)
            return runner._time_tflite(self.remote, warmup, repeats)

        return runner._with_reconnect(measure)

    def close(self) -> None:
        """Remove the program from the phone (a phone that is gone keeps it)."""
        try:
            self._runner._adb.shell(f"rm -f {self.remote}", check=False)
        except MnasError:
            pass


def make_android_runner(device: str, runner: str, runner_binary: str | None,
                        cpu_mask: str | None, *, threads: int = 1, **options: Any
                        ) -> AndroidRunner:
    """The runner ``mnas latency build --device adb:SERIAL --runner R ...`` uses.

    Args:
        device: ``adb:SERIAL``, or ``adb`` for the only connected phone.
        runner: ``executorch`` or ``tflite``.
        runner_binary: Local path of ``executor_runner`` / ``benchmark_model``.
        cpu_mask: Hex mask for ``taskset`` (``80`` Pixel 4 prime core, ``f0`` big cores).
        threads: Runtime threads.
        **options: Passed to :class:`AndroidRunner` (``batches``, ``reconnect_timeout_s``, ...).

    Raises:
        MnasInputError: A one-line error saying what to install or pass: no adb, bad
            ``--device``, no or several phones, no runner binary.
    """
    if device != "adb" and not device.startswith("adb:"):
        raise MnasInputError(f"--device must be adb:SERIAL (see `adb devices`), got {device!r}")
    if runner not in ANDROID_RUNTIMES:
        raise MnasInputError(f"--runner must be one of {', '.join(ANDROID_RUNTIMES)} with "
                             f"--device adb:..., got {runner!r}")
    adb_path = find_adb()
    serial = device.partition(":")[2]
    if not serial:
        ready = [s for s, state in list_devices(adb_path).items() if state == "device"]
        if len(ready) != 1:
            raise MnasInputError(
                f"--device adb needs exactly one connected phone, found {len(ready)} "
                f"({', '.join(ready) or 'none'}); pass --device adb:SERIAL")
        serial = ready[0]
    if runner_binary is None:
        raise MnasInputError(f"--runner-binary is required with --device {device}: "
                             f"{_BUILD_HINT[runner]}")
    return AndroidRunner(serial=serial, runtime=runner, runner_binary=runner_binary,
                         cpu_mask=cpu_mask, threads=threads, adb=Adb(serial, executable=adb_path),
                         **options)
