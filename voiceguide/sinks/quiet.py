"""Keep ALSA's and PortAudio's own error printing off the person's terminal, and lose nothing else.

When a device cannot be opened, ALSA (``ALSA lib pcm_file.c:935:(...)``)
and PortAudio (``Expression 'ret' failed in 'src/hostapi/alsa/...'``) each
print to file descriptor 2 from C, before sounddevice raises the error that
voiceguide turns into its one line. A record step whose microphone has gone
printed five such lines before voiceguide's own.

sounddevice silences PortAudio's start the blunt way: fd 2 points at
/dev/null while it runs, and whatever any other thread prints then is
lost (the design notes' trap). A device is opened in the middle of a
session, while the player prints its log lines, so :func:`c_noise_filtered`
uses the same mechanism -- fd 2 pointed elsewhere for the length of the
call -- but elsewhere is a pipe: when the call returns, fd 2 is restored
and what was written meanwhile is written to it, without the lines that
are ALSA's or PortAudio's (:data:`NOISE`). A line of ours is late by the
length of the open (milliseconds), never lost.

Only ALSA's library prints through ``snd_lib_error_set_handler``;
PortAudio's ``PaUtil_DebugPrint`` cannot be redirected from outside (it is
not exported), hence fd 2.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Iterator, List

#: How a line of C noise from the sound stack starts (bytes, as written to fd 2).
NOISE = (b"ALSA lib ", b"Expression '", b"PaAlsaStream", b"PaUnixThread", b"ALSA:",
         b"Cannot connect to server", b"jack server is not running", b"JackShmReadWritePtr")

_lock = threading.Lock()


def _drain(fd: int, into: List[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        into.append(chunk)
    os.close(fd)


def is_noise(line: bytes) -> bool:
    """True for a line the sound stack printed for itself."""
    return line.lstrip().startswith(NOISE)


@contextlib.contextmanager
def c_noise_filtered() -> Iterator[None]:
    """Around a PortAudio call that may fail: ALSA's and PortAudio's lines go nowhere, every other line through.

    One window at a time (a lock); if fd 2 cannot be redirected (no free
    descriptor), the call runs as it is.
    """
    with _lock:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # stderr closed or gone (EPIPE, EBADF, a closed file): nothing of ours is waiting in it
        try:
            saved = os.dup(2)
        except OSError:
            yield
            return
        try:
            read_end, write_end = os.pipe()
        except OSError:
            os.close(saved)
            yield
            return
        os.set_inheritable(read_end, False)
        collected: List[bytes] = []
        reader = threading.Thread(target=_drain, args=(read_end, collected), name="voiceguide-c-noise",
                                  daemon=True)
        reader.start()
        os.dup2(write_end, 2)
        os.close(write_end)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass  # as above: a closed stderr has nothing to flush into the pipe
            os.dup2(saved, 2)  # the pipe's last write end closes: the reader meets its end
            os.close(saved)
            reader.join(1.0)   # a child started meanwhile may hold the write end: then what came so far
            kept = b"".join(line for line in b"".join(collected).splitlines(keepends=True) if not is_noise(line))
            while kept:
                try:
                    kept = kept[os.write(2, kept):]
                except OSError:
                    break
