"""Caption timing: how far each cue's start is from its first word's onset in the audio.

    python benchmarks/captions.py [--rate 140] [--limit N]

For each installed engine (espeak-ng always; Piper where the ``neural``
extra is) every distinct spoken sentence of the built-in scripts is
synthesised into a temporary cache (the user's is not touched), its cues
made as ``render --captions`` makes them (``voiceguide.sinks.cues``, timed
by the word timings kept with the clip), and each cue start compared with
the word onsets found in the clip's samples alone
(``tests/support/onsets.py``: sound returning after at least 120 ms of
silence, 10 ms energy windows every 5 ms). A cue whose first word follows
no such silence (the engine ran on without a pause) has no onset within
400 ms to compare with and is counted as not measured.

Printed: per engine, cues measured / in all, median and worst absolute
error, the share within 50 ms and 100 ms, and where the timings came from
(``espeak``: word events; ``piper-alignment``: the model's phoneme
durations; ``piper-phonemes``: phoneme counts; ``estimate``: letters).
Nothing is asserted (tests/real_audio/test_caption_timing.py asserts a
tolerance).
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.benchlib import machine, median, table  # noqa: E402

SR = 48000
WITHIN_S = 0.4


def sentences() -> list:
    from voiceguide.script.catalog import entries
    from voiceguide.script.loader import load
    from voiceguide.timeline import compile_timeline

    texts = []
    for entry in entries():
        if entry.builtin:
            for event in compile_timeline(load(entry.path), lambda text, voice: 1000).events:
                if event.kind == "say" and event.text and event.text not in texts:
                    texts.append(event.text)
    return texts


def measure(engine: str, texts: list, rate: int, cache: Path) -> dict:
    from tests.support.onsets import nearest, onsets
    from voiceguide.sinks.cues import clip_cues
    from voiceguide.synth import Synthesizer, VoiceSpec

    errors, missed, sources = [], 0, collections.Counter()
    with Synthesizer(sample_rate=SR, cache_dir=cache, timeout=120) as synth:
        voice = VoiceSpec(name=engine, rate=rate)
        synth.prefetch((t, voice) for t in texts)
        for text in texts:
            clip = synth.clip(text, voice)
            spans, source = synth.words(text, voice)
            sources[source] += 1
            found = onsets(clip, SR)
            for cue in clip_cues(text, spans, 0, clip.size, SR):
                match = nearest(found, cue.start, int(WITHIN_S * SR))
                if match is None:
                    missed += 1
                else:
                    errors.append((cue.start - match) / SR)
    return {"errors": errors, "missed": missed, "sources": sources}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=140)
    ap.add_argument("--limit", type=int, default=0, help="only the first N sentences")
    args = ap.parse_args()
    from voiceguide.synth.engines import piper

    texts = sentences()[: args.limit or None]
    engines = ["espeak"] + (["piper"] if piper.available() else [])
    rows = []
    for engine in engines:
        with tempfile.TemporaryDirectory(prefix="vg-captions-") as cache:
            result = measure(engine, texts, args.rate, Path(cache))
        errs = [abs(e) for e in result["errors"]]
        signed = median(result["errors"]) if errs else float("nan")
        rows.append([engine, f"{len(errs)} / {len(errs) + result['missed']}",
                     f"{median(errs) * 1000:.0f} ms" if errs else "-",
                     f"{max(errs) * 1000:.0f} ms" if errs else "-",
                     f"{signed * 1000:+.0f} ms" if errs else "-",
                     f"{sum(e <= 0.05 for e in errs) / max(1, len(errs)):.0%}",
                     f"{sum(e <= 0.10 for e in errs) / max(1, len(errs)):.0%}",
                     ", ".join(f"{k} {v}" for k, v in result["sources"].most_common())])
    print(f"caption cue starts against word onsets in the audio: {len(texts)} sentences at {args.rate} wpm; "
          f"{machine()}")
    print(table(["engine", "cues measured", "median |error|", "worst", "median (cue - onset)", "<= 50 ms",
                 "<= 100 ms", "timings from (clips)"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
