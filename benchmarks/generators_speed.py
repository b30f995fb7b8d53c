"""How long each non-speech generator takes (voiceguide.audio.generators).

Run: python benchmarks/generators_speed.py [sample_rate ...]   (default 48000)

Every generator runs once when a session starts (the mixer caches the
result), so what matters is start-up latency: the ambient bed must be ready
well before the first words. Multiply by about ten for a Raspberry Pi Zero 2 W
core. Each figure is the best of a few runs; "x real time" is the length of
audio produced divided by the time taken.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voiceguide.audio import generators  # noqa: E402


def best_of(fn, repeats=3):
    best = float("inf")
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main(rates):
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "field.wav"
        rng = np.random.default_rng(1)
        soundfile.write(str(wav), 0.1 * rng.standard_normal((44100 * 60, 2)), 44100)
        for sr in rates:
            cases = [
                ("drone_loop(110 Hz, 30 s)", lambda sr=sr: generators.drone_loop(110.0, sr)),
                ("noise_loop(white, 20 s)", lambda sr=sr: generators.noise_loop("white", sr)),
                ("noise_loop(pink, 20 s)", lambda sr=sr: generators.noise_loop("pink", sr)),
                ("noise_loop(brown, 20 s)", lambda sr=sr: generators.noise_loop("brown", sr)),
                ("sound_loop(60 s stereo 44.1k)", lambda sr=sr: generators.sound_loop(wav, sr)),
                ("bell(bowl)", lambda sr=sr: generators.bell("bowl", sr)),
                ("bell(chime)", lambda sr=sr: generators.bell("chime", sr)),
                ("bell(gong)", lambda sr=sr: generators.bell("gong", sr)),
                ("pacer_cycle(4, 1, 6, 1)", lambda sr=sr: generators.pacer_cycle(4, 1, 6, 1, sr)),
                ("tick()", lambda sr=sr: generators.tick(sr)),
            ]
            print(f"sample rate {sr} Hz")
            for name, fn in cases:
                seconds, out = best_of(fn)
                audio = len(out) / sr
                print(f"  {name:32s} {seconds * 1000:8.1f} ms  {audio:6.2f} s audio"
                      f"  {audio / seconds:8.0f}x real time")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [48000])
