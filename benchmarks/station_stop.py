"""SIGTERM to a station while the voice works: how long until the process has ended.

Each run starts a station on an empty speech cache (cold) with the given
voice (default Piper), asks it to play ``body-scan``, sends SIGTERM after
1 s (the workers are loading the model and synthesising) and times the exit.
It also looks for speech workers left behind. Target (issue 24): <= 1.5 s
every time, on the whole machine and with ``--quota``: the station and its
workers inside a cgroup with 30% of one core (``pi_budget.py``'s, as a Pi
has to spare; needs root, refused with a line where it cannot be made).
Runs on PulseAudio's null sink (tests/support/audio_env.py).

    .venv/bin/python benchmarks/station_stop.py [--runs 8] [--voice piper:en_US-joe-medium] [--after 1.0] [--quota]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402
from pi_budget import joiner, make_cgroup, remove_cgroup  # noqa: E402
from station import Api  # noqa: E402

TARGET = 1.5


def children_of(pid: int) -> list:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def one_run(tmp: Path, pulse, voice: str, after: float, cgroup=None) -> tuple:
    env = dict(pulse.env, XDG_STATE_HOME=str(tmp / "state"), XDG_CONFIG_HOME=str(tmp / "config"),
               XDG_CACHE_HOME=str(tmp / "cache"), VOICEGUIDE_VOICE=voice, PYTHONUNBUFFERED="1")
    env.pop("VOICEGUIDE_STATION_TOKEN", None)
    log_path = tmp / "station.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*benchlib.voiceguide_cmd(), "station", "--listen", "127.0.0.1:0", "--no-gpio"],
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=joiner(cgroup) if cgroup is not None else None)
    try:
        where = tmp / "state" / "voiceguide" / "station.json"
        deadline = time.monotonic() + 60
        while not where.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the station did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        port = json.loads(where.read_text())["port"]
        token = (tmp / "config" / "voiceguide" / "station-token").read_text().strip()
        Api(port, token).call("POST", "/api/play", {"id": "body-scan"})
        time.sleep(after)
        workers = children_of(proc.pid)
        start = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        took = time.perf_counter() - start
        time.sleep(0.3)
        left = [pid for pid in workers if Path(f"/proc/{pid}").exists()
                and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        return took, len(workers), len(left), proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--voice", default="piper:en_US-joe-medium")
    parser.add_argument("--after", type=float, default=1.0)
    parser.add_argument("--quota", action="store_true", help="inside a cgroup with 30%% of one core (needs root)")
    args = parser.parse_args()
    cgroup, how = make_cgroup() if args.quota else (None, "the whole machine")
    if args.quota and cgroup is None:
        raise SystemExit(how)
    audio_env = benchlib.audio_env()
    rows, times = [], []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp_name:
        pulse = audio_env.PulseNullSink(Path(tmp_name)).start()
        try:
            for i in range(args.runs):
                tmp = Path(tmp_name) / f"run{i}"
                tmp.mkdir()
                took, workers, left, code = one_run(tmp, pulse, args.voice, args.after, cgroup)
                times.append(took)
                rows.append([i + 1, f"{took:.2f} s", workers, left, code, benchlib.verdict(took <= TARGET)])
        finally:
            pulse.stop()
            if cgroup is not None:
                remove_cgroup(cgroup)
    print(benchlib.machine(), f"- {args.voice}, SIGTERM {args.after:g} s into a cold body-scan, {how},"
          f" load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    print(benchlib.table(["run", "SIGTERM -> exit", "children then", "left after", "exit code", ""], rows))
    print(f"median {benchlib.median(times):.2f} s, worst {max(times):.2f} s (target <= {TARGET} s every time):"
          f" {benchlib.verdict(max(times) <= TARGET)}")


if __name__ == "__main__":
    main()
