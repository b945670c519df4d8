"""``mnas.latency.build_latency_table``: the typed library form of ``mnas latency build``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnas.errors import MnasInputError
from mnas.latency import TableBuildOptions, build_latency_table, load_table, unique_op_keys
from mnas.models import get_arch

TINY = get_arch("mobilenet_v3_small").replace(resolution=32)
FAST = dict(zoo=False, runner="torch", warmup=0, repeats=2, passes=1, calibration_networks=2)


def test_builds_the_arch_keys_with_the_runner_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    options = TableBuildOptions(target="t", out=out, archs=(TINY,), **FAST)
    report = build_latency_table(options)
    table = load_table(out)
    keys = {str(k) for k in unique_op_keys([TINY])}
    assert set(table.entries) == keys and report.measured == len(keys)
    assert table.header.runtime == "torch" and table.header.statistic == "min"
    assert table.header.how_to_measure == "mnas latency build --target t --runner torch"
    assert table.calibration is not None and report.networks_measured == 1
    again = build_latency_table(options)  # a rerun finds every entry there
    assert again.measured == 0 and again.already == len(keys)


def test_resolutions_measure_the_arch_at_each_one(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    build_latency_table(TableBuildOptions(target="t", out=out, archs=(TINY,),
                                          resolutions=(40,), **FAST))
    assert {str(k) for k in unique_op_keys([TINY.replace(resolution=40)])} <= set(
        load_table(out).entries)


def test_phone_defaults_and_command() -> None:
    options = TableBuildOptions(target="my-phone", device="adb:XYZ", threads=4,
                                spaces=("mobilenetv2",))
    assert options.runner_name == "executorch"
    assert options.settings().statistic == "median" and options.settings().passes == 2
    assert options.command() == ("mnas latency build --target my-phone --device adb:XYZ "
                                 "--runner executorch --threads 4 --space mobilenetv2")


@pytest.mark.parametrize("fields, match", [
    ({"device": "toaster"}, "--device must be 'host' or adb:SERIAL"),
    ({"device": "adb:XYZ"}, "--target host names this machine's table"),
])
def test_bad_options_are_one_line_input_errors(fields: dict[str, str], match: str) -> None:
    with pytest.raises(MnasInputError, match=match) as info:
        TableBuildOptions(**fields)
    assert "\n" not in str(info.value)
