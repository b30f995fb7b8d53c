"""Giving memory back to the system when the station goes idle.

A station idles for hours between sessions. A session (and preparing
exercises ahead) borrows tens of MB for a moment -- ambient loops, mixed
blocks, decoded clips -- and glibc keeps freed heap for reuse unless asked
with ``malloc_trim``, which would leave the idle station as large as it was
mid-session (:func:`give_back`).

PortAudio runs only while the runner has something to play, and not in
the station's process (:func:`start_audio`, :func:`stop_audio`): its start
probes every ALSA device, and on a machine with ALSA's plugin packages that
loads libpulse, libjack, libavcodec and friends, of which libpulse, glib,
libx265 and more never unload (~10 MB, measured: issue 24). The station's
output streams are played by a child process
(:mod:`voiceguide.sinks.remote`), started for each busy spell and ended
when the runner goes idle; it takes whatever PortAudio loaded with it.
Starting it costs about 90 ms here, while the session is built (the child
answers once PortAudio is up; the spawn itself is a few ms).

Spoken commands read the microphone in the listener process
(:mod:`voiceguide.listening.listener_process`), never here. This
process's PortAudio runs only where the sound child could not be spawned
(:func:`start_audio` then plays here, as before the child).

Trap: while PortAudio starts, it points stderr (fd 2) at /dev/null. The
station's log handler writes to its own copy of stderr
(:func:`voiceguide.station.service.own_stderr`), so no line of the log is
lost then; Python's last-resort output (a library's warning) would be.
The child's own PortAudio does the same to the child's stderr only.
"""

from __future__ import annotations

import logging

log = logging.getLogger("voiceguide.station")


def start_audio() -> None:
    """Start the child that plays the station's output (a no-op while it runs), and this process's
    PortAudio again if it was used here before (a child that could not be spawned)."""
    import sys

    from voiceguide.sinks import live

    child = live.chosen_portaudio()
    if child is not None and not child.alive:  # it died since (a crash): a new one
        child.close()
        child = None
    if child is None:
        from voiceguide.sinks.remote import ChildPortAudio

        try:
            live.use_portaudio(ChildPortAudio())
        except OSError as exc:  # cannot even spawn: this process's PortAudio, as before (a device error says so)
            live.use_portaudio(None)
            log.warning("the sound process could not start (%s); playing in this one", exc)
    if "sounddevice" in sys.modules:
        try:
            live.start_portaudio()
        except Exception as exc:  # no PortAudio: the job's device error says so to a person
            log.warning("PortAudio could not start (%s: %s)", type(exc).__name__, exc)


def stop_audio() -> None:
    """End the sound child (the runner is between jobs), and this process's PortAudio if it runs.

    The child is ended even while a mixer thread that a stop left behind
    (:mod:`voiceguide.player.leftovers`) waits on it: killing a process
    frees nothing under the thread, which then gets the device's loss.
    This process's PortAudio is not terminated under such a thread: it may
    still be inside PortAudio's write on a slow or loaded machine, and
    terminating PortAudio frees its stream under it (glibc aborts the
    process). The next idle moment tries again.
    """
    from voiceguide.player import leftovers
    from voiceguide.sinks import live

    child = live.use_portaudio(None)
    if child is not None:
        child.close()
    if leftovers.stuck():
        log.info("PortAudio kept running: %s", "; ".join(leftovers.stuck()))
        return
    try:
        live.stop_portaudio()
    except Exception as exc:
        log.warning("PortAudio could not stop (%s: %s)", type(exc).__name__, exc)


#: glibc's M_MMAP_THRESHOLD (malloc.h), and the size from which a block is mapped on its own.
M_MMAP_THRESHOLD = -3
MMAP_FROM = 128 * 1024
#: glibc's M_ARENA_MAX (malloc.h): at most this many heaps, whatever the number of threads.
M_ARENA_MAX = -8


def keep_heap_small() -> None:
    """Have every block of 128 KiB or more mapped on its own, so freeing it returns it (glibc; elsewhere a no-op).

    Trap: glibc's threshold is dynamic. The first time a mapped block is
    freed it raises the threshold to that block's size (up to 32 MB), and
    from then on numpy's mixed blocks, the ambient loops being built and the
    decoded clips come from the heap, where the holes they leave stay
    resident: ``malloc_trim`` gives back only whole free pages, and the
    station stayed 90-110 MB idle (measured, issue 24). Setting the
    threshold turns the dynamic raise off: the idle station then holds
    58 MB before a session and 69 MB after one here (33 / 37 MB private).
    The cost: a few mmap/munmap calls a second while mixing (a 4096-frame
    stereo float32 block is 32 KiB, below the threshold; only loops, clips
    and whole-exercise arrays are mapped).

    And one heap for every thread: glibc gives threads heaps of their own
    (up to 8 per core), and each kept 0.3-0.9 MB of a session's threads
    (runner, mixer, the web server's worker) after ``malloc_trim``
    (measured: 0.4-0.6 MB less idle after a session with one). The station's
    threads seldom allocate at the same moment: sharing a lock costs nothing
    noticeable.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_FROM)
        libc.mallopt(M_ARENA_MAX, 1)
    except (OSError, AttributeError):  # not glibc
        pass


def give_back() -> None:
    """Collect reference cycles and hand freed heap back to the system (glibc; elsewhere a no-op)."""
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
