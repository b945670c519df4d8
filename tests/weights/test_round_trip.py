"""A round trip on real images: a small supernet trained with once-for-all's own code on
CIFAR-10 (``../shared/data/cifar10_5k.npz``; scikit-learn's digits where it is absent),
a subnet cut out and recalibrated by mnas, measured by ``mnas evaluate`` well above
chance, and exported to ONNX (and TFLite where LiteRT is installed) with the same top-1.

The supernet: ``OFAMobileNetV3(width_mult=0.5, n_classes=10, ks 3/5/7, expand 3/4/6,
depth 1/2)``, 32 px, trained 3 epochs on the 4,000 training images, a random subnet per
step (about 40 s here at load 7; 15 s unloaded). The subnet mixes kernels 3/5/7
(through the learned transformation matrices), expansions 3/4/6 and depths 1/2.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnas.arch import save_arch
from mnas.cli import main
from mnas.evaluation import eval_batches, open_images
from mnas.weights import Subnet, ofa_mobilenetv3
from mnas.weights._api import save_weights, subnet_weights

from ._helpers import ofa_networks

SUPERNET = ofa_mobilenetv3(0.5, num_classes=10, depths=(1, 2))
SUBNET = Subnet(kernels=(3, 5, 7, 5, 3, 3, 7, None, 5, 3),
                expansions=(4, 3, 6, 3, 6, 4, 4, None, 3, 6),
                depths=(2, 2, 2, 1, 2), resolution=32)  # 2 block slots per stage
CHANCE = 10.0
EPOCHS = 3


def _digits_npz(path: Path) -> Path:
    load_digits = pytest.importorskip(
        "sklearn.datasets", reason="neither ../shared/data/cifar10_5k.npz nor scikit-learn's "
                                   "digits are here").load_digits
    digits = load_digits()
    x = np.kron(digits.images, np.ones((4, 4)))  # 8x8 -> 32x32
    x = np.repeat((x * 255 / 16).astype(np.uint8)[..., None], 3, axis=-1)
    split = np.where(np.arange(len(x)) % 5 == 0, "test", "train")
    np.savez(path, x=x, y=digits.target, split=split)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the dataset, once-for-all's checkpoint of the trained supernet)."""
    networks = ofa_networks()
    folder = tmp_path_factory.mktemp("round_trip")
    data = Path(__file__).resolve().parents[2].parent / "shared/data/cifar10_5k.npz"
    if not data.is_file():
        data = _digits_npz(folder / "digits.npz")
    train = open_images(data, split="train")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        random.seed(0)  # once-for-all samples subnets with the random module
        net = networks.OFAMobileNetV3(n_classes=10, width_mult=0.5, ks_list=[3, 5, 7],
                                      expand_ratio_list=[3, 4, 6], depth_list=[1, 2],
                                      dropout_rate=0)
        (x, y), = eval_batches(train, range(len(train)), resolution=32, crop=1.0,
                               batch_size=len(train))  # exactly mnas evaluate's inputs
        steps, batch = EPOCHS * (len(x) // 64), 64
        opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.OneCycleLR(opt, 4e-3, total_steps=steps)
        net.train()
        for step in range(steps):
            if step % (len(x) // batch) == 0:
                order = torch.randperm(len(x))
            idx = order[(step % (len(x) // batch)) * batch:][:batch]
            xb = x[idx].clone()
            flip = torch.rand(len(idx)) < 0.5
            xb[flip] = xb[flip].flip(3)
            net.sample_active_subnet()
            loss = F.cross_entropy(net(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    torch.set_num_threads(before)
    checkpoint = folder / "ofa_mbv3_w0.5_cifar"
    torch.save({"state_dict": net.state_dict()}, checkpoint)
    return data, checkpoint


def _cli(*args: str) -> int:
    return main([str(a) for a in args])


def test_extract_recalibrate_evaluate_export(trained: tuple[Path, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    data, checkpoint = trained
    arch = SUPERNET.arch(SUBNET, name="cifar-subnet")
    arch_file = save_arch(arch, tmp_path / "arch.json")
    result = subnet_weights(SUPERNET, checkpoint, arch, data=data, split="train",
                            bn_images=2000, batch_size=100, preprocess="eval")
    assert result.batchnorm is not None and result.batchnorm.images == 2000
    weights, _record = save_weights(result, tmp_path / "w.pt")

    capsys.readouterr()
    assert _cli("evaluate", "--weights", weights, "--arch", arch_file, "--data", data,
                "--split", "test", "--json") == 0
    measured = json.loads(capsys.readouterr().out)
    assert measured["images"] == len(open_images(data, split="test"))
    low, _high = measured["top1_interval95"]
    print(f"round trip: top-1 {measured['top1']:.1f}% ({low:.1f}-{_high:.1f}) on "
          f"{measured['images']} held-out images of {data.name}")
    assert low > 1.5 * CHANCE, measured  # well above chance, not by luck
    assert measured["recipe"] == "ofa-mbv3-w0.5+bnrecal"

    images = open_images(data, split="test")
    (x, labels), = eval_batches(images, range(len(images)), resolution=32, crop=1.0,
                                batch_size=len(images))
    top1 = measured["top1_correct"]

    assert _cli("export", arch_file, "--weights", weights, "--format", "onnx",
                "-o", tmp_path / "m.onnx") == 0
    import onnxruntime as ort

    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    logits = np.concatenate([session.run(None, {name: x[i:i + 1].numpy()})[0]
                             for i in range(len(x))])
    assert int((logits.argmax(1) == labels.numpy()).sum()) == top1

    from mnas.latency.runners._litert_convert import litert_available

    if not litert_available():
        pytest.skip("TFLite leg skipped: LiteRT is not installed (pip install 'mnas[litert]')")
    assert _cli("export", arch_file, "--weights", weights, "--format", "tflite",
                "-o", tmp_path / "m.tflite") == 0
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tmp_path / "m.tflite"), num_threads=1)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]["index"]
    target = interpreter.get_output_details()[0]["index"]
    predictions = []
    for i in range(len(x)):
        interpreter.set_tensor(source, x[i:i + 1].contiguous().numpy())
        interpreter.invoke()
        predictions.append(int(interpreter.get_tensor(target).argmax()))
    assert int((np.array(predictions) == labels.numpy()).sum()) == top1
