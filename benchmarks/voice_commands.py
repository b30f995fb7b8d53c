"""Spoken commands: found, wrong and false commands, latency, CPU and memory of the recogniser.

    python benchmarks/voice_commands.py [--minutes 8] [--sessions body-scan,breathing,daily-check-in]
                                        [--no-echo-cancel] [--dump FILE.json]

Renders the built-ins with ``voiceguide render`` (once, into a temporary
folder), makes the command recordings (benchmarks/voice_data.py: espeak-ng
voices, rates and pitch, Piper where installed; a synthetic room; 0 to +10 dB
over the guide's voice as the microphone hears it), mixes one every 9.5 s
over the sessions heard through the room, takes the guide's own voice out
with the echo canceller (:mod:`voiceguide.listening.echo`; its reference is
the rendered session, what the player would have sent; ``--no-echo-cancel``
measures without it), and runs the recogniser and the decision rules (the
same as ``voiceguide listen --file``) over

* the mixture: share of commands found (goal >= 90%) and wrong commands
  (the decision as the live player makes it: with the guide's own level
  while the phrase was said, from the rendered session);
* the sessions alone, nobody speaking: false commands per hour (goal <= 3);
* latency: the stream position when the command was decided minus the end
  of the phrase (goal <= 1 s; the listener's own read block adds <= 0.1 s);
* CPU of the recogniser (process time / audio time, one core) and the peak
  RSS of a process that holds it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import voice_data as vd  # noqa: E402

SESSIONS = Path(tempfile.gettempdir()) / "voiceguide-bench-sessions"


def rendered(name: str) -> Path:
    SESSIONS.mkdir(exist_ok=True)
    path = SESSIONS / f"{name}.flac"
    if not path.exists():
        subprocess.run([sys.executable, "-m", "voiceguide", "render", name, "-o", str(path)], check=True)
    return path


def run(x: np.ndarray, reference=None):
    """The recogniser over *x* in 100 ms blocks (the echo canceller first when *reference* is given):
    its candidates, the recogniser's CPU seconds and the canceller's."""
    from voiceguide.listening.echo import EchoCanceller
    from voiceguide.listening.recognizer import RATE, Recognizer

    recognizer = Recognizer()
    canceller = EchoCanceller() if reference is not None else None
    out = []
    cpu = {"recogniser": 0.0, "echo": 0.0}
    for at in range(0, len(x), RATE // 10):
        block = x[at:at + RATE // 10]
        if canceller is not None:
            started = time.process_time()
            block = canceller.process(block, reference[at:at + RATE // 10])
            cpu["echo"] += time.process_time() - started
        started = time.process_time()
        out += recognizer.feed(block)
        cpu["recogniser"] += time.process_time() - started
    out += recognizer.flush()
    return out, cpu


def output_level(output: np.ndarray, start: float, end: float):
    """The loudest 100 ms of what the player sent while a phrase was said (dBFS), as the live player's
    ``Overlay.level_at`` gives it to the decision; None when nothing was sent."""
    x = output[int(start * vd.RATE):int(end * vd.RATE)].astype(np.float64)
    k = len(x) // (vd.RATE // 10)
    if k == 0:
        return None
    blocks = x[: k * (vd.RATE // 10)].reshape(k, -1)
    return float(np.max(10 * np.log10(np.mean(blocks ** 2, axis=1) + 1e-12)))


def acted(candidates, output):
    """What the live player would act on: the rules with the guide's own level, then one per phrase."""
    from voiceguide.listening.commands import Debounce, decide

    debounce = Debounce()
    return [c for c in candidates if decide(c, echo=output_level(output, c.start, c.end)) and debounce(c)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=8.0, help="of sessions to measure on (each way)")
    parser.add_argument("--sessions", default="body-scan,breathing,daily-check-in")
    parser.add_argument("--no-echo-cancel", action="store_true", help="the microphone as it is")
    parser.add_argument("--dump", type=Path, help="write every candidate (with the truth) to this JSON file")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    dry = np.concatenate([vd.load_session(rendered(n)) for n in args.sessions.split(",")])
    dry = dry[: int(args.minutes * 60 * vd.RATE)]
    quiet = vd.heard_session(dry, rng)
    clips = list(vd.commands())
    order = rng.permutation(len(clips))
    mixed = quiet.copy()
    truth = vd.place(mixed, [clips[i] for i in order], rng, gap=9.5, over_db=(0.0, 10.0))

    reference = None if args.no_echo_cancel else dry
    candidates, cpu_mixed = run(mixed, reference)
    found, wrong, latencies = set(), 0, []
    for c in acted(candidates, dry):
        t = next((t for t in truth if t["start"] - 0.5 <= c.start <= t["end"] + 0.3), None)
        if t is None:
            continue
        if t["command"] == c.command:
            found.add(id(t))
            latencies.append(c.decided - t["end"])
        else:
            wrong += 1
    false_candidates, cpu_quiet = run(quiet, reference)
    if args.dump:
        args.dump.write_text(json.dumps({"truth": truth, "seconds": len(quiet) / vd.RATE,
                                         "mixed": [c.as_json() for c in candidates],
                                         "quiet": [c.as_json() for c in false_candidates]}))
    false = acted(false_candidates, dry)
    hours = len(quiet) / vd.RATE / 3600
    seconds = len(quiet) / vd.RATE
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's at fork
    rss = subprocess.run([sys.executable, "-c", "import numpy as np\n"
                          "from voiceguide.listening.recognizer import Recognizer\n"
                          "r = Recognizer(); r.feed(np.zeros(16000, dtype=np.float32))\n"
                          "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    report = {
        "audio_minutes": round(seconds / 60, 1), "commands": len(truth),
        "found": f"{len(found)}/{len(truth)} ({100 * len(found) / max(1, len(truth)):.0f}%)",
        "found_by_command": {name: f"{sum(1 for t in truth if id(t) in found and t['command'] == name)}"
                                   f"/{sum(1 for t in truth if t['command'] == name)}"
                             for name in vd.COMMANDS},
        "wrong": wrong, "false_per_hour": round(len(false) / hours, 1), "false": len(false),
        "latency_s_median_p90_worst": [round(float(np.median(latencies)), 2),
                                       round(float(np.percentile(latencies, 90)), 2), round(max(latencies), 2)]
        if latencies else None,
        "latency_within_1s_percent": round(100 * float(np.mean(np.array(latencies) <= 1.0)), 1)
        if latencies else None,
        # the takes are in a random order: even- and odd-numbered ones are two halves for a held-out check
        "found_even_odd_takes": [f"{sum(1 for i, t in enumerate(truth) if id(t) in found and i % 2 == k)}"
                                 f"/{sum(1 for i in range(len(truth)) if i % 2 == k)}" for k in (0, 1)],
        "echo_cancel": reference is not None,
        "cpu_percent_of_a_core": {k: round(100 * (cpu_mixed[k] + cpu_quiet[k]) / (2 * seconds), 2)
                                  for k in cpu_mixed},
        "listener_peak_rss_mb": round(int(rss) / 1024, 1),
        "candidates": {"mixed": len(candidates), "quiet": len(false_candidates)},
        "this_process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(report, indent=1))
    print("goals: found >= 90%, false <= 3 per hour, latency <= 1 s")


if __name__ == "__main__":
    main()
