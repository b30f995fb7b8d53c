"""Speech pacing: the words per minute heard against those asked for, per engine, and how much of
each built-in exercise speech fills.

    python benchmarks/pacing.py [--rates 80,100,120,130,140,175,220,300]

Two tables, printed (nothing asserted):

1. For each installed engine (espeak-ng always; Piper where the ``neural``
   extra is) and each requested rate: the words per minute actually heard,
   over every distinct sentence of four words or more in the built-in
   scripts: words divided by the clips' lengths (the clips are trimmed;
   sentence pauses inside a clip count, as a listener hears them). For
   espeak-ng also the rate and word gap it is given after calibration
   (``voiceguide.synth.engines.espeak.RATE_TABLE``); ``--raw`` measures
   espeak-ng uncalibrated, as it was before (the figures the table holds).
2. For each built-in exercise, with the voice ``play`` would use: its real
   length, the seconds of speech, the share of the session speech fills, and
   the words per minute heard at the script's own rate.

Uses a temporary cache; the user's cache is not touched.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SR = 22050


def sentences() -> list:
    from voiceguide.script.catalog import entries
    from voiceguide.script.loader import load
    from voiceguide.timeline import flatten

    texts = []
    for entry in entries():
        if entry.builtin:
            for item in flatten(load(entry.path)):
                if item.kind == "say" and len(item.text.split()) >= 4 and item.text not in texts:
                    texts.append(item.text)
    return texts


def raw_espeak(monkeypatch_params: bool) -> None:
    """With --raw, espeak-ng gets the rate as asked (no calibration), as before issue 13."""
    if monkeypatch_params:
        from voiceguide.synth.engines import espeak

        espeak.params = lambda choice, rate: {"rate": int(rate), "raw": True}


def rate_table(rates, texts, synth) -> None:
    from voiceguide.synth import VoiceSpec
    from voiceguide.synth.engines import espeak, piper

    words = sum(len(t.split()) for t in texts)
    print(f"1. words per minute heard: {len(texts)} sentences, {words} words from the built-in scripts")
    engines = ["espeak"] + (["piper"] if piper.available() else [])
    print(f"   {'engine':<8}{'asked':>6}{'heard':>8}{'error':>8}   engine told")
    for engine in engines:
        for rate in rates:
            voice = VoiceSpec(name=engine, rate=rate)
            synth.prefetch((t, voice) for t in texts)
            seconds = sum(synth.length(t, voice) for t in texts) / SR
            heard = words / seconds * 60
            told = synth.choice(voice).params(rate)
            print(f"   {engine:<8}{rate:>6}{heard:>8.1f}{(heard - rate) / rate:>+8.1%}   {told}", flush=True)
    if not piper.available():
        print("   piper: not installed (pip install 'voiceguide[neural]')")
    print(f"   espeak-ng {espeak.engine_version()[1]}")


def share_table(synth) -> None:
    from voiceguide.config import effective
    from voiceguide.player.session import Options, Session
    from voiceguide.script.catalog import entries
    from voiceguide.script.loader import load
    from voiceguide.script.model import Voice
    from voiceguide.script.units import format_duration

    values = {name: v.value for name, v in effective().items()}
    voice = Voice(rate=values["rate"], volume=values["volume"], name=values["voice"])
    print("\n2. speech in each built-in exercise (the voice play would use)")
    print(f"   {'exercise':<20}{'length':>7}{'speech':>9}{'share':>7}{'rate':>6}{'heard':>7}")
    for entry in entries():
        script = load(entry.path)
        if not entry.builtin or script.part:
            continue
        with Session(script, Options(voice=voice, sample_rate=SR), synthesizer=synth) as session:
            timeline = session.timeline()
        says = [e for e in timeline.events if e.kind == "say"]
        speech = sum(e.length for e in says) / SR
        words = sum(len(e.text.split()) for e in says)
        rate = script.voice.rate or "-"
        print(f"   {entry.id:<20}{format_duration(timeline.duration):>7}{speech:>8.0f}s"
              f"{speech / timeline.duration:>7.0%}{rate:>6}{words / speech * 60:>7.0f}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="80,100,120,130,140,175,220,300")
    ap.add_argument("--raw", action="store_true", help="espeak-ng uncalibrated, as before issue 13")
    args = ap.parse_args()
    raw_espeak(args.raw)
    from voiceguide.synth import Synthesizer

    texts = sentences()
    with tempfile.TemporaryDirectory(prefix="vg-bench-pacing-") as cache:
        with Synthesizer(sample_rate=SR, cache_dir=cache) as synth:
            rate_table([int(r) for r in args.rates.split(",")], texts, synth)
            if not args.raw:
                share_table(synth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
