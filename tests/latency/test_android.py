"""The Android runner against a recorded-output stand-in for adb (``fake_adb.py``).

No real phone is used: ``fake_adb.py`` replays the log formats of ExecuTorch's
``executor_runner`` and LiteRT's ``benchmark_model`` (``data/android/``), adb's errors,
and a phone that disappears in the middle of a run.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from mnas.errors import MnasError, MnasInputError
from mnas.latency._opkey import OpKey
from mnas.latency.runners._android import (
    AndroidRunner,
    DeviceDisconnectedError,
    make_android_runner,
    parse_benchmark_model,
    parse_executor_runner,
)

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "android"
SERIAL = "9A201FFAZ000QB"
PIXEL4_PROPS = {
    "ro.product.model": "Pixel 4", "ro.product.manufacturer": "Google",
    "ro.soc.model": "SM8150", "ro.board.platform": "msmnile",
    "ro.build.version.release": "13", "ro.build.version.sdk": "33",
    "ro.product.cpu.abi": "arm64-v8a",
}


class FakePhone:
    """Handle on the fake adb's state file."""

    def __init__(self, state_path: Path, binary: Path) -> None:
        self.path = state_path
        self.binary = binary

    @property
    def state(self) -> dict[str, Any]:
        return json.loads(self.path.read_text(encoding="utf-8"))

    def update(self, **changes: Any) -> None:
        state = self.state
        state.update(changes)
        self.path.write_text(json.dumps(state), encoding="utf-8")

    def shell_commands(self) -> list[str]:
        return [" ".join(a[3:]) for a in self.state["log"] if a[:1] == ["-s"] and
                a[2:3] == ["shell"]]

    def runner(self, **options: Any) -> AndroidRunner:
        options.setdefault("exporter", _fake_export)
        options.setdefault("reconnect_timeout_s", 2.0)
        return make_android_runner(f"adb:{SERIAL}", options.pop("runtime", "executorch"),
                                   str(self.binary), options.pop("cpu_mask", "80"), **options)


def _fake_export(model: torch.nn.Module, example: torch.Tensor) -> bytes:
    return repr(model).encode() + repr(tuple(example.shape)).encode()


@pytest.fixture
def phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePhone]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    adb = bindir / "adb"
    adb.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S -I "{HERE / "fake_adb.py"}" "$@"\n')
    adb.chmod(adb.stat().st_mode | stat.S_IEXEC)
    state = tmp_path / "adb_state.json"
    state.write_text(json.dumps({
        "devices": {SERIAL: "device"}, "props": PIXEL4_PROPS, "governor": "schedutil",
        "mode": "executorch_total", "first_ms": 9.0, "per_run_ms": 2.5, "fs": {},
        "log": []}))
    binary = tmp_path / "executor_runner"
    binary.write_bytes(b"\x7fELF fake arm64 executor_runner")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_STATE", str(state))
    monkeypatch.delenv("ADB", raising=False)
    yield FakePhone(state, binary)


def _tiny() -> tuple[torch.nn.Module, torch.Tensor]:
    return torch.nn.Conv2d(8, 8, 3, padding=1), torch.randn(1, 8, 14, 14)


# ------------------------------------------------------------------ parsers
def test_parse_executor_runner_total_only() -> None:
    text = (DATA / "executor_runner_total.log").read_text().replace("$model", "m.pte").replace(
        "$n", "12").replace("$total", "31.25").replace("$clock", "1")
    iterations, n, total = parse_executor_runner(text)
    assert (iterations, n, total) == ([], 12, 31.25)


def test_parse_executor_runner_load_error_quotes_it() -> None:
    text = (DATA / "executor_runner_load_error.log").read_text()
    with pytest.raises(MnasError, match="Missing operator"):
        parse_executor_runner(text)


def test_parse_benchmark_model_reads_microseconds() -> None:
    from string import Template

    text = Template((DATA / "benchmark_model.log").read_text()).safe_substitute(
        graph="g.tflite", threads=1, warmup=2, num_runs=30, first_us="3100", avg_us="1987.5",
        warm_avg_us="2500", warm_std_us="10", std_us="21")
    avg_ms, std_ms, count = parse_benchmark_model(text)
    assert avg_ms == pytest.approx(1.9875) and std_ms == pytest.approx(0.021) and count == 30


def test_parse_benchmark_model_error() -> None:
    with pytest.raises(MnasError, match="Could not open"):
        parse_benchmark_model((DATA / "benchmark_model_error.log").read_text())


# ------------------------------------------------------------------ one-line errors
def test_missing_adb_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("ADB", raising=False)
    binary = tmp_path / "executor_runner"
    binary.write_bytes(b"x")
    with pytest.raises(MnasInputError, match="platform-tools") as err:
        make_android_runner("adb:X", "executorch", str(binary), "80")
    assert "\n" not in str(err.value)


def test_no_device_lists_connected_ones(phone: FakePhone) -> None:
    with pytest.raises(MnasInputError, match=f"no Android device 'NOPE'.*{SERIAL}"):
        make_android_runner("adb:NOPE", "executorch", str(phone.binary), "80")


def test_unauthorized_device(phone: FakePhone) -> None:
    phone.update(devices={SERIAL: "unauthorized"})
    with pytest.raises(MnasInputError, match="USB debugging prompt"):
        phone.runner()


def test_runner_binary_required_and_must_exist(phone: FakePhone, tmp_path: Path) -> None:
    with pytest.raises(MnasInputError, match="--runner-binary is required.*executor_runner"):
        make_android_runner(f"adb:{SERIAL}", "executorch", None, "80")
    with pytest.raises(MnasInputError, match="not a file.*benchmark_model"):
        make_android_runner(f"adb:{SERIAL}", "tflite", str(tmp_path / "nope"), "80")


@pytest.mark.parametrize(("device", "runner", "match"), [
    ("usb:1", "executorch", "adb:SERIAL"), (f"adb:{SERIAL}", "onnxruntime", "executorch, tflite")])
def test_bad_device_or_runner(phone: FakePhone, device: str, runner: str, match: str) -> None:
    with pytest.raises(MnasInputError, match=match):
        make_android_runner(device, runner, str(phone.binary), "80")


def test_bare_adb_picks_the_only_phone(phone: FakePhone) -> None:
    runner = make_android_runner("adb", "executorch", str(phone.binary), None,
                                 exporter=_fake_export)
    assert runner.serial == SERIAL


def test_tflite_needs_a_converter(phone: FakePhone, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from mnas.latency.runners._android import export_tflite_bytes

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "litert_torch" else real_find_spec(name))
    with pytest.raises(MnasInputError, match=r"pip install 'mnas\[litert\]'"):
        export_tflite_bytes(*_tiny())
    with pytest.raises(MnasInputError, match=r"pip install 'mnas\[litert\]'.*--runner executorch"):
        make_android_runner(f"adb:{SERIAL}", "tflite", str(phone.binary), "80")  # before any push
    assert not [a for a in phone.state["log"] if a[2:3] == ["push"]]


# ------------------------------------------------------------------ header and timing
def test_info_records_phone_soc_android_governor(phone: FakePhone) -> None:
    info = phone.runner().info()
    assert info.device == "Pixel 4" and info.cpu == "SM8150 (msmnile)"
    assert info.cpu_mask == "80" and info.clock == "device" and info.runtime == "executorch"
    assert info.extra["android_version"] == "13"
    assert info.extra["cpu_governor"] == {"cpu7": "schedutil"}
    assert info.extra["serial"] == SERIAL


def test_binary_pushed_once_then_reused(phone: FakePhone) -> None:
    phone.runner()
    phone.runner()
    pushes = [a for a in phone.state["log"] if a[2:3] == ["push"]]
    assert len(pushes) == 1 and pushes[0][-1] == "/data/local/tmp/mnas/executor_runner"


def test_executorch_total_only_differences_two_counts(phone: FakePhone) -> None:
    timing = phone.runner(batches=3).time(*_tiny(), warmup=2, repeats=10)
    assert timing.samples_ms == pytest.approx((2.5, 2.5, 2.5))  # the cold 9 ms run cancels
    runs = [c for c in phone.shell_commands() if "--num_executions" in c]
    assert sorted({c.split("--num_executions=")[1].split()[0] for c in runs}) == ["12", "2"]
    assert all(c.startswith("taskset 80 ") and "--cpu_threads=1" in c for c in runs)
    assert "differen" not in timing.note and "total of 12 executions - total of 2" in timing.note
    assert not [p for p in phone.state["fs"] if p.endswith(".pte")]  # cleaned up


def test_executorch_per_iteration_log_drops_warmup(phone: FakePhone) -> None:
    phone.update(mode="executorch_iter")
    timing = phone.runner().time(*_tiny(), warmup=0, repeats=5)
    assert timing.samples_ms == pytest.approx((2.5,) * 5)  # the cold run is never a sample
    runs = [c for c in phone.shell_commands() if "--num_executions" in c]
    assert len(runs) == 1 and "--num_executions=6" in runs[0]


def test_tflite_benchmark_model(phone: FakePhone, tmp_path: Path) -> None:
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF fake benchmark_model")
    phone.update(mode="tflite")
    runner = make_android_runner(f"adb:{SERIAL}", "tflite", str(binary), "f0", threads=4,
                                 exporter=_fake_export, batches=2)
    timing = runner.time(*_tiny(), warmup=3, repeats=20)
    assert timing.samples_ms == pytest.approx((2.5, 2.5))
    runs = [c for c in phone.shell_commands() if "--graph=" in c]
    assert len(runs) == 2
    assert all(c.startswith("taskset f0 ") and "--num_threads=4" in c and "--num_runs=20" in c
               for c in runs)
    assert runner.info().extra["cpu_governor"] == {f"cpu{i}": "schedutil" for i in range(4, 8)}


def test_runner_error_is_reported(phone: FakePhone) -> None:
    phone.update(binary_output="executor_runner_load_error.log")
    with pytest.raises(MnasError, match="Missing operator"):
        phone.runner().time(*_tiny(), warmup=1, repeats=3)


def test_binary_deleted_on_phone(phone: FakePhone) -> None:
    runner = phone.runner()
    phone.update(fs={})
    with pytest.raises(MnasInputError, match="missing or not runnable.*--runner-binary"):
        runner.time(*_tiny(), warmup=1, repeats=3)


# ------------------------------------------------------------------ disconnects
def test_transient_disconnect_waits_and_retries(phone: FakePhone) -> None:
    runner = phone.runner(batches=2)
    phone.update(drop_after_runs=1, down_polls=1)  # gone during the 2nd run, back 2 polls later
    timing = runner.time(*_tiny(), warmup=1, repeats=4)
    assert timing.samples_ms == pytest.approx((2.5, 2.5))
    assert not phone.state.get("dropped")


def test_phone_gone_for_good_raises_disconnected(phone: FakePhone) -> None:
    runner = phone.runner(reconnect_timeout_s=0.3)
    phone.update(drop_after_runs=0, down_polls=-1)
    with pytest.raises(DeviceDisconnectedError, match="rerun the same command") as err:
        runner.time(*_tiny(), warmup=1, repeats=3)
    assert "\n" not in str(err.value)


def test_build_resumes_after_a_disconnect(phone: FakePhone, tmp_path: Path) -> None:
    """mnas latency build's builder with the Android runner: the phone disappears after a
    few keys, the build stops with every finished entry kept, the rerun measures the rest."""
    from mnas.latency._builder import BuildSettings, TableBuilder
    from mnas.latency._table import load_table

    keys = [OpKey(kind="ir", in_size=14, in_channels=16, out_size=14, out_channels=16,
                  mid_channels=m, kernel=3, stride=1, skip=True) for m in (32, 48, 64, 96)]
    settings = BuildSettings(warmup=1, repeats=3, calibration_networks=0, checkpoint_s=0.0,
                             passes=1, statistic="median")
    path = tmp_path / "pixel4-measured.json"

    def build() -> Any:
        return TableBuilder(path=path, runner=phone.runner(batches=1, reconnect_timeout_s=0.3),
                            target="pixel4-measured", keys=keys, settings=settings).run()

    # One runner execution per time() (per-iteration log); the builder times its sentinel
    # once to start, then the runtime's call overhead (6 runs), then the sentinel around
    # every key, so the phone drops in the third key.
    phone.update(mode="executorch_iter", drop_after_runs=13, down_polls=-1)
    with pytest.raises(DeviceDisconnectedError):
        build()
    from mnas.latency._builder import journal_path

    kept = set(load_table(path).entries)
    if journal_path(path).exists():
        kept |= {json.loads(line)["key"] for line in journal_path(path).read_text().splitlines()
                 if '"key"' in line and '"entry"' in line}
    assert 0 < len(kept) < len(keys)

    phone.update(dropped=False, down_polls=0)
    report = build()
    assert report.already == len(kept) and report.measured == len(keys) - len(kept)
    table = load_table(path)
    assert set(table.entries) == {str(k) for k in keys}
    assert table.header.device == "Pixel 4" and table.header.provenance == "measured"
    assert table.header.extra["runner"]["android_version"] == "13"
    assert all(e.median_ms == pytest.approx(2.5) for e in table.entries.values())


@pytest.mark.slow
def test_real_executorch_export_is_pushed(phone: FakePhone) -> None:
    """The default exporter: a key model lowered to an XNNPACK .pte (about a minute on 2 busy
    cores, hence `slow`), pushed to the (fake) phone and timed."""
    pytest.importorskip("executorch")
    from mnas.latency._key_model import key_example, key_model

    key = OpKey(kind="ir", in_size=14, in_channels=16, out_size=14, out_channels=16,
                mid_channels=32, kernel=3, stride=1, skip=True)
    runner = make_android_runner(f"adb:{SERIAL}", "executorch", str(phone.binary), "80")
    prepared = runner.prepare(key_model(key), key_example(key))
    assert [p for p in phone.state["fs"] if p.endswith(".pte")]
    assert prepared.time(warmup=1, repeats=3).median_ms == pytest.approx(2.5)
    prepared.close()
    assert not [p for p in phone.state["fs"] if p.endswith(".pte")]


@pytest.mark.slow
def test_real_tflite_files_are_pushed(phone: FakePhone, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The default tflite exporter: the builder converts its keys ahead with the LiteRT
    cache (the host runner's code), every .tflite pushed is that file, byte for byte, and
    LiteRT's interpreter runs it; the fake phone replays benchmark_model's output."""
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_litert")
    import hashlib

    from ai_edge_litert.interpreter import Interpreter

    from mnas.latency._builder import BuildSettings, TableBuilder
    from mnas.latency._key_model import key_example, key_model
    from mnas.latency._table import load_table
    from mnas.latency.runners._litert_convert import TfliteCache

    monkeypatch.setenv("MNAS_CACHE_DIR", str(tmp_path / "cache"))
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF fake benchmark_model")
    phone.update(mode="tflite")
    keys = [OpKey(kind="ds", in_size=8, in_channels=c, out_size=8, out_channels=c,
                  mid_channels=c, kernel=3, stride=1, skip=True) for c in (8, 16)]
    runner = make_android_runner(f"adb:{SERIAL}", "tflite", str(binary), "80", batches=1)
    pushed: list[str] = []
    real_push = runner._adb.push

    def push(local: str, remote: str) -> Any:
        if remote.endswith(".tflite"):
            pushed.append(hashlib.sha256(Path(local).read_bytes()).hexdigest())
        return real_push(local, remote)

    monkeypatch.setattr(runner._adb, "push", push)
    settings = BuildSettings(warmup=1, repeats=3, calibration_networks=0, checkpoint_s=0.0,
                             passes=1, statistic="median")
    TableBuilder(path=tmp_path / "phone.json", runner=runner, target="phone-tflite", keys=keys,
                 settings=settings).run()
    table = load_table(tmp_path / "phone.json")
    assert set(table.entries) == {str(k) for k in keys}
    assert all(e.median_ms == pytest.approx(2.5) for e in table.entries.values())
    assert "litert-torch 0.10.0" in table.header.runtime_version
    cache = TfliteCache()
    for key in keys:
        data = cache.path(key_model(key), key_example(key)).read_bytes()
        assert hashlib.sha256(data).hexdigest() in pushed
        interpreter = Interpreter(model_content=data)
        interpreter.allocate_tensors()
        # a block converted as it runs inside a network: NHWC
        assert tuple(interpreter.get_input_details()[0]["shape"]) == (1, 8, 8, key.in_channels)
    assert not [p for p in phone.state["fs"] if p.endswith(".tflite")]  # cleaned up
