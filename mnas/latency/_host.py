"""This machine as a latency target: its CPU identity and the name of its table.

``--target host`` looks for ``latency_tables/<host_table_name()>.json``, e.g.
``host-amd-epyc-f25m17-onnxruntime-1t.json``: one table per CPU model, runtime and thread
count, so the same table serves every machine with that CPU.

A virtual machine's model name is often what the hypervisor chose to show, not the chip:
this project's VMs all say ``AMD EPYC``, for a Zen 3 (family 25, model 1; 512 KiB L2 per
core) one session and a Zen 4 (family 25, model 17; 1 MiB L2, AVX-512) another, whose
timings differ. So on x86 the CPU identity adds ``/proc/cpuinfo``'s family and model
numbers, and a table measured on one generation is neither picked by ``--target host``
nor validated or resumed on another.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import socket
from collections.abc import Sequence
from pathlib import Path

__all__ = ["cpu_affinity_mask", "cpu_identity", "cpu_model", "host_table_name",
           "set_cpu_affinity"]


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """This CPU's identity: ``/proc/cpuinfo``'s ``model name`` (else ``platform.processor()``),
    followed on x86 by its family and model numbers, e.g. ``AMD EPYC (family 25, model 17)``."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return cpu_identity(text)


def cpu_identity(cpuinfo: str) -> str:
    """The CPU identity described by the text of ``/proc/cpuinfo`` (see :func:`cpu_model`)."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), " ".join(value.split()))
    model = next((fields[key] for key in ("model name", "Processor", "Hardware")
                  if fields.get(key)), "")
    model = model or platform.processor() or platform.machine() or "unknown-cpu"
    family, number = fields.get("cpu family", ""), fields.get("model", "")
    if family.isdigit() and number.isdigit():
        return f"{model} (family {family}, model {number})"
    return model


def _slug(text: str) -> str:
    generation = re.search(r"\(family (\d+), model (\d+)\)$", text)
    if generation:
        text = text[:generation.start()]
    text = re.sub(r"\((r|tm|c)\)", "", text.lower())
    text = re.sub(r"\b(cpu|processor|\d+-core)\b", " ", text)
    text = re.sub(r"@.*$", "", text)
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "cpu"
    return f"{slug}-f{generation[1]}m{generation[2]}" if generation else slug


def host_table_name(runtime: str = "onnxruntime", threads: int = 1) -> str:
    """File stem of this host's table, e.g. ``host-amd-epyc-f25m17-onnxruntime-1t``.

    Args:
        runtime: Runtime the table is measured with.
        threads: Threads it runs with.
    """
    return f"host-{_slug(cpu_model())}-{runtime}-{threads}t"


def host_device_name() -> str:
    """Host name and CPU, for a table header."""
    return f"{socket.gethostname()} ({cpu_model()}, {os.cpu_count()} logical CPUs)"


def set_cpu_affinity(cpus: Sequence[int]) -> str:
    """Pin this process to ``cpus`` (as ``taskset -c``) and return the hex mask.

    Raises:
        ValueError: If a CPU index is not available to this process.
    """
    available = os.sched_getaffinity(0)
    wanted = set(cpus)
    if not wanted or not wanted <= available:
        raise ValueError(f"--cpus must name CPUs this process may use "
                         f"({', '.join(map(str, sorted(available)))}), got "
                         f"{', '.join(map(str, sorted(wanted))) or 'none'}")
    os.sched_setaffinity(0, wanted)
    return cpu_affinity_mask()


def cpu_affinity_mask() -> str:
    """This process's CPU affinity as a hex mask (``0x3`` = CPUs 0 and 1)."""
    mask = 0
    for cpu in os.sched_getaffinity(0):
        mask |= 1 << cpu
    return hex(mask)
