"""What this machine can afford for speech: how many Piper workers, or none (issue 24).

Piper costs memory: a worker holds ~100 MB of interpreter, numpy and
onnxruntime, ~90 MB for the loaded model, and while it speaks a sentence
about 1 KB for every sample of its audio (the vocoder's tensors; given back
when the sentence is done), so ~450 MB at the peak of the built-ins' longest
sentence at 100 wpm (``benchmarks/pi_budget.py``). The player adds ~100 MB.
So:

* less than :data:`PIPER_NEEDS_MB` available (a Pi Zero 2 W's 512 MB): no
  Piper at all, espeak-ng speaks (one line says so, :mod:`.voices`);
* a small machine (total memory up to :data:`SMALL_MACHINE_MB`, a 1 GB Pi 3
  or a 2 GB Pi 4): one worker, so one model in memory, and one sentence's
  tensors at a time;
* larger: one worker per usable core, as many as the available memory holds
  at :data:`PIPER_WORKER_MB` each.

And CPU: a worker per core only where there are cores to give. The cores
are those this process may run on (``os.sched_getaffinity``), capped by the
cgroup's CPU quota (``cpu.max``, cgroup v2): under a budget of less than
two whole cores, one worker.

``VOICEGUIDE_MEMORY_MB`` (a test and override knob) makes the machine look
as if it had that many MB, all of them available.
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple, Optional

__all__ = ["MEMORY_ENV", "PIPER_NEEDS_MB", "PIPER_WORKER_MB", "SMALL_MACHINE_MB", "Memory", "cpu_budget",
           "memory", "piper_plan", "roomy", "usable_cores"]

MEMORY_ENV = "VOICEGUIDE_MEMORY_MB"

#: Available memory below which Piper is not used: one worker at its peak plus the player.
PIPER_NEEDS_MB = 600
#: What each further Piper worker may take at its peak (the longest sentences, slow rates).
PIPER_WORKER_MB = 450
#: Total memory up to which a machine is "small": one Piper worker whatever its cores
#: (2 GiB: a Pi 3 or a 2 GB Pi 4 would run short with two workers' peaks beside a desktop).
SMALL_MACHINE_MB = 2048


class Memory(NamedTuple):
    total_mb: float
    available_mb: float


def memory() -> Optional[Memory]:
    """Total and available memory in MB: ``VOICEGUIDE_MEMORY_MB`` if set, else /proc/meminfo; None if unknown."""
    forced = os.environ.get(MEMORY_ENV, "").strip()
    if forced:
        try:
            mb = float(forced)
        except ValueError:
            mb = -1.0
        if mb >= 0 and math.isfinite(mb):
            return Memory(mb, mb)
    found = {}
    try:
        with open("/proc/meminfo", "r") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name in ("MemTotal", "MemAvailable"):
                    found[name] = int(rest.split()[0]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    if "MemTotal" not in found or "MemAvailable" not in found:
        return None
    return Memory(found["MemTotal"], found["MemAvailable"])


def _quota(folder: str, v2: bool) -> Optional[float]:
    """One cgroup folder's CPU quota in cores, or None (no quota, or no file)."""
    try:
        if v2:
            with open(os.path.join(folder, "cpu.max"), "r") as f:
                quota, period = (f.read().split() + ["100000"])[:2]
        else:
            with open(os.path.join(folder, "cpu.cfs_quota_us"), "r") as f:
                quota = f.read().strip()
            with open(os.path.join(folder, "cpu.cfs_period_us"), "r") as f:
                period = f.read().strip()
        cores = int(quota) / int(period)   # "max" (v2) raises ValueError: no quota
    except (OSError, ValueError, ZeroDivisionError):
        return None
    return cores if cores > 0 else None    # -1 (v1): no quota


def cpu_budget(root: str = "/sys/fs/cgroup", cgroup_file: str = "/proc/self/cgroup") -> Optional[float]:
    """This process's CPU quota in cores (cgroup v2 ``cpu.max``, or v1 ``cpu.cfs_quota_us``), None if unlimited.

    The tightest quota on the way from its own cgroup up to the root counts.
    """
    try:
        with open(cgroup_file, "r") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    places = []
    for line in lines:
        _, controllers, rel = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":
            places.append((root, rel, True))                      # v2 (unified) hierarchy
        elif "cpu" in controllers.split(","):
            places.append((os.path.join(root, controllers), rel, False))  # v1 "cpu" or "cpu,cpuacct"
    budget: Optional[float] = None
    for base, rel, v2 in places:
        parts = [p for p in rel.split("/") if p]
        for depth in range(len(parts), -1, -1):
            cores = _quota(os.path.join(base, *parts[:depth]), v2)
            if cores is not None:
                budget = cores if budget is None else min(budget, cores)
    return budget


def usable_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by its cgroup's quota (at least 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    budget = cpu_budget()
    if budget is not None:
        cores = min(cores, int(budget))
    return max(1, cores)


def roomy(mem: Optional[Memory] = None) -> bool:
    """Whether the machine has memory to spare: more than :data:`SMALL_MACHINE_MB` in all (or unknown).

    Decides costs of memory for speed, such as Piper's mapped weights (~15-30 MB a worker for ~90 ms
    a load, :func:`voiceguide.synth.engines.piper.optimised_path`).
    """
    mem = memory() if mem is None else mem
    return mem is None or mem.total_mb > SMALL_MACHINE_MB


def piper_plan(limit: Optional[int] = None, mem: Optional[Memory] = None, cores: Optional[int] = None) -> int:
    """How many Piper workers this machine affords: 0 (use espeak-ng), 1, or one per core as memory holds.

    *limit* is the caller's own bound (``Synthesizer(workers=...)``); *mem*
    and *cores* default to :func:`memory` and :func:`usable_cores`.
    """
    mem = memory() if mem is None else mem
    n = usable_cores() if cores is None else max(1, cores)
    if limit is not None:
        n = min(n, max(1, int(limit)))
    if mem is None:
        return n
    if mem.available_mb < PIPER_NEEDS_MB:
        return 0
    if mem.total_mb <= SMALL_MACHINE_MB:
        return 1
    return max(1, min(n, 1 + int((mem.available_mb - PIPER_NEEDS_MB) // PIPER_WORKER_MB)))
