"""A search whose trials were trained becomes an accuracy model (``--labels runs/NAME``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mnas.accuracy import load_labels
from mnas.cli import main
from mnas.proxies import TrainProxy
from mnas.search import SearchConfig, search

TINY_SPACE = """
name: tiny
resolution: [16]
num_classes: 10
stem: {channels: 8, kernel: 3, stride: 2, act: relu}
stages:
  - {type: ir, channels: [8, 16], stride: 1, depth: [1, 2], kernel: [3, 5], expansion: [3, 6]}
  - {type: ir, channels: [16, 24], stride: 2, depth: [1, 2], kernel: [3, 5], expansion: [3, 6]}
head: {type: conv_bn_act_pool, channels: 64, act: relu}
"""


@pytest.fixture
def cifar_npz(shared_dir: Path, tmp_path: Path) -> Path:
    data = np.load(shared_dir / "data" / "cifar10_5k.npz")
    keep = np.r_[0:96, 4000:4048]  # real CIFAR-10 train and test images
    path = tmp_path / "cifar_small.npz"
    np.savez(path, x=data["x"][keep], y=data["y"][keep], split=data["split"][keep])
    return path


def test_trained_run_becomes_a_model_that_score_uses(cifar_npz: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    config = SearchConfig(target="pixel4", budget_ms=1.0,  # no zoo model fits: none is trained
                          space=str(space), trials=12,
                          proxy="train", data=str(cifar_npz), name="trained",
                          runs_dir=str(tmp_path / "runs"), sampler="random")
    proxy = TrainProxy(data=str(cifar_npz), epochs=1, resolution=16, batch_size=16)
    search(config, progress=False, proxy=proxy)
    run = tmp_path / "runs" / "trained"
    labels = load_labels(run)
    assert labels.kind == "run" and len(labels.items) >= 10
    assert all(0.0 <= i.accuracy <= 1.0 for i in labels.items)

    model = tmp_path / "m.json"
    assert main(["accuracy", "fit", "--labels", str(run), "--family", "ridge",
                 "-o", str(model)]) == 0
    header = json.loads(model.read_text())["header"]
    assert header["space"] == "tiny" and header["label_kind"] == "run"
    capsys.readouterr()
    best = run / "best" / "arch.json"
    assert main(["score", "--arch", str(best), "--proxy", str(model), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["estimator"] == "m" and 0.0 < row["score"] < 1.0


def test_a_run_scored_by_a_proxy_is_not_labels(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"proxy": "flops", "space": "mobilenetv3"}))
    with pytest.raises(Exception, match="not trained"):
        load_labels(run)
