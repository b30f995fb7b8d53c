"""PortAudio in a child process: the station plays without loading PortAudio itself (issue 24).

PortAudio's start probes every ALSA device, and on a machine with ALSA's
plugin packages that loads libpulse, libjack, libavcodec and their
dependencies into the process. Terminating PortAudio unloads the plugins
but not what they pulled in: libpulse and glib are built ``NODELETE``,
libx265 and libjack hold C++ unique symbols. In the station that was
~10 MB kept for good after the first session (measured: 50 MB idle before
a session, 64.6 MB after; the idle station's budget is 60 MB).

So the station's output streams go through :class:`ChildPortAudio`: a
stand-in for the part of the ``sounddevice`` module that
:mod:`voiceguide.sinks.live` uses (``query_devices``, ``default.device``,
``OutputStream``, ``PortAudioError``, ``_initialize``, ``_terminate``),
which forwards each call to a child process (:func:`main`, started as
the speech workers are: ``python -c`` importing only this installed
package, :func:`voiceguide.synth.lifetime.boot_code`, never a
``voiceguide/`` in the station's current folder) that imports sounddevice
and does it. The
station starts the child when it has something to play and ends it when
it goes idle (:mod:`voiceguide.station.memory`); whatever PortAudio
loaded ends with it. The child needs neither numpy nor voiceguide's
audio code: it starts in about 90 ms here (Python, cffi, PortAudio's
probe), while the station builds the session.

The mixing, pausing, fades and timing stay in the station: a write is one
round trip (the block's bytes there, the underflow flag back) and returns
once PortAudio took the block, so the device buffer paces the mixer as
before and nothing queues between them.

Traps:

* The child's stdout is the answer pipe: it moves that pipe to a file
  descriptor of its own and points fd 1 at stderr, so a line a C library
  prints cannot corrupt the protocol.
* One request at a time (a lock): a write waiting for room in the device
  buffer holds up a ``close`` from another thread until the child answers.
  A child that is stuck for good (a hung sound server) is killed by
  :meth:`ChildPortAudio.close`; the waiting thread then gets
  ``PortAudioError`` (the live sink's ``DeviceLost``).
* The child ignores SIGINT and SIGTERM: Ctrl-C in a terminal and
  systemd's stop reach every process of the group, and the station fades
  the session out through the child before it exits. The child ends when
  its input closes (the station ends it, or the station is gone).
* Once closed, the stand-in never starts another child: a mixer thread a
  stop left behind fails instead of bringing PortAudio back to an idle
  station. While open, ``_initialize`` (a rescan for a device that came
  back) starts a new child if the old one died.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
from typing import Any, Dict, Optional, Tuple

HEADER = struct.Struct(">I")
#: Seconds a child may take to end after it was told to (it lets a stream's buffer play out first).
CLOSE_WAIT = 3.0


class PortAudioError(Exception):
    """PortAudio (in the child) failed, or the child is gone: what ``sounddevice.PortAudioError`` says in-process."""


def send(fd: int, message: Any) -> None:
    """Write one pickled message with its length in front."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def receive(fd: int) -> Any:
    """Read one message; EOFError when the other side has gone."""
    (size,) = HEADER.unpack(_read_exactly(fd, HEADER.size))
    return pickle.loads(_read_exactly(fd, size))


def _read_exactly(fd: int, size: int) -> bytes:
    parts = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            raise EOFError("the other side closed the pipe")
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


class ChildPortAudio:
    """The ``sounddevice`` subset :mod:`voiceguide.sinks.live` uses, done by a child process (module docs)."""

    PortAudioError = PortAudioError

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._proc: Optional[subprocess.Popen] = None
        self.default = _Default(self)
        self._spawn()

    def _spawn(self) -> None:
        """Start the child; it answers the first request once PortAudio is up (the spawn itself is quick)."""
        from voiceguide.synth.lifetime import boot_code

        self._proc = subprocess.Popen([sys.executable, "-c", boot_code("voiceguide.sinks.remote")],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc is not None else None

    def call(self, op: str, *args: Any) -> Any:
        """Do *op* in the child and return its answer; its failure raised here (PortAudioError, ValueError)."""
        with self._lock:
            proc = self._proc
            if self._closed or proc is None or proc.stdin is None or proc.stdout is None:
                raise PortAudioError("the sound device's process has ended")
            try:
                send(proc.stdin.fileno(), (op, args))
                ok, value = receive(proc.stdout.fileno())
            except (OSError, EOFError, ValueError) as exc:  # ValueError: a pipe closed under us
                raise PortAudioError(f"the sound device's process ended ({exc})") from None
        if ok:
            return value
        kind, message = value
        raise (ValueError if kind == "ValueError" else PortAudioError)(message)

    # -- what sounddevice offers ------------------------------------------------------------

    def query_devices(self, device: Any = None, kind: Optional[str] = None) -> Any:
        return self.call("query_devices", device, kind)

    def OutputStream(self, **settings: Any) -> "RemoteStream":  # noqa: N802 (sounddevice's name)
        return RemoteStream(self, settings)

    @property
    def alive(self) -> bool:
        """Not closed, and the child runs."""
        return not self._closed and self._proc is not None and self._proc.poll() is None

    @property
    def _initialized(self) -> bool:
        return self.alive

    def _initialize(self) -> None:
        """PortAudio started again (sees devices that came since); a new child if the old one died."""
        if self._closed:
            raise PortAudioError("the sound device's process has ended")
        with self._lock:
            dead = self._proc is None or self._proc.poll() is not None
            if dead:
                self._end_child(0.0)
                self._spawn()
                return
        self.call("initialize")

    def _terminate(self) -> None:
        if self._initialized:
            self.call("terminate")

    # -- the child's end -----------------------------------------------------------------

    def close(self) -> None:
        """End the child (and with it PortAudio and all it loaded); this stand-in is done for good.

        A child stuck in a write (the lock not free within a second) is
        killed; the thread waiting for it gets PortAudioError.
        """
        self._closed = True
        got = self._lock.acquire(timeout=1.0)
        try:
            self._end_child(CLOSE_WAIT if got else 0.0)
        finally:
            if got:
                self._lock.release()

    def _end_child(self, wait: float) -> None:
        """Close the child's input (it ends at EOF), wait up to *wait* seconds, then kill it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if wait > 0 and proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(wait)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass


class _Default:
    """``sounddevice.default``: only ``device`` (input, output), read from the child."""

    def __init__(self, owner: ChildPortAudio):
        self._owner = owner

    @property
    def device(self) -> Tuple[Any, Any]:
        return tuple(self._owner.call("default_device"))


class RemoteStream:
    """A ``sounddevice.OutputStream`` of float32 frames, open in the child."""

    def __init__(self, owner: ChildPortAudio, settings: Dict[str, Any]):
        self._owner = owner
        self._id, self.latency, self.channels = owner.call("open", settings)

    def start(self) -> None:
        self._owner.call("start", self._id)

    def stop(self) -> None:
        self._owner.call("stop", self._id)

    def abort(self) -> None:
        self._owner.call("abort", self._id)

    def close(self) -> None:
        self._owner.call("close", self._id)

    @property
    def active(self) -> bool:
        return bool(self._owner.call("state", self._id)[0])

    @property
    def closed(self) -> bool:
        return bool(self._owner.call("state", self._id)[1])

    @property
    def write_available(self) -> int:
        return int(self._owner.call("write_available", self._id))

    def write(self, frames: Any) -> bool:
        """Play *frames* (a float32 array, frames x channels); True if the device ran dry before."""
        return bool(self._owner.call("write", self._id, frames.tobytes()))


# -- the child -------------------------------------------------------------------------------


def serve() -> None:
    """The child's loop: answer requests on stdin until it closes, then end PortAudio with the process."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):  # the station's fade-out still needs us (module docs)
        signal.signal(sig, signal.SIG_IGN)
    requests = os.dup(0)
    answers = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)  # a stray print from C goes to stderr, never into the answers
    os.close(null)
    try:
        import sounddevice as sd
    except Exception as exc:  # no PortAudio: every request says why (the station turns it into words)
        failure: Optional[Tuple[str, str]] = ("PortAudioError", f"{type(exc).__name__}: {exc}")
        sd = None
    else:
        failure = None
    streams: Dict[int, Any] = {}
    while True:
        try:
            op, args = receive(requests)
        except EOFError:
            break
        if failure is not None:
            send(answers, (False, failure))
            continue
        try:
            send(answers, (True, _do(sd, streams, op, args)))
        except Exception as exc:
            kind = "ValueError" if isinstance(exc, ValueError) else "PortAudioError"
            send(answers, (False, (kind, str(exc))))
    for stream in streams.values():
        try:
            stream.close()
        except Exception:
            pass


def _do(sd: Any, streams: Dict[int, Any], op: str, args: tuple) -> Any:
    """One request, on the real sounddevice; plain Python values back (the station has no sounddevice)."""
    if op == "write":
        return streams[args[0]].write(args[1])
    if op == "write_available":
        return streams[args[0]].write_available
    if op == "query_devices":
        found = sd.query_devices(*args)
        return dict(found) if isinstance(found, dict) else [dict(d) for d in found]
    if op == "default_device":
        return list(sd.default.device)
    if op == "open":
        stream = sd.RawOutputStream(**args[0])
        streams[id(stream)] = stream
        return id(stream), float(stream.latency), int(stream.channels)
    if op in ("start", "stop", "abort"):
        getattr(streams[args[0]], op)()
        return None
    if op == "close":
        streams.pop(args[0]).close()
        return None
    if op == "state":
        stream = streams[args[0]]
        return bool(stream.active), bool(stream.closed)
    if op == "initialize":
        if not sd._initialized:
            sd._initialize()
        return None
    if op == "terminate":
        if sd._initialized:
            sd._terminate()
        return None
    raise ValueError(f"unknown request {op!r}")


def main() -> int:
    """The child's entry (:func:`voiceguide.synth.lifetime.boot_code`)."""
    serve()
    return 0
