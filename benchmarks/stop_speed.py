"""Time from SIGTERM to the end of the process when something below is stuck (issue 14).

Three cases, each on the real parts, ``--runs N`` times (default 3):

* **synthesis hung**: ``voiceguide play`` of words never spoken before, its
  speech workers frozen with SIGSTOP as they start (a wedged engine), on a
  private real-time PulseAudio null sink;
* **sound server stopped**: ``play`` on that sink, the PulseAudio daemon
  frozen with SIGSTOP 3 s into the session (device writes block);
* **during a render**: ``render body-scan --length 90m`` to a file, signalled
  once its temporary file holds a megabyte.

For each: the seconds from ``send_signal`` to the process's exit (median and
worst), the exit status, and whether anything was left behind (a speech
worker still alive, a temporary file). Target: <= 1.5 s each. Exits 0
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
import uuid
from pathlib import Path
from typing import List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

TARGET = 1.5


def _support():
    benchlib.audio_env()  # puts the checkout on sys.path
    from tests.support import audio_env, processes

    return audio_env, processes


def _script(folder: Path, words: str) -> Path:
    path = folder / "stop.yaml"
    path.write_text("title: Stop\nambient:\n  - drone: A2\n    level: -30 dB\nsteps:\n"
                    f"  - say: {words}\n    pause: 30s\n  - say: And the end.\n")
    return path


def _signal(proc: subprocess.Popen) -> Tuple[float, int]:
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return float("inf"), -9
    return time.monotonic() - sent, proc.returncode


def synthesis_hung(tmp: Path) -> Tuple[float, int, str]:
    audio_env, processes = _support()
    pulse = audio_env.PulseNullSink(tmp).start()
    try:
        words = "Notice " + " ".join(uuid.uuid4().hex[:10]) + " and rest."
        proc = subprocess.Popen(benchlib.voiceguide_cmd() + ["play", str(_script(tmp, words))], env=pulse.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        frozen = processes.freeze_workers_as_they_start(proc.pid)
        time.sleep(1.5)
        took, code = _signal(proc)
        time.sleep(0.5)
        left = [pid for pid in frozen if processes.alive(pid)]
        processes.thaw(frozen)
        return took, code, f"{len(frozen)} frozen workers, {len(left)} left alive"
    finally:
        pulse.stop()


def server_stopped(tmp: Path) -> Tuple[float, int, str]:
    audio_env, _ = _support()
    pulse = audio_env.PulseNullSink(tmp).start()
    try:
        proc = subprocess.Popen(benchlib.voiceguide_cmd() + ["play", str(_script(tmp, "Rest here a while."))],
                                env=pulse.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3.0)
        os.kill(pulse.proc.pid, signal.SIGSTOP)
        time.sleep(1.0)
        took, code = _signal(proc)
        os.kill(pulse.proc.pid, signal.SIGCONT)
        return took, code, ""
    finally:
        pulse.stop()


def during_render(tmp: Path) -> Tuple[float, int, str]:
    out = tmp / "out"
    out.mkdir()
    proc = subprocess.Popen(benchlib.voiceguide_cmd() + ["render", "body-scan", "--length", "90m", "-o",
                                                         str(out / "session.wav")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=benchlib.ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(p.stat().st_size > 1_000_000 for p in out.iterdir()):
        time.sleep(0.01)
    took, code = _signal(proc)
    left = [p.name for p in out.iterdir()]
    return took, code, f"{len(left)} files left in the output folder"


CASES = (("synthesis hung", synthesis_hung), ("sound server stopped", server_stopped),
         ("during a render", during_render))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"stop_speed: {benchlib.machine()}; {args.runs} runs per case, target <= {TARGET} s")
    rows = []
    for name, case in CASES:
        times: List[float] = []
        codes, notes = set(), set()
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="vg-stop-") as tmp:
                took, code, note = case(Path(tmp))
            times.append(took)
            codes.add(code)
            if note:
                notes.add(note)
        rows.append((name, f"{benchlib.median(times):.2f} s", f"{max(times):.2f} s",
                     ",".join(map(str, sorted(codes))), benchlib.verdict(max(times) <= TARGET),
                     "; ".join(sorted(notes))))
    print(benchlib.table(("case", "median", "worst", "exit", "target", "left behind"), rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
