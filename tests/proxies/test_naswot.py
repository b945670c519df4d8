from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from mnas.errors import MnasInputError
from mnas.proxies import get_proxy, naswot_score


def test_kernel_counts_agreements() -> None:
    # one ReLU over the identity: codes of x are its positive entries
    model = nn.Sequential(nn.ReLU())
    x = torch.tensor([[1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])
    # K = [[3, 1], [1, 3]] -> log det = log 8
    assert naswot_score(model, x) == pytest.approx(math.log(8))
    # identical inputs: singular kernel
    assert naswot_score(model, torch.ones(2, 3)) == -math.inf


def test_naswot_on_npz_and_folder(make_tiny, tiny_npz: Path, tiny_folder: Path) -> None:
    arch = make_tiny()
    assert math.isfinite(get_proxy("naswot", data=str(tiny_npz)).score(arch))
    assert math.isfinite(get_proxy("naswot", data=tiny_folder, batch_size=8).score(arch))


def test_batch_larger_than_dataset(tiny_folder: Path) -> None:
    with pytest.raises(MnasInputError, match="needs 16 images but dataset"):
        get_proxy("naswot", data=tiny_folder, batch_size=16)


def test_zico_classes_follow_dataset(make_tiny, tiny_npz: Path) -> None:
    # the arch has 10 classes, the dataset 4: the classifier is resized, not an error
    assert math.isfinite(get_proxy("zico", data=tiny_npz, batch_size=8).score(make_tiny()))
    with pytest.raises(MnasInputError, match="batches must be an int >= 2"):
        get_proxy("zico", data=tiny_npz, batches=1)
