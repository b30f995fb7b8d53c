"""The mixer: timeline events + clips + ambient layers -> blocks of float32 frames.

Every sample is a pure function of its absolute position in the session, so
a block of any size at any position gives the same samples: ``render`` (large
blocks) and ``play`` (small blocks) produce identical audio, and seeking is
just rendering from another position. That is why:

* ambient layers are seamless loops indexed modulo their length (no
  oscillator state to carry from block to block: the phase is the index);
* ducking, fades and the limiter are computed from absolute positions;
* noise is seeded, never drawn at mix time.

The limiter (:func:`voiceguide.audio.dsp.soft_limit`) is the last step of
every block: whatever a layer holds -- a damaged loop, a clip full of NaN, a
gain that overflows -- no sample leaves the mixer above -1 dBFS or as a
non-number (those become silence, with one warning line per session).

The mixer runs in a normal thread (or the render loop), never in the audio
callback; it may block on a clip that is still being synthesised. It keeps
its scratch buffers between calls, so a steady run of same-size blocks
allocates little.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, Dict, Iterator, List, Optional, Sequence, cast

import numpy as np

from voiceguide.audio import generators
from voiceguide.audio.dsp import db_to_gain, raised_cosine, soft_limit
from voiceguide import kinds
from voiceguide.script.model import Drone, Layer, Noise, Script, SoundLoop
from voiceguide.script.units import format_duration
from voiceguide.timeline import Event, PlacedEvents

ClipFor = Callable[[Event], np.ndarray]
#: ``music_for(samples)``: the listener's piece, float32 mono, at least that long or shorter (padded here).
MusicFor = Callable[[int], np.ndarray]

#: Ducking starts this long before a voice onset (we know onsets in advance)...
DUCK_ATTACK = 0.15
#: ...and the bed comes back up over this long after the voice ends.
DUCK_RELEASE = 0.6
#: The ambient bed fades in at the start and out at the end of the session.
AMBIENT_FADE_IN = 4.0
AMBIENT_FADE_OUT = 5.0
#: Every sound stops with a short fade at the very end (nothing is cut).
MASTER_FADE_OUT = 0.05
# (The one-shot sounds' levels -- bell, pacer, tick, cue tone -- are their kinds': voiceguide/kinds/.)


@dataclass
class _Bed:
    """One ambient layer: a seamless loop and its gain."""

    loop: np.ndarray
    gain: float

    def add_into(self, out: np.ndarray, start: int) -> None:
        """out += gain * loop[start : start + len(out)] (wrapping)."""
        n, size = len(out), len(self.loop)
        pos = start % size
        done = 0
        while done < n:
            take = min(n - done, size - pos)
            out[done:done + take] += self.gain * self.loop[pos:pos + take]
            done += take
            pos = 0


def build_beds(layers: Sequence[Layer], sample_rate: int, level_offset_db: float = 0.0) -> List[_Bed]:
    """Render each ambient layer's loop once, at its level (plus an offset)."""
    from voiceguide.audio.loopcache import cached_loop

    beds = []
    for index, layer in enumerate(layers):
        if isinstance(layer, Drone):
            loop = cached_loop(f"drone|{layer.hz!r}|{sample_rate}",
                               partial(generators.drone_loop, layer.hz, sample_rate))
        elif isinstance(layer, Noise):
            loop = cached_loop(f"noise|{layer.color}|{index}|{sample_rate}",
                               partial(generators.noise_loop, layer.color, sample_rate, seed=index))
        elif isinstance(layer, SoundLoop):
            loop = _sound_file_loop(layer, sample_rate)
        else:  # pragma: no cover
            raise TypeError(f"unknown ambient layer {layer!r}")
        beds.append(_Bed(loop, db_to_gain(layer.level_db + level_offset_db)))
    return beds


def _sound_file_loop(layer: SoundLoop, sample_rate: int) -> np.ndarray:
    """A ``sound:`` layer's loop; its problems name the script line that asked for it."""
    from voiceguide.audio.loopcache import cached_loop

    try:
        stat = layer.path.stat()
        return cached_loop(f"sound|{layer.path}|{stat.st_size}|{stat.st_mtime_ns}|{sample_rate}",
                           lambda: generators.sound_loop(layer.path, sample_rate))
    except OSError as exc:
        raise generators.SoundLoopError(
            f"{layer.source}: cannot read sound loop {str(layer.path)!r}: {exc.strerror or exc}") from None
    except generators.SoundLoopError as exc:
        raise generators.SoundLoopError(f"{layer.source}: {exc}") from None


class Mixer:
    """Mixes a session, block by block, at any position.

    *timeline* is any :class:`~voiceguide.timeline.PlacedEvents`: a compiled
    ``Timeline``, or a ``LazyTimeline`` (``play`` starts before
    every clip is ready), asked the same questions either way.
    *clip_for(event)* returns a say event's float32 clip, exactly
    ``event.length`` samples long (it may block while the clip is made).
    """

    def __init__(self, timeline: PlacedEvents, script: Script, clip_for: ClipFor, *,
                 ambient: bool = True, ambient_db: float = 0.0, music_for: Optional[MusicFor] = None):
        self.timeline = timeline
        self.sample_rate = timeline.sample_rate
        self._clip_for = clip_for
        self.duck_db = script.duck_db
        self._beds = build_beds(script.ambient, self.sample_rate, ambient_db) if ambient else []
        self._bells: Dict[str, np.ndarray] = {}
        self._pacers: Dict[tuple, np.ndarray] = {}
        self._tick: Optional[np.ndarray] = None
        self._cue_tone: Optional[np.ndarray] = None
        self._music_for = music_for
        self._music: Optional[np.ndarray] = None
        self._clips: Dict[int, np.ndarray] = {}
        self._scratch = np.zeros(0, dtype=np.float32)
        self._gain = 1.0          # master gain (the player's volume keys)
        self._gain_target = 1.0
        self._warned_not_numbers = False

    def set_volume_db(self, db: float) -> None:
        """Master volume for the blocks that follow, reached smoothly over one block.

        Applied before the limiter, so no setting can clip. At 0 dB (the
        default) the output is exactly what ``render`` writes.
        """
        self._gain_target = db_to_gain(db)

    # -- events ---------------------------------------------------------

    @property
    def length(self) -> Optional[int]:
        """Session length in samples, once known (at once for a Timeline)."""
        return self.timeline.length

    def frames_at(self, position: int, block: int) -> int:
        """How many frames to render from *position*: *block*, fewer at the end, 0 past it."""
        length = self.timeline.length_by(position + block)
        return block if length is None else max(0, min(block, length - position))

    # -- the services a step kind's sound hook uses (voiceguide.kinds.Mixing) ----------

    def bell(self, name: str) -> np.ndarray:
        """A bell's whole ring, made once and kept in the loop cache."""
        if name not in self._bells:
            from voiceguide.audio.loopcache import cached_loop

            sr = self.sample_rate
            self._bells[name] = cached_loop(f"bell|{name}|{sr}", lambda: generators.bell(name, sr))
        return self._bells[name]

    def pacer(self, inhale: float, hold: float, exhale: float, hold_out: float) -> np.ndarray:
        """One cycle of the breathing pacer's tone, made once per pattern and kept in the loop cache."""
        key = (inhale, hold, exhale, hold_out)
        if key not in self._pacers:
            from voiceguide.audio.loopcache import cached_loop

            sr = self.sample_rate
            self._pacers[key] = cached_loop(f"pacer|{key!r}|{sr}",
                                            lambda: generators.pacer_cycle(*key, sr))
        return self._pacers[key]

    def tick(self) -> np.ndarray:
        """One walking tick."""
        if self._tick is None:
            self._tick = np.asarray(generators.tick(self.sample_rate), dtype=np.float32)
        return self._tick

    def cue_tone(self) -> np.ndarray:
        """The record step's soft tone."""
        if self._cue_tone is None:
            self._cue_tone = generators.cue_tone(self.sample_rate)
        return self._cue_tone

    def music(self, length: int) -> Optional[np.ndarray]:
        """The listener's piece, exactly *length* samples (decoded once); None without one (``preview``)."""
        if self._music_for is None:
            return None
        if self._music is None or len(self._music) != length:
            piece = np.asarray(self._music_for(length), dtype=np.float32)[:length]
            if len(piece) < length:  # resampling may round a sample short
                piece = np.concatenate([piece, np.zeros(length - len(piece), dtype=np.float32)])
            self._music = piece
        return self._music

    @staticmethod
    def gain(db: float) -> float:
        return db_to_gain(db)

    @staticmethod
    def fade(x: np.ndarray) -> np.ndarray:
        return raised_cosine(x)

    def clip(self, event: kinds.Sounding) -> np.ndarray:
        """A say event's clip, exactly as long as the timeline placed it."""
        key = event.start
        clip = self._clips.get(key)
        if clip is None:
            clip = np.asarray(self._clip_for(cast(Event, event)), dtype=np.float32)  # the timeline's own
            if len(clip) != event.length:
                raise ValueError(f"clip for {event.text!r} has {len(clip)} samples, "
                                 f"timeline expects {event.length}")
            self._clips[key] = clip
        return clip

    @staticmethod
    def add(out: np.ndarray, start: int, buf: np.ndarray, at: int, gain: float = 1.0) -> None:
        """out[...] += gain * buf placed at absolute sample *at* (clipped to the block)."""
        n = len(out)
        lo = max(start, at)
        hi = min(start + n, at + len(buf))
        if hi <= lo:
            return
        if gain == 1.0:
            out[lo - start:hi - start] += buf[lo - at:hi - at]
        else:
            out[lo - start:hi - start] += gain * buf[lo - at:hi - at]

    # -- mixing ----------------------------------------------------------------

    def render(self, start: int, out: np.ndarray) -> None:
        """Fill *out* (float32, any length) with samples [start, start + len(out)).

        Each event is sounded by its step kind (:meth:`voiceguide.kinds.Kind.sound`,
        handed this mixer's services); a kind that ``ducks`` holds the ambient
        bed down from just before it starts (so it is looked at ahead of the
        block) until just after it ends.
        """
        sr = self.sample_rate
        n = len(out)
        end = start + n
        lookahead = int((max(DUCK_ATTACK, AMBIENT_FADE_OUT) + 0.01) * sr)
        length = self.timeline.length_by(end + lookahead)  # None: the end is further than any fade
        out[:] = 0.0
        if self._clips:  # forget clips that have finished playing
            for key in [k for k in self._clips if k + len(self._clips[k]) < start]:
                del self._clips[key]

        says = []
        for event in self.timeline.sounding(start, end + int(DUCK_ATTACK * sr) + 1):
            kind = kinds.get(event.kind)
            if kind.ducks:
                says.append(event)
            if event.start < end:
                kind.sound(event, out, start, self)
        # A voice ending just before this block still holds the bed down.
        for event in self.timeline.sounding(start - int(DUCK_RELEASE * sr) - 1, start):
            if kinds.get(event.kind).ducks and event not in says:
                says.append(event)

        if self._beds:
            self._mix_ambient(out, start, says, length)
        self._master_fade(out, start, length)
        if self._gain != 1.0 or self._gain_target != 1.0:
            self._apply_gain(out)
        if soft_limit(out) and not self._warned_not_numbers:
            self._warned_not_numbers = True
            from voiceguide.audio.loopcache import warn

            warn(f"voiceguide: warning: the mix at {format_duration(start / sr)} held samples that "
                 f"are not numbers (a damaged sound); they are played as silence")

    def _apply_gain(self, out: np.ndarray) -> None:
        if self._gain == self._gain_target:
            out *= np.float32(self._gain)
            return
        ramp = np.linspace(self._gain, self._gain_target, len(out), dtype=np.float32)
        out *= ramp
        self._gain = self._gain_target

    def _mix_ambient(self, out: np.ndarray, start: int, says: List[Event], length: Optional[int]) -> None:
        n = len(out)
        sr = self.sample_rate
        if len(self._scratch) < n:
            self._scratch = np.zeros(n, dtype=np.float32)
        bed = self._scratch[:n]
        bed[:] = 0.0
        for layer in self._beds:
            layer.add_into(bed, start)

        t = np.arange(start, start + n, dtype=np.float64)
        env = np.ones(n, dtype=np.float64)
        fade_in = int(AMBIENT_FADE_IN * sr)
        if start < fade_in:
            env *= raised_cosine(t / fade_in)
        if length is not None:
            fade_out = int(AMBIENT_FADE_OUT * sr)
            if start + n > length - fade_out:
                env *= raised_cosine((length - t) / fade_out)
        if says and self.duck_db > 0:
            attack, release = DUCK_ATTACK * sr, DUCK_RELEASE * sr
            depth = np.zeros(n, dtype=np.float64)
            for event in says:
                rise = (t - (event.start - attack)) / attack
                fall = ((event.end + release) - t) / release
                np.minimum(rise, fall, out=rise)
                np.maximum(depth, raised_cosine(rise), out=depth)
            env *= np.exp(depth * (-self.duck_db * math.log(10.0) / 20.0))
        bed *= env.astype(np.float32)
        out += bed

    def _master_fade(self, out: np.ndarray, start: int, length: Optional[int]) -> None:
        if length is None:
            return
        n = len(out)
        fade = int(MASTER_FADE_OUT * self.sample_rate)
        if start + n <= length - fade:
            return
        t = np.arange(start, start + n, dtype=np.float64)
        out *= raised_cosine((length - t) / fade).astype(np.float32)


def render_blocks(mixer: Mixer, block: int = 1 << 16, start: int = 0) -> Iterator[np.ndarray]:
    """Yield the session from *start* to its end in blocks (the last one shorter).

    The yielded array is reused: copy it if you keep it.
    """
    buf = np.zeros(block, dtype=np.float32)
    position = start
    while True:
        n = mixer.frames_at(position, block)
        if n == 0:
            return
        view = buf[:n]
        mixer.render(position, view)
        yield view
        position += n
