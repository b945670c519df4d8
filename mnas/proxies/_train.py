"""The expensive, honest proxy: a few epochs of SGD on the user's dataset."""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.proxies._base import ReportFn, TrainingProxy, register_proxy
from mnas.proxies._common import build_seeded, check_resolution, make_generator
from mnas.proxies._data import load_image_data, resize_batch

__all__ = ["TrainProxy"]


def _positive_int(field: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise MnasInputError(f"train {field} must be an int >= {minimum}, got {value!r}")
    return value


@register_proxy
class TrainProxy(TrainingProxy):
    """Held-out accuracy after a short SGD run (cf. the reduced-setting proxy of MnasNet,
    Tan et al., CVPR 2019, which trains each sample for 5 epochs).

    The network is built at ``resolution`` with a classifier sized to the dataset,
    Kaiming-initialised from the seed, and trained with SGD (momentum 0.9, Nesterov,
    weight decay 4e-5, cosine learning rate, random horizontal flips) on the dataset's
    training images (an ``.npz`` ``split == "train"``, else 4 of every 5 images); the score
    is the top-1 accuracy (0..1) on the held-out images after the last epoch run.

    Args:
        data: Path of a ``.npz`` or ImageFolder dataset.
        seed: Seeds init, shuffling, flips and dropout (all inside a forked RNG scope).
        epochs: Training epochs.
        batch_size: Minibatch size.
        lr: Peak learning rate.
        resolution: Image size used for training and evaluation (small keeps it cheap).
        train_images: Use at most this many training images (None: all).
        eval_images: Evaluate on at most this many held-out images (None: all).
        report: Default per-epoch callback, see :data:`ReportFn`; ``score`` may override it.
    """

    name = "train"
    needs_data = True

    def __init__(self, *, data: str | os.PathLike[str], seed: int = 0, epochs: int = 3,
                 batch_size: int = 64, lr: float = 0.05, resolution: int | None = 32,
                 train_images: int | None = None, eval_images: int | None = 1000,
                 report: ReportFn | None = None) -> None:
        self.epochs = _positive_int("epochs", epochs)
        self.batch_size = _positive_int("batch_size", batch_size, 2)
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr <= 10:
            raise MnasInputError(f"train lr must be a number in (0, 10], got {lr!r}")
        self.lr = float(lr)
        self.resolution = check_resolution(resolution)
        self.seed = seed
        make_generator(seed)
        self.data = load_image_data(data, folder_resolution=self.resolution or 64)
        train_idx = torch.nonzero(self.data.train_mask).flatten()
        eval_idx = torch.nonzero(~self.data.train_mask).flatten()
        if train_images is not None:
            train_idx = train_idx[: _positive_int("train_images", train_images, 2)]
        if eval_images is not None:
            eval_idx = eval_idx[: _positive_int("eval_images", eval_images)]
        if len(train_idx) < self.batch_size or len(eval_idx) == 0:
            raise MnasInputError(
                f"train needs at least {self.batch_size} training and 1 held-out image; "
                f"dataset {self.data.source} gives {len(train_idx)} and {len(eval_idx)}")
        self.train_idx = train_idx
        self.eval_idx = eval_idx
        self.report = report

    def score(self, arch: Arch, *, report: ReportFn | None = None) -> float:
        """Train ``arch`` briefly and return its held-out accuracy (0..1).

        Args:
            arch: The architecture.
            report: Per-epoch callback for this call (else the constructor's).
        """
        report = report if report is not None else self.report
        resolution = self.resolution or arch.resolution
        arch = arch.replace(resolution=resolution, num_classes=max(2, self.data.num_classes))
        gen = make_generator(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # dropout draws from the (forked) global RNG
            model = build_seeded(arch, gen, dropout=True)
            opt = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=0.9, nesterov=True,
                                  weight_decay=4e-5)
            steps = self.epochs * (len(self.train_idx) // self.batch_size)
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps)))
            accuracy = 0.0
            for epoch in range(1, self.epochs + 1):
                model.train()
                order = self.train_idx[torch.randperm(len(self.train_idx), generator=gen)]
                for start in range(0, len(order) - self.batch_size + 1, self.batch_size):
                    idx = order[start:start + self.batch_size]
                    x = resize_batch(self.data.x[idx], resolution)
                    flip = torch.rand(len(idx), generator=gen) < 0.5
                    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
                    loss = F.cross_entropy(model(x), self.data.y[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                accuracy = self._evaluate(model, resolution)
                if report is not None and report(epoch, accuracy):
                    break
        return accuracy

    def _evaluate(self, model: torch.nn.Module, resolution: int) -> float:
        model.eval()
        correct = 0
        with torch.no_grad():
            for chunk in self.eval_idx.split(256):
                logits = model(resize_batch(self.data.x[chunk], resolution))
                correct += int((logits.argmax(1) == self.data.y[chunk]).sum())
        return correct / len(self.eval_idx)
