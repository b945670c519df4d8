"""Reading and downloading supernet checkpoints: what fits, what does not, what is checked."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import pickle
from pathlib import Path

import pytest
import torch

from mnas.errors import MnasError, MnasInputError
from mnas.weights import SUPERNETS, download_checkpoint, load_checkpoint
from mnas.weights._checkpoint import file_digests

from ._helpers import random_checkpoint

W10, W12 = SUPERNETS["ofa-mbv3-w1.0"], SUPERNETS["ofa-mbv3-w1.2"]


def test_an_absent_checkpoint_names_the_url_and_the_checksum(tmp_path: Path) -> None:
    with pytest.raises(MnasInputError) as info:
        load_checkpoint(W12, tmp_path / "nope.pth")
    text = str(info.value)
    assert W12.url in text and W12.git_blob in text
    assert "mnas weights download ofa-mbv3-w1.2" in text


def test_another_supernets_checkpoint_is_named(tmp_path: Path) -> None:
    torch.save({"state_dict": random_checkpoint(W10)}, tmp_path / "w10")
    with pytest.raises(MnasInputError, match="does not fit ofa-mbv3-w1.2: .* has shape .*; it is "
                                             "a checkpoint of ofa-mbv3-w1.0"):
        load_checkpoint(W12, tmp_path / "w10")


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda s: s.pop("classifier.linear.bias"), "tensor 'classifier.linear.bias' is missing"),
    (lambda s: s.update(extra=torch.zeros(1)), "unexpected tensor 'extra'"),
    (lambda s: s.update({"first_conv.conv.weight": torch.zeros(24, 3, 5, 5)}),
     r"'first_conv.conv.weight' has shape \(24, 3, 5, 5\), expected \(24, 3, 3, 3\)"),
    (lambda s: s["classifier.linear.bias"].fill_(float("nan")), "NaN or infinite"),
])
def test_a_checkpoint_that_does_not_fit_is_one_line(tmp_path: Path, mutate, message) -> None:  # type: ignore[no-untyped-def]
    state = random_checkpoint(W12)
    mutate(state)
    torch.save({"state_dict": state}, tmp_path / "ckpt")
    with pytest.raises(MnasInputError, match=message) as info:
        load_checkpoint(W12, tmp_path / "ckpt")
    assert "\n" not in str(info.value)


class _Pickled:
    def __reduce__(self) -> tuple:  # type: ignore[type-arg]
        return (print, ("not run",))


def test_pickled_code_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad").write_bytes(pickle.dumps({"state_dict": _Pickled()}))
    with pytest.raises(MnasInputError, match="never unpickles code"):
        load_checkpoint(W12, tmp_path / "bad")


def test_download_checks_the_release_checksum_before_keeping_the_file(tmp_path: Path) -> None:
    payload = b"once-for-all checkpoint bytes" * 1000
    blob = hashlib.sha1(b"blob %d\0" % len(payload) + payload).hexdigest()
    good = dataclasses.replace(W12, git_blob=blob)
    path = download_checkpoint(good, tmp_path / "ckpts", opener=lambda url: io.BytesIO(payload))
    assert path.read_bytes() == payload
    assert file_digests(path) == (hashlib.sha256(payload).hexdigest(), blob)
    with pytest.raises(MnasInputError, match="already exists; pass --force"):
        download_checkpoint(good, tmp_path / "ckpts", opener=lambda url: io.BytesIO(payload))
    folder = tmp_path / "other"
    with pytest.raises(MnasError, match="git blob id .* differs from the released file's"):
        download_checkpoint(W12, folder, opener=lambda url: io.BytesIO(payload))
    assert list(folder.iterdir()) == []  # nothing half-checked is left behind
    pinned = dataclasses.replace(W12, sha256="0" * 64)
    with pytest.raises(MnasError, match="sha256 .* differs from the expected 0000"):
        download_checkpoint(pinned, folder, opener=lambda url: io.BytesIO(payload))
