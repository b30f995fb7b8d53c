"""Every sound that is not speech: drones, noise beds, sound loops, bells, the
breathing pacer and the walking tick, as pure numpy generators.

All functions return a fresh, C-contiguous ``float32`` mono array at the sample
rate ``sr`` they are given (48000 in use; 44100 and 22050 work too). They are
deterministic (fixed seeds, fixed phases) and vectorised (no per-sample Python
loops), so the same script always gives the same samples and building a whole
ambient bed costs a fraction of a second.

Two kinds of buffer, two level conventions
------------------------------------------

**Loops** (:func:`drone_loop`, :func:`noise_loop`, :func:`sound_loop`) are
played for the whole session by indexing them *modulo their length*. That is
what keeps ambient cheap (hundreds of times real time): nothing is
synthesised while the session runs. It only works if the last sample flows
into the first one exactly as any sample flows into the next, so every loop
here is built from components that are periodic in the loop length:

- drones from sinusoids whose frequencies (partials, detuned chorus copies and
  the slow amplitude LFOs alike) are rounded to a *whole number of cycles per
  loop*;
- noise shaped in the frequency domain (``rfft`` bins -> ``irfft``), whose
  result is circular by construction;
- sound files with their tail crossfaded into their head.

Loops are normalised to an RMS of exactly ``1/sqrt(2)`` (:data:`LOOP_RMS`),
the RMS of a full-scale sine, i.e. 0 dB. The mixer multiplies a loop by
``10 ** (level_db / 20)``, so a layer at ``-30 dB`` is as loud (by RMS) as a
-30 dBFS sine, whatever its colour or timbre.

Trap: a loop's *peak* is not bounded by 1.0. Noise has a crest factor of
about 4 (peaks near +-3 at this RMS), a drone about 1.4. Scale first,
then limit; never clip a loop to [-1, 1] before applying its level.

**One-shots** (:func:`bell`, :func:`pacer_cycle`, :func:`tick`) are
normalised to a peak of exactly 1.0; the mixer scales them. They begin at
exactly 0.0 with a raised-cosine attack (no click) and end at exactly 0.0,
so they can be dropped into the mix, or concatenated (pacer cycles, ticks),
at any sample without an edge.

Traps
-----

- Lengths are whole samples, computed with :func:`round` from seconds, the
  same way the timeline does (``round(seconds * sr)``). A bell lasts exactly
  ``round(BELL_SECONDS[kind] * sr)`` samples and a pacer cycle exactly
  ``round((inhale + hold + exhale + hold_out) * sr)`` samples: the timeline
  relies on that, do not "improve" it with ``ceil``.
- A drone's frequencies are quantised to ``1 / seconds`` Hz (1/30 Hz for the
  default 30 s loop): far below what anyone can hear, but a drone is *not*
  exactly at ``hz``. The LFO rates are quantised the same way, so loops much
  shorter than ~20 s turn the slow movement into a faster tremolo.
- Noise is deterministic per ``(color, sr, seconds, seed)`` and per numpy
  version (``numpy.random.default_rng``, PCG64). Give two noise layers in one
  session different seeds or they will be identical and sum coherently.
- Buffers are returned fresh; the mixer may cache them, but should not write
  into a cached array shared between layers.
- Nothing here touches an audio device; only :func:`sound_loop` and
  :func:`music_piece` do I/O (each reads one file, streamed; a loop's file
  may last at most :data:`MAX_SOUND_SECONDS`, and of a piece of music only
  what will be played is decoded).
"""

from voiceguide.audio.generators._common import LOOP_RMS
from voiceguide.audio.generators.loops import NOISE_HIGHPASS_HZ, drone_loop, noise_loop
from voiceguide.audio.generators.music_file import MUSIC_RMS_DB, music_piece, music_seconds
from voiceguide.audio.generators.oneshots import (CUE_TONE_SECONDS, PACER_HIGH_HZ, PACER_LOW_HZ,
                                                  TICK_SECONDS, bell, cue_tone, pacer_cycle, tick)
from voiceguide.audio.generators.sound_file import (MAX_SOUND_RATE, MAX_SOUND_SECONDS,
                                                    SOUND_CROSSFADE_SECONDS, SoundLoopError,
                                                    sound_loop)

__all__ = [
    "CUE_TONE_SECONDS", "LOOP_RMS", "MAX_SOUND_RATE", "MAX_SOUND_SECONDS", "MUSIC_RMS_DB", "NOISE_HIGHPASS_HZ",
    "PACER_HIGH_HZ", "PACER_LOW_HZ", "SOUND_CROSSFADE_SECONDS", "SoundLoopError", "TICK_SECONDS",
    "bell", "cue_tone", "drone_loop", "music_piece", "music_seconds", "noise_loop", "pacer_cycle",
    "sound_loop", "tick",
]
