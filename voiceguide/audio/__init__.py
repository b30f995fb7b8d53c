"""Sound generation and mixing: numpy only, no device and no speech engine.

* :mod:`.sources`: seamless drone and noise loops, sound-file loops, bells,
  the breathing pacer and walking ticks (deterministic, seeded);
* :mod:`.loopcache`: those loops cached on disk and memory-mapped;
* :mod:`.mixer`: timeline events into blocks of float32 frames.
"""

__all__ = ["loopcache", "mixer", "sources"]
