"""A microphone read continuously, 16 kHz mono, for spoken commands (see :mod:`voiceguide.listening`).

The input-side twin of :mod:`voiceguide.sinks.live` for a stream that never
ends: a ``sounddevice.InputStream`` read with blocking reads (no Python
callback), in the listener process only.

Traps:

* The device is chosen like an output (``--mic NAME|INDEX``: an index, or a
  part of a name); none given is the default input. PortAudio lists an
  input only if it could open it at start-up (:mod:`voiceguide.sinks.recording`).
* A device that cannot run at 16 kHz is opened at its own rate and
  resampled as a stream (python-soxr's ``ResampleStream``; without soxr,
  block by block).
"""

from __future__ import annotations

from typing import Any, Iterator, Optional, Union

import numpy as np

from voiceguide.errors import DeviceError
from voiceguide.sinks.recording import _first_line, input_device
from voiceguide.sinks.quiet import c_noise_filtered

RATE = 16000
#: Frames per read at 16 kHz: 100 ms.
BLOCK = 1600

Mic = Union[int, str, None]


class Microphone:
    """``with Microphone(mic) as m: for block in m.blocks(): ...`` -- float32 blocks at 16 kHz."""

    def __init__(self, mic: Mic = None):
        self.device = input_device(mic)
        self.name = str(self.device["name"])
        self._stream: Any = None
        self._resampler: Any = None
        self.rate = RATE

    def __enter__(self) -> "Microphone":
        import sounddevice as sd

        with c_noise_filtered():
            try:
                self._stream = sd.InputStream(device=self.device["index"], samplerate=RATE, channels=1,
                                              dtype="float32", blocksize=BLOCK)
            except sd.PortAudioError:
                self.rate = int(round(self.device.get("default_samplerate") or 48000))
                try:
                    self._stream = sd.InputStream(device=self.device["index"], samplerate=self.rate,
                                                  channels=1, dtype="float32",
                                                  blocksize=BLOCK * self.rate // RATE)
                except sd.PortAudioError as exc:
                    raise DeviceError(f"cannot open the microphone {self.name!r} ({_first_line(exc)})") from None
            self._stream.start()
        if self.rate != RATE:
            try:
                import soxr

                self._resampler = soxr.ResampleStream(self.rate, RATE, 1, dtype="float32")
            except ImportError:
                self._resampler = None
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def latency(self) -> float:
        return float(self._stream.latency) if self._stream is not None else 0.0

    def read(self) -> np.ndarray:
        """The next block (about 100 ms), mono float32 at 16 kHz; :class:`DeviceError` if the device failed."""
        import sounddevice as sd

        try:
            block, _overflowed = self._stream.read(BLOCK * self.rate // RATE)
        except sd.PortAudioError as exc:
            raise DeviceError(f"the microphone {self.name!r} stopped ({_first_line(exc)})") from None
        x = np.ascontiguousarray(block[:, 0], dtype=np.float32)
        if self.rate == RATE:
            return x
        if self._resampler is not None:
            return np.asarray(self._resampler.resample_chunk(x), dtype=np.float32)
        from voiceguide.audio.dsp import resample

        return np.asarray(resample(x, self.rate, RATE), dtype=np.float32)

    def blocks(self) -> Iterator[np.ndarray]:
        while True:
            yield self.read()

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with c_noise_filtered():
                try:
                    stream.close(ignore_errors=True)
                except Exception:  # closing a device that has gone: nothing more to do
                    pass


def level_db(block: np.ndarray) -> float:
    """A block's RMS level in dBFS."""
    return float(10 * np.log10(float(np.mean(np.square(block, dtype=np.float64))) + 1e-12))


def describe(mic: Optional[Mic]) -> str:
    return "the default microphone" if mic in (None, "") else f"the microphone {mic!r}"
