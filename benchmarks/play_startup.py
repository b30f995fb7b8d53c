"""Start-up of `voiceguide play`: from process start to the first audible sample.

``voiceguide play body-scan -v`` runs on a private, real-time paced
PulseAudio null sink (``PulseNullSink`` from ``tests/support/audio_env.py``), is
stopped with SIGTERM after about 3 s and prints, on stderr::

    first sound at <HH:MM:SS.mmm, local time> (<s> s after the process started)

Two figures per run:

* **bench**: the time of day printed minus this script's own ``time.time()``
  taken just before ``Popen`` (includes fork/exec and interpreter start-up);
* **self**: the process's own figure (from its start time in /proc).

Warm cache (a private cache warmed by one untimed render) and cold cache (a
fresh empty ``XDG_CACHE_HOME`` each run), 5 runs each (``--runs N``);
median and worst. Targets: <= 300 ms warm, <= 600 ms cold.

If the play command prints no figure when stopped by SIGTERM, that is said,
and a 3-second script (a bell and one sentence) written to a temporary file
is played to its end instead. Exits 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

SCRIPT = "body-scan"
STOP_AFTER = 3.0
TARGETS = {"warm": 0.300, "cold": 0.600}
FIRST_SOUND = re.compile(r"first sound at (\d\d):(\d\d):([0-9.]+) \(([0-9.]+) s after the process started\)")


def since(t0: float, hours: str, minutes: str, seconds: str) -> float:
    """Seconds from the epoch *t0* to a local time of day printed just after it."""
    start = time.localtime(t0)
    of_day = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    t0_of_day = start.tm_hour * 3600 + start.tm_min * 60 + start.tm_sec + (t0 % 1)
    return (of_day - t0_of_day) % 86400

SHORT_SCRIPT = """\
title: Start-up probe
ambient:
  - drone: A2
    level: -30 dB
steps:
  - bell: chime
  - say: Hello.
"""


def play_once(target: str, env, stop_after: Optional[float]) -> Tuple[Optional[Tuple[float, float]], str, int]:
    """((bench, self) seconds or None, stderr, exit code) of one play run."""
    t0 = time.time()
    err, code = benchlib.play_stderr(target, env, stop_after=stop_after, timeout=30)
    match = FIRST_SOUND.search(err)
    if not match:
        return None, err, code
    return (since(t0, *match.group(1, 2, 3)), float(match.group(4))), err, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    audio_env = benchlib.audio_env()

    notes: List[str] = []
    results = {}
    with tempfile.TemporaryDirectory(prefix="vg-bench-startup-") as tmp:
        tmp = Path(tmp)
        sink = audio_env.PulseNullSink(tmp).start()
        try:
            warm_env = benchlib.env_with_cache(tmp / "warm-cache", sink.env)
            subprocess.run(benchlib.voiceguide_cmd() + ["render", SCRIPT, "-o", str(tmp / "warm.wav")],
                           env=warm_env, check=True, capture_output=True, cwd=benchlib.ROOT)
            target, stop_after = SCRIPT, STOP_AFTER
            probe, err, code = play_once(target, warm_env, stop_after)
            if probe is None:
                notes.append(f"`play {SCRIPT} -v` stopped by SIGTERM printed no first-sound figure "
                             f"(exit {code}; stderr tail: {err.strip().splitlines()[-1:]}); "
                             "measured with a 3-second script played to its end instead")
                short = tmp / "startup-probe.yaml"
                short.write_text(SHORT_SCRIPT)
                target, stop_after = str(short), None
                subprocess.run(benchlib.voiceguide_cmd() + ["render", target, "-o", str(tmp / "w.wav")],
                               env=warm_env, check=True, capture_output=True, cwd=benchlib.ROOT)
            for label in ("warm", "cold"):
                figures = []
                for i in range(args.runs):
                    env = warm_env if label == "warm" else benchlib.env_with_cache(
                        tmp / f"cold-cache-{i}", sink.env)
                    fig, err, code = play_once(target, env, stop_after)
                    if fig is None:
                        notes.append(f"{label} run {i + 1}: no first-sound figure (exit {code}): "
                                     f"{err.strip().splitlines()[-1:]}")
                        continue
                    if code != 0:
                        notes.append(f"{label} run {i + 1}: exit code {code} after SIGTERM (expected 0)")
                    figures.append(fig)
                results[label] = figures
        finally:
            sink.stop()

    print(f"play start-up: `voiceguide play {target} -v` on a private PulseAudio null sink, "
          f"{'SIGTERM after %.0f s' % stop_after if stop_after else 'played to its end'}, "
          f"{args.runs} runs each")
    print(f"machine: {benchlib.machine()}\n")
    rows = []
    for label, figures in results.items():
        goal = TARGETS[label]
        if not figures:
            rows.append((f"{label} cache", "-", "-", "-", "-", f"<= {goal * 1000:.0f} ms", "no figure"))
            continue
        bench = [f[0] for f in figures]
        own = [f[1] for f in figures]
        rows.append((f"{label} cache", f"{benchlib.median(bench) * 1000:.0f} ms",
                     f"{max(bench) * 1000:.0f} ms", f"{benchlib.median(own) * 1000:.0f} ms",
                     f"{max(own) * 1000:.0f} ms", f"<= {goal * 1000:.0f} ms",
                     benchlib.verdict(benchlib.median(bench) <= goal)))
    print(benchlib.table(["", "bench median", "bench worst", "self median", "self worst", "target", ""],
                         rows))
    for label, figures in results.items():
        print(f"\n{label} runs (bench / self, ms): "
              + ", ".join(f"{b * 1000:.0f}/{s * 1000:.0f}" for b, s in figures))
    print("\nbench = first-sound epoch minus this script's clock just before Popen; "
          "self = the process's own figure (from its /proc start time)")
    for note in notes:
        print("note:", note)


if __name__ == "__main__":
    main()
