"""A Raspberry Pi's budget (issue 24): memory of a cold Piper session, and a session on 30% of one core.

    python benchmarks/pi_budget.py [--seconds 100] [--skip-cpu] [--skip-memory] [--skip-clips]

(a) **memory**: RSS of the player and of each speech worker (sampled every
    50 ms from /proc, the peak of their sum and each one's own peak) while
    ``play body-scan`` runs for ``--memory-seconds`` with Piper on a cold
    cache, the machine as it is and as a 1 GB Pi 3 (``VOICEGUIDE_MEMORY_MB=1024``:
    one worker) and a 512 MB Pi Zero 2 W (``=512``: espeak-ng), and again
    with the voice's optimised model kept from the first run ("model
    saved": clips still cold). Target: <= 400 MB, player and workers together.
(b) **30% of one core**: ``play`` of a speech-first probe and of body-scan
    (``-v``) inside a CPU cgroup limited to 30% of a core (cgroup v2
    ``cpu.max`` = ``30000 100000`` in /sys/fs/cgroup/voiceguide-bench, or v1
    ``cpu.cfs_quota_us`` where the cpu controller is on v1), cold cache, into
    a private PulseAudio null sink (real-time paced): first word, and
    underruns over ``--seconds``. Needs root; skipped with a line where it
    cannot make the cgroup. Targets: first word <= 5 s Piper, <= 2 s
    espeak-ng; no underrun in 100 s. Piper's first word also "model saved":
    clips cold, the voice's optimised model kept from the first run (as on
    a machine that used the voice before). ``--memory-mb 1024``: as a 1 GB
    Pi 3 as well (its worker voices a long clause a piece at a time).
(c) **clips per second**: ``voiceguide prepare body-scan`` on a cold cache
    with 1 and 2 Piper workers (``VOICEGUIDE_MEMORY_MB``: 1024 gives one,
    8192 two on a 2-core machine).

Exits 0 whatever the figures are.
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
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

SCRIPT = "body-scan"
FIRST_SOUND = re.compile(r"first sound at \S+ \(([0-9.]+) s after the process started\)")
UNDERRUNS = re.compile(r"(\d+) underruns")
PROBE = """\
title: First word probe
steps:
  - say: Let your shoulders soften, and let your breath slow down.
  - pause: 1s
"""
QUOTA = (30000, 100000)
CGROUP = "voiceguide-bench"


# -- (a) memory ----------------------------------------------------------------------------------

def processes(pid: int) -> Dict[int, Tuple[str, int]]:
    """*pid* and its descendants: ``{pid: (role, rss bytes)}``.

    Roles: player, espeak / piper (a worker started for its engine), early (the worker ``play``
    starts before the voice is known, synth/prestart.py: its command line names no engine), other.
    """
    out = {}
    for p, (cmd, rss) in benchlib.process_tree(pid).items():
        role = "player" if p == pid else "other"
        if p != pid and b"--engine" in cmd:
            at = cmd.index(b"--engine") + 1
            role = cmd[at].decode() if at < len(cmd) else "worker"
        elif p != pid and b"--deferred" in cmd:
            role = "early"
        out[p] = (role, rss)
    return out


def session_memory(env: Dict[str, str], seconds: float) -> Tuple[float, Dict[str, float], int]:
    """Peak MB of the whole tree, each role's peak MB (workers: the largest one), workers seen."""
    proc = subprocess.Popen(benchlib.voiceguide_cmd() + ["play", SCRIPT], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=benchlib.ROOT)
    peak, roles, workers = 0, {}, set()
    end = time.monotonic() + seconds
    while time.monotonic() < end and proc.poll() is None:
        tree = processes(proc.pid)
        peak = max(peak, sum(rss for _, rss in tree.values()))
        for p, (role, rss) in tree.items():
            roles[role] = max(roles.get(role, 0), rss)
            if role in ("piper", "espeak", "early"):
                workers.add(p)
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return peak / 2 ** 20, {r: v / 2 ** 20 for r, v in roles.items()}, len(workers)


# -- (b) the CPU budget --------------------------------------------------------------------------

def make_cgroup() -> Tuple[Optional[Path], str]:
    """The benchmark's cgroup with its quota set: (folder whose cgroup.procs takes a pid, how), or (None, why not)."""
    v2 = Path("/sys/fs/cgroup")
    if (v2 / "cgroup.controllers").exists() and "cpu" in (v2 / "cgroup.controllers").read_text().split():
        folder = v2 / CGROUP
        try:
            folder.mkdir(exist_ok=True)
            (folder / "cpu.max").write_text(f"{QUOTA[0]} {QUOTA[1]}\n")
        except OSError as e:
            return None, f"cannot make the cgroup v2 {folder} ({e}); run as root"
        return folder, f"cgroup v2 cpu.max = {QUOTA[0]} {QUOTA[1]}"
    v1 = Path("/sys/fs/cgroup/cpu")
    if (v1 / "cpu.cfs_quota_us").exists():
        folder = v1 / CGROUP
        try:
            folder.mkdir(exist_ok=True)
            (folder / "cpu.cfs_period_us").write_text(f"{QUOTA[1]}\n")
            (folder / "cpu.cfs_quota_us").write_text(f"{QUOTA[0]}\n")
        except OSError as e:
            return None, f"cannot make the cgroup v1 {folder} ({e}); run as root"
        return folder, f"cgroup v1 cpu.cfs_quota_us = {QUOTA[0]} per {QUOTA[1]} us (no cgroup v2 cpu controller here)"
    return None, "no cgroup CPU controller (v2 cpu.max or v1 cpu.cfs_quota_us) here"


def remove_cgroup(folder: Path) -> None:
    for _ in range(50):
        try:
            folder.rmdir()
            return
        except OSError:
            time.sleep(0.1)


def joiner(folder: Path) -> Callable[[], None]:
    def join() -> None:  # in the child, before exec: the player and its workers are all inside
        with open(folder / "cgroup.procs", "w") as f:
            f.write(str(os.getpid()))
    return join


def budget_play(target: str, env: Dict[str, str], folder: Path,
                seconds: float) -> Tuple[Optional[float], Optional[int], str]:
    """First sound (s), underruns, the last stderr line of ``play TARGET -v`` inside the cgroup."""
    proc = subprocess.Popen(benchlib.voiceguide_cmd() + ["play", target, "-v"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=benchlib.ROOT, preexec_fn=joiner(folder))
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    first = FIRST_SOUND.search(err)
    under = UNDERRUNS.search(err)
    tail = [line for line in err.splitlines() if line.strip()][-1:] or [""]
    return (float(first.group(1)) if first else None, int(under.group(1)) if under else None, tail[0][:120])


# -- (c) clips per second ------------------------------------------------------------------------

def clips_per_second(env: Dict[str, str]) -> Tuple[float, int, float]:
    """``prepare body-scan`` on a cold cache: (clips a second, clips, seconds)."""
    cache = Path(env["XDG_CACHE_HOME"])
    t0 = time.perf_counter()
    subprocess.run(benchlib.voiceguide_cmd() + ["prepare", SCRIPT], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=benchlib.ROOT)
    dt = time.perf_counter() - t0
    n = len(list((cache / "voiceguide" / "speech").glob("*.clip")))
    return n / dt, n, dt


def engines() -> List[str]:
    sys.path.insert(0, str(benchlib.ROOT))
    from voiceguide.synth.engines import piper

    return ["espeak"] + (["piper"] if piper.available() else [])


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=100.0, help="seconds of body-scan under the CPU budget")
    ap.add_argument("--memory-seconds", type=float, default=40.0)
    ap.add_argument("--runs", type=int, default=2, help="first-word runs per engine under the budget")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-cpu", action="store_true")
    ap.add_argument("--skip-clips", action="store_true")
    ap.add_argument("--memory-mb", default=None,
                    help="(b) as a machine with this much memory (VOICEGUIDE_MEMORY_MB): 1024 for a Pi 3, whose "
                         "worker voices a long clause a piece at a time from the model cut before its vocoder")
    args = ap.parse_args()
    print(benchlib.machine(), "|", load())
    names = engines()
    with tempfile.TemporaryDirectory(prefix="vg-bench-pi-") as tmp_name:
        tmp = Path(tmp_name)
        probe = tmp / "probe.yaml"
        probe.write_text(PROBE)
        audio_env = benchlib.audio_env()
        if not args.skip_memory and "piper" in names:
            rows = []
            for label, mb in (("this machine", None), ("as a 1 GB Pi 3", "1024"), ("as a 512 MB Pi Zero 2 W", "512"),
                              ("this machine, model saved", None), ("as a 1 GB Pi 3, model saved", "1024")):
                sink = audio_env.PulseNullSink(tmp / f"pm{len(rows)}").start()
                try:
                    cache = tmp / f"mem-{len(rows)}"
                    if label.endswith("model saved"):   # the voice's optimised model kept from the same machine's run
                        benchlib.seed_models(tmp / ("mem-1" if mb else "mem-0"), cache)   # (a Pi 3 saves its own)
                    env = benchlib.env_with_cache(cache, dict(sink.env, VOICEGUIDE_VOICE="piper"))
                    if mb:
                        env["VOICEGUIDE_MEMORY_MB"] = mb
                    peak, roles, workers = session_memory(env, args.memory_seconds)
                finally:
                    sink.stop()
                each = ", ".join(f"{r} {v:.0f}" for r, v in sorted(roles.items()))
                rows.append((label, f"{peak:.0f} MB", workers, each, benchlib.verdict(peak <= 400)))
            print(f"\n(a) peak RSS, player + workers, first {args.memory_seconds:.0f} s of a cold "
                  f"`play {SCRIPT}` with Piper (target <= 400 MB) | {load()}")
            print(benchlib.table(("machine", "peak", "workers", "each process's peak (MB)", ""), rows))
        if not args.skip_cpu:
            folder, how = make_cgroup()
            memory = {"VOICEGUIDE_MEMORY_MB": args.memory_mb} if args.memory_mb else {}
            print(f"\n(b) 30% of one core: {how}" + (f", as a machine of {args.memory_mb} MB" if memory else "")
                  + f" | {load()}")
            if folder is not None:
                try:
                    rows = []
                    for engine in names:
                        goal = 5.0 if engine == "piper" else 2.0
                        # Piper: also with the voice's optimised model kept from an earlier session
                        # (the first run leaves it; the speech clips stay cold every run).
                        kinds = ("cold", "cold, model saved") if engine == "piper" else ("cold",)
                        for kind in kinds:
                            for i in range(args.runs):
                                sink = audio_env.PulseNullSink(tmp / f"pc-{engine}-{len(kind)}-{i}").start()
                                try:
                                    cache = tmp / f"cpu-{engine}-{len(kind)}-{i}"
                                    if kind != "cold":
                                        benchlib.seed_models(tmp / f"cpu-{engine}-{len('cold')}-0", cache)
                                    env = benchlib.env_with_cache(cache, dict(sink.env, VOICEGUIDE_VOICE=engine,
                                                                              **memory))
                                    first, under, _ = budget_play(str(probe), env, folder, 10.0)
                                finally:
                                    sink.stop()
                                rows.append((engine, f"first word, {kind} (probe)",
                                             "-" if first is None else f"{first:.2f} s", f"<= {goal:.0f} s",
                                             benchlib.verdict(first is not None and first <= goal)))
                        sink = audio_env.PulseNullSink(tmp / f"pl-{engine}").start()
                        try:
                            env = benchlib.env_with_cache(tmp / f"long-{engine}",
                                                          dict(sink.env, VOICEGUIDE_VOICE=engine, **memory))
                            first, under, tail = budget_play(SCRIPT, env, folder, args.seconds)
                        finally:
                            sink.stop()
                        rows.append((engine, f"underruns, first {args.seconds:.0f} s of {SCRIPT}, cold",
                                     "-" if under is None else str(under), "0",
                                     benchlib.verdict(under == 0) + ("" if under is not None else f" ({tail})")))
                    print(benchlib.table(("voice", "measure", "figure", "target", ""), rows))
                finally:
                    remove_cgroup(folder)
        if not args.skip_clips and "piper" in names:
            rows = []
            for workers, mb in ((1, "1024"), (2, "8192")):
                env = benchlib.env_with_cache(tmp / f"clips-{workers}", dict(os.environ, VOICEGUIDE_VOICE="piper",
                                                                             VOICEGUIDE_MEMORY_MB=mb))
                rate, n, dt = clips_per_second(env)
                rows.append((workers, n, f"{dt:.1f} s", f"{rate:.2f}"))
            print(f"\n(c) `prepare {SCRIPT}`, cold cache, Piper | {load()}")
            print(benchlib.table(("workers", "clips", "time", "clips a second"), rows))


if __name__ == "__main__":
    main()
