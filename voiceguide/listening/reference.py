"""The echo canceller's reference: what the player sent to the sound card, at 16 kHz, on the listener's clock.

The player's process and the listener's share one clock, ``time.monotonic()``.
Each side turns its own stream into times on it, and the reference travels
stamped with the 16 kHz sample of that clock its first sample is heard at:

* **Player side** (:class:`ReferenceSender`). The output (:class:`voiceguide.player.live_session.Overlay`)
  hands each block it writes to :meth:`ReferenceSender.push` with the moment
  it expects it heard (``monotonic() + latency`` at the write). ``push`` only
  copies into a preallocated ring and notes the stamp: it never blocks, never
  waits for a lock, never grows anything. A thread of its own, every
  :data:`SEND_EVERY` s, takes what is new, resamples it to 16 kHz mono
  (python-soxr's stream resampler: continuous, no seams), and writes it to
  the listener's stdin in messages of at most :data:`PIPE_BUF` bytes on a
  non-blocking pipe: a message is written whole or, when the listener has
  fallen a second behind and the pipe is full, dropped -- never waited for.
* **Listener side** (:class:`ReferenceReceiver`): a thread reads the messages
  into a ring addressed by the *stream's own sample count* (each message
  carries it beside its clock sample; every slot remembers which sample it
  holds, so a slot never read or overwritten reads as silence), and keeps
  the latest clock-minus-stream offset. :meth:`ReferenceReceiver.take_stream`
  and :meth:`ReferenceReceiver.take_resampled` give stream samples (the
  latter at fractional positions and a rate a little off one: the
  listener follows the drift between the microphone and the output that
  way); :meth:`ReferenceReceiver.take` gives a span of the clock, through
  the latest offset. Why by count: the stamps place the output on the clock
  through an anchor that follows the sound server's clock as it drifts
  against ``time.monotonic()`` (~500 ppm on a PulseAudio null sink), one
  message at a time -- each message lands up to a sample off the last one,
  leaving a zero or overwriting a sample every few messages, and an echo
  canceller cannot cancel a reference with clicks in it. The stream's count
  has no gaps; the listener's delay estimator (:mod:`.delay`) finds where
  it stands against the microphone.
* **Stamps to stream times** (:class:`Anchor`). A stamp per block jitters: a
  blocking write that waited for room stamps true, one that did not (the
  mixer was late) stamps late by what it did not wait; a blocking read is the
  same in reverse. But both streams run sample by sample without a gap, so
  sample *c* of a stream is at ``offset + c / rate`` for one offset; each
  stamp gives ``stamp - c / rate``, an upper bound of it, and the offset is
  taken as the smallest of the last :data:`WINDOW` s (a clock drifting by tens
  of ppm moves it by well under a sample in that time; a gap in the stream --
  an underrun, a reopened device -- is followed after at most WINDOW s).
* **Early, not late**: the listener's first guess puts the reference
  :data:`EARLY` s *after* its microphone block's time on the clock -- the
  sound that will be heard that much later, i.e. the reference arrives at
  the canceller ahead of its echo. (Until the delay estimator was built it
  took it EARLY s *before*: 0.2 s late, on top of the stamps' own error.)
  The echo canceller's filter only looks back, so a reference that arrives
  early costs a few of its 0.6 s of taps; one late by any amount cannot be
  cancelled at all. The stamps are only the first guess: on a real sound
  server they are ~0.1 s off (latencies reported that the streams do not
  have, a microphone read in fragments), and the listener moves the
  reference to where the sound says it is (:mod:`.delay`).
"""

from __future__ import annotations

import collections
import os
import struct
import threading
import time
from typing import Any, BinaryIO, Deque, Optional, Tuple

import numpy as np

RATE = 16000
#: One message: magic, the clock sample (``round(monotonic * RATE)``) of its first sample, its sample in the
#: 16 kHz stream (counted from the sender's start), the count; then float32s.
HEADER = struct.Struct("<IqqI")
MAGIC = 0x56475246  # "VGRF"
#: The largest write a pipe takes whole or not at all (POSIX guarantees at least 512; Linux: 4096).
PIPE_BUF = 4096
CHUNK = (PIPE_BUF - HEADER.size) // 4
#: Seconds between two sends (the reference leaves the player about ``latency`` before it is heard).
SEND_EVERY = 0.03
#: Seconds of stamps an :class:`Anchor` keeps.
WINDOW = 2.0
#: Seconds the listener takes its reference ahead of its microphone's time (see the module docs).
EARLY = 0.2


class Anchor:
    """A stream's time from its sample count and jittery stamps (the module docs): ``time(c) = offset + c/rate``."""

    def __init__(self, rate: float, window: float = WINDOW):
        self.rate = float(rate)
        self.window = window
        self._offsets: Deque[Tuple[float, float]] = collections.deque()  # (stamp, offset), offsets rising
        self.offset: Optional[float] = None

    def update(self, count: int, stamp: float) -> None:
        """Sample *count* of the stream (counted from its start) is at about *stamp* -- or later."""
        offset = stamp - count / self.rate
        q = self._offsets
        while q and q[-1][1] >= offset:
            q.pop()
        q.append((stamp, offset))
        while q[0][0] < stamp - self.window:
            q.popleft()
        self.offset = q[0][1]

    def time(self, count: float) -> float:
        if self.offset is None:
            raise ValueError("no stamp yet")
        return self.offset + count / self.rate


class ReferenceSender:
    """The player's side (module docs): ``push(block, heard_at)`` from the output, a thread writes to *fd*."""

    def __init__(self, fd: int, sample_rate: int, seconds: float = 4.0, thread: bool = True):
        self.fd = fd
        self.sample_rate = int(sample_rate)
        self._ring = np.zeros(int(seconds * sample_rate), dtype=np.float32)
        self._stamps = np.zeros((256, 2), dtype=np.float64)   # (sample count, heard at), a ring
        self._stamped = 0
        self._seen = 0             # stamps the thread has read
        self._written = 0          # samples pushed (only push changes it)
        self._taken = 0            # samples the thread has taken
        self._out = 0              # 16 kHz samples the resampler has given
        self._anchor = Anchor(sample_rate)
        self._resampler: Any = None
        self.sent = 0              # messages written
        self.dropped = 0           # messages the full pipe did not take
        self._stop = threading.Event()
        os.set_blocking(fd, False)
        if sample_rate != RATE:
            import soxr  # noqa: F401  (the resampler: ImportError here, not in the thread)
        self._thread: Optional[threading.Thread] = None
        if thread:   # (a test calls send() itself)
            self._thread = threading.Thread(target=self._run, name="voiceguide-reference", daemon=True)
            self._thread.start()

    # -- the output's side: no waiting, no allocation ------------------------------------------------

    def push(self, block: np.ndarray, heard_at: float) -> None:
        """The output wrote *block* (mono, at ``sample_rate``); its first sample is heard at *heard_at*."""
        n = len(block)
        ring = self._ring
        size = len(ring)
        if n > size:
            block, n = block[-size:], size
        start = self._written % size
        first = min(n, size - start)
        ring[start:start + first] = block[:first]
        if first < n:
            ring[: n - first] = block[first:]
        slot = self._stamps[self._stamped % len(self._stamps)]
        slot[0] = self._written
        slot[1] = heard_at
        self._stamped += 1
        self._written += n

    # -- the thread ----------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.wait(SEND_EVERY):
                self.send()
        except (BrokenPipeError, OSError, ValueError):
            pass   # the listener has gone: nothing more to send

    def send(self) -> None:
        """Send what has been pushed since the last send (the thread calls it; a test may)."""
        stamped, written = self._stamped, self._written
        size = len(self._ring)
        for i in range(max(self._seen, stamped - len(self._stamps)), stamped):
            count, at = self._stamps[i % len(self._stamps)]
            self._anchor.update(int(count), float(at))
        self._seen = stamped
        if self._anchor.offset is None or written == self._taken:
            return
        if written - self._taken > size // 2:           # fallen behind: skip ahead rather than read torn data
            self._skip(written - size // 4)
        start, n = self._taken % size, written - self._taken
        piece = np.concatenate([self._ring[start:], self._ring[: n - (size - start)]]) if start + n > size \
            else self._ring[start:start + n].copy()
        self._taken = written
        mono16 = self._resample(piece)
        # The first 16 kHz sample given now is input sample _out * rate / RATE of the stream.
        at = self._anchor.time(self._out * self.sample_rate / RATE)
        first = self._out
        self._out += len(mono16)
        index = int(round(at * RATE))
        for i in range(0, len(mono16), CHUNK):
            part = mono16[i:i + CHUNK]
            if not part.any():
                continue
            self._write(HEADER.pack(MAGIC, index + i, first + i, len(part)) + part.tobytes())

    def _skip(self, to: int) -> None:
        """Drop input up to sample *to*: the resampler starts over, its count where the input now is."""
        self._taken = to
        self._resampler = None
        self._out = int(round(to * RATE / self.sample_rate))

    def _resample(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.sample_rate == RATE:
            return x
        if self._resampler is None:
            import soxr

            self._resampler = soxr.ResampleStream(self.sample_rate, RATE, 1, dtype="float32")
        return np.asarray(self._resampler.resample_chunk(x), dtype=np.float32)

    def _write(self, message: bytes) -> None:
        try:
            os.write(self.fd, message)
            self.sent += 1
        except BlockingIOError:
            self.dropped += 1

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)


class ReferenceReceiver:
    """The listener's side (module docs): reads *stream* in a thread; :meth:`take` gives a span of the clock."""

    def __init__(self, stream: Optional[BinaryIO], seconds: float = 8.0):
        size = 1 << max(10, int(np.ceil(np.log2(seconds * RATE))))
        self._ring = np.zeros(size, dtype=np.float32)
        self._owner = np.full(size, -1, dtype=np.int64)       # the clock sample each slot holds
        self._lock = threading.Lock()
        self.received = 0
        #: The clock sample minus the stream sample, as the latest message said (None before one came).
        self.offset: Optional[int] = None
        self._thread: Optional[threading.Thread] = None
        if stream is not None:
            self._thread = threading.Thread(target=self._read, args=(stream,), name="voiceguide-reference",
                                            daemon=True)
            self._thread.start()

    def _read(self, stream: BinaryIO) -> None:
        while True:
            head = stream.read(HEADER.size)
            if len(head) < HEADER.size:
                return
            magic, index, sample, n = HEADER.unpack(head)
            if magic != MAGIC or n > CHUNK:
                return   # not ours: stop listening to it rather than guess
            data = stream.read(4 * n)
            if len(data) < 4 * n:
                return
            self.put(index, np.frombuffer(data, dtype=np.float32), sample)

    def put(self, index: int, samples: np.ndarray, sample: Optional[int] = None) -> None:
        """Samples of the reference, the first heard at clock sample *index*, sample *sample* of the stream
        (the ring is addressed by the stream's own count; *index* only updates :attr:`offset`)."""
        if sample is None:
            sample = index
        size = len(self._ring)
        if len(samples) > size:   # only the last ring's length stays: it starts that much further on
            index, sample, samples = index + len(samples) - size, sample + len(samples) - size, samples[-size:]
        where = np.arange(sample, sample + len(samples), dtype=np.int64)
        with self._lock:
            self._ring[where % size] = samples
            self._owner[where % size] = where
            self.received += len(samples)
            self.offset = index - sample

    def take(self, index: int, n: int) -> np.ndarray:
        """The reference heard at clock samples ``index .. index + n`` (zeros where none arrived), as the
        latest message placed the stream on the clock."""
        if self.offset is None:
            return np.zeros(n, dtype=np.float32)
        return self.take_stream(index - self.offset, n)

    def take_stream(self, index: int, n: int) -> np.ndarray:
        """The reference's stream samples ``index .. index + n`` (zeros where none arrived)."""
        where = np.arange(index, index + n, dtype=np.int64)
        slots = where % len(self._ring)
        with self._lock:
            return np.where(self._owner[slots] == where, self._ring[slots], np.float32(0.0)).astype(np.float32)


    def take_resampled(self, start: float, n: int, step: float = 1.0) -> np.ndarray:
        """The reference at stream samples ``start + i * step`` for ``i < n``: between samples, a cubic
        (4-point Lagrange) interpolation -- the listener's microphone and the clock may run apart by
        hundreds of ppm, and a reference that jumps a whole sample now and then is one the echo
        canceller cannot follow."""
        positions = start + np.arange(n, dtype=np.float64) * step
        base = np.floor(positions)
        t = positions - base
        first = int(base[0]) - 1
        span = self.take_stream(first, int(base[-1]) - first + 3).astype(np.float64)
        i = (base - first).astype(np.int64)
        xm, x0, x1, x2 = span[i - 1], span[i], span[i + 1], span[i + 2]
        out = (-t * (t - 1) * (t - 2) / 6 * xm + (t + 1) * (t - 1) * (t - 2) / 2 * x0
               - (t + 1) * t * (t - 2) / 2 * x1 + (t + 1) * t * (t - 1) / 6 * x2)
        return out.astype(np.float32)


def clock_sample(t: float) -> int:
    """The 16 kHz sample of ``time.monotonic()`` that moment *t* falls in."""
    return int(round(t * RATE))


def now_sample() -> int:
    return clock_sample(time.monotonic())
