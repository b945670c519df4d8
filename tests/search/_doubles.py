"""Test doubles of the search tests that Ray workers must import too.

The Ray test cluster (``tests/search/test_ray.py``) starts with this folder on its
``PYTHONPATH``, so a double pickled by reference to a worker imports there.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

from mnas.arch import Arch
from mnas.proxies import ReportFn, TrainingProxy

__all__ = ["SyntheticTrainingProxy"]


class SyntheticTrainingProxy(TrainingProxy):
    """A deterministic stand-in for a training proxy: real compute, synthetic curves.

    A test double for the Ray backend's tests (and ``benchmarks/ray_speedup.py`` when
    no dataset is at hand): it meets the proxy contract but measures no accuracy, and
    is not in the proxy registry. Ray workers import it from this folder (the test
    cluster puts it on their ``PYTHONPATH``). Per
    epoch it runs ``steps`` SGD steps of the real network on seeded random images at
    ``resolution`` (the CPU cost grows with the architecture, like real training),
    then reports the accuracy of a saturating curve whose ceiling grows with
    log-MACs, ``acc(e) = ceiling * (1 - exp(-(e / 2)))`` where ``ceiling =
    0.5 + 0.05 * log10(MACs)``. Curves of different architectures never cross, so
    an early-stopping scheduler's decision at epoch 1 agrees with the final ranking.

    Args:
        epochs: Epochs per architecture.
        steps: SGD steps per epoch (0: no compute, curves only).
        batch: Batch size of the SGD steps.
        resolution: Input resolution of the SGD steps (small, to keep them cheap).
        seed: Seed of the random images and of the weights.
        sleep_s: Wall time added to every epoch (no CPU), to stand in for slow epochs.
        crash_once_path: Fault injection for tests: the first trial that creates this
            file (atomically) kills its own process after its first epoch.
    """

    name = "synthetic-train"
    needs_data = False

    def __init__(self, *, epochs: int = 3, steps: int = 0, batch: int = 8,
                 resolution: int = 32, seed: int = 0, sleep_s: float = 0.0,
                 crash_once_path: str | None = None) -> None:
        for label, value, low in (("epochs", epochs, 1), ("steps", steps, 0),
                                  ("batch", batch, 1), ("resolution", resolution, 8)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"SyntheticTrainingProxy: {label} must be an integer >= {low}, "
                                 f"got {value!r}")
        self.epochs = epochs
        self.steps = steps
        self.batch = batch
        self.resolution = resolution
        self.seed = seed
        if not sleep_s >= 0:
            raise ValueError(f"SyntheticTrainingProxy: sleep_s must be >= 0, got {sleep_s!r}")
        self.sleep_s = float(sleep_s)
        self.crash_once_path = crash_once_path

    def _crash_now(self) -> bool:
        if not self.crash_once_path:
            return False
        try:
            fd = os.open(self.crash_once_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True

    def curve(self, macs: int) -> list[float]:
        """The accuracy after each epoch of an architecture with ``macs`` MACs."""
        ceiling = 0.5 + 0.05 * math.log10(max(macs, 1))
        return [ceiling * (1.0 - math.exp(-(e / 2.0))) for e in range(1, self.epochs + 1)]

    def score(self, arch: Arch, *, report: ReportFn | None = None) -> float:
        """Train (on noise) for ``epochs`` epochs, reporting the synthetic curve.

        Args:
            arch: The architecture.
            report: Called as ``report(epoch, accuracy)`` after each epoch; a True
                return stops training there.
        """
        from mnas.proxies import arch_costs

        accuracies = self.curve(int(arch_costs(arch).macs))
        step = self._sgd_step(arch) if self.steps else None
        crash = self._crash_now()
        accuracy = accuracies[0]
        for epoch, accuracy in enumerate(accuracies, start=1):
            for _ in range(self.steps):
                step()  # type: ignore[misc]
            if self.sleep_s:
                time.sleep(self.sleep_s)
            if crash and epoch >= 1:
                os._exit(17)  # a worker dying mid-trial (fault injection)
            if report is not None and report(epoch, accuracy):
                break
        return accuracy

    def _sgd_step(self, arch: Arch) -> Callable[[], None]:
        import torch

        from mnas.models import build

        generator = torch.Generator().manual_seed(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = build(arch.replace(resolution=self.resolution))
        net.train()
        optimiser = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        images = torch.randn(self.batch, 3, self.resolution, self.resolution,
                             generator=generator)
        labels = torch.randint(0, arch.num_classes, (self.batch,), generator=generator)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step() -> None:
            optimiser.zero_grad(set_to_none=True)
            loss_fn(net(images), labels).backward()
            optimiser.step()

        return step
