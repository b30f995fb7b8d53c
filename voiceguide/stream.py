"""The live sink: a ``sounddevice.OutputStream`` fed from a bounded queue.

This follows python-sounddevice's ``play_long_file`` example: a producer
thread (the mixer) fills preallocated blocks and passes their *indices*
through a bounded queue; the audio callback copies one block per call into
``outdata`` and hands the index back. The callback therefore allocates no
arrays and never blocks: when the queue is empty it plays silence and counts
an underrun.

Fades happen in the callback, after the queue, so pause, resume and stop
take effect within one device buffer however much audio is queued. The gain
follows a precomputed raised-cosine ramp: no clicks, no allocation.

Traps:

* The stream stays open for the whole session, silence included: an HDMI or
  USB sink that has gone to sleep would otherwise swallow the first words
  each time it wakes up.
* Latency is generous by default (0.2 s). On a Raspberry Pi, underruns are
  cured by more latency, not by a faster callback.
* Open ``default``/``sysdefault``/``plughw`` devices rather than raw ``hw``:
  the Pi's HDMI ``hw`` device accepts only IEC958 frames.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Optional, Union

import numpy as np

from voiceguide.errors import DeviceError

DEFAULT_LATENCY = 0.2
DEFAULT_BLOCKSIZE = 2048
#: Queued audio ahead of the device: enough to ride out a slow block,
#: small enough that a volume change is heard quickly.
QUEUE_SECONDS = 0.4
FADE_SECONDS = 0.3
#: A block whose peak is above this counts as audible (for the start-up trace).
AUDIBLE = 10 ** (-60 / 20)

Device = Union[int, str, None]


def no_device_message() -> str:
    return ("no audio output device found; `voiceguide devices` lists what is available, "
            "and `voiceguide render ID -o session.wav` writes the session to a file instead")


def resolve_device(device: Device) -> Device:
    """A device index for *device* (an index, or a name substring), or ``None`` for the default."""
    import sounddevice as sd

    if isinstance(device, str) and device.strip().isdigit():
        device = int(device)
    try:
        devices = sd.query_devices()
    except Exception as exc:  # PortAudio failed to start
        raise DeviceError(f"audio system unavailable ({exc}); {no_device_message()}") from None
    outputs = [i for i, d in enumerate(devices) if d["max_output_channels"] > 0]
    if not outputs:
        raise DeviceError(no_device_message())
    if device is None:
        return None
    if isinstance(device, int):
        if device not in outputs:
            raise DeviceError(f"--device {device}: no output device with that index; "
                              f"`voiceguide devices` lists them")
        return device
    matches = [i for i in outputs if device.lower() in devices[i]["name"].lower()]
    exact = [i for i in matches if devices[i]["name"].lower() == device.lower()]
    if exact:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DeviceError(f'--device "{device}": no output device matches; `voiceguide devices` lists them')
    names = ", ".join(f'{i} "{devices[i]["name"]}"' for i in matches)
    raise DeviceError(f'--device "{device}" matches several devices ({names}); give one index')


class LiveOutput:
    """Plays float32 mono blocks on an output device, with click-free fades."""

    def __init__(self, sample_rate: int, *, device: Device = None,
                 latency: Optional[float] = None, blocksize: int = DEFAULT_BLOCKSIZE,
                 channels: Optional[int] = None):
        import sounddevice as sd

        self.sample_rate = sample_rate
        self.blocksize = blocksize
        self.device = resolve_device(device)
        info = sd.query_devices(self.device, "output")
        self.channels = channels or (1 if info["max_output_channels"] < 2 else 2)
        nblocks = max(2, int(QUEUE_SECONDS * sample_rate / blocksize) + 1)
        self._buffers = np.zeros((nblocks, blocksize), dtype=np.float32)
        self._audible = np.zeros(nblocks, dtype=bool)
        self._free: "queue.Queue[int]" = queue.Queue()
        for i in range(nblocks):
            self._free.put(i)
        self._full: "queue.Queue[int]" = queue.Queue(maxsize=nblocks)
        fade = max(1, int(FADE_SECONDS * sample_rate))
        self._ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade))).astype(np.float32)
        self._gain = np.ones(blocksize, dtype=np.float32)
        self._fade_pos = fade - 1            # ramp index: fade-1 = full volume
        self._fade_dir = 0                   # +1 fading in, -1 fading out
        self._paused = False
        self._stopping = False
        self._finished = False
        self.underruns = 0
        self.frames_played = 0
        self.first_audible: Optional[float] = None   # wall time the first sound reaches the DAC
        self.done = threading.Event()
        try:
            self._stream = sd.OutputStream(
                samplerate=sample_rate, blocksize=blocksize, device=self.device,
                channels=self.channels, dtype="float32",
                latency=latency if latency is not None else DEFAULT_LATENCY,
                callback=self._callback, finished_callback=self.done.set)
        except Exception as exc:
            raise DeviceError(f"cannot open the output device ({exc}); try `--device default` "
                              f"or a larger `--latency`; {no_device_message()}") from None
        self.latency = self._stream.latency

    # -- producer side (mixer thread) -----------------------------------------------

    def write(self, block: np.ndarray, timeout: Optional[float] = None) -> bool:
        """Queue one block (at most ``blocksize`` frames); blocks while the queue is full.

        Returns False if the stream is stopping (the block is dropped).
        """
        if self._stopping:
            return False
        index = self._free.get(timeout=timeout)
        buf = self._buffers[index]
        n = len(block)
        buf[:n] = block
        if n < self.blocksize:
            buf[n:] = 0.0
        self._audible[index] = self.first_audible is None and bool(np.abs(block).max(initial=0.0) > AUDIBLE)
        self._full.put(index)
        return True

    def finish(self) -> None:
        """No more blocks: play out what is queued, then stop."""
        self._finished = True

    # -- controls (any thread) ---------------------------------------------------------

    def start(self) -> None:
        self._stream.start()

    def pause(self) -> None:
        """Fade out and hold silence; the queue is kept, the stream stays open."""
        self._paused = True
        self._fade_dir = -1

    def resume(self) -> None:
        self._paused = False
        self._fade_dir = +1

    @property
    def paused(self) -> bool:
        return self._paused

    def stop(self) -> None:
        """Fade out (about 0.3 s) and end the stream."""
        self._stopping = True
        self._fade_dir = -1

    def flush(self) -> None:
        """Drop queued blocks (after a seek); the device buffer still plays out."""
        while True:
            try:
                self._free.put(self._full.get_nowait())
            except queue.Empty:
                return

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self.done.wait(timeout)

    def close(self) -> None:
        try:
            self._stream.stop()
        finally:
            self._stream.close()

    # -- the audio callback: no allocation, no blocking -------------------------------

    def _callback(self, outdata, frames, time_info, status) -> None:
        import sounddevice as sd

        if status.output_underflow:
            self.underruns += 1
        fade_end = len(self._ramp) - 1
        if self._paused and self._fade_pos == 0:
            outdata.fill(0.0)
            return
        try:
            index = self._full.get_nowait()
        except queue.Empty:
            outdata.fill(0.0)
            if self._finished or (self._stopping and self._fade_pos == 0):
                raise sd.CallbackStop
            if not self._stopping:
                self.underruns += 1
            return
        block = self._buffers[index]
        if self._audible[index] and self.first_audible is None:
            self.first_audible = time.time() + max(0.0, time_info.outputBufferDacTime - time_info.currentTime)
        if self._fade_dir or self._fade_pos < fade_end:
            gain = self._gain[:frames]
            pos = self._fade_pos
            if self._fade_dir >= 0:
                take = min(frames, fade_end - pos)
                gain[:take] = self._ramp[pos + 1:pos + 1 + take]
                gain[take:] = 1.0
                self._fade_pos = pos + take
                if self._fade_pos == fade_end:
                    self._fade_dir = 0
            else:
                take = min(frames, pos)
                gain[:take] = self._ramp[pos - take:pos][::-1]
                gain[take:] = 0.0
                self._fade_pos = pos - take
            np.multiply(block[:frames], gain, out=block[:frames])
        outdata[:, 0] = block[:frames]
        if self.channels > 1:
            for channel in range(1, self.channels):
                outdata[:, channel] = outdata[:, 0]
        self.frames_played += frames
        self._free.put_nowait(index)
        if self._stopping and self._fade_pos == 0:
            raise sd.CallbackStop
