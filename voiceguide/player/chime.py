"""The soft chime that marks a beginning: a station's acknowledgement, the end of a start delay.

One sound for both, so a person who knows the station's press knows what
the chime after ``play --delay`` means: "it begins now".

Traps:

* The chime is the ``chime`` bell cut to about a second with a
  raised-cosine tail and played 14 dB down: an acknowledgement, not an alarm.
* :func:`play_chime` opens the device for the chime alone and closes it
  again; the session that follows opens its own. That also wakes an HDMI or
  USB sink before the first words.
"""

from __future__ import annotations

from typing import Any, Optional

CHIME_SECONDS = 1.1
CHIME_DB = -14.0
SAMPLE_RATE = 48_000


def chime_samples(sample_rate: int = SAMPLE_RATE, repeat: int = 1) -> Any:
    """The chime: float32 mono, starting and ending at exactly zero (*repeat* times, 0.25 s apart)."""
    import numpy as np

    from voiceguide.audio.dsp import db_to_gain, fall
    from voiceguide.audio.generators import bell

    n = int(CHIME_SECONDS * sample_rate)
    ring = bell("chime", sample_rate)[:n].astype(np.float32)
    fade = int(0.35 * sample_rate)
    ring[n - fade:] *= fall(fade).astype(np.float32)  # ends at exactly 0.0
    ring *= np.float32(db_to_gain(CHIME_DB))
    if repeat > 1:
        gap = np.zeros(int(0.25 * sample_rate), dtype=np.float32)
        ring = np.concatenate([part for _ in range(repeat) for part in (ring, gap)][:-1])
    return ring


def play_chime(device: Any = None, latency: Optional[float] = None, repeat: int = 1,
               sample_rate: int = SAMPLE_RATE) -> Optional[float]:
    """Play the chime on *device*; return, once it has been heard, the wall-clock time it was first heard."""
    from voiceguide.sinks.live import LiveOutput

    samples = chime_samples(sample_rate, repeat)
    output = LiveOutput(sample_rate, device=device, latency=latency)
    try:
        output.start()
        step = output.blocksize
        for at in range(0, len(samples), step):
            output.write(samples[at:at + step].copy())
    finally:
        output.close()
    return output.first_audible
