"""Fixtures for the proxy tests: tiny archs, tiny datasets, the shared benchmark data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from mnas.arch import Arch, arch_from_dict, load_arch

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
MACRO = SHARED / "nas_bench_macro" / "archs"
CIFAR = SHARED / "cifar10_5k.npz"


def tiny_arch(*, expand: int = 3, kernel: int = 3, depth: int = 1, se: bool = False,
              head: str = "conv_bn_act_pool", act: str = "re", resolution: int = 16) -> Arch:
    """A small but complete MobileNet (every block type) that scores in milliseconds."""
    se_tok = "_se0.25" if se else ""
    return arch_from_dict({
        "format": "mnas-arch/1", "name": f"tiny_e{expand}_k{kernel}_d{depth}",
        "resolution": resolution, "num_classes": 10,
        "stem": {"channels": 8, "stride": 2, "kernel": 3, "act": "relu"},
        "blocks": [["ds_r1_k3_s1_c8_nre"],
                   [f"ir_r{depth}_k{kernel}_s2_e{expand}_c16{se_tok}_n{act}"],
                   ["dsa_r1_k3_s1_c24_nr6"],
                   ["cn_r1_k1_s1_c32_nhs"]],
        "head": {"type": head, "channels": 48, "hidden": 24 if head == "pool_conv_act" else None,
                 "act": "hswish", "dropout": 0.1},
        "se_gate": "hard_sigmoid", "se_reduce_from": "mid",
    }, source="tiny")


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One intra-op thread: the machine's 2 cores are shared, and these nets are tiny."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def make_tiny() -> Callable[..., Arch]:
    """The :func:`tiny_arch` factory."""
    return tiny_arch


@pytest.fixture
def tiny_npz(tmp_path: Path) -> Path:
    """64 random 16x16 images of 4 classes, with a train/test split."""
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, x=rng.integers(0, 256, size=(64, 16, 16, 3), dtype=np.uint8),
             y=np.arange(64) % 4, split=np.array(["train"] * 48 + ["test"] * 16))
    return path


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    """An ImageFolder with 2 classes of 5 PNG images each."""
    from PIL import Image

    rng = np.random.default_rng(1)
    for label in ("cat", "dog"):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(5):
            pixels = rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / label / f"{i}.png")
    return tmp_path / "imgs"


def _macro_archs(count: int) -> list[Arch]:
    files = sorted(p for p in MACRO.glob("*.json") if p.name != "index.json")
    step = max(1, len(files) // count)
    return [load_arch(p) for p in files[::step][:count]]


@pytest.fixture
def macro_archs() -> Callable[[int], list[Arch]]:
    """``macro_archs(n)``: an even subset of the NAS-Bench-Macro arch files.

    Skips when the sibling ``../shared`` folder is absent.
    """
    if not MACRO.is_dir():
        pytest.skip(f"shared benchmark data not found at {MACRO} (sibling ../shared absent)")
    return _macro_archs


@pytest.fixture
def cifar() -> Path:
    """The shared CIFAR-10 sample (skips when absent)."""
    if not CIFAR.is_file():
        pytest.skip(f"shared CIFAR-10 sample not found at {CIFAR} (sibling ../shared absent)")
    return CIFAR
