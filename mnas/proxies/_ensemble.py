"""The default, data-free proxy: Zen-score plus NASWOT on Gaussian inputs."""

from __future__ import annotations

import torch

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.proxies._base import DEFAULT_PROXY, AccuracyProxy, register_proxy
from mnas.proxies._common import at_resolution, build_seeded, check_resolution, make_generator
from mnas.proxies._naswot import naswot_score
from mnas.proxies._zen import zen_score

__all__ = ["DEFAULT_PROXY", "ZenNaswotProxy"]


@register_proxy
class ZenNaswotProxy(AccuracyProxy):
    """Zen-score + NASWOT on Gaussian inputs, an unweighted sum of two log scores (data-free).

    ``score = zen_score(arch) + log |det K_H|`` where ``K_H`` is NASWOT's activation-pattern
    kernel (Mellor et al., ICML 2021) of a Kaiming-initialised network on a batch of
    N(0, 1) images instead of real ones, and the Zen-score is Lin et al. (ICCV 2021). Both
    terms are natural logs, so they add without a fitted weight: the sum is the log of the
    product of Zen's expressivity and NASWOT's input separability.

    Why this is the default (measured in ``benchmarks/proxy_correlation.py``, see
    ``benchmarks/RESULTS-proxies.md``): on NAS-Bench-Macro Zen-score alone ranks below
    FLOPs, and NASWOT ranks far above it but fails on the OFA-MobileNetV3 oracle; the sum
    beats FLOPs and #params on NAS-Bench-Macro (also within a narrow MACs band) and stays
    close to FLOPs on OFA, without any dataset.

    Args:
        seed: Seeds both inits and both Gaussian batches.
        zen_batch_size: Gaussian images per Zen-score forward.
        naswot_batch_size: Gaussian images in the NASWOT minibatch.
        resolution: Evaluate at this input size instead of each arch's own. For
            ImageNet-size networks 64 costs about an eighth of 224 (MobileNetV3-Large), and
            Zen-score ranked OFA subnets the same at 64 and 128 px (tau 0.59 both).
    """

    name = "zen-naswot"
    cost = "forward"

    def __init__(self, *, seed: int = 0, zen_batch_size: int = 8, naswot_batch_size: int = 16,
                 resolution: int | None = None) -> None:
        for field, value in (("zen_batch_size", zen_batch_size),
                             ("naswot_batch_size", naswot_batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise MnasInputError(f"zen-naswot {field} must be an int >= 2, got {value!r}")
        self.seed = seed
        self.zen_batch_size = zen_batch_size
        self.naswot_batch_size = naswot_batch_size
        self.resolution = check_resolution(resolution)
        make_generator(seed)

    def score(self, arch: Arch) -> float:
        arch = at_resolution(arch, self.resolution)
        zen = zen_score(arch, seed=self.seed, batch_size=self.zen_batch_size)
        gen = make_generator(self.seed + 1)
        x = torch.randn((self.naswot_batch_size, 3, arch.resolution, arch.resolution),
                        generator=gen)
        return zen + naswot_score(build_seeded(arch, gen), x)
