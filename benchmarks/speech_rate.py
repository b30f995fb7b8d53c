"""Measured speaking rate against the requested one, per engine, same run.

    python benchmarks/speech_rate.py [--rates 100,140,175] [--limit N]

Synthesises every spoken sentence of the built-in scripts (four words or
more) with each installed engine at each requested rate, in a temporary
cache, and prints the words per minute actually spoken: words divided by
the clips' lengths (trimmed speech, sentence pauses inside a clip included).

Piper's rate is set through ``length_scale = natural / rate``
(``voiceguide.synth.engines.piper.NATURAL_WPM``); the last column of the
Piper rows is the natural rate this measurement implies, to recalibrate it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sentences(limit: int) -> list:
    from voiceguide.script.catalog import entries
    from voiceguide.script.loader import load
    from voiceguide.timeline import flatten

    texts = []
    for entry in entries():
        if not entry.builtin:
            continue
        for item in flatten(load(entry.path)):
            if item.kind == "say" and len(item.text.split()) >= 4 and item.text not in texts:
                texts.append(item.text)
    return texts[:limit] if limit else texts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="100,140,175")
    ap.add_argument("--limit", type=int, default=0, help="only the first N sentences")
    args = ap.parse_args()
    rates = [int(r) for r in args.rates.split(",")]

    from voiceguide.synth import Synthesizer, VoiceSpec
    from voiceguide.synth.engines import piper

    texts = sentences(args.limit)
    words = sum(len(t.split()) for t in texts)
    print(f"{len(texts)} sentences, {words} words from the built-in scripts")
    engines = ["espeak"] + (["piper"] if piper.available() else [])
    if "piper" not in engines:
        print("piper: not installed (pip install 'voiceguide[neural]')")
    with tempfile.TemporaryDirectory() as d:
        with Synthesizer(sample_rate=22050, cache_dir=d) as synth:
            for engine in engines:
                for rate in rates:
                    voice = VoiceSpec(name=engine, rate=rate)
                    t0 = time.perf_counter()
                    synth.prefetch((t, voice) for t in texts)
                    samples = sum(synth.length(t, voice) for t in texts)
                    took = time.perf_counter() - t0
                    seconds = samples / 22050
                    measured = words / seconds * 60
                    line = (f"{synth.voice_id(voice):<26} requested {rate:>3} wpm  measured {measured:6.1f} wpm  "
                            f"({seconds:6.1f} s of speech, synthesised in {took:5.1f} s)")
                    if engine == "piper":
                        natural = piper.natural_wpm(synth.choice(voice).voice)
                        line += f"  implied natural {natural * measured / rate:6.1f} wpm"
                    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
