"""A stand-in for ``adb`` that replays recorded phone output (tests only).

Installed by the ``phone`` fixture of ``test_android.py`` as an executable named ``adb`` first
on PATH. Its state lives in the JSON file named by ``$FAKE_ADB_STATE`` (read and rewritten
by every invocation, like a real phone's filesystem would persist):

* ``devices``: ``{serial: state}`` as ``adb devices`` lists them;
* ``props``: ``getprop`` values; ``governor``: what ``scaling_governor`` files hold;
* ``mode``: ``executorch_total`` | ``executorch_iter`` | ``tflite`` (which recorded output
  a runner binary replays) and ``binary_output``: a template that overrides it (errors);
* ``first_ms`` / ``per_run_ms``: the simulated cold first run and every later run;
* ``drop_after_runs``: after that many binary runs the phone disappears in the middle of the
  next one (partial output, exit 255) and stays missing for ``down_polls`` ``adb devices``
  calls (-1: for good);
* ``fs``: files on the phone (path -> sha256); ``log``: every argv received.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import string
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "android"


def _template(name: str) -> string.Template:
    return string.Template((DATA / name).read_text(encoding="utf-8"))


def _flag(args: list[str], name: str, default: str = "") -> str:
    for arg in args:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return default


def _binary(state: dict, argv: list[str]) -> tuple[str, str, int]:
    """Replay the runner binary; returns (stdout, stderr, exit status)."""
    binary, args = argv[0], argv[1:]
    if binary not in state["fs"]:
        return f"/system/bin/sh: {binary}: not found\n", "", 127
    state["runs"] = state.get("runs", 0) + 1
    first, per = float(state["first_ms"]), float(state["per_run_ms"])
    drop = state.get("drop_after_runs")
    if drop is not None and state["runs"] > drop:
        state["dropped"] = True
        state["drop_after_runs"] = None
        partial = _template("executor_runner_total.log").template.splitlines()[:2]
        return "\n".join(partial).replace("$model", "?") + "\n", "", 255
    if "benchmark_model" in binary or state["mode"] == "tflite":
        graph = _flag(args, "graph")
        name = state.get("binary_output") or "benchmark_model.log"
        if graph not in state["fs"]:
            name = "benchmark_model_error.log"
        warmup = int(_flag(args, "warmup_runs", "1"))
        runs = int(_flag(args, "num_runs", "50"))
        text = _template(name).safe_substitute(
            graph=graph, threads=_flag(args, "num_threads", "1"), warmup=warmup,
            num_runs=runs, first_us=f"{first * 1000:.0f}", avg_us=f"{per * 1000:.1f}",
            warm_avg_us=f"{(first + per * max(warmup - 1, 0)) / max(warmup, 1) * 1000:.1f}",
            warm_std_us="12", std_us="9")
        return text, "", 1 if "ERROR" in text else 0
    model = _flag(args, "model_path")
    n = int(_flag(args, "num_executions", "1"))
    if state.get("binary_output") or model not in state["fs"]:
        name = state.get("binary_output") or "executor_runner_load_error.log"
        return _template(name).safe_substitute(model=model), "", 134
    times = [first] + [per] * (n - 1)
    total = sum(times)
    if state["mode"] == "executorch_iter":
        lines = [f"I 00:00:00.{4300 + i * 9:06d} executorch:executor_runner.cpp:633] Iteration "
                 f"{i + 1} of {n}: {t:.6f} ms" for i, t in enumerate(times)]
        text = _template("executor_runner_iterations.log").safe_substitute(
            model=model, n=n, total=f"{total:.6f}", clock="098812",
            iterations="\n".join(lines))
    else:
        text = _template("executor_runner_total.log").safe_substitute(
            model=model, n=n, total=f"{total:.6f}", clock="095812")
    return text, "", 0


def _shell(state: dict, command: str) -> tuple[str, str, int]:
    if "&&" in command:  # a && b: run b only when a succeeded
        out, err, code = "", "", 0
        for part in command.split("&&"):
            o, e, code = _shell(state, part.strip())
            out, err = out + o, err + e
            if code:
                break
        return out, err, code
    words = command.split()
    if not words:
        return "", "", 0
    if words[0] == "taskset":
        state.setdefault("tasksets", []).append(words[1])
        words = words[2:]
    head = words[0]
    if head == "mkdir":
        return "", "", 0
    if head == "chmod":
        return "", "", 0
    if head == "getprop":
        if len(words) == 1:  # all properties, as `adb shell getprop` lists them
            return "".join(f"[{k}]: [{v}]\n" for k, v in sorted(state["props"].items())), "", 0
        return state["props"].get(words[1], "") + "\n", "", 0
    if head == "sha256sum":
        path = words[1]
        if path in state["fs"]:
            return f"{state['fs'][path]}  {path}\n", "", 0
        return "", "", 1
    if head == "cat":
        out = []
        for path in words[1:]:
            if re.fullmatch(r"/sys/devices/system/cpu/cpu\d+/cpufreq/scaling_governor", path):
                out.append(state.get("governor", "schedutil"))
        return "\n".join(out) + "\n", "", 0
    if head == "rm":
        for path in words[1:]:
            state["fs"].pop(path, None)
        return "", "", 0
    return _binary(state, words)


def main(argv: list[str]) -> int:
    path = Path(os.environ["FAKE_ADB_STATE"])
    state = json.loads(path.read_text(encoding="utf-8"))
    state.setdefault("log", []).append(argv)
    out, err, code = "", "", 0
    try:
        if argv[:1] == ["devices"]:
            lines = ["List of devices attached"]
            if state.get("dropped"):
                polls = state.get("down_polls", 0)
                if polls == 0:
                    state["dropped"] = False
                elif polls > 0:
                    state["down_polls"] = polls - 1
            for serial, dev_state in state["devices"].items():
                if not state.get("dropped"):
                    lines.append(f"{serial}\t{dev_state}")
            out = "\n".join(lines) + "\n\n"
        elif argv[:1] == ["-s"]:
            serial, rest = argv[1], argv[2:]
            if serial not in state["devices"] or state.get("dropped"):
                err, code = f"adb: device '{serial}' not found\n", 1
            elif state["devices"][serial] != "device":
                err, code = f"adb: device {state['devices'][serial]}\n", 1
            elif rest[:1] == ["push"]:
                local, remote = rest[1], rest[2]
                data = Path(local).read_bytes()
                state["fs"][remote] = hashlib.sha256(data).hexdigest()
                out = (f"{local}: 1 file pushed, 0 skipped. 21.4 MB/s ({len(data)} bytes in "
                       "0.001s)\n")
            elif rest[:1] == ["shell"]:
                out, err, code = _shell(state, " ".join(rest[1:]))
            else:
                err, code = f"adb: unknown command {rest[:1]}\n", 1
        else:
            err, code = f"adb: usage: fake adb got {argv}\n", 1
    finally:
        path.write_text(json.dumps(state), encoding="utf-8")
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
