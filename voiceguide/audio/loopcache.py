"""An on-disk cache of ambient loops, so a warm start costs a file map, not a synthesis.

A drone or a noise bed takes tens of milliseconds and tens of megabytes to
build (ten times that on a Raspberry Pi Zero 2 W), every time a session
starts. The loops depend only on their parameters, so they are kept as
``.npy`` files beside the speech cache and memory-mapped: pages are read
as the mixer reaches them, and several players share them.

Writes are atomic (temporary file + ``os.replace``); an unreadable entry is
simply built again. Bump :data:`VERSION` when a generator changes its sound.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from voiceguide.atomic import atomic_file

VERSION = 2


def cache_dir() -> Path:
    from voiceguide.paths import loop_cache_dir

    return loop_cache_dir()


def cached_loop(key: str, make: Callable[[], np.ndarray], folder: Optional[Path] = None) -> np.ndarray:
    """The loop for *key*, from the cache or made by *make()* and stored."""
    folder = folder or cache_dir()
    digest = hashlib.sha256(f"v{VERSION}|{key}".encode()).hexdigest()[:32]
    path = folder / f"{digest}.npy"
    try:
        loop = np.load(path, mmap_mode="r", allow_pickle=False)
        if loop.dtype == np.float32 and loop.ndim == 1 and len(loop) > 0:
            return loop
    except (OSError, ValueError):
        pass
    loop = np.ascontiguousarray(make(), dtype=np.float32)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as handle:
            np.save(handle, loop, allow_pickle=False)
    except OSError:
        pass  # a read-only cache only costs speed
    return loop
