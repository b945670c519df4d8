"""`mnas search`'s Ray backend flags and input errors (no cluster started)."""

from __future__ import annotations

import argparse
import builtins
from pathlib import Path

import pytest

from mnas.cli import main
from mnas.cli._search_ray import add_ray_arguments, ray_options
from mnas.errors import MnasInputError


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_ray_arguments(parser)
    return parser.parse_args(list(argv))


def test_flags_build_ray_options() -> None:
    pytest.importorskip("ray.tune")
    options = ray_options(_parse("--backend", "ray", "--address", "127.0.0.1:6379",
                                       "--workers", "3", "--cpus-per-trial", "2",
                                       "--gpus-per-trial", "0.5", "--scheduler", "asha",
                                       "--epochs", "4", "--resume"))
    assert options.address == "127.0.0.1:6379" and options.workers == 3
    assert options.cpus_per_trial == 2 and options.gpus_per_trial == 0.5
    assert options.scheduler == "asha" and options.epochs == 4 and options.resume


def test_default_backend_is_optuna_and_rejects_ray_only_flags() -> None:
    assert ray_options(_parse()) is None
    with pytest.raises(MnasInputError, match="--workers.*--backend ray"):
        ray_options(_parse("--workers", "2"))


@pytest.mark.parametrize("argv, match", [
    (("--workers", "0"), "workers must be an integer >= 1"),
    (("--cpus-per-trial", "0"), "cpus-per-trial must be > 0"),
    (("--address", "nohostport"), "HOST:PORT"),
])
def test_bad_values_are_input_errors(argv: tuple[str, ...], match: str) -> None:
    pytest.importorskip("ray.tune")
    with pytest.raises(MnasInputError, match=match):
        ray_options(_parse("--backend", "ray", *argv))


def test_missing_ray_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(MnasInputError) as info:
        ray_options(_parse("--backend", "ray"))
    assert "pip install 'mnas[ray]'" in str(info.value)
    assert "\n" not in str(info.value)


def test_unreachable_address_exits_2_before_writing(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ray.tune")
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = main(["search", "--target", "pixel4", "--budget", "20ms", "--trials", "2",
                 "--name", "x", "--runs-dir", str(tmp_path), "--backend", "ray",
                 "--address", f"127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"127.0.0.1:{port}" in err and "ray start --head" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()  # nothing written before the check
