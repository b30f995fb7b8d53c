"""Giving memory back to the system when the station goes idle.

A station idles for hours between sessions. A session (and preparing
exercises ahead) borrows tens of MB for a moment -- ambient loops, mixed
blocks, decoded clips -- and glibc keeps freed heap for reuse unless asked
with ``malloc_trim``, which would leave the idle station as large as it was
mid-session.
"""

from __future__ import annotations


def give_back() -> None:
    """Collect reference cycles and hand freed heap back to the system (glibc; elsewhere a no-op)."""
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
