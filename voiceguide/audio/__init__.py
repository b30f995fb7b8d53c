"""Sound generation and mixing: numpy only, no device and no speech engine.

* :mod:`.generators`: seamless drone and noise loops, sound-file loops, bells,
  the breathing pacer and walking ticks (deterministic, seeded);
* :mod:`.loopcache`: those loops cached on disk and memory-mapped;
* :mod:`.mixer`: timeline events into blocks of float32 frames;
* :mod:`.dsp`: what they (and the live sink) share: dB to gain,
  raised-cosine ramps, the soft limiter, band-limited resampling.
"""

__all__ = ["dsp", "generators", "loopcache", "mixer"]
