"""Fixtures of the weights tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: these small convolutions gain little from two, and on a
    shared, loaded machine two spinning threads ran the same test 8x slower (58 s vs 7 s
    at load average 8, measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
