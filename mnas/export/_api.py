"""``export(arch, format=..., path=...)``: write one format, check it, then put it in place.

Every export goes the same way: refuse an existing destination unless ``force``;
build the reference model (the given weights, or a seeded initialisation) in eval
mode; write every file into a private temporary folder beside the destination; load
what was written in a fresh Python process and compare its outputs with the
reference on a seeded random batch (max abs diff <= 1e-4); time ONNX, ExecuTorch
and LiteRT files on the host; only then rename the files into place (atomic per file).
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnas._limits import check_regular_file
from mnas.arch import Arch
from mnas.errors import MnasError, MnasInputError
from mnas.export._artifacts import (
    DEFAULT_OPSET,
    check_opset,
    executorch_available,
    write_executorch,
    write_onnx,
    write_state_dict,
    write_tflite,
    write_torchscript,
)
from mnas.export._predicted import predicted_host_latency
from mnas.export._verify import load_generated_module, run_here, run_in_fresh_process

__all__ = [
    "BATCH_SIZE",
    "FORMATS",
    "SEED",
    "TOLERANCE",
    "ExportResult",
    "HostLatency",
    "check_batch",
    "check_tolerance",
    "export",
    "load_weights",
    "reference_model",
]

FORMATS: tuple[str, ...] = (
    "pytorch", "torchvision", "timm", "state_dict", "torchscript", "onnx", "executorch",
    "tflite")
"""Export formats, in the order ``mnas export --help`` lists them."""

SUFFIXES: dict[str, tuple[str, ...]] = {
    "pytorch": (".py",),
    "torchvision": (".py",),
    "timm": (".py",),
    "state_dict": (".safetensors",),
    "torchscript": (".pt", ".pth", ".ts"),
    "onnx": (".onnx",),
    "executorch": (".pte",),
    "tflite": (".tflite",),
}
_SOURCE_FORMATS = ("pytorch", "torchvision", "timm")
_TIMED_FORMATS = ("onnx", "executorch", "tflite")

TOLERANCE = 1e-4
"""Largest max-abs-difference between the exported file and mnas's model that passes, for
outputs up to 1 in magnitude; larger outputs scale it (see :func:`check_tolerance`)."""


def check_tolerance(output_scale: float) -> float:
    """The bound for outputs up to ``output_scale`` in magnitude: ``TOLERANCE * max(1,
    scale)``. float32 rounding grows with the values: trained weights (or a supernet's
    subnet with recalibrated BatchNorm) give logits in the tens or hundreds, where 1e-4
    absolute would ask for less than float32's own precision."""
    return TOLERANCE * max(1.0, output_scale)


SEED = 0
"""Seed of the initialisation used without weights, and of the check batch."""
BATCH_SIZE = 2
"""Images in the check batch."""
CALIBRATION_BATCH = 4
"""Images in the seeded batch that sets BatchNorm statistics when no weights are given."""

_TIMING = {"warmup": 5, "repeats": 30, "budget_s": 3.0}


@dataclass(frozen=True, kw_only=True)
class HostLatency:
    """The exported file timed on this host, next to the predicted latency.

    Attributes:
        measured_ms: Median single-image latency (wall clock).
        fastest_ms: The fastest of those runs (what a table with the ``min`` statistic,
            such as this host's, predicts).
        runtime: What ran it, e.g. ``onnxruntime 1.32.0, 1 thread``.
        repeats: Timed runs behind the median.
        predicted_ms: The host table's prediction, or None.
        predicted: The prediction in words, or why there is none.
    """

    measured_ms: float
    runtime: str
    repeats: int
    predicted_ms: float | None
    predicted: str
    fastest_ms: float | None = None

    def describe(self) -> str:
        """``4.21 ms median (3.90 ms fastest) of 30 runs measured on host (onnxruntime
        1.32.0, 1 thread); predicted: ...``."""
        fastest = "" if self.fastest_ms is None else f" ({self.fastest_ms:.2f} ms fastest)"
        return (f"{self.measured_ms:.2f} ms median{fastest} of {self.repeats} runs measured on "
                f"host ({self.runtime}); predicted: {self.predicted}")


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    """What :func:`export` wrote and how it checked it.

    Attributes:
        format: The format.
        path: The main file.
        files: Every file written (the main file first; weights beside it, if any).
        arch_name: The architecture's name.
        max_abs_diff: Largest difference between the exported file's outputs, loaded in
            a fresh process, and mnas's model on the check batch.
        tolerance: The bound ``max_abs_diff`` passed.
        check_input: Shape of the seeded check batch.
        output_scale: Largest absolute output of mnas's model on that batch (what the
            difference is relative to).
        opset: The ONNX opset written (ONNX only).
        host_latency: Host timing (ONNX, ExecuTorch and LiteRT only).
        extra: Format-specific facts (e.g. the torchvision or timm class).
        checked_in: ``a fresh process`` (:func:`export`'s default) or ``this process``.
    """

    format: str
    path: Path
    files: tuple[Path, ...]
    arch_name: str
    max_abs_diff: float
    tolerance: float
    check_input: tuple[int, ...]
    output_scale: float
    opset: int | None = None
    host_latency: HostLatency | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    checked_in: str = "a fresh process"

    def summary_lines(self) -> list[str]:
        """The human-readable report ``mnas export`` prints."""
        what = self.format + (f", opset {self.opset}" if self.opset is not None else "")
        if "class" in self.extra:
            what += f", {self.extra['class']}"
        if "layout" in self.extra:
            what += f", {self.extra['layout']}"
        lines = [f"wrote {self.path} ({what})"]
        lines += [f"wrote {p} (state_dict for it)" for p in self.files[1:]]
        shape = "x".join(str(d) for d in self.check_input)
        lines.append(f"checked in {self.checked_in}: max abs diff {self.max_abs_diff:.3g} <= "
                     f"{self.tolerance:g} on a seeded {shape} batch (outputs up to "
                     f"{self.output_scale:.3g})")
        if self.host_latency is not None:
            lines.append("latency: " + self.host_latency.describe())
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``mnas export --json``)."""
        latency = None
        if self.host_latency is not None:
            h = self.host_latency
            latency = {"measured_ms": h.measured_ms, "fastest_ms": h.fastest_ms,
                       "runtime": h.runtime, "repeats": h.repeats,
                       "predicted_ms": h.predicted_ms, "predicted": h.predicted}
        return {
            "format": self.format,
            "path": str(self.path),
            "files": [str(p) for p in self.files],
            "arch": self.arch_name,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "check_input": list(self.check_input),
            "output_scale": self.output_scale,
            "opset": self.opset,
            "host_latency": latency,
            **dict(self.extra),
        }


# ----------------------------------------------------------------- weights
def load_weights(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A state_dict from a ``.safetensors`` file or a tensors-only ``torch.save`` file.

    ``torch.load`` runs with ``weights_only=True``: no pickled code is executed.

    Raises:
        MnasInputError: Missing or unreadable file, or not a flat name -> tensor mapping.
    """
    path = Path(path)
    try:
        check_regular_file(path, what="weights file",
                           missing_hint="pass a state_dict saved from a model built from this "
                                        "arch (.safetensors or .pt)")
    except MnasInputError as err:
        raise MnasInputError(f"--weights {err}") from None
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's unpickler warns before refusing
                state = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise MnasInputError(f"--weights {path}: it holds pickled Python objects, not only "
                             "tensors, and was refused (mnas never unpickles code); save it with "
                             "safetensors or torch.save(model.state_dict())") from None
    except Exception as err:  # noqa: BLE001 - any reader failure means a bad input file
        raise MnasInputError(f"--weights {path}: cannot read it as a state_dict "
                             f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
                             "save it with safetensors or torch.save(model.state_dict())") from None
    if not isinstance(state, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise MnasInputError(f"--weights {path}: must hold a flat mapping of names to tensors "
                             "(model.state_dict()), got something else")
    for key, tensor in state.items():
        if key.endswith("num_batches_tracked"):
            continue  # BatchNorm's step counter is an integer by design
        if not tensor.is_floating_point():
            raise MnasInputError(
                f"--weights {path}: tensor {key!r} is {str(tensor.dtype).removeprefix('torch.')}"
                ", not floating point (a cast would change the network); save the model's "
                "float weights")
        if not bool(torch.isfinite(tensor).all()):
            raise MnasInputError(
                f"--weights {path}: tensor {key!r} holds NaN or infinite values; pass weights "
                "from a run that did not diverge")
    return dict(state)


def _calibrate_batchnorm(model: nn.Module, arch: Arch, resolution: int | None = None) -> None:
    """Set every BatchNorm's running statistics from one seeded random batch.

    With torchvision's initialisation and unit running statistics, an eval-mode
    MobileNet's activations shrink block after block (the depthwise convs' fan-out
    init), to logits near 1e-9: a comparison of such outputs proves nothing. One
    training-mode pass with cumulative averaging gives every layer unit-scale inputs.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None
    generator = torch.Generator().manual_seed(SEED + 1)
    size = resolution or arch.resolution
    batch = torch.randn(CALIBRATION_BATCH, 3, size, size, generator=generator)
    model.train()
    with torch.no_grad():
        model(batch)
    for bn, momentum in zip(norms, momenta, strict=True):
        bn.momentum = momentum


def reference_model(arch: Arch, weights: Mapping[str, torch.Tensor] | None = None, *,
                    resolution: int | None = None) -> nn.Module:
    """mnas's model of ``arch`` in eval mode with ``weights`` loaded.

    Without weights: initialised with seed 0, BatchNorm statistics set from a seeded
    random batch of ``resolution`` px (default: the arch's; see ``_calibrate_batchnorm``),
    so that the check compares outputs of unit scale.

    Raises:
        MnasInputError: ``weights`` do not fit ``arch``; names the first differing keys.
    """
    from mnas.models import build

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = build(arch)
    if weights is not None:
        expected = model.state_dict()
        missing = [k for k in expected if k not in weights]
        unexpected = [k for k in weights if k not in expected]
        wrong = [k for k in expected if k in weights and weights[k].shape != expected[k].shape]
        if missing or unexpected or wrong:
            parts = []
            for label, keys in (("missing", missing), ("unexpected", unexpected),
                                ("wrong shape", wrong)):
                if keys:
                    parts.append(f"{label} {', '.join(keys[:3])}"
                                 + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else ""))
            raise MnasInputError(
                f"the weights do not fit arch {arch.name!r}: {'; '.join(parts)}; pass the "
                "state_dict of a model built from this arch")
        model.load_state_dict(dict(weights))
    else:
        with torch.random.fork_rng(devices=[]):
            _calibrate_batchnorm(model, arch, resolution)
    return model.eval()


def check_batch(arch: Arch, resolution: int | None = None) -> torch.Tensor:
    """The seeded random batch every export is checked on (``resolution`` px; default the
    arch's)."""
    generator = torch.Generator().manual_seed(SEED)
    size = resolution or arch.resolution
    return torch.randn(BATCH_SIZE, 3, size, size, generator=generator)


# ----------------------------------------------------------------- export
def _check_request(arch: Any, fmt: Any, path: Path, opset: Any) -> None:
    if not isinstance(arch, Arch):
        raise TypeError(f"arch must be an mnas.arch.Arch, got {type(arch).__name__}")
    if fmt not in FORMATS:
        raise MnasInputError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if path.suffix not in SUFFIXES[fmt]:
        raise MnasInputError(
            f"output path {str(path)!r} must end in {' or '.join(SUFFIXES[fmt])} for format "
            f"{fmt}; change the -o path")
    if opset is not None and fmt != "onnx":
        raise MnasInputError(f"opset applies to format onnx only, got opset={opset!r} with "
                             f"format {fmt}; drop --opset")
    if opset is not None:
        check_opset(opset)
    if fmt == "executorch" and not executorch_available():
        raise MnasInputError("format executorch needs the executorch package, which is not "
                             "installed; install it with: pip install 'mnas[executorch]'")
    if fmt == "tflite":
        from mnas.latency.runners._litert_convert import litert_available, litert_missing

        if not litert_available():
            raise litert_missing("format tflite")
    if fmt == "timm":
        import importlib.util

        from mnas.export._timm import timm_plan

        if importlib.util.find_spec("timm") is None:
            raise MnasInputError("format timm needs the timm package, which is not installed; "
                                 "install it with: pip install 'mnas[timm]'")
        timm_plan(arch)  # an arch timm cannot express fails here, before any work
    if fmt == "torchvision":
        from mnas.models.torchvision_compat import torchvision_config

        torchvision_config(arch)  # names the first block that does not fit


def _destinations(fmt: str, path: Path, with_weights: bool) -> list[Path]:
    files = [path]
    if fmt in _SOURCE_FORMATS and with_weights:
        files.append(path.with_suffix(".pt"))
    return files


def _refuse_existing(files: list[Path], force: bool) -> None:
    for file in files:
        if file.is_dir():
            raise MnasInputError(f"{file} is a folder; give a file path with -o")
        if file.exists() and not force:
            raise MnasInputError(f"{file} already exists; pass --force (force=True) to "
                                 "overwrite it, or choose another path")


def _write_source_format(fmt: str, arch: Arch, model: nn.Module, main: Path,
                         weights_out: Path) -> dict[str, Any]:
    """Write the .py file and the state_dict in its key names; returns format facts."""
    from mnas.export._pytorch import pytorch_source
    from mnas.export._timm import timm_plan, timm_source
    from mnas.export._torchvision import torchvision_source

    extra: dict[str, Any] = {}
    if fmt == "pytorch":
        main.write_text(pytorch_source(arch), encoding="utf-8")
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    elif fmt == "torchvision":
        from mnas.models.torchvision_compat import convert_state_dict, torchvision_config

        main.write_text(torchvision_source(arch), encoding="utf-8")
        target = load_generated_module(main).build()
        state = dict(convert_state_dict(model.state_dict(), target))
        extra["class"] = f"torchvision.models.{torchvision_config(arch).cls}"
    else:
        from mnas.export._statedict import map_state_dict

        main.write_text(timm_source(arch), encoding="utf-8")
        target = load_generated_module(main).build()
        state = map_state_dict(model.state_dict(), target)
        plan = timm_plan(arch)
        extra["class"] = f"timm {plan.model_class}"
        extra["arch_def"] = [list(stage) for stage in plan.arch_def]
        extra["num_params"] = sum(p.numel() for p in target.parameters())
    torch.save({k: v.contiguous() for k, v in state.items()}, str(weights_out))
    return extra


def export(arch: Arch, *, format: str, path: str | os.PathLike[str],
           weights: str | os.PathLike[str] | Mapping[str, torch.Tensor] | None = None,
           force: bool = False, opset: int | None = None,
           fresh_process: bool = True, check_resolution: int | None = None) -> ExportResult:
    """Write ``arch`` in ``format`` to ``path``, checked in a fresh process.

    Args:
        arch: The architecture.
        format: One of :data:`FORMATS`: ``pytorch`` (standalone ``.py``, torch only),
            ``torchvision`` (``.py`` building torchvision's MobileNetV3/V2), ``timm``
            (``.py`` with timm's arch_def and class kwargs), ``state_dict``
            (``.safetensors``), ``torchscript`` (``.pt``), ``onnx``, ``executorch`` (``.pte``),
            ``tflite`` (LiteRT, by litert-torch).
        path: Destination file; its suffix must suit the format.
        weights: A state_dict of mnas's model of ``arch`` (a mapping, or a ``.safetensors``
            / ``.pt`` file). Without it the model is initialised with seed 0. For the
            ``.py`` formats the weights are written beside the file as ``<name>.pt`` in
            that file's key names.
        force: Overwrite existing files.
        opset: ONNX opset (default :data:`~mnas.export._artifacts.DEFAULT_OPSET`).
        fresh_process: Check the written file in a new Python process (default), or, for
            the formats that run in torch (``.py`` formats, ``state_dict``, ``torchscript``),
            in this one: the same load and comparison without a second interpreter's start
            and torch import (seconds; ``mnas search`` checks ``best/model.py`` so).
        check_resolution: Input size of the check (default: the arch's resolution). The
            networks are convolutional up to a global pool, so a smaller input (>= 32 px)
            runs every weight and operation of the file at a fraction of the cost
            (``mnas search`` checks ``best/model.py`` at 64 px).

    Returns:
        What was written, the measured max abs diff and, for ONNX, ExecuTorch and LiteRT,
        the host latency.

    Raises:
        MnasInputError: Bad format, path, weights or opset; an existing destination
            without ``force`` (nothing is touched); an arch the format cannot express
            (naming the first block that does not fit); a missing optional package.
        MnasError: The written file failed its check; nothing is put in place.
    """
    if fresh_process:
        return _export(arch, format, Path(path), weights, force, opset, True, check_resolution)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the fresh process does; a pool on busy cores is 10x slower
    try:
        return _export(arch, format, Path(path), weights, force, opset, False, check_resolution)
    finally:
        torch.set_num_threads(threads)


def _export(arch: Arch, format: str, path: Path,
            weights: str | os.PathLike[str] | Mapping[str, torch.Tensor] | None, force: bool,
            opset: int | None, fresh_process: bool, check_resolution: int | None
            ) -> ExportResult:
    """:func:`export` with its arguments checked in the order it documents."""
    _check_request(arch, format, path, opset)
    if check_resolution is not None and (isinstance(check_resolution, bool)
                                         or not isinstance(check_resolution, int)
                                         or check_resolution < 32):
        raise ValueError(f"check_resolution must be an int >= 32, got {check_resolution!r}")
    if not fresh_process and format not in (*_SOURCE_FORMATS, "state_dict", "torchscript"):
        raise ValueError(f"format {format} is checked in its own runtime's process; "
                         "fresh_process=False applies to the formats torch runs")
    files = _destinations(format, path, weights is not None)
    _refuse_existing(files, force)
    state = load_weights(weights) if isinstance(weights, str | os.PathLike) else weights
    model = reference_model(arch, state, resolution=check_resolution)
    path.parent.mkdir(parents=True, exist_ok=True)
    # absolute: the fresh-process check runs in another working directory
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".export",
                                    dir=path.parent.resolve()))
    try:
        main = staging / path.name
        request: dict[str, Any] = {"format": format, "path": str(main)}
        extra: dict[str, Any] = {}
        written_opset = None
        if format in _SOURCE_FORMATS:
            weights_out = staging / (files[1].name if len(files) > 1 else "check_weights.pt")
            extra = _write_source_format(format, arch, model, main, weights_out)
            request["weights"] = str(weights_out)
        elif format == "state_dict":
            write_state_dict(model, main, arch)
            arch_file = staging / "arch.json"
            arch_file.write_text(arch.to_json(), encoding="utf-8")
            request["arch"] = str(arch_file)
        elif format == "torchscript":
            write_torchscript(model, main)
        elif format == "onnx":
            written_opset = write_onnx(model, main, arch,
                                       DEFAULT_OPSET if opset is None else opset)
        elif format == "tflite":
            write_tflite(model, main, arch)
            extra = {"layout": "NCHW input and output (as in PyTorch), fp32, batch 1"}
        else:
            write_executorch(model, main, arch)
        if format in _TIMED_FORMATS:
            request["timing"] = _TIMING
        batch = check_batch(arch, check_resolution)
        with torch.no_grad():
            expected = model(batch)
        if fresh_process:
            check_dir = Path(tempfile.mkdtemp(prefix="check.", dir=staging))
            fresh = run_in_fresh_process(request, batch, check_dir)
        else:
            fresh = run_here(request, batch)
        if tuple(fresh.output.shape) != tuple(expected.shape):
            raise MnasError(f"the exported {format} file gives outputs of shape "
                            f"{tuple(fresh.output.shape)}, mnas's model {tuple(expected.shape)}; "
                            "it was not written")
        diff = float((fresh.output.double() - expected.double()).abs().max())
        tolerance = check_tolerance(float(expected.abs().max()))
        if not diff <= tolerance:
            raise MnasError(f"the exported {format} file differs from mnas's model by "
                            f"{diff:.3g} (max abs, tolerance {tolerance:.3g}); it was not "
                            "written")
        latency = None
        if fresh.median_ms is not None:
            predicted_ms, predicted = predicted_host_latency(
                arch, "litert" if format == "tflite" else "onnxruntime")
            latency = HostLatency(measured_ms=fresh.median_ms, fastest_ms=fresh.min_ms,
                                  runtime=str(fresh.runtime),
                                  repeats=fresh.repeats, predicted_ms=predicted_ms,
                                  predicted=predicted)
        for final in files:
            staged = staging / final.name
            with open(staged, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(staged, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(format=format, path=path, files=tuple(files), arch_name=arch.name,
                        max_abs_diff=diff, tolerance=tolerance, check_input=tuple(batch.shape),
                        output_scale=float(expected.abs().max()),
                        opset=written_opset, host_latency=latency, extra=extra,
                        checked_in="a fresh process" if fresh_process else "this process")
