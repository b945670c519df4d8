"""Load an exported file in a fresh process, run it, and time it.

The parent (:func:`run_in_fresh_process`) writes a request and an input batch to a
temporary folder and starts ``python -m mnas.export._verify REQUEST``; this module's
``main`` loads the exported file the way a user would (the generated ``.py`` by its
path, ``torch.jit.load``, onnxruntime, the ExecuTorch runtime, LiteRT's interpreter),
runs the batch and,
when asked, times single-image inference; then writes the outputs back.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FreshRun", "load_generated_module", "main", "run_here", "run_in_fresh_process"]

_TIMEOUT_S = 600


@dataclass(frozen=True, kw_only=True)
class FreshRun:
    """What the fresh process reported.

    Attributes:
        output: The exported model's output on the input batch.
        median_ms: Median single-image latency (wall clock), when timing was asked for.
        min_ms: The fastest of those runs.
        runtime: The runtime that was timed, in words (``onnxruntime 1.32.0, 1 thread``).
        repeats: How many timed runs the median is over.
    """

    output: Any
    median_ms: float | None = None
    min_ms: float | None = None
    runtime: str | None = None
    repeats: int = 0


def run_in_fresh_process(request: dict[str, Any], batch: Any, workdir: Path) -> FreshRun:
    """Run ``request`` in a new Python process and return what it measured.

    Args:
        request: ``format``, ``path`` and, as the format needs, ``weights``, ``arch``,
            ``timing`` (``{"warmup": int, "repeats": int, "budget_s": float}``).
        batch: The input tensor.
        workdir: A private temporary folder for the exchange files.

    Raises:
        MnasError: The process failed; the message carries the end of its stderr.
    """
    from safetensors.torch import load_file, save_file

    from mnas.errors import MnasError

    workdir = Path(workdir).resolve()  # the child runs in it: relative paths would break
    request = dict(request)
    request["input"] = str(workdir / "input.safetensors")
    request["output"] = str(workdir / "output.safetensors")
    request["report"] = str(workdir / "report.json")
    save_file({"input": batch.contiguous()}, request["input"])
    request_path = workdir / "request.json"
    request_path.write_text(json.dumps(request), encoding="utf-8")
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "mnas.export._verify", str(request_path)],
            cwd=workdir, env=env, capture_output=True, text=True, timeout=_TIMEOUT_S,
            check=False)
    except subprocess.TimeoutExpired:
        raise MnasError(f"checking the exported {request['format']} file in a fresh process "
                        f"took over {_TIMEOUT_S} s; it was not written") from None
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise MnasError(f"the exported {request['format']} file failed to load or run in a "
                        f"fresh process, so it was not written: {tail}")
    report = json.loads(Path(request["report"]).read_text(encoding="utf-8"))
    output = load_file(request["output"])["output"]
    return FreshRun(output=output, median_ms=report.get("median_ms"),
                    min_ms=report.get("min_ms"), runtime=report.get("runtime"), repeats=report.get("repeats", 0))


def run_here(request: dict[str, Any], batch: Any) -> FreshRun:
    """Run ``request`` (a format torch runs) in this process, as the child would."""
    return FreshRun(output=_run_torch(request, batch))


# ------------------------------------------------------------------ child side
def load_generated_module(path: str | os.PathLike[str]) -> Any:
    """Import a generated ``.py`` export as a module (in this process or the checker's)."""
    import importlib.util

    from mnas.errors import MnasError

    spec = importlib.util.spec_from_file_location("mnas_exported_model", str(path))
    if spec is None or spec.loader is None:
        raise MnasError(f"cannot import the generated file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _time(run_once: Callable[[], Any], timing: dict[str, Any]) -> dict[str, Any]:
    """``median_ms``, ``min_ms`` (wall clock) and ``repeats`` of ``run_once`` after warm-up."""
    for _ in range(int(timing["warmup"])):
        run_once()
    samples: list[float] = []
    deadline = time.perf_counter() + float(timing["budget_s"])
    while len(samples) < int(timing["repeats"]):
        start = time.perf_counter()
        run_once()
        samples.append((time.perf_counter() - start) * 1000.0)
        if len(samples) >= 5 and time.perf_counter() > deadline:
            break
    return {"median_ms": statistics.median(samples), "min_ms": min(samples),
            "repeats": len(samples)}


def _run_torch(request: dict[str, Any], x: Any) -> Any:
    import torch

    fmt = request["format"]
    if fmt in ("pytorch", "torchvision", "timm"):
        model = load_generated_module(request["path"]).build(request.get("weights"))
    elif fmt == "torchscript":
        model = torch.jit.load(request["path"], map_location="cpu")
    else:  # state_dict
        from safetensors.torch import load_file

        from mnas.arch import load_arch
        from mnas.models import build

        model = build(load_arch(request["arch"]))
        model.load_state_dict(load_file(request["path"]))
    model.eval()
    with torch.no_grad():
        return model(x)


def _run_onnx(request: dict[str, Any], x: Any, report: dict[str, Any]) -> Any:
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(request["path"], options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    out = torch.from_numpy(session.run(None, {name: x.numpy()})[0])
    if request.get("timing"):
        one = x[:1].numpy()
        report.update(**_time(lambda: session.run(None, {name: one}), request["timing"]),
                      runtime=f"onnxruntime {ort.__version__}, 1 thread")
    return out


def _run_executorch(request: dict[str, Any], x: Any, report: dict[str, Any]) -> Any:
    import importlib.metadata

    import torch
    from executorch.runtime import Runtime

    threads = "default threads"
    try:
        from executorch.extension.pybindings.portable_lib import (
            _threadpool_get_thread_count,
            _unsafe_reset_threadpool,
        )

        _unsafe_reset_threadpool(1)
        threads = f"{_threadpool_get_thread_count()} thread"
    except (ImportError, RuntimeError):
        pass
    method = Runtime.get().load_program(request["path"]).load_method("forward")
    outs = [method.execute([x[i:i + 1].contiguous()])[0] for i in range(x.shape[0])]
    if request.get("timing"):
        one = [x[:1].contiguous()]
        version = importlib.metadata.version("executorch")
        report.update(**_time(lambda: method.execute(one), request["timing"]),
                      runtime=f"executorch {version}, XNNPACK, {threads}")
    return torch.cat([torch.as_tensor(o) for o in outs])


def _run_tflite(request: dict[str, Any], x: Any, report: dict[str, Any]) -> Any:
    import torch
    from ai_edge_litert.interpreter import Interpreter

    from mnas.latency.runners._litert import litert_version

    interpreter = Interpreter(model_path=request["path"], num_threads=1)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]["index"]
    target = interpreter.get_output_details()[0]["index"]

    def run(image: Any) -> Any:
        interpreter.set_tensor(source, image)
        interpreter.invoke()
        return interpreter.get_tensor(target).copy()

    outs = [torch.from_numpy(run(x[i:i + 1].contiguous().numpy())) for i in range(x.shape[0])]
    if request.get("timing"):
        interpreter.set_tensor(source, x[:1].contiguous().numpy())
        report.update(**_time(interpreter.invoke, request["timing"]),
                      runtime=f"litert {litert_version()}, XNNPACK, 1 thread")
    return torch.cat(outs)


def main(argv: list[str] | None = None) -> int:
    """Child entry point: ``python -m mnas.export._verify REQUEST_JSON``."""
    args = sys.argv[1:] if argv is None else argv
    request = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    import torch
    from safetensors.torch import load_file, save_file

    torch.set_num_threads(1)
    x = load_file(request["input"])["input"]
    report: dict[str, Any] = {}
    fmt = request["format"]
    if fmt == "onnx":
        out = _run_onnx(request, x, report)
    elif fmt == "executorch":
        out = _run_executorch(request, x, report)
    elif fmt == "tflite":
        out = _run_tflite(request, x, report)
    else:
        out = _run_torch(request, x)
    save_file({"output": out.detach().float().contiguous()}, request["output"])
    Path(request["report"]).write_text(json.dumps(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
