"""ALSA's own diagnostics, handed to the player instead of written over its status line.

alsa-lib prints from C, straight to file descriptor 2: after Ctrl-Z and
``fg``, PortAudio recovers the device that ran dry and alsa-lib writes
``ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred`` on top of the
status line (issue 19). Nothing in Python sees that write; the one way in is
alsa-lib's error handler (``snd_lib_error_set_handler``), set here through
ctypes for as long as a terminal session plays:

* an xrun notice (``snd_pcm_recover``) is dropped: the live output counts
  underruns itself (:class:`voiceguide.sinks.live.LiveOutput`) and says so in
  a sentence at the end, and one caused by a suspension is not a gap at all;
* anything else becomes one line, handed to *say* (the player's note, shown
  above the status line by the thread that draws it).

Why not while PortAudio starts: its device probe makes alsa-lib complain
about every PCM a desktop's configuration names but cannot open (rear,
surround51, ...); PortAudio hides those itself (it points stderr at
/dev/null for the moment). So the handler is set once the device is open.

Traps: the handler is called from whichever thread is inside alsa-lib (the
mixer thread, or a plugin's own thread), so *say* must be safe from any
thread; the C callback is kept alive for the life of the process, because a
thread left behind in alsa-lib may still call it after the session; and the
C prototype is variadic (``fmt, ...``): the format is shown with its
conversions as "…", never formatted.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional

log = logging.getLogger("voiceguide.sinks")

#: ``void handler(const char *file, int line, const char *function, int err, const char *fmt, ...)``
_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                            ctypes.c_char_p)

#: alsa-lib functions whose messages only report an xrun (counted by the output itself).
XRUN_REPORTERS = frozenset({"snd_pcm_recover"})

_CONVERSION = re.compile(r"%%|%[-+ #0-9.*]*[hlLqjzt]*[diouxXeEfFgGaAcspn]")

#: Every handler ever set: a thread still inside alsa-lib may call one after its session.
_KEPT: List[object] = []


def _libasound() -> Optional[ctypes.CDLL]:
    try:
        return ctypes.CDLL("libasound.so.2")
    except OSError:  # not Linux, or no ALSA: nothing prints, nothing to route
        return None


def describe(function: str, err: int, fmt: str) -> str:
    """One line for a person: ``ALSA: snd_pcm_open: unknown PCM … (No such file or directory)``."""
    text = " ".join(_CONVERSION.sub(lambda m: "%" if m.group() == "%%" else "…", fmt).split())
    reason = f" ({os.strerror(abs(err))})" if err else ""
    return f"ALSA: {function}: {text}{reason}" if function else f"ALSA: {text}{reason}"


@contextmanager
def routed(say: Callable[[str], None]) -> Iterator[bool]:
    """While the block runs, alsa-lib's messages go to *say* (xrun notices nowhere); yields whether they do.

    On leaving, alsa-lib's own handler (printing to stderr) is put back.
    """
    lib = _libasound()
    if lib is None:
        yield False
        return

    def handler(file: bytes, line: int, function: bytes, err: int, fmt: bytes) -> None:
        try:
            name = (function or b"").decode("utf-8", "replace")
            if name in XRUN_REPORTERS:
                return
            say(describe(name, err, (fmt or b"").decode("utf-8", "replace")))
        except Exception:  # never let an exception out into C (ctypes would print it over the status line)
            log.debug("ALSA's message could not be passed on", exc_info=True)

    callback = _HANDLER(handler)
    _KEPT.append(callback)
    setter = lib.snd_lib_error_set_handler
    setter.argtypes = [ctypes.c_void_p]
    setter.restype = ctypes.c_int
    setter(ctypes.cast(callback, ctypes.c_void_p))
    try:
        yield True
    finally:
        setter(None)  # NULL: alsa-lib's default, which prints to stderr
