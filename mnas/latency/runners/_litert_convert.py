"""PyTorch -> ``.tflite`` with litert-torch: one converter for export, the host and phones.

Conversion is the slow part of timing with LiteRT (seconds per block, tens of seconds per
network, against milliseconds to run it), so :class:`TfliteCache` keeps every converted
model on disk under a digest of the model (its module tree, every tensor of its
state_dict and the example's shape) and the converter's version, and converts what is
missing in parallel worker processes (:meth:`TfliteCache.convert_many`). The latency
builder converts every key it is about to time this way, then times them one by one
from the cache; ``mnas export --format tflite`` and the Android ``tflite`` runner use
the same :func:`convert_tflite_bytes`.

Layout: TFLite's kernels are NHWC. A whole network (``mnas export --format tflite``, the
calibration and validation networks) keeps PyTorch's NCHW input and output, so
litert-torch puts a ``TRANSPOSE`` on the image and none between its layers. A unit cut
out of a network (a latency key model, :func:`mnas.latency._key_model.key_model`) is
converted with the layouts it has inside that converted network: a block NHWC in and out,
the stem NCHW in (it takes the image) and NHWC out (``litert_torch.to_channel_last_io``),
the head NHWC in and pooled as the network pools it, so an entry has no transposes that
the network does not run. :func:`io_layout` says which a model gets. fp32, batch of the example.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnas._io import atomic_write_bytes
from mnas.errors import MnasError, MnasInputError
from mnas.latency._key_model import IO_ATTR, HeadModule

__all__ = [
    "LITERT_INSTALL",
    "TfliteCache",
    "convert_tflite_bytes",
    "converter_version",
    "LAYOUTS",
    "io_example",
    "io_layout",
    "default_cache_dir",
    "default_workers",
    "litert_available",
    "litert_missing",
    "model_digest",
]

LITERT_INSTALL = "pip install 'mnas[litert]'"
"""How to install the converter and the interpreter."""
_PACKAGES = ("litert_torch", "ai_edge_litert")


def litert_available() -> bool:
    """Whether both litert-torch (converter) and ai-edge-litert (interpreter) can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in _PACKAGES)


def litert_missing(what: str) -> MnasInputError:
    """The one-line error for ``what`` (e.g. ``--runner litert``) without the extra."""
    return MnasInputError(f"{what} needs LiteRT (litert-torch and ai-edge-litert), which is "
                          f"not installed; install it with: {LITERT_INSTALL}")


def converter_version() -> str:
    """``litert-torch 0.10.0, torch 2.14.1``: what a cached file depends on."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        litert = version("litert-torch")
    except PackageNotFoundError:
        litert = "not installed"
    return f"litert-torch {litert}, torch {torch.__version__}"


LAYOUTS = ("nchw", "nhwc", "nchw-nhwc")
"""Input and output layouts of a converted file (``IN-OUT``; one name is both): ``nchw``
as in PyTorch, ``nhwc`` as TFLite's kernels, ``nchw-nhwc`` a network's stem (takes the
image as the network does, gives what the first block takes). Only 4-D tensors have a
layout: a head's ``(N, classes)`` output is the same in every one."""


def io_layout(model: nn.Module) -> str:
    """The layout ``model`` is converted with: its :data:`~mnas.latency._key_model.IO_ATTR`
    (a latency key model: the unit's layout inside a converted network), else ``nchw``
    (a whole network, as exported)."""
    return _check_layout(getattr(model, IO_ATTR, "nchw"))


def _ends(layout: str) -> tuple[str, str]:
    first, _, last = layout.partition("-")
    return first, last or first


def io_example(example: torch.Tensor, layout: str) -> torch.Tensor:
    """``example`` (NCHW, as mnas makes them) in the input layout of ``layout``."""
    if _ends(layout)[0] == "nhwc" and example.ndim == 4:
        return example.permute(0, 2, 3, 1).contiguous()
    return example


def _check_layout(layout: object) -> str:
    if layout not in LAYOUTS:
        raise MnasInputError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    return str(layout)


def _with_layout(model: nn.Module, example: torch.Tensor, layout: str
                 ) -> tuple[nn.Module, torch.Tensor]:
    """The module and example to convert. An NHWC end wraps ``model`` in a transpose
    (``litert_torch.to_channel_last_io``) that cancels against the converter's own, so the
    file has none there."""
    into, out = _ends(layout)
    if layout == "nchw" or example.ndim != 4:
        return model, example
    if into == "nhwc" and isinstance(model, HeadModule):
        return _ChannelsLastHead(model), io_example(example, layout)
    import litert_torch  # type: ignore[import-not-found, unused-ignore]

    with torch.no_grad():
        rank = model(example).ndim
    wrapped = litert_torch.to_channel_last_io(
        model, args=[0] if into == "nhwc" else [],
        outputs=[0] if out == "nhwc" and rank == 4 else [])
    return wrapped, io_example(example, layout)


class _ChannelsLastHead(nn.Module):
    """A :class:`~mnas.latency._key_model.HeadModule` on NHWC input, pooled as a converted
    network pools it (``MEAN`` over H and W).

    Wrapped in ``to_channel_last_io`` instead, a head that pools first keeps a
    ``TRANSPOSE`` of its whole input before the ``MEAN`` (litert-torch's layout pass moves
    a pool to NHWC only after an NHWC op such as a conv), which the network does not run:
    12 us of a 0.06 ms head at 7x7x512 here. Same result as the head (tested).
    """

    def __init__(self, head: HeadModule) -> None:
        super().__init__()
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head = self.head
        if head.pool_first or isinstance(head.head_conv, nn.Identity):
            y = head.head_conv(x.mean(dim=(1, 2), keepdim=True).permute(0, 3, 1, 2))
        else:
            y = head.pool(head.head_conv(x.permute(0, 3, 1, 2)))
        y = torch.flatten(y, 1)
        out: torch.Tensor = head.classifier(head.head_act(head.head_hidden(y)))
        return out


def convert_tflite_bytes(model: nn.Module, example: torch.Tensor, *,
                         layout: str | None = None) -> bytes:
    """Convert ``model`` (eval mode, for inputs shaped like ``example``) to ``.tflite`` bytes.

    Args:
        model: The model.
        example: An NCHW input (as mnas makes them).
        layout: Input and output layout of the file (one of :data:`LAYOUTS`); default
            :func:`io_layout` of ``model``.

    Raises:
        MnasInputError: litert-torch is not installed (names the extra to install), or
            an unknown layout.
        MnasError: The conversion failed.
    """
    if importlib.util.find_spec("litert_torch") is None:
        raise litert_missing("converting to .tflite")
    layout = _check_layout(io_layout(model) if layout is None else layout)
    was_training = model.training
    model.eval()
    try:
        with _quiet() as log, warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
            warnings.simplefilter("ignore")
            import litert_torch  # type: ignore[import-not-found, unused-ignore]

            litert_torch.progress.console.quiet = True  # its own progress lines on stdout
            try:
                source, inputs = _with_layout(model, example, layout)
                edge = litert_torch.convert(source, (inputs,))
                path = Path(tmp) / "model.tflite"
                edge.export(str(path))
                return path.read_bytes()
            except Exception as err:  # noqa: BLE001 - the converter raises many kinds
                first = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
                raise MnasError(f"litert-torch could not convert the model ({first}; "
                                f"converter log ends: {log.tail()})") from None
    finally:
        model.train(was_training)


class _Log:
    """The converter's output captured by :func:`_quiet`."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def tail(self, lines: int = 2) -> str:
        self._handle.flush()
        self._handle.seek(0)
        text = self._handle.read().decode("utf-8", "replace")
        return " | ".join(ln.strip() for ln in text.strip().splitlines()[-lines:]) or "nothing"


@contextlib.contextmanager
def _quiet() -> Iterator[_Log]:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to a temporary file.

    The converter's C++ layers log to the descriptors directly (``I0000 ... W0000``),
    which would otherwise interleave with progress bars and ``--json`` output.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as handle:
        try:
            os.dup2(handle.fileno(), 1)
            os.dup2(handle.fileno(), 2)
            yield _Log(handle)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def model_digest(model: nn.Module, example: torch.Tensor, *, version: str | None = None,
                 layout: str | None = None) -> str:
    """Digest of what a conversion depends on: converter version, module tree, tensors,
    input, and the file's layout (default :func:`io_layout` of ``model``).

    Two models with the same digest convert to the same file. The module tree is the
    classes of every submodule and ``repr(model)`` (layer sizes, kernels, activations).
    Any other layout than ``nchw`` is in the digest; an ``nchw`` file's digest is what it
    was before files had a layout (they were all NCHW), so those files stay valid.
    """
    layout = _check_layout(io_layout(model) if layout is None else layout)
    digest = hashlib.sha256()
    digest.update((version or converter_version()).encode())
    digest.update(repr(model).encode())
    for name, module in model.named_modules():
        cls = type(module)
        digest.update(f"{name}:{cls.__module__}.{cls.__qualname__};".encode())
    for name, tensor in model.state_dict().items():
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(value.shape)}:{value.dtype};".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    digest.update(f"input {tuple(example.shape)} {example.dtype}".encode())
    if layout != "nchw":
        digest.update(f"layout {layout}".encode())
    return digest.hexdigest()[:32]


def default_cache_dir() -> Path:
    """``$MNAS_CACHE_DIR``, else ``$XDG_CACHE_HOME/mnas``, else ``~/.cache/mnas``."""
    if os.environ.get("MNAS_CACHE_DIR"):
        return Path(os.environ["MNAS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mnas"


def default_workers() -> int:
    """Conversion worker processes: the CPUs this process may use, at most 2.

    A conversion is single-threaded Python for the most part and a worker holds about
    1 GB; two keep the CPUs of a small machine busy without starving the timing.
    """
    return max(1, min(2, len(os.sched_getaffinity(0))))


def _convert_to_file(model: nn.Module, example: torch.Tensor, path: str) -> int:
    """Worker: convert and write ``path`` atomically; returns the file size."""
    torch.set_num_threads(1)
    data = convert_tflite_bytes(model, example)
    atomic_write_bytes(path, data)
    return len(data)


class TfliteCache:
    """Converted models on disk, by :func:`model_digest` and converter version.

    Args:
        root: Cache folder (default :func:`default_cache_dir`); files go in
            ``root/tflite/<converter version>/<digest>.tflite``.
        workers: Worker processes of :meth:`convert_many` (default :func:`default_workers`;
            1 converts in this process).

    Raises:
        MnasInputError: litert-torch is not installed, or ``workers`` is not an int >= 1.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 workers: int | None = None) -> None:
        if importlib.util.find_spec("litert_torch") is None:
            raise litert_missing("converting to .tflite")
        workers = default_workers() if workers is None else workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise MnasInputError(f"conversion workers must be an int >= 1, got {workers!r}")
        self.workers = workers
        self.version = converter_version()
        slug = re.sub(r"[^a-z0-9.]+", "-", self.version.lower()).strip("-")
        self.folder = Path(root or default_cache_dir()) / "tflite" / slug
        self.converted = 0  # conversions this cache ran (not served from disk)

    def path(self, model: nn.Module, example: torch.Tensor) -> Path:
        """Where the converted ``model`` is (or will be) stored."""
        return self.folder / f"{model_digest(model, example, version=self.version)}.tflite"

    def get(self, model: nn.Module, example: torch.Tensor) -> bytes:
        """The ``.tflite`` bytes of ``model``: from disk, or converted now and stored."""
        path = self.path(model, example)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        data = convert_tflite_bytes(model, example)
        atomic_write_bytes(path, data)
        self.converted += 1
        return data

    def missing(self, items: Sequence[tuple[nn.Module, torch.Tensor]]
                ) -> list[tuple[nn.Module, torch.Tensor, Path]]:
        """The items not converted yet, each with its cache path (duplicates once)."""
        todo: dict[Path, tuple[nn.Module, torch.Tensor, Path]] = {}
        for model, example in items:
            path = self.path(model, example)
            if not path.exists():
                todo.setdefault(path, (model, example, path))
        return list(todo.values())

    def convert_many(self, items: Sequence[tuple[nn.Module, torch.Tensor]], *,
                     on_progress: Callable[[int, int], None] | None = None) -> int:
        """Convert every item not in the cache yet, ``workers`` at a time.

        Args:
            items: ``(model, example)`` pairs.
            on_progress: Called with ``(done, total)`` after each conversion (and once
                with ``(0, total)`` before the first).

        Returns:
            How many were converted.

        Raises:
            MnasError: A conversion failed (the others finished are kept).
        """
        todo = self.missing(items)
        if on_progress is not None:
            on_progress(0, len(todo))
        if not todo:
            return 0
        if self.workers == 1 or len(todo) == 1:
            for done, (model, example, path) in enumerate(todo, 1):
                atomic_write_bytes(path, convert_tflite_bytes(model, example))
                self.converted += 1
                if on_progress is not None:
                    on_progress(done, len(todo))
            return len(todo)
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # no forked copies of torch's threads
        done = 0
        with ProcessPoolExecutor(max_workers=min(self.workers, len(todo)),
                                 mp_context=context) as pool:
            queue = list(reversed(todo))
            running: set[Future[int]] = set()
            try:
                while queue or running:
                    while queue and len(running) < 2 * self.workers:  # bound pickled models
                        model, example, path = queue.pop()
                        running.add(pool.submit(_convert_to_file, model, example, str(path)))
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()  # re-raises the worker's MnasError
                        done += 1
                        self.converted += 1
                        if on_progress is not None:
                            on_progress(done, len(todo))
            except BaseException:
                for future in running:
                    future.cancel()
                raise
        return done
