"""The practice log's costs: `voiceguide log` over 10,000 sessions, and what logging adds to `play`'s start-up.

1. **log**: a log of 10,000 sessions (about three years of practice) and
   2,000 cues in a private ``XDG_DATA_HOME``; wall time of ``voiceguide log``
   (the table), ``log --week``, ``log --json``, ``log --csv`` and ``cues`` as
   fresh processes, as a user runs them. Target: ``log`` < 200 ms.
2. **play start-up added by logging** (target < 5 ms), three ways:

   * *main thread*: what ``play`` itself spends on the log before the first
     sound -- importing ``voiceguide.player.logged_session`` in a fresh process
     that has imported what ``play`` imports anyway, and
     ``LoggedSession(...).__enter__()`` (it starts one thread, which waits
     for the first block to be out before it imports ``sqlite3`` and writes:
     see ``voiceguide/practice/recorder.py``). Median of fresh processes.
   * *end to end*: first sound of ``play -v`` on the unpaced ALSA file device
     with ``VOICEGUIDE_PRACTICE_LOG`` on and off, alternately. This figure's
     run-to-run noise is larger than 5 ms; it is printed to show that no
     large cost hides elsewhere.

Prints figures; exits 0 whatever they are.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

SESSIONS = 10_000
CUES = 2_000

FILL = """
import random, sys, time
from voiceguide.practice.store import PracticeLog
random.seed(1)
now = time.time()
with PracticeLog() as log:
    log.conn.execute("BEGIN")
    for i in range({sessions}):
        at = now - i * 9000.0
        ended = random.choice(["completed"] * 6 + ["stopped", "interrupted", "error"])
        log.conn.execute(
            "INSERT INTO sessions (exercise, title, started, started_at, planned, listened, ended, step, section,"
            " message, voice) VALUES (?, ?, datetime(?, 'unixepoch', 'localtime'), ?, 600, ?, ?, ?, ?, ?, NULL)",
            ("body-scan", "Body scan", at, at, random.uniform(60, 600), ended,
             7 if ended == "stopped" else None, "Feet" if ended == "stopped" else None,
             "the output device stopped working" if ended == "error" else None))
    for i in range({cues}):
        at = now - i * 45000.0
        day = time.strftime("%Y-%m-%d", time.localtime(at))
        log.conn.execute("INSERT INTO cues (day, noted, noted_at, text) VALUES (?, ?, ?, ?)",
                         (day, day + "T21:00:00+00:00", at, "a small flicker of warmth at lunch " * 2))
    log.conn.execute("COMMIT")
"""

MAIN_THREAD = """
import time
# what `play` has imported anyway by the time it opens the log
import voiceguide.cli, voiceguide.config, voiceguide.player.player, voiceguide.player.session
import voiceguide.player.status_line, voiceguide.player.keys, voiceguide.player.foreground
import threading
threading.Thread(target=time.sleep, args=(0.01,)).start()  # play has started threads by then
time.sleep(0.05)
t0 = time.perf_counter()
from voiceguide.player.logged_session import LoggedSession
t1 = time.perf_counter()

class Out: frames_played = 0
class Player: total = None; heard = None; output = Out(); position = 0; frames_played = 0
class Opts:
    sample_rate = 48000; length = None; text_only = False
    class voice: name = None
class Voice: name = None
class Script: id = "body-scan"; title = "Body scan"; voice = Voice()
class Session: options = Opts(); script = Script()

logged = LoggedSession(Script(), Session(), Player(), warn=print)
t2 = time.perf_counter()
logged.__enter__()
t3 = time.perf_counter()
logged.result = None
logged.__exit__(None, None, None)
print(f"{{t1 - t0:.6f}} {{t3 - t2:.6f}}")
"""

FIRST_SOUND = re.compile(r"\(([0-9.]+) s after the process started\)")


def timed(cmd, env, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=benchlib.ROOT)
        times.append(time.perf_counter() - t0)
    return times


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    vg = benchlib.voiceguide_cmd()
    py = sys.executable
    print(f"machine: {benchlib.machine()}\n")
    # bytecode, as ./run and an installed package have (PYTHONDONTWRITEBYTECODE may be set)
    subprocess.run([py, "-m", "compileall", "-q", str(benchlib.ROOT / "voiceguide")], capture_output=True)
    with tempfile.TemporaryDirectory(prefix="vg-bench-practice-") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, XDG_DATA_HOME=str(tmp / "data"), XDG_CONFIG_HOME=str(tmp / "config"))

        # 1. log over 10,000 sessions
        subprocess.run([py, "-c", FILL.format(sessions=SESSIONS, cues=CUES)], env=env, check=True)
        rows = []
        for label, extra in (("log", []), ("log --week", ["--week"]), ("log --json", ["--json"]),
                             ("log --csv", ["--csv"]), ("cues", None), ("about (reference)", None)):
            cmd = vg + (["cues"] if label == "cues" else ["about"] if label.startswith("about")
                        else ["log", *extra])
            times = timed(cmd, env, args.runs)
            goal = "< 200 ms" if label == "log" else ""
            rows.append((label, ms(benchlib.median(times)), ms(max(times)), goal,
                         benchlib.verdict(benchlib.median(times) < 0.2) if goal else ""))
        print(f"`voiceguide log` with {SESSIONS:,} sessions and {CUES:,} cues, fresh processes, "
              f"{args.runs} runs each")
        print(benchlib.table(["command", "median", "worst", "target", ""], rows))

        # 2a. main thread
        imports, enters = [], []
        for _ in range(args.runs * 2):
            out = subprocess.run([py, "-c", MAIN_THREAD.format()], env=env, check=True, capture_output=True,
                                 text=True).stdout.split()
            imports.append(float(out[-2]))
            enters.append(float(out[-1]))
        total = [a + b for a, b in zip(imports, enters)]
        print(f"\n`play` start-up added by logging, main thread ({len(total)} fresh processes)")
        print(benchlib.table(["part", "median", "worst", "target", ""], [
            ("import voiceguide.player.logged_session", ms(benchlib.median(imports)), ms(max(imports)), "", ""),
            ("LoggedSession(...).__enter__()", ms(benchlib.median(enters)), ms(max(enters)), "", ""),
            ("together", ms(benchlib.median(total)), ms(max(total)), "< 5 ms",
             benchlib.verdict(benchlib.median(total) < 0.005)),
        ]))

        # 2c. end to end, on the unpaced ALSA file device
        audio_env = benchlib.audio_env()
        home, _ = audio_env.alsa_file_home(tmp / "alsa")
        play_env = audio_env.base_env(home)
        play_env.update(XDG_DATA_HOME=str(tmp / "data-play"), XDG_CACHE_HOME=str(tmp / "cache"))
        probe = tmp / "probe.yaml"
        probe.write_text("title: Probe\nsteps:\n  - bell: chime\n  - say: Hello.\n")
        subprocess.run(vg + ["render", str(probe), "-o", str(tmp / "w.wav")], env=play_env, check=True,
                       capture_output=True)
        firsts = {"1": [], "0": []}
        for _ in range(args.runs * 2):
            for flag in ("1", "0"):
                err = subprocess.run(vg + ["play", str(probe), "-v"], env=dict(play_env, VOICEGUIDE_PRACTICE_LOG=flag),
                                     capture_output=True, text=True).stderr
                match = FIRST_SOUND.search(err)
                if match:
                    firsts[flag].append(float(match.group(1)))
        if firsts["1"] and firsts["0"]:
            print(f"\nfirst sound of `play -v` on the ALSA file device, process start to first audible "
                  f"sample ({len(firsts['1'])} alternate runs)")
            print(benchlib.table(["", "median", "worst"], [
                ("practice_log on", ms(benchlib.median(firsts["1"])), ms(max(firsts["1"]))),
                ("practice_log off", ms(benchlib.median(firsts["0"])), ms(max(firsts["0"]))),
                ("difference of medians", ms(benchlib.median(firsts["1"]) - benchlib.median(firsts["0"])), ""),
            ]))
        else:
            print("\nnote: `play -v` printed no first-sound figure on the ALSA file device")


if __name__ == "__main__":
    main()
