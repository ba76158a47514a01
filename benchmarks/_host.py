"""Facts about this machine and process that every benchmark reports."""

from __future__ import annotations

import os
import platform
import resource
from pathlib import Path


def peak_rss_mib() -> float:
    """This process's own high-water mark of resident memory, in MiB.

    VmHWM, not getrusage's ru_maxrss: on Linux the latter keeps the parent's high-water mark
    across fork+exec, so a child started by a large parent would report the parent's memory.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_model() -> str:
    return next((line.split(":", 1)[1].strip()
                 for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")), platform.processor())


def memory_gib() -> float:
    kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    return kib / 1024 / 1024


def machine_line() -> str:
    """CPU model, cores, RAM, load average now, Python: one line for a benchmark's section."""
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{cpu_model()}, {os.cpu_count()} cores, {memory_gib():.0f} GiB RAM, "
            f"load average (1/5/15 min) {load}, Python {platform.python_version()}")
