"""The live sink: a ``sounddevice.OutputStream`` written from the mixer thread.

Why blocking writes rather than a Python audio callback fed from a queue:
the mixer thread mixes a block and hands it to PortAudio with
``stream.write``, which waits for room in the device buffer. Nothing runs in
PortAudio's real-time thread but PortAudio itself, so no Python code there
can allocate, block or wait for the GIL, and a slow block is absorbed by the
device buffer (``latency``) instead of becoming silence. It also makes the
output exactly the mixed samples on any device, paced or not: ALSA's ``file``
plugin over ``null`` takes a ten-minute session in about a second, sample
for sample what ``render`` writes (the tests rely on it).

This is the only module that imports sounddevice (PortAudio). It knows
nothing of sessions, pauses or fades: the player applies those to each block
(:mod:`voiceguide.player.fader`) before it calls :meth:`LiveOutput.write`,
so a test can hand the player a recording fake instead (tests/support).

The output protocol the player uses (LiveOutput is the real one):
``sample_rate``, ``blocksize``, ``latency`` (seconds from a write to the
ear), ``underruns``, ``first_audible``; ``start()``, ``write(block)``
(blocks while the device is full; raises :class:`DeviceLost`),
``reopen()`` (after DeviceLost; DeviceError if it is not back), ``close()``
(lets what was written play out) and ``abandon()`` (a thread is stuck in
``write`` for good: let the process end without waiting for PortAudio).
Optional: ``suspending()`` and ``continued()`` around a stop of the whole
process (Ctrl-Z, ``fg``), whose underrun is not counted (``excused``).

Traps:

* The stream stays open for the whole session, silence included: an HDMI or
  USB sink that has gone to sleep would otherwise swallow the first words
  each time it wakes up. While paused we keep writing silence.
* Latency is generous by default (0.2 s). On a Raspberry Pi, underruns are
  cured by more latency, not by a faster loop.
* Open ``default``/``sysdefault``/``plughw`` devices rather than raw ``hw``:
  the Pi's HDMI ``hw`` device accepts only IEC958 frames.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Optional, Union

import numpy as np

from voiceguide.audio.dsp import db_to_gain
from voiceguide.config import DEFAULT_LATENCY
from voiceguide.errors import DeviceError

log = logging.getLogger("voiceguide.sinks")

DEFAULT_BLOCKSIZE = 4096  # 85 ms: well inside the 0.2 s latency, half the wake-ups of 2048
#: Silence written when the stream starts (see :meth:`LiveOutput.start`).
PREROLL_FRAMES = 2048
#: A block whose peak is above this counts as audible (for the start-up trace).
AUDIBLE = db_to_gain(-60.0)
#: An underrun reported this soon (seconds) after the process continued from a
#: stop (Ctrl-Z, SIGSTOP) is the stop's: the device ran dry while nothing could write.
SUSPENSION_GRACE = 1.0

Device = Union[int, str, None]


class DeviceLost(DeviceError):
    """The device failed mid-session (unplugged, server restarted); it may come back."""


def load_portaudio() -> None:
    """Import sounddevice, which starts PortAudio (probing ALSA: tens of ms, in C, without the GIL).

    A failure is kept for later: it is reported where the device is opened.
    Trap: while PortAudio starts it points stderr (fd 2) at /dev/null, so
    whatever any thread prints then is lost, and a process that exits then
    may crash: see :func:`voiceguide.player.foreground.portaudio_loading`.
    """
    try:
        import sounddevice  # noqa: F401
    except Exception as exc:
        # ImportError, OSError (no libportaudio) or sounddevice.PortAudioError (Pa_Initialize failed),
        # which cannot be named while the module is not there. Not lost: the import runs again where
        # the device is opened and fails there, in words for a person; here only for --debug.
        log.debug("PortAudio did not start: %s: %s", type(exc).__name__, exc)


def start_portaudio() -> None:
    """Start PortAudio if it is not running (the first call imports sounddevice, which starts it).

    For a long-running process that stops it when idle (:func:`stop_portaudio`).
    Trap: like every start, it points stderr at /dev/null for a moment.
    """
    import sounddevice as sd

    if not sd._initialized:
        sd._initialize()


def stop_portaudio() -> None:
    """Terminate this process's PortAudio when it runs; no stream of this process may be open.

    ALSA then unloads the plugins PortAudio's device probe loaded (pulse,
    jack, a52...), though not all they pulled in (libpulse and glib are
    ``NODELETE``): the station keeps its output's PortAudio in a child
    process instead (:mod:`voiceguide.sinks.remote`).
    """
    import sys

    sd = sys.modules.get("sounddevice")
    if sd is not None and sd._initialized:
        sd._terminate()


#: The PortAudio output streams are opened with when not this process's: the station's child (see
#: :func:`use_portaudio`). None: sounddevice, in this process.
_portaudio: Any = None


def use_portaudio(backend: Any) -> Any:
    """Open output streams through *backend* from now on (None: this process's sounddevice); the one before.

    *backend* offers the part of sounddevice this module uses
    (:class:`voiceguide.sinks.remote.ChildPortAudio`). A :class:`LiveOutput`
    keeps the one it was opened with for its whole life, reopen included.
    """
    global _portaudio
    before, _portaudio = _portaudio, backend
    return before


def chosen_portaudio() -> Any:
    """What :func:`use_portaudio` set last (None: this process's sounddevice)."""
    return _portaudio


def portaudio() -> Any:
    """The PortAudio output streams are opened with now: the one set by :func:`use_portaudio`, else sounddevice."""
    if _portaudio is not None:
        return _portaudio
    import sounddevice as sd

    return sd


def rescan_devices(sd: Any = None) -> None:
    """Re-initialise PortAudio (*sd*, default :func:`portaudio`) so that it sees devices that came (back).

    PortAudio lists devices once, when it starts. Only call this while no
    stream of this process is open (the stream's own reopen, or the station
    between sessions). Trap: like the first start, it points stderr at
    /dev/null for a moment.
    """
    sd = sd if sd is not None else portaudio()
    try:
        sd._terminate()
        sd._initialize()
    except sd.PortAudioError as exc:
        # PortAudio could not start again: the device's open that follows fails and says so.
        log.debug("PortAudio's re-initialisation failed: %s", exc)


def no_device_message() -> str:
    return ("no audio output device found; `voiceguide devices` lists what is available, "
            "and `voiceguide render ID -o session.wav` writes the session to a file instead")


def _query_devices(sd: Any = None):
    """PortAudio's (*sd*'s, default :func:`portaudio`) device list and default output, or a DeviceError."""
    sd = sd if sd is not None else portaudio()
    try:
        return sd.query_devices(), sd.default.device[1]
    except Exception as exc:  # PortAudio failed to start
        raise DeviceError(f"audio system unavailable ({exc}); {no_device_message()}") from None


def resolve_device(device: Device, sd: Any = None) -> Device:
    """A device index for *device* (an index, or a name substring), or ``None`` for the default (on *sd*)."""
    if isinstance(device, str) and device.strip().isdigit():
        device = int(device)
    devices, default = _query_devices(sd)
    outputs = [i for i, d in enumerate(devices) if d["max_output_channels"] > 0]
    if not outputs:
        raise DeviceError(no_device_message())
    if device is None:
        if default is None or default < 0 or default not in outputs:
            return outputs[0]
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


COMMON_RATES = (22050, 44100, 48000, 96000)


def list_outputs() -> list:
    """Output devices: index, name, channels, default flag and the common rates each accepts."""
    import sounddevice as sd

    devices, default = _query_devices(sd)
    result = []
    for index, dev in enumerate(devices):
        if dev["max_output_channels"] <= 0:
            continue
        rates = []
        for rate in COMMON_RATES:
            try:
                sd.check_output_settings(device=index, samplerate=rate, channels=1, dtype="float32")
                rates.append(rate)
            except (sd.PortAudioError, ValueError):
                pass  # the device does not take this rate (PortAudio's or sounddevice's own check)
        result.append(dict(index=index, name=dev["name"], channels=dev["max_output_channels"],
                           default=index == default, rates=rates))
    return result


class LiveOutput:
    """Plays float32 mono blocks on an output device; the stream opens in the constructor.

    Everything but :meth:`abandon` is called from one thread (the mixer's);
    the constructor may run in another.
    """

    def __init__(self, sample_rate: int, *, device: Device = None,
                 latency: Optional[float] = None, blocksize: int = DEFAULT_BLOCKSIZE,
                 channels: Optional[int] = None):
        self.sample_rate = sample_rate
        self.blocksize = blocksize
        self._wanted = (device, latency, channels)
        self._sd = portaudio()   # this process's sounddevice, or the station's child (kept for reopen)
        self._stream = self._open()
        self.latency = float(self._stream.latency)
        self._frame = np.zeros((blocksize, self.channels), dtype=np.float32)
        self.underruns = 0
        #: Underruns the process's own stops (Ctrl-Z) caused: not gaps, not counted in ``underruns``.
        self.excused = 0
        self.frames_played = 0
        self.first_audible: Optional[float] = None
        self._count_lock = threading.Lock()
        self._suspended = False
        self._excuse_until = 0.0
        self._recent: list = []   # monotonic times of the underruns counted in the last SUSPENSION_GRACE

    def _open(self):
        sd = self._sd
        device, latency, channels = self._wanted
        self.device = resolve_device(device, sd)
        try:
            info = sd.query_devices(self.device, "output")
            self.channels = channels or (1 if info["max_output_channels"] < 2 else 2)
            return sd.OutputStream(
                samplerate=self.sample_rate, blocksize=self.blocksize, device=self.device,
                channels=self.channels, dtype="float32",
                latency=latency if latency is not None else DEFAULT_LATENCY)
        except DeviceError:
            raise
        except Exception as exc:
            raise DeviceError(f"cannot open the output device ({exc}); try `--device default` "
                              f"or a larger `--latency`; {no_device_message()}") from None

    def start(self) -> None:
        """Start the stream with one block of silence ahead of the session.

        Trap: some paths (PortAudio -> ALSA -> PulseAudio among them) lose the
        first few milliseconds written after a stream starts; without this
        pre-roll a bell at 0:00 loses its strike.
        """
        self._stream.start()
        self._write_silence(min(PREROLL_FRAMES, self.blocksize))

    def reopen(self) -> None:
        """After :class:`DeviceLost`: drop the old stream and open the device again.

        PortAudio keeps its device list from start-up, so it is re-initialised
        first; otherwise a USB or Bluetooth sink that came back is not seen.
        """
        sd = self._sd
        try:
            self._stream.abort()
            self._stream.close()
        except sd.PortAudioError:
            pass  # the lost stream's own end (abort and close ignore PortAudio's errors already)
        rescan_devices(sd)
        stream = self._open()
        if stream.channels != self._frame.shape[1]:
            self._frame = np.zeros((self.blocksize, stream.channels), dtype=np.float32)
        self._stream = stream
        self.latency = float(stream.latency)
        stream.start()

    def write(self, block: np.ndarray) -> None:
        """Play one mono block (at most ``blocksize`` frames); waits while the device buffer is full."""
        n = len(block)
        frame = self._frame[:n]
        for channel in range(self.channels):
            frame[:, channel] = block
        if self.first_audible is None and np.abs(block).max(initial=0.0) > AUDIBLE:
            queued = max(0, self._buffer_frames() - self._stream.write_available)
            self.first_audible = time.time() + queued / self.sample_rate
        self._write(frame)
        self.frames_played += n

    def _write_silence(self, frames: int) -> None:
        frame = self._frame[:frames]
        frame.fill(0.0)
        self._write(frame)

    def _write(self, frame: np.ndarray) -> None:
        try:
            if self._stream.write(frame):
                self._underrun()
        except self._sd.PortAudioError as exc:
            raise DeviceLost(f"the output device stopped working ({exc})") from None

    def _underrun(self) -> None:
        """Count a gap in the sound, unless the process was stopped (it then ran dry, by design)."""
        now = time.monotonic()
        with self._count_lock:
            if self._suspended or now < self._excuse_until:
                self.excused += 1
                return
            self.underruns += 1
            self._recent = [t for t in self._recent if now - t < SUSPENSION_GRACE] + [now]

    def suspending(self) -> None:
        """The process is about to stop (Ctrl-Z; any thread): the underrun that follows is not a gap."""
        with self._count_lock:
            self._suspended = True

    def continued(self) -> None:
        """The process goes on after a stop (``fg``; any thread).

        The mixer thread may report the underrun before the thread that
        handles SIGCONT runs (always so after a SIGSTOP, which gives no
        warning): one counted in the last :data:`SUSPENSION_GRACE` seconds is
        taken back, and one in the next as many seconds is not counted.
        """
        now = time.monotonic()
        with self._count_lock:
            self._suspended = False
            self._excuse_until = now + SUSPENSION_GRACE
            recent = [t for t in self._recent if now - t < SUSPENSION_GRACE]
            self.underruns -= len(recent)
            self.excused += len(recent)
            self._recent = []

    def _buffer_frames(self) -> int:
        return int(round(self.latency * self.sample_rate)) + self.blocksize

    def close(self) -> None:
        """Let what was written play out, then close the device.

        Trap: some backends (ALSA's pulse plugin among them) drop what is
        still buffered when a stream stops, which would cut off the end of a
        fade. Writing a buffer's worth of silence first pushes the fade out.
        """
        try:
            if self._stream.active and not self._stream.closed:
                try:
                    pad = self._buffer_frames()
                    while pad > 0:
                        n = min(pad, self.blocksize)
                        self._write_silence(n)
                        pad -= n
                    self._stream.stop()
                except DeviceError:
                    self._stream.abort()
        finally:
            self._stream.close()

    def abandon(self) -> None:
        """A thread is blocked in :meth:`write` for good (a hung sound server): let the process go.

        sounddevice terminates PortAudio at interpreter exit, which would wait
        for that thread forever; its exit handler is removed, and the kernel
        closes the device when the process ends. Call from any thread.
        """
        import atexit

        handler = getattr(self._sd, "_exit_handler", None)  # none in a child's stand-in: its end is the child's
        if handler is not None:
            atexit.unregister(handler)
