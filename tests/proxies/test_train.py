from __future__ import annotations

from pathlib import Path

import pytest

from mnas.errors import MnasInputError
from mnas.proxies import get_proxy

_FAST = {"batch_size": 8, "train_images": 16, "eval_images": 8}


def test_report_sees_every_epoch_and_can_stop(make_tiny, tiny_npz: Path) -> None:
    arch = make_tiny()
    proxy = get_proxy("train", data=tiny_npz, epochs=3, **_FAST)
    seen: list[tuple[int, float]] = []
    full = proxy.score(arch, report=lambda epoch, acc: seen.append((epoch, acc)) or False)
    assert [e for e, _ in seen] == [1, 2, 3] and seen[-1][1] == full and 0 <= full <= 1

    stopped: list[int] = []
    first = proxy.score(arch, report=lambda epoch, acc: stopped.append(epoch) or True)
    assert stopped == [1] and first == seen[0][1]


def test_constructor_report_and_validation(make_tiny, tiny_npz: Path) -> None:
    calls: list[int] = []
    proxy = get_proxy("train", data=tiny_npz, epochs=2,
                      report=lambda e, a: calls.append(e) or False, **_FAST)
    proxy.score(make_tiny())
    assert calls == [1, 2]
    with pytest.raises(MnasInputError, match="epochs must be an int >= 1"):
        get_proxy("train", data=tiny_npz, epochs=0)
    with pytest.raises(MnasInputError, match="at least 64 training"):
        get_proxy("train", data=tiny_npz, batch_size=64)
