"""Piper against espeak-ng in the same run: cold render speed, play start-up, memory while playing.

    python benchmarks/voices.py [--runs N]

For each engine installed (``VOICEGUIDE_VOICE=espeak`` / ``=piper``, so the
session is the same and only the voice differs):

(a) **cold render**: ``voiceguide render body-scan`` with a fresh, empty
    ``XDG_CACHE_HOME`` each run (every clip synthesised by the workers this
    machine allows), wall time, as a multiple of the session's real time.
    Target for Piper: >= 20x.
(b) **first audible sample** of ``play body-scan -v`` on a private, real-time
    PulseAudio null sink, warm and cold cache (from ``-v``'s own figure, the
    process's start to its first sample above silence). body-scan opens with
    a bell, so this is the bell; the **first word** is measured with a probe
    whose first step is speech (``--no-ambient``: the first sound is the
    first word). Targets for Piper: warm <= 300 ms, cold <= 1.5 s (issue 24:
    <= 0.6 s). "cold, model saved": no clip cached, but the voice's
    optimised model kept from an earlier session, as on a machine that has
    used the voice before (the model is kept in the speech cache folder);
    "cold, voice prepared": a fresh cache where ``prepare --voice-only`` ran
    first (what ``./run`` does once when it installs the voice).
(c) **peak memory** (RSS summed over the player and its speech workers,
    sampled every 50 ms from /proc) while ``play body-scan`` runs for
    ``--play-seconds`` on the paced sink with a cold cache, so the workers
    are synthesising the whole time.

Synthesis speed inside one worker is ``benchmarks/synth_speed.py``; speaking
rates are ``benchmarks/pacing.py``. Exits 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

SCRIPT = "body-scan"
FIRST_SOUND = re.compile(r"first sound at \S+ \(([0-9.]+) s after the process started\)")
PROBE = """\
title: First word probe
steps:
  - say: Let your shoulders soften, and let your breath slow down.
  - pause: 1s
"""
TARGETS = {"render": 20.0, "warm": 0.300, "cold": 1.5}


def engines() -> List[str]:
    sys.path.insert(0, str(benchlib.ROOT))
    from voiceguide.synth.engines import piper

    return ["espeak"] + (["piper"] if piper.available() else [])


def render_cold(env: Dict[str, str], cache: Path, out: Path) -> float:
    env = benchlib.env_with_cache(cache, env)
    t0 = time.perf_counter()
    subprocess.run(benchlib.voiceguide_cmd() + ["render", SCRIPT, "-o", str(out), "--force"], env=env, check=True,
                   capture_output=True, cwd=benchlib.ROOT)
    return time.perf_counter() - t0


def first_sound(target: str, env: Dict[str, str], extra=(), stop_after: Optional[float] = 3.0) -> Optional[float]:
    err, _ = benchlib.play_stderr(target, env, extra, stop_after)
    match = FIRST_SOUND.search(err)
    return float(match.group(1)) if match else None


def tree_rss(pid: int) -> int:
    """Resident bytes of *pid* and all its descendants (Linux /proc)."""
    return sum(rss for _, rss in benchlib.process_tree(pid).values())


def peak_memory(env: Dict[str, str], seconds: float) -> float:
    proc = subprocess.Popen(benchlib.voiceguide_cmd() + ["play", SCRIPT], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=benchlib.ROOT)
    peak, end = 0, time.monotonic() + seconds
    while time.monotonic() < end and proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return peak / 2 ** 20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="runs of each start-up figure")
    ap.add_argument("--renders", type=int, default=1, help="cold renders per engine")
    ap.add_argument("--play-seconds", type=float, default=20.0)
    args = ap.parse_args()
    audio_env = benchlib.audio_env()
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="vg-bench-voices-") as tmp:
        tmp = Path(tmp)
        probe = tmp / "probe.yaml"
        probe.write_text(PROBE)
        for engine in engines():
            base = dict(os.environ, VOICEGUIDE_VOICE=engine)
            warm = tmp / f"warm-{engine}"
            duration = benchlib.session_duration(SCRIPT, benchlib.env_with_cache(warm, base))
            renders = [render_cold(base, tmp / f"cold-render-{engine}-{i}", tmp / "out.wav")
                       for i in range(args.renders)]
            x = duration / benchlib.median(renders)
            rows.append((engine, f"cold render {SCRIPT} ({duration:.0f} s)",
                         f"{benchlib.median(renders):.1f} s = {x:.0f}x real time",
                         f">= {TARGETS['render']:.0f}x" if engine == "piper" else "",
                         benchlib.verdict(x >= TARGETS["render"]) if engine == "piper" else ""))
            sink = audio_env.PulseNullSink(tmp / f"pulse-{engine}").start()
            try:
                env = benchlib.env_with_cache(warm, dict(sink.env, VOICEGUIDE_VOICE=engine))
                subprocess.run(benchlib.voiceguide_cmd() + ["prepare", str(probe)], env=env, check=True,
                               capture_output=True, cwd=benchlib.ROOT)
                for label, target, extra in (("bell", SCRIPT, ()), ("first word", str(probe), ("--no-ambient",))):
                    for cache in ("warm", "cold", "cold, model saved", "cold, voice prepared"):
                        if cache.startswith("cold, ") and (engine != "piper" or label == "bell"):
                            continue
                        figures = []
                        for i in range(args.runs):
                            fresh = tmp / f"cold-{engine}-{label[0]}-{len(cache)}-{i}"
                            if cache == "cold, model saved":
                                benchlib.seed_models(warm, fresh)
                            run_env = env if cache == "warm" else benchlib.env_with_cache(fresh, env)
                            if cache == "cold, voice prepared":   # what ./run does once after installing
                                subprocess.run(benchlib.voiceguide_cmd() + ["prepare", "--voice-only"], env=run_env,
                                               check=True, capture_output=True, cwd=benchlib.ROOT)
                            fig = first_sound(target, run_env, extra, None if target == str(probe) else 3.0)
                            if fig is None:
                                notes.append(f"{engine} {label} {cache} run {i + 1}: no first-sound figure")
                            else:
                                figures.append(fig)
                        if not figures:
                            continue
                        med = benchlib.median(figures)
                        goal = TARGETS[cache.split(",")[0]]
                        which = cache.replace("cold,", "cold cache,") if "," in cache else f"{cache} cache"
                        rows.append((engine, f"play: first audible ({label}), {which}",
                                     f"{med * 1000:.0f} ms median, worst {max(figures) * 1000:.0f} ms",
                                     f"<= {goal * 1000:.0f} ms" if engine == "piper" else "",
                                     benchlib.verdict(med <= goal) if engine == "piper" else ""))
                mem = peak_memory(benchlib.env_with_cache(tmp / f"mem-{engine}", env), args.play_seconds)
                rows.append((engine, f"peak RSS, player + workers, first {args.play_seconds:.0f} s cold",
                             f"{mem:.0f} MB", "", ""))
            finally:
                sink.stop()
    print(f"voices: espeak-ng and Piper, same run; machine: {benchlib.machine()}\n")
    print(benchlib.table(["engine", "measure", "figure", "target", ""], rows))
    for note in notes:
        print("note:", note)


if __name__ == "__main__":
    main()
