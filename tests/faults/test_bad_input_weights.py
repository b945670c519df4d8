"""Bad input to ``mnas weights`` and ``mnas evaluate``: exit 2, one line naming the fix."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from mnas.arch import save_arch
from mnas.weights import SUPERNETS

from ._faults import TINY_ARCH, one_error_line

W12 = SUPERNETS["ofa-mbv3-w1.2"]


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A w1.2 subnet's arch file, a w1.0-shaped checkpoint, small data, a tiny arch."""
    save_arch(W12.arch(W12.random_subnet(random.Random(0))), tmp_path / "sub.json")
    w10 = SUPERNETS["ofa-mbv3-w1.0"]
    torch.save({"state_dict": {k: torch.zeros(s) for k, s in w10.layout().items()}},
               tmp_path / "w10.pth")
    (tmp_path / "tiny.json").write_text(json.dumps(TINY_ARCH))
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 8, 8, 3), np.uint8), y=np.array([0, 1, 2, 3]))
    (tmp_path / "ofa_bad.json").write_text(json.dumps({"ks": [9] * 20, "e": [3] * 20,
                                                       "d": [2] * 5, "r": [160]}))
    torch.save({"a": torch.zeros(1)}, tmp_path / "w.pt")
    return tmp_path


CASES = {
    "supernet without path": (["weights", "extract", "--supernet", "ofa-mbv3-w1.2", "--arch",
                               "{tmp}/sub.json"], "must be NAME=PATH"),
    "unknown supernet": (["weights", "extract", "--supernet", "ofa-resnet50=x", "--arch",
                          "{tmp}/sub.json"], "unknown supernet 'ofa-resnet50'; known:"),
    "arch outside the space": (["weights", "extract", "--supernet", "ofa-mbv3-w1.2={tmp}/none",
                                "--arch", "mobilenet_v3_large"],
                               "is not a subnet of ofa-mbv3-w1.2: stem 16 ch"),
    "absent checkpoint": (["weights", "extract", "--supernet", "ofa-mbv3-w1.2={tmp}/none",
                           "--arch", "{tmp}/sub.json"],
                          "no such supernet checkpoint; download once-for-all's "
                          "ofa_mbv3_d234_e346_k357_w1.2 from https://"),
    "another supernet's checkpoint": (["weights", "extract", "--supernet",
                                       "ofa-mbv3-w1.2={tmp}/w10.pth", "--arch", "{tmp}/sub.json"],
                                      "it is a checkpoint of ofa-mbv3-w1.0"),
    "once-for-all config outside": (["weights", "extract", "--supernet",
                                     "ofa-mbv3-w1.2={tmp}/w10.pth", "--arch", "{tmp}/ofa_bad.json"],
                                    "kernel 9 is not one of 3, 5, 7"),
    "absent data": (["weights", "extract", "--supernet", "ofa-mbv3-w1.2={tmp}/w10.pth", "--arch",
                     "{tmp}/sub.json", "--data", "{tmp}/nowhere"], "does not exist"),
    "bn images zero": (["weights", "extract", "--supernet", "ofa-mbv3-w1.2={tmp}/w10.pth",
                        "--arch", "{tmp}/sub.json", "--bn-images", "0"], "must be an integer"),
    "weights suffix": (["weights", "extract", "--supernet", "ofa-mbv3-w1.2={tmp}/none", "--arch",
                        "{tmp}/sub.json", "-o", "{tmp}/w.bin"], "must end in .pt, .pth or "
                                                                ".safetensors"),
    "weights exist": (["weights", "extract", "--supernet", "ofa-mbv3-w1.2={tmp}/none", "--arch",
                       "{tmp}/sub.json", "-o", "{tmp}/w.pt"], "already exists; pass --force"),
    "download unknown": (["weights", "download", "ofa-x", "-o", "{tmp}/c"], "unknown supernet"),
    "evaluate absent weights": (["evaluate", "--weights", "{tmp}/none.pt", "--arch",
                                 "{tmp}/tiny.json", "--data", "{tmp}/d.npz"], "no such"),
    "evaluate weights misfit": (["evaluate", "--weights", "{tmp}/w.pt", "--arch",
                                 "{tmp}/tiny.json", "--data", "{tmp}/d.npz"],
                                "the weights do not fit arch 'tiny'"),
    "evaluate crop": (["evaluate", "--weights", "{tmp}/w.pt", "--arch", "{tmp}/tiny.json",
                       "--data", "{tmp}/d.npz", "--crop", "1.5"], "must be a number in (0, 1]"),
    "evaluate split absent": (["evaluate", "--weights", "{tmp}/w.pt", "--arch", "{tmp}/tiny.json",
                               "--data", "{tmp}/d.npz", "--split", "val"], "no 'split' array"),
    "evaluate csv suffix": (["evaluate", "--weights", "{tmp}/w.pt", "--arch", "{tmp}/tiny.json",
                             "--data", "{tmp}/d.npz", "--labels-csv", "{tmp}/l.txt"],
                            "must end in .csv"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line(cli, files: Path, case: str) -> None:  # type: ignore[no-untyped-def]
    argv, message = CASES[case]
    code, _out, err = cli(*(a.replace("{tmp}", str(files)) for a in argv))
    assert code == 2, err
    assert message in one_error_line(err), err
