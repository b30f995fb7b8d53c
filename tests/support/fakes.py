"""Fakes for fast unit tests only: the tests that prove a path works use the real parts."""

from __future__ import annotations

from voiceguide.script.model import Source

SRC = Source("test.yaml", 1, 1)
"""A source location for steps built in code rather than loaded from a file."""


class FakeSynth:
    """Deterministic stand-in clips: a tone burst whose length depends on the text."""

    def __init__(self, sample_rate=48000, seconds_per_word=0.4):
        self.sample_rate = sample_rate
        self.spw = seconds_per_word
        self.calls = 0

    def length(self, text, voice) -> int:
        return int(round(len(text.split()) * self.spw * self.sample_rate))

    def clip(self, text, voice):
        import numpy as np

        self.calls += 1
        n = self.length(text, voice)
        t = np.arange(n) / self.sample_rate
        env = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
        return (0.5 * env * np.sin(2 * np.pi * 220 * t)).astype(np.float32)

    def prefetch(self, items):
        list(items)

    def ready(self, text, voice) -> bool:
        return True   # made on demand, instantly: play never waits for it

    def voice_id(self, voice) -> str:
        return "fake:tone"

    def close(self):
        pass


class RecordingOutput:
    """A fake live output (the protocol of :class:`voiceguide.sinks.live.LiveOutput`), unpaced.

    It keeps a copy of every block the player writes, so a test can listen
    to what would have been played, and it can misbehave on cue:

    * :meth:`at` -- call an action (in the mixer thread) once that many
      frames have been written: a key press at a known point of the session;
    * :meth:`lose_at` -- raise ``DeviceLost`` there, as an unplugged USB sink
      or a restarted sound server does; ``reopen`` works unless told it may not;
    * :meth:`hang_at` -- block in ``write`` from there on, as a hung sound
      server does, until :meth:`release`.
    """

    def __init__(self, sample_rate=48000, blocksize=4096, latency=0.0):
        import threading

        self.sample_rate = sample_rate
        self.blocksize = blocksize
        self.latency = latency
        self.underruns = 0
        self.first_audible = None
        self.blocks = []
        self.written = 0
        self.started = self.closed = self.abandoned = False
        self.reopened = 0
        self._actions = []
        self._lose = []
        self._can_reopen = True
        self._hang_at = None
        self._released = threading.Event()

    # -- cues ------------------------------------------------------------------------

    def at(self, frames, action):
        self._actions.append((int(frames), action))
        self._actions.sort(key=lambda item: item[0])

    def lose_at(self, frames, comes_back=True):
        self._lose.append(int(frames))
        self._can_reopen = comes_back

    def hang_at(self, frames):
        self._hang_at = int(frames)

    def release(self):
        self._released.set()

    # -- the protocol -------------------------------------------------------------------

    def start(self):
        self.started = True

    def write(self, block):
        from voiceguide.sinks.live import DeviceLost

        if self._lose and self.written >= self._lose[0]:
            self._lose.pop(0)
            raise DeviceLost("the output device stopped working (fake)")
        if self._hang_at is not None and self.written >= self._hang_at:
            self._released.wait()
            return
        self.blocks.append(block.copy())
        self.written += len(block)
        while self._actions and self.written >= self._actions[0][0]:
            _, action = self._actions.pop(0)
            action()

    def reopen(self):
        from voiceguide.errors import DeviceError

        if not self._can_reopen:
            raise DeviceError("no such device (fake)")
        self.reopened += 1

    def close(self):
        self.closed = True

    def abandon(self):
        self.abandoned = True

    def recording(self):
        import numpy as np

        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, dtype=np.float32)


class HangingSynth(FakeSynth):
    """A FakeSynth whose clip for one text never comes, as a hung speech worker's, until closed."""

    def __init__(self, hang_on, **kw):
        import threading

        super().__init__(**kw)
        self.hang_on = hang_on
        self.closed_with = None
        self._closed = threading.Event()

    def clip(self, text, voice):
        if text == self.hang_on:
            self._closed.wait()
            from voiceguide.errors import EngineError

            raise EngineError("the synthesizer was closed")
        return super().clip(text, voice)

    def close(self, grace=1.0):
        self.closed_with = grace
        self._closed.set()
