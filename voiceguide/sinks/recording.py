"""Recording from the default input device: the listener's spoken answer to a ``record`` step.

The input-side twin of :mod:`voiceguide.sinks.live`, and like it the only
kind of module that talks to sounddevice: a ``sounddevice.InputStream``
read with blocking reads from a thread of its own, never a Python callback.

:func:`record` returns the samples (float32, mono, at the asked rate), or
raises :class:`NoInput` when there is nothing to record from -- a machine
without a microphone is normal, not an error: the caller says so in one
line and the session goes on in silence.

Traps:

* PortAudio lists an input device only if it could open it at start-up
  (ALSA's ``default`` on a machine with no capture path shows 0 input
  channels): the check is the device list, not an attempt to open.
* A device may not offer the session's rate; the stream is opened at the
  device's own default rate and the result resampled (one anti-aliasing
  resampler for the whole recording, not per block).
* A stereo microphone is read as its first channel: a mix of a left and a
  right capsule would only comb-filter a voice.
"""

from __future__ import annotations

import threading
from typing import Optional, Union

import numpy as np

from voiceguide.errors import DeviceError
from voiceguide.sinks.quiet import c_noise_filtered

#: Frames per blocking read: about 85 ms at 48 kHz, so a stop is noticed quickly.
BLOCK = 4096


class NoInput(DeviceError):
    """There is no input device to record from."""


def input_device(mic: Union[int, str, None] = None) -> dict:
    """The PortAudio description of the input device *mic* names, or :class:`NoInput`.

    *mic* is an index, a part of a device's name, or None for the default
    input (the first input when the default is not one). Record steps take
    the default; spoken commands (:mod:`.microphone`) take ``--mic``.
    """
    try:
        import sounddevice as sd

        devices = sd.query_devices()
        default = sd.default.device[0]
    except Exception as exc:  # PortAudio failed to start
        raise NoInput(f"no input device (the audio system is unavailable: {exc})") from None
    inputs = [i for i, d in enumerate(devices) if d["max_input_channels"] > 0]
    if not inputs:
        raise NoInput("no input device (no microphone was found)")
    if isinstance(mic, str) and mic.strip().isdigit():
        mic = int(mic)
    if mic is None:
        index = default if default is not None and default >= 0 and default in inputs else inputs[0]
    elif isinstance(mic, int):
        if mic not in inputs:
            raise NoInput(f"no microphone with index {mic} (`voiceguide devices` lists them)")
        index = mic
    else:
        named = [i for i in inputs if mic.lower() in devices[i]["name"].lower()]
        if not named:
            raise NoInput(f"no microphone named like {mic!r} (`voiceguide devices` lists them)")
        index = named[0]
    info = dict(devices[index])
    info["index"] = index
    return info


def _first_line(exc: BaseException) -> str:
    """PortAudio's message without its bracketed error code, on one line."""
    text = " ".join(str(exc).split())
    return text.split(" [PaErrorCode")[0] or type(exc).__name__


def record(seconds: float, sample_rate: int, stop: Optional[threading.Event] = None,
           start_at: Optional[float] = None) -> np.ndarray:
    """Record *seconds* from the default input device; returns float32 mono at *sample_rate*.

    The device is opened at once; what it hears before *start_at* (a
    ``time.monotonic()`` time) is read and dropped, so opening the device
    (a few hundred ms on some systems) does not push the recording later.
    Ends early (returning what was recorded) when *stop* is set. Raises
    :class:`NoInput` when there is no input device and :class:`DeviceError`
    when it cannot be opened or fails.
    """
    import time

    import sounddevice as sd

    device = input_device()
    rate = int(round(device.get("default_samplerate") or sample_rate))
    wanted = int(round(seconds * rate))
    out = np.zeros(wanted, dtype=np.float32)
    got = 0
    stream = None
    try:
        with c_noise_filtered():  # a microphone that has gone: one line of ours, not ALSA's five
            stream = sd.InputStream(device=device["index"], samplerate=rate, channels=1, dtype="float32",
                                    blocksize=BLOCK, latency="high")
            stream.start()
        half_block = BLOCK / rate / 2
        while start_at is not None and time.monotonic() < start_at - half_block:
            if stop is not None and stop.is_set():
                return np.zeros(0, dtype=np.float32)
            stream.read(BLOCK)
        while got < wanted and not (stop is not None and stop.is_set()):
            block, _overflowed = stream.read(min(BLOCK, wanted - got))
            n = len(block)
            out[got:got + n] = block[:, 0]
            got += n
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot record from {device['name']!r} ({_first_line(exc)})") from None
    finally:
        if stream is not None:
            with c_noise_filtered():
                try:
                    stream.close(ignore_errors=True)
                except sd.PortAudioError:
                    pass  # what was recorded is kept; a stream that will not close is PortAudio's to free
    out = out[:got]
    if rate != sample_rate and got:
        from voiceguide.audio.dsp import resample

        out = np.asarray(resample(out, rate, sample_rate), dtype=np.float32)
    return out
