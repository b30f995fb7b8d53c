"""CPU use of `voiceguide play` on a real-time paced device.

``voiceguide play body-scan`` runs for 60 s (``--seconds``) on a private
PulseAudio null sink (``PulseNullSink`` from ``tests/support/audio_env.py``), with a
warm private cache (``--cold``: an empty one), then gets SIGTERM. CPU time is read from /proc:

* **player**: utime + stime of the play process (all its threads), sampled
  just before the signal;
* **children**: the speech worker processes (and anything they start): live
  descendants' utime + stime, plus the play process's cutime + cstime for
  those already reaped;

each as % of one core over the wall time since ``Popen``, for the whole run
and split into the first 5 s (start-up, synthesis running ahead) and the
rest. With a warm cache no speech worker needs to start. The PulseAudio daemon's own CPU is shown
for context (not counted).
Target: the player process <= 2% of one core over the 60 s. Exits 0
whatever the figures are.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

SCRIPT = "body-scan"
TARGET = 2.0  # % of one core, the player process over the whole run
SPLIT = 5.0
TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> List[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _children(pid: int) -> List[int]:
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return kids


def sample(pid: int) -> Dict[str, float]:
    """CPU seconds: the process itself, and its descendants (live + reaped)."""
    fields = _stat(pid)  # fields[0] is the state (field 3 of stat)
    own = (int(fields[11]) + int(fields[12])) / TICK
    reaped = (int(fields[13]) + int(fields[14])) / TICK
    live = 0.0
    todo = _children(pid)
    names = []
    while todo:
        kid = todo.pop()
        try:
            f = _stat(kid)
            live += (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / TICK
            with open(f"/proc/{kid}/cmdline") as c:
                names.append(c.read().replace("\0", " ").strip()[-40:])
        except OSError:
            continue
        todo += _children(kid)
    return {"own": own, "children": live + reaped, "t": time.time(), "kids": names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--cold", action="store_true",
                        help="start with an empty speech cache (the workers synthesise while it plays)")
    args = parser.parse_args()
    audio_env = benchlib.audio_env()

    with tempfile.TemporaryDirectory(prefix="vg-bench-cpu-") as tmp:
        tmp = Path(tmp)
        sink = audio_env.PulseNullSink(tmp).start()
        try:
            env = benchlib.env_with_cache(tmp / "cache", sink.env)
            if not args.cold:
                subprocess.run(benchlib.voiceguide_cmd() + ["render", SCRIPT, "-o", str(tmp / "warm.wav")],
                               env=env, check=True, capture_output=True, cwd=benchlib.ROOT)
            pulse0 = sample(sink.proc.pid)
            t0 = time.time()
            proc = subprocess.Popen(benchlib.voiceguide_cmd() + ["play", SCRIPT, "-v"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                    cwd=benchlib.ROOT)
            time.sleep(max(0.0, t0 + SPLIT - time.time()))
            early = sample(proc.pid)
            time.sleep(max(0.0, t0 + args.seconds - time.time()))
            late = sample(proc.pid)
            pulse1 = sample(sink.proc.pid)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
            code = proc.returncode
        finally:
            sink.stop()

    def pct(cpu: float, wall: float) -> str:
        return f"{100.0 * cpu / wall:.2f}%"

    wall_all, wall_early = late["t"] - t0, early["t"] - t0
    wall_rest = late["t"] - early["t"]
    print(f"play CPU: `voiceguide play {SCRIPT}` on a private PulseAudio null sink (real-time paced), "
          f"{'cold' if args.cold else 'warm'} cache, SIGTERM after {wall_all:.1f} s (exit {code})")
    print(f"machine: {benchlib.machine()}\n")
    rows = [
        ("player process", f"{late['own']:.2f} s", pct(late["own"], wall_all),
         pct(early["own"], wall_early), pct(late["own"] - early["own"], wall_rest),
         f"<= {TARGET:.0f}%", benchlib.verdict(100.0 * late["own"] / wall_all <= TARGET)),
        ("children (speech workers)", f"{late['children']:.2f} s", pct(late["children"], wall_all),
         pct(early["children"], wall_early), pct(late["children"] - early["children"], wall_rest),
         "", ""),
        ("pulseaudio daemon (context)", f"{pulse1['own'] - pulse0['own']:.2f} s",
         pct(pulse1["own"] - pulse0["own"], wall_all), "", "", "", ""),
    ]
    print(benchlib.table(["", "CPU time", f"whole {wall_all:.0f} s", f"first {wall_early:.0f} s",
                          f"last {wall_rest:.0f} s", "target", ""], rows))
    print(f"\n% of one core; live children at the end: {late['kids'] or 'none'}")
    tail = [line for line in err.splitlines() if "underrun" in line or "latency" in line]
    if tail:
        print("player said: " + " | ".join(tail))


if __name__ == "__main__":
    main()
