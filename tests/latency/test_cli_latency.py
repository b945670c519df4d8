"""``mnas predict`` and ``mnas latency show|build`` on small tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from latency_fakes import FakeRunner

from mnas.cli import main
from mnas.latency import op_keys
from mnas.latency._builder import BuildSettings, TableBuilder
from mnas.models import get_arch


@pytest.fixture(scope="module")
def table_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tables") / "fake-host.json"
    archs = [get_arch(n) for n in ("mobilenet_v3_large", "mobilenet_v3_small", "mobilenet_v2")]
    TableBuilder(path=path, runner=FakeRunner(), target="fake-host", keys=[], networks=archs,
                 settings=BuildSettings(warmup=0, repeats=2, sentinel_repeats=1,
                                        network_repeats=2, checkpoint_s=0.0),
                 how_to_measure="mnas latency build --target fake-host").run()
    return path


def test_predict_json(table_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--target", str(table_path), "--arch", "mobilenet_v3_large",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"latency_ms", "low_ms", "high_ms", "provenance", "target", "per_block"} <= set(data)
    assert data["provenance"] == "measured" and data["low_ms"] < data["latency_ms"]
    assert len(data["per_block"]) == len(op_keys(get_arch("mobilenet_v3_large")))


def test_predict_human_says_measured_on(table_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--target", str(table_path), "--arch", "mobilenet_v2"]) == 0
    out = capsys.readouterr().out
    assert "ms (measured on Fake CPU, fake 1.0 1 thread, ±" in out


def test_predict_missing_key_is_one_line(table_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--target", str(table_path), "--arch", "mnasnet_a1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "has no entry for key" in err
    assert "mnas latency build --target fake-host" in err


def test_show(table_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["latency", "show", str(table_path), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "Fake CPU" in out and "calibration" in out and "slowest 3" in out
    assert main(["latency", "show", str(table_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] > 0


def test_host_target_without_table_says_how_to_get_one_from_python(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mnas.errors import MnasInputError
    from mnas.latency import resolve_target

    monkeypatch.setenv("MNAS_TABLES", str(tmp_path))  # a folder without this CPU's table
    with pytest.raises(MnasInputError) as err:
        resolve_target("host")
    assert "estimates one" in str(err.value) and "mnas latency build --target host" in str(
        err.value)


@pytest.mark.slow
def test_host_target_without_table_is_estimated_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A CPU without a table (``MNAS_TABLES`` names an empty folder): ``predict --target
    host`` estimates one from this machine's speed (20-80 s here), then answers."""
    monkeypatch.setenv("MNAS_TABLES", str(tmp_path))
    assert main(["predict", "--target", "host", "--arch", "mobilenet_v2"]) == 0
    captured = capsys.readouterr()
    assert "ms (estimated ±" in captured.out
    assert "estimating" in captured.err and "note:" in captured.err
    assert main(["predict", "--target", "host", "--arch", "mobilenet_v2"]) == 0  # no again
    assert "estimating" not in capsys.readouterr().err


def test_host_name_is_cpu_runtime_threads() -> None:
    from mnas.latency._host import _slug, host_table_name

    assert host_table_name("onnxruntime", 1).startswith("host-")
    assert host_table_name("onnxruntime", 1).endswith("-onnxruntime-1t")
    assert _slug("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz") == "intel-core-i7-8700"
    assert _slug("AMD EPYC 7B13 64-Core Processor") == "amd-epyc-7b13"
    assert _slug("AMD EPYC (family 25, model 17)") == "amd-epyc-f25m17"
    assert _slug("Intel(R) Xeon(R) CPU @ 2.20GHz (family 6, model 85)") == "intel-xeon-f6m85"


def test_cpu_identity_tells_generations_behind_one_masked_name_apart() -> None:
    from mnas.latency._host import cpu_identity

    zen3 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n" \
           "model name\t: AMD EPYC\nstepping\t: 1\n\nprocessor\t: 1\ncpu family\t: 25\n" \
           "model\t\t: 1\nmodel name\t: AMD EPYC\n"
    zen4 = zen3.replace("model\t\t: 1", "model\t\t: 17")
    assert cpu_identity(zen3) == "AMD EPYC (family 25, model 1)"
    assert cpu_identity(zen4) == "AMD EPYC (family 25, model 17)"
    # an ARM board's cpuinfo has no family: the name alone
    arm = "processor\t: 0\nBogoMIPS\t: 108.00\nCPU implementer\t: 0x41\nHardware\t: BCM2835\n"
    assert cpu_identity(arm) == "BCM2835"
