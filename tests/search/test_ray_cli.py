"""The Ray backend's flags and input errors (no cluster started)."""

from __future__ import annotations

import argparse
import builtins
from pathlib import Path

import pytest

from mnas.errors import MnasInputError
from mnas.search import SearchConfig
from mnas.search._ray_cli import add_ray_arguments, options_from_args, run_from_args


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_ray_arguments(parser)
    return parser.parse_args(list(argv))


def test_flags_build_ray_options() -> None:
    pytest.importorskip("ray.tune")
    options = options_from_args(_parse("--backend", "ray", "--address", "127.0.0.1:6379",
                                       "--workers", "3", "--cpus-per-trial", "2",
                                       "--gpus-per-trial", "0.5", "--scheduler", "asha",
                                       "--epochs", "4", "--resume"))
    assert options.address == "127.0.0.1:6379" and options.workers == 3
    assert options.cpus_per_trial == 2 and options.gpus_per_trial == 0.5
    assert options.scheduler == "asha" and options.epochs == 4 and options.resume


def test_default_backend_is_optuna_and_rejects_ray_only_flags() -> None:
    assert options_from_args(_parse()) is None
    with pytest.raises(MnasInputError, match="--workers.*--backend ray"):
        options_from_args(_parse("--workers", "2"))


@pytest.mark.parametrize("argv, match", [
    (("--workers", "0"), "workers must be an integer >= 1"),
    (("--cpus-per-trial", "0"), "cpus-per-trial must be > 0"),
    (("--address", "nohostport"), "HOST:PORT"),
])
def test_bad_values_are_input_errors(argv: tuple[str, ...], match: str) -> None:
    pytest.importorskip("ray.tune")
    with pytest.raises(MnasInputError, match=match):
        options_from_args(_parse("--backend", "ray", *argv))


def test_missing_ray_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(MnasInputError) as info:
        options_from_args(_parse("--backend", "ray"))
    assert "pip install 'mnas[ray]'" in str(info.value)
    assert "\n" not in str(info.value)


def test_unreachable_address_exits_through_run_from_args(tmp_path: Path) -> None:
    pytest.importorskip("ray.tune")
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = _parse("--backend", "ray", "--address", f"127.0.0.1:{port}")
    config = SearchConfig(target="pixel4", budget_ms=20, trials=2, name="x",
                          runs_dir=str(tmp_path))
    with pytest.raises(MnasInputError, match=f"127.0.0.1:{port}.*ray start --head"):
        run_from_args(args, config)
    assert not (tmp_path / "x").exists()  # nothing written before the check
