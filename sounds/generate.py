"""Make the built-in ambient sounds: rain, ocean waves, a stream and wind.

Run from the checkout (``.venv/bin/python sounds/generate.py``); it rewrites
``sounds/*.ogg``. Everything is generated here with numpy from a fixed seed,
so the files are ours, reproducible and free of anyone else's rights.

How they stay seamless: every layer is made *circular* over the loop's
length. Noise is shaped in the frequency domain (an FFT of N samples is
periodic in N), envelopes are sums of sinusoids with a whole number of
cycles per loop, and one-shot events (rain drops, bubbles) wrap around the
end. So sample N-1 flows into sample 0 like any other pair, and the player's
crossfade at the seam (``audio.generators.sound_loop``) has nothing to hide.

Why OGG Vorbis, mono, 22,050 Hz: ambient beds sit 25-35 dB under the voice,
so the top octave adds nothing a listener hears, and Vorbis keeps 30 s of
noise-like sound near 150 KB where FLAC needs over a megabyte. libsndfile
reads it everywhere voiceguide runs (the soundfile wheels bundle it; Debian
and Raspberry Pi OS build it with Vorbis).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SR = 22_050
SECONDS = 30.0
N = int(SR * SECONDS)
HERE = Path(__file__).resolve().parent


def shaped_noise(rng: np.random.Generator, shape) -> np.ndarray:
    """White noise filtered by ``shape(freqs_hz)`` (circular, so seamless)."""
    spectrum = np.fft.rfft(rng.standard_normal(N))
    freqs = np.fft.rfftfreq(N, 1.0 / SR)
    out = np.fft.irfft(spectrum * shape(freqs), n=N)
    return out / (np.std(out) + 1e-12)


def band(lo: float, hi: float, slope: float = 0.0):
    """A smooth band-pass (raised-cosine skirts an octave wide) with a 1/f**slope tilt."""

    def shape(f: np.ndarray) -> np.ndarray:
        g = np.ones_like(f)
        with np.errstate(divide="ignore", invalid="ignore"):
            lo_edge = np.clip(np.log2(np.maximum(f, 1e-3) / (lo / 2)), 0.0, 1.0)
            hi_edge = np.clip(np.log2(2 * hi / np.maximum(f, 1e-3)), 0.0, 1.0)
            g *= 0.5 - 0.5 * np.cos(np.pi * lo_edge)
            g *= 0.5 - 0.5 * np.cos(np.pi * hi_edge)
            if slope:
                g *= np.where(f > 0, (np.maximum(f, 20.0) / 1000.0) ** (-slope / 2), 0.0)
        g[0] = 0.0
        return g

    return shape


def envelope(rng: np.random.Generator, cycles, depth: float, floor: float = 0.0) -> np.ndarray:
    """A slow, positive envelope: sinusoids with whole cycles per loop (seamless)."""
    t = np.arange(N) / N
    e = np.zeros(N)
    for k in cycles:
        e += rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * k * t + rng.uniform(0, 2 * np.pi))
    e = (e - e.min()) / (e.max() - e.min() + 1e-12)
    return floor + (1.0 - floor) * (1.0 - depth + depth * e)


def scatter(rng: np.random.Generator, per_second: float, grain) -> np.ndarray:
    """Add ``grain(rng)`` at Poisson times, wrapping round the end of the loop."""
    out = np.zeros(N)
    count = rng.poisson(per_second * SECONDS)
    for start in rng.integers(0, N, size=count):
        g = grain(rng)
        idx = (start + np.arange(len(g))) % N
        np.add.at(out, idx, g)
    return out


def drop(rng: np.random.Generator) -> np.ndarray:
    """One rain drop: a short resonant ping with a fast decay."""
    n = int(SR * rng.uniform(0.004, 0.02))
    t = np.arange(n) / SR
    f = rng.uniform(1800, 6000)
    return rng.uniform(0.05, 1.0) * np.sin(2 * np.pi * f * t) * np.exp(-t / (n / SR / 4))


def bubble(rng: np.random.Generator) -> np.ndarray:
    """One bubble in a stream: a rising chirp (the Minnaert resonance shrinking)."""
    n = int(SR * rng.uniform(0.02, 0.06))
    t = np.arange(n) / SR
    f0 = rng.uniform(350, 1400)
    f = f0 * (1 + 2.5 * t / t[-1])
    phase = 2 * np.pi * np.cumsum(f) / SR
    return rng.uniform(0.2, 1.0) * np.sin(phase) * np.exp(-t / (n / SR / 3)) * np.minimum(1, t / 0.002)


def rain(rng: np.random.Generator) -> np.ndarray:
    bed = shaped_noise(rng, band(400, 9000, slope=0.6)) * envelope(rng, (1, 2, 3), depth=0.25)
    rumble = shaped_noise(rng, band(60, 300, slope=1.0)) * 0.35
    drops = scatter(rng, 140, drop)
    drops /= np.std(drops) + 1e-12
    return bed + rumble + 0.45 * drops


def ocean(rng: np.random.Generator) -> np.ndarray:
    # Four waves in 30 s: the swell envelope and the brightness rise and fall together.
    swell = envelope(rng, (4,), depth=0.85, floor=0.08) ** 1.5
    low = shaped_noise(rng, band(50, 600, slope=1.2))
    high = shaped_noise(rng, band(600, 6000, slope=0.8))
    wash = np.roll(swell, int(0.6 * SR))  # the foam trails the wave a little
    return low * swell + 0.6 * high * wash ** 2


def stream(rng: np.random.Generator) -> np.ndarray:
    flow = shaped_noise(rng, band(300, 5000, slope=0.5)) * envelope(rng, (3, 7, 13, 29), depth=0.4)
    bubbles = scatter(rng, 45, bubble)
    bubbles /= np.std(bubbles) + 1e-12
    return flow + 0.5 * bubbles


def wind(rng: np.random.Generator) -> np.ndarray:
    # Three overlapping bands whose levels drift apart: the pitch of the wind moves.
    out = np.zeros(N)
    for lo, hi, cycles in ((80, 300, (1, 2)), (250, 900, (2, 3)), (700, 2500, (3, 5))):
        out += shaped_noise(rng, band(lo, hi, slope=1.0)) * envelope(rng, cycles, depth=0.9, floor=0.05)
    return out * envelope(rng, (1, 2), depth=0.5)


SOUNDS = {"rain": rain, "ocean": ocean, "stream": stream, "wind": wind}


def main() -> None:
    import soundfile as sf

    for seed, (name, make) in enumerate(SOUNDS.items(), start=1):
        x = make(np.random.default_rng(seed))
        x = x - x.mean()
        x = 0.5 * x / np.max(np.abs(x))  # headroom: the player sets the level, not the file
        path = HERE / f"{name}.ogg"
        sf.write(str(path), x.astype(np.float32), SR, format="OGG", subtype="VORBIS",
                 compression_level=0.55)
        print(f"{path.name}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
