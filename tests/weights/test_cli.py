"""``mnas weights extract`` + ``mnas evaluate`` end to end on 250 real ImageNet images
(``../shared/data/imagenet_sample_128.npz``), with a random-weight w1.0 checkpoint: the
test checks the pipeline and its records, not the accuracy (about 0 with random weights)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mnas.accuracy import load_labels
from mnas.arch import load_arch
from mnas.cli import main
from mnas.weights import SUPERNETS, extract_subnet

from ._helpers import random_checkpoint

W10 = SUPERNETS["ofa-mbv3-w1.0"]


def _cli(capsys: pytest.CaptureFixture[str], *args: object) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main([str(a) for a in args] + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_extract_and_evaluate_on_imagenet_images(shared_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    data = shared_dir / "data" / "imagenet_sample_128.npz"
    checkpoint = tmp_path / W10.ofa_id
    weights = random_checkpoint(W10, 5)
    torch.save({"state_dict": weights}, checkpoint)
    config = tmp_path / "net.json"  # once-for-all's subnet config, as its search prints it
    ks = [3, 5, 7, 3] * 5
    config.write_text(json.dumps({"ks": ks, "e": [3, 4, 6, 4] * 5, "d": [2, 2, 3, 2, 2],
                                  "r": [160]}))
    out = _cli(capsys, "weights", "extract", "--supernet", f"ofa-mbv3-w1.0={checkpoint}",
               "--arch", config, "--data", data, "--bn-images", 100, "--batch-size", 50,
               "-o", tmp_path / "w.pt")
    assert out["recipe"] == "ofa-mbv3-w1.0+bnrecal" and out["batchnorm"]["images"] == 100
    arch = load_arch(out["arch_file"])
    assert arch.resolution == 160 and [len(s) for s in arch.stages] == [1, 2, 2, 3, 2, 2, 1]
    saved = torch.load(tmp_path / "w.pt", weights_only=True)
    plain = extract_subnet(weights, W10, arch)
    assert saved.keys() == plain.keys()
    changed = [k for k in plain if k.endswith("running_var")
               and not torch.allclose(saved[k], plain[k])]
    assert len(changed) == sum(k.endswith("running_var") for k in plain)  # all recalibrated
    assert all(torch.equal(saved[k], plain[k]) for k in plain if "running" not in k)

    measured = _cli(capsys, "evaluate", "--weights", tmp_path / "w.pt", "--arch",
                    out["arch_file"], "--data", data, "--labels-csv", tmp_path / "labels.csv")
    assert measured["images"] == 250 and measured["top5_k"] == 5
    assert 0 <= measured["top1_interval95"][0] <= measured["top1"] <= 100
    assert measured["recipe"] == "ofa-mbv3-w1.0+bnrecal"
    assert "centre crop 160x160" in measured["preprocess"]
    labels = load_labels(tmp_path / "labels.csv")
    assert len(labels.items) == 1 and labels.items[0].accuracy == pytest.approx(
        measured["top1"], abs=1e-4)
    assert labels.items[0].arch.structure_key() == arch.structure_key()

    # recalibrated statistics of random weights give logits in the hundreds: the export's
    # check scales its bound with them (float32 cannot hold 1e-4 absolute there)
    exported = _cli(capsys, "export", out["arch_file"], "--weights", tmp_path / "w.pt",
                    "--format", "onnx", "-o", tmp_path / "m.onnx")
    assert exported["max_abs_diff"] <= exported["tolerance"] == pytest.approx(
        1e-4 * max(1.0, exported["output_scale"]))
