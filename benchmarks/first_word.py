"""Piper's cold first word, in alternating runs: one figure against another at the same moment.

    python benchmarks/first_word.py [--runs 16] [--vs guess|early]

The first word of a speech-first probe (``play -v --no-ambient``, a private
real-time PulseAudio null sink) on a cold clip cache with the voice used
before (its saved model, and the voice the early worker guesses, kept:
``benchlib.seed_models``). Runs alternate between the two sides of
``--vs``, so a shared machine's changing load falls on both alike:

* ``guess``: with the guessed voice against without it (the guess file
  removed: the early worker still starts, and loads once asked);
* ``early``: with the early worker against without it
  (``VOICEGUIDE_NO_EARLY_WORKER=1``).

voices.py gives the absolute figure; this one says what a part is worth.
Exits 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402
import voices  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=16, help="runs in all (half each side)")
    ap.add_argument("--vs", choices=("guess", "early"), default="guess")
    args = ap.parse_args()
    audio_env = benchlib.audio_env()
    sides = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="vg-bench-first-word-") as tmp_name:
        tmp = Path(tmp_name)
        probe = tmp / "probe.yaml"
        probe.write_text(voices.PROBE)
        sink = audio_env.PulseNullSink(tmp / "pulse").start()
        try:
            env = dict(sink.env, VOICEGUIDE_VOICE="piper")
            warm = tmp / "warm"
            subprocess.run(benchlib.voiceguide_cmd() + ["prepare", str(probe)], check=True, capture_output=True,
                           env=benchlib.env_with_cache(warm, env), cwd=benchlib.ROOT)
            for i in range(args.runs):
                with_it = i % 2 == 0
                cache = benchlib.seed_models(warm, tmp / f"cold-{i}")
                run_env = benchlib.env_with_cache(cache, env)
                if not with_it and args.vs == "guess":
                    (cache / "voiceguide" / "speech" / "models" / "next-worker.json").unlink(missing_ok=True)
                if not with_it and args.vs == "early":
                    run_env["VOICEGUIDE_NO_EARLY_WORKER"] = "1"
                fig = voices.first_sound(str(probe), run_env, ("--no-ambient",), None)
                if fig is not None:
                    sides[with_it].append(fig)
        finally:
            sink.stop()
    print(f"first word, cold cache, voice used before; machine: {benchlib.machine()}, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    rows = []
    for with_it in (True, False):
        figs = sides[with_it]
        label = f"{'with' if with_it else 'without'} the {'guessed voice' if args.vs == 'guess' else 'early worker'}"
        if figs:
            spread = f"{min(figs) * 1000:.0f}-{max(figs) * 1000:.0f} ms"
            rows.append((label, f"{benchlib.median(figs) * 1000:.0f} ms", spread, len(figs)))
    print(benchlib.table(["", "median", "range", "runs"], rows))


if __name__ == "__main__":
    main()
