"""mnas's extraction and BatchNorm recalibration against once-for-all's own code.

For each released supernet, built by once-for-all's package with random weights (kernel
transformation matrices away from the identity, BatchNorm statistics away from 0/1):
random subnets cut out by mnas give the logits of once-for-all's
``get_active_subnet(preserve_weight=True)`` (max abs diff <= 1e-5, eval mode), and after
recalibration on the same image batches, the same BatchNorm statistics as its
``set_running_statistics``.

Default run: 4 subnets per supernet at 64-96 px (the weights do not depend on the input
size); ``pytest -m slow``: 50 per supernet at 128-224 px, as once-for-all evaluates them.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from torch import nn

from mnas.models import build
from mnas.weights import SUPERNETS, extract_subnet, load_checkpoint, recalibrate_batchnorm

from ._helpers import ofa_supernet, random_checkpoint

TOLERANCE = 1e-5


def _compare(name: str, subnets: int, tmp_path: Path, seed: int,
             resolutions: tuple[int, ...]) -> None:
    from ofa.imagenet_classification.elastic_nn.utils import set_running_statistics

    supernet = SUPERNETS[name]
    theirs = ofa_supernet(supernet, dropout_rate=0)
    theirs.load_state_dict(random_checkpoint(supernet, seed), strict=False)
    path = tmp_path / supernet.ofa_id
    torch.save({"state_dict": theirs.state_dict()}, path)  # as once-for-all releases them
    weights = load_checkpoint(supernet, path)
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    for i in range(subnets):
        subnet = supernet.random_subnet(rng, resolutions=resolutions)
        config = subnet.ofa_config()
        theirs.set_active_subnet(ks=config["ks"], e=config["e"], d=config["d"])
        reference = theirs.get_active_subnet(preserve_weight=True).eval()
        arch = supernet.arch(subnet)
        ours = build(arch)
        ours.load_state_dict(extract_subnet(weights, supernet, arch))
        ours.eval()
        r = subnet.resolution
        x = torch.randn(2, 3, r, r, generator=g)
        with torch.no_grad():
            want, got = reference(x), ours(x)
        assert want.abs().max() > 0.05  # outputs of a scale where 1e-5 means something
        diff = float((want - got).abs().max())
        assert diff <= TOLERANCE, f"{name} subnet {i} {config}: max abs diff {diff:.3g}"
        if i % 2:
            continue  # BatchNorm recalibration on every other subnet (it costs 3 passes)
        batches = [torch.randn(n, 3, r, r, generator=g) for n in (4, 4, 3)]
        set_running_statistics(reference, [(b, None) for b in batches])
        assert recalibrate_batchnorm(ours, batches) == 11
        pairs = list(zip(
            (m for m in reference.modules() if isinstance(m, nn.BatchNorm2d)),
            (m for m in ours.modules() if isinstance(m, nn.BatchNorm2d)), strict=True))
        for theirs_bn, ours_bn in pairs:
            for stat in ("running_mean", "running_var"):
                torch.testing.assert_close(getattr(ours_bn, stat), getattr(theirs_bn, stat),
                                           rtol=1e-5, atol=1e-6)
        with torch.no_grad():
            want, got = reference(x), ours(x)
        # statistics from a few small batches make some channels' variance tiny, and the
        # logits large: compare relative to their scale
        diff = float((want - got).abs().max() / want.abs().max().clamp(min=1))
        assert diff <= TOLERANCE, f"{name} subnet {i} after recalibration: {diff:.3g}"


@pytest.mark.parametrize("name", list(SUPERNETS))
def test_subnets_match_once_for_all(name: str, tmp_path: Path) -> None:
    _compare(name, 4, tmp_path, seed=1, resolutions=(64, 96))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SUPERNETS))
def test_fifty_subnets_match_once_for_all(name: str, tmp_path: Path) -> None:
    _compare(name, 50, tmp_path, seed=2, resolutions=(128, 160, 192, 224))


def test_older_checkpoint_names_load_the_same_weights(tmp_path: Path) -> None:
    """Releases named blocks ``.mobile_inverted_conv.`` and left out the dynamic wrappers'
    doubled segments (``bn.bn.``, ``conv.conv.weight``, ``linear.linear.``)."""
    supernet = SUPERNETS["ofa-mbv3-w1.0"]
    new = random_checkpoint(supernet, 3)
    old = {}
    for key, tensor in new.items():
        key = key.replace(".conv.inverted", ".mobile_inverted_conv.inverted")
        key = key.replace(".conv.depth_conv", ".mobile_inverted_conv.depth_conv")
        key = key.replace(".conv.point_linear", ".mobile_inverted_conv.point_linear")
        old[key.replace(".bn.bn.", ".bn.").replace(".conv.conv.weight", ".conv.weight")] = tensor
    assert len(old) == len(new) and set(old) != set(new)
    torch.save({"state_dict": old}, tmp_path / "old")
    torch.save(new, tmp_path / "plain")  # a bare state_dict works too
    for file in ("old", "plain"):
        loaded = load_checkpoint(supernet, tmp_path / file)
        assert loaded.keys() == new.keys()
        assert all(torch.equal(loaded[k], new[k]) for k in new)
