from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mnas.errors import MnasInputError
from mnas.proxies import load_image_data


def test_npz_loads_with_split(tiny_npz: Path) -> None:
    data = load_image_data(tiny_npz)
    assert data.x.shape == (64, 3, 16, 16) and data.x.dtype == torch.uint8
    assert data.num_classes == 4 and int(data.train_mask.sum()) == 48


def test_npz_limit_and_default_holdout(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((10, 8, 8, 3), np.uint8), y=np.arange(10) % 2)
    data = load_image_data(path, limit=6)
    assert len(data) == 6 and data.train_mask.tolist() == [False, True, True, True, True, False]


def test_image_folder(tiny_folder: Path) -> None:
    data = load_image_data(tiny_folder, folder_resolution=12)
    assert data.x.shape == (10, 3, 12, 12) and data.y.tolist() == [0] * 5 + [1] * 5
    assert data.num_classes == 2


@pytest.mark.parametrize("content, match", [
    ({"x": np.zeros((4, 8, 8, 3), np.float32), "y": np.zeros(4, np.int64)}, "uint8"),
    ({"x": np.zeros((4, 8, 8, 3), np.uint8), "y": np.zeros(3, np.int64)}, "'y' must be 4"),
    ({"images": np.zeros((4, 8, 8, 3), np.uint8)}, "must hold arrays 'x'"),
])
def test_bad_npz(tmp_path: Path, content: dict, match: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **content)
    with pytest.raises(MnasInputError, match=match):
        load_image_data(path)


def test_missing_and_wrong_kind(tmp_path: Path) -> None:
    with pytest.raises(MnasInputError, match="never downloads"):
        load_image_data(tmp_path / "cifar10")
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(MnasInputError, match=".npz file or an ImageFolder"):
        load_image_data(tmp_path / "data.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MnasInputError, match="one sub-folder of images per class"):
        load_image_data(tmp_path / "empty")


def test_pickled_npz_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object), y=np.zeros(1, np.int64))
    with pytest.raises(MnasInputError, match="cannot read"):
        load_image_data(path)
