"""Measured accuracy: counts, the Wilson interval, preprocessing and the labels CSV row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mnas.accuracy import load_labels
from mnas.errors import MnasInputError
from mnas.evaluation import (
    Evaluation,
    append_label_row,
    eval_batches,
    evaluate_model,
    open_images,
    wilson_interval,
)
from mnas.models import get_arch


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (1, 250), (180, 250),
                                      (37512, 50000)])
def test_wilson_interval_is_scipys(k: int, n: int) -> None:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


class _Votes(nn.Module):
    """Scores class c by how many pixels' red channel rounds to c (a known classifier)."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.classes = classes
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        red = x[:, 0].mean(dim=(1, 2))
        centres = torch.arange(self.classes, dtype=x.dtype)
        return -(red[:, None] - centres[None, :]).abs() + self.dummy


def _npz(tmp_path: Path, n: int = 40, classes: int = 10) -> Path:
    rng = np.random.default_rng(0)
    y = rng.integers(0, classes, n)
    x = rng.integers(0, 256, (n, 24, 24, 3), dtype=np.uint8)
    split = np.array(["train", "test"] * (n // 2))
    np.savez(tmp_path / "d.npz", x=x, y=y, split=split)
    return tmp_path / "d.npz"


def test_evaluate_counts_top1_and_topk_against_a_direct_count(tmp_path: Path) -> None:
    images = open_images(_npz(tmp_path))
    model = _Votes(10)
    result = evaluate_model(model, images, resolution=16, crop=1.0, batch_size=7)
    logits = torch.cat([model(b) for b, _ in eval_batches(images, range(40), resolution=16,
                                                          crop=1.0, batch_size=40)])
    ranked = logits.topk(5, dim=1).indices
    assert result.images == 40 and result.k == 5
    assert result.top1_correct == int((ranked[:, 0] == images.labels).sum())
    assert result.top5_correct == int((ranked == images.labels[:, None]).any(1).sum())
    assert result.top5_correct > result.top1_correct  # the counts are not trivially equal
    low, high = result.interval("top1")
    assert low <= result.top1 <= high
    assert "centre crop 16x16" in result.preprocess and "ImageNet mean/std" in result.preprocess
    few = evaluate_model(model, images, resolution=16, crop=1.0, limit=4)
    assert few.images == 4 and "4 of them spread evenly" in few.data  # images 0, 13, 26, 39
    spread = [0, 13, 26, 39]
    assert few.top1_correct == int((ranked[spread, 0] == images.labels[spread]).sum())
    test = open_images(tmp_path / "d.npz", split="test")
    assert len(test) == 20 and test.describe().endswith("split 'test', 20 images)")
    with pytest.raises(MnasInputError, match="no image of split 'val'; splits: test, train"):
        open_images(tmp_path / "d.npz", split="val")
    with pytest.raises(MnasInputError, match="label 9 is outside the model's 5 classes"):
        evaluate_model(_Votes(5), images, resolution=16, crop=1.0)


def test_a_folder_and_its_npz_give_the_same_batches(tmp_path: Path) -> None:
    """An ImageFolder (sorted class folders) reads the same images and labels as a .npz."""
    from PIL import Image

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (6, 40, 30, 3), dtype=np.uint8)
    y = np.array([0, 1, 1, 0, 1, 0])
    names = ["n01", "n02"]
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        folder = tmp_path / "val" / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i}.png")
    np.savez(tmp_path / "same.npz", x=x, y=y)
    folder_set, npz_set = open_images(tmp_path / "val"), open_images(tmp_path / "same.npz")
    order = [0, 3, 5, 1, 2, 4]  # the folder lists class n01 first, each sorted by name
    assert folder_set.labels.tolist() == y[order].tolist()
    (a, la), = eval_batches(folder_set, range(6), resolution=24, crop=0.875, batch_size=6)
    (b, lb), = eval_batches(npz_set, order, resolution=24, crop=0.875, batch_size=6)
    assert torch.equal(la, lb)
    # PIL (folder) and torch (.npz) resize alike, up to rounding by one uint8 level
    one_level = 1 / (255 * min(0.229, 0.224, 0.225))
    assert float((a - b).abs().max()) <= one_level + 1e-6
    assert float(((a - b).abs() > 1e-6).float().mean()) < 0.02


def test_a_labels_row_is_read_by_the_accuracy_labels_reader(tmp_path: Path) -> None:
    """The CSV row (arch, accuracy in percent, top5, images, recipe) is what `mnas accuracy
    fit --labels` reads; the extra columns are ignored by it today."""
    csv = tmp_path / "labels.csv"
    archs = [get_arch("mobilenet_v3_large"), get_arch("mobilenet_v2")]
    for arch, top1 in zip(archs, (300, 180), strict=True):
        ev = Evaluation(images=400, top1_correct=top1, top5_correct=top1 + 50, k=5, data="d",
                        preprocess="p", resolution=224, device="cpu")
        append_label_row(csv, arch, ev, recipe="ofa-mbv3-w1.2+bnrecal")
    header, *rows = csv.read_text().splitlines()
    assert header == "arch,accuracy,top5,images,recipe"
    assert rows[0].split(",")[1:] == ["75.0000", "87.5000", "400", "ofa-mbv3-w1.2+bnrecal"]
    labels = load_labels(csv)
    assert [item.accuracy for item in labels.items] == [75.0, 45.0]
    assert [item.arch.structure_key() for item in labels.items] == [
        a.structure_key() for a in archs]
    again = Evaluation(images=400, top1_correct=304, top5_correct=350, k=5, data="d",
                       preprocess="p", resolution=224, device="cpu")
    _file, replaced = append_label_row(csv, archs[0], again, recipe="r2")
    assert replaced and len(csv.read_text().splitlines()) == 3
    assert load_labels(csv).items[-1].accuracy == 76.0
    (tmp_path / "other.csv").write_text("name,score\nx,1\n")
    with pytest.raises(MnasInputError, match="not a labels CSV"):
        append_label_row(tmp_path / "other.csv", archs[0], again, recipe="r")
