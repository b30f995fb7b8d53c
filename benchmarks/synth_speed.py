"""How fast is speech synthesis? Prints the figures that matter for start-up.

    python benchmarks/synth_speed.py [--rounds N]

For each engine installed (espeak-ng always; Piper where the `neural` extra
is), in the same run:

* the engine's voice choice and version for the cache key (no worker);
* worker start: process spawn -> python -> imports -> engine init (Piper:
  model load) -> "ready" line (what the first cache miss of a session costs);
* one 10-word sentence on a warm worker (synthesis, trim, resample, write),
  and the speed in the worker over the sentences as a multiple of real time;
* the same clip from the warm disk cache (fresh Synthesizer: no process),
  and ``length()`` from the entry header alone;
* the resampler alone, soxr and numpy paths, on 5 s of audio 22050 -> 48000.

Uses a temporary cache directory; the user's cache is not touched. A Pi
Zero 2 W core is roughly ten times slower than a desktop core.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

SENTENCES = [
    "Find a comfortable position and let your shoulders drop {}.",
    "Notice the weight of your hands resting in your lap {}.",
    "Press your palms together and feel the warmth grow {}.",
    "Let the next breath be a little slower than before {}.",
]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    t0 = time.perf_counter()
    import numpy as np

    from voiceguide.synth import Synthesizer, VoiceSpec
    from voiceguide.synth import resample as rs
    from voiceguide.synth.engines import piper

    t_import = time.perf_counter() - t0
    print(f"import voiceguide.synth (parent)      {ms(t_import)}")
    for engine in ("espeak", "piper"):
        if engine == "piper" and not piper.available():
            print("== piper: not installed (pip install 'voiceguide[neural]')")
            continue
        bench_engine(engine, args.rounds, Synthesizer, VoiceSpec)

    x = np.random.default_rng(1).standard_normal(22050 * 5).astype(np.float32) * 0.1
    for name, fn in (("soxr", rs.resample_soxr), ("numpy", rs.resample_numpy)):
        if name == "soxr" and not rs.have_soxr():
            print("resample soxr: not installed")
            continue
        fn(x[:1000], 22050, 48000)
        t0 = time.perf_counter()
        for _ in range(3):
            fn(x, 22050, 48000)
        print(f"resample 5 s 22050->48000, {name:5s}    {ms((time.perf_counter() - t0) / 3)}")
    return 0


def bench_engine(engine: str, rounds: int, Synthesizer, VoiceSpec) -> None:
    from voiceguide.synth.workers import Worker as _Worker, default_worker_argv

    voice = VoiceSpec(name=engine)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        with Synthesizer(cache_dir=d) as probe:
            choice = probe.choice(voice)
        t_ident = time.perf_counter() - t0
        print(f"== {choice.qualified}: {choice.identity()['version']}")
        print(f"voice choice + cache-key identity     {ms(t_ident)}  (first in this process; model digest memo cold)")

        argv = default_worker_argv() + ["--engine", engine]
        if choice.model is not None:
            argv += ["--model", str(choice.model)]
        starts = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            w = _Worker(argv, 60.0)
            starts.append(time.perf_counter() - t0)
            w.close()
        print(f"worker start (spawn .. ready), median {ms(statistics.median(starts))}  "
              f"(min {ms(min(starts)).strip()}, max {ms(max(starts)).strip()})")

        with Synthesizer(cache_dir=d, workers=1) as synth:
            t0 = time.perf_counter()
            first = synth.clip("Settle in, and let your eyes close when you are ready.", voice)
            t_first = time.perf_counter() - t0
            times, audio = [], []
            for i in range(rounds):
                text = SENTENCES[i % len(SENTENCES)].format(i)
                t0 = time.perf_counter()
                x = synth.clip(text, voice)
                times.append(time.perf_counter() - t0)
                audio.append(x.size / synth.sample_rate)
        print(f"first clip of a session (incl. start) {ms(t_first)}  ({first.size / 48000:.2f} s of speech)")
        med = statistics.median(times)
        print(f"10-word sentence, warm worker, median {ms(med)}  "
              f"({statistics.median(audio):.2f} s of speech, {statistics.median(audio) / med:.0f}x real time)")
        print(f"synthesis speed in one warm worker    {sum(audio) / sum(times):8.1f}x real time "
              f"({sum(audio):.1f} s of speech in {sum(times):.2f} s)")

        with Synthesizer(cache_dir=d) as synth:
            text = SENTENCES[0].format(0)
            t0 = time.perf_counter()
            n = synth.length(text, voice)
            t_len = time.perf_counter() - t0
            t0 = time.perf_counter()
            synth.clip(text, voice)
            t_hit = time.perf_counter() - t0
            assert synth.stats["workers_started"] == 0
        print(f"length() from the disk cache          {ms(t_len)}  ({n} samples; reads, checks and pins the clip)")
        print(f"clip() after length()                 {ms(t_hit)}  (the pinned clip; no process started)")


if __name__ == "__main__":
    sys.exit(main())
