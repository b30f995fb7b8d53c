"""Peak memory of `voiceguide render body-scan` for a 60-minute and a 5-minute session.

Each render is a fresh subprocess (``voiceguide render body-scan --length D
-o tmp.wav``) with a warm private cache; its peak resident set size is
``ru_maxrss`` of ``resource.getrusage(RUSAGE_CHILDREN)`` read in a fresh
single-purpose Python wrapper process, so the figure is that render's own
peak (RUSAGE_CHILDREN keeps the largest child ever reaped, hence one wrapper
per render). The speech worker processes are the render's children, so the
wrapper's figure is the largest of the render and its workers; the render
process alone is also read from its own ``RUSAGE_SELF`` via ``/usr/bin/time``
when that is installed. 3 runs each (``--runs N``), the largest is reported.

Targets: <= 80 MB for 60 minutes, and the 60-minute peak within 10% of the
5-minute one. Exits 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

SCRIPT = "body-scan"
LIMIT_MB = 80.0
SPREAD = 0.10

WRAPPER = """\
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_mb(args, env) -> float:
    """Peak RSS (MB) of one fresh ``voiceguide`` run (the largest process of its tree)."""
    out = subprocess.run([sys.executable, "-c", WRAPPER, *benchlib.voiceguide_cmd(), *args], env=env,
                         check=True, capture_output=True, text=True, cwd=benchlib.ROOT).stdout
    return int(out.split()[-1]) / 1024.0


def time_peak_mb(args, env) -> float:
    """Peak RSS (MB) by ``/usr/bin/time -f %M`` (the voiceguide process itself)."""
    res = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", *benchlib.voiceguide_cmd(), *args], env=env,
                         check=True, capture_output=True, text=True, cwd=benchlib.ROOT)
    line = [x for x in res.stderr.splitlines() if x.startswith("MAXRSS ")][-1]
    return int(line.split()[1]) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    has_time = Path("/usr/bin/time").exists()

    figures = {}
    with tempfile.TemporaryDirectory(prefix="vg-bench-mem-") as tmp:
        tmp = Path(tmp)
        env = benchlib.env_with_cache(tmp / "warm-cache")
        out = tmp / "render.wav"
        for length in ("5m", "60m"):
            cmd = ["render", SCRIPT, "--length", length, "-o", str(out), "--force"]  # the same file each run
            subprocess.run(benchlib.voiceguide_cmd() + cmd, env=env, check=True, capture_output=True,
                           cwd=benchlib.ROOT)  # warm: speech and ambient loops cached
            tree = [peak_mb(cmd, env) for _ in range(args.runs)]
            alone = [time_peak_mb(cmd, env) for _ in range(args.runs)] if has_time else []
            import soundfile as sf

            figures[length] = (tree, alone, sf.info(str(out)).duration)

    print(f"render memory: `voiceguide render {SCRIPT} --length D`, warm cache, {args.runs} runs each, "
          "largest peak RSS")
    print(f"machine: {benchlib.machine()}\n")
    t5, t60 = max(figures["5m"][0]), max(figures["60m"][0])
    growth = (t60 - t5) / t5
    rows = []
    for length in ("5m", "60m"):
        tree, alone, seconds = figures[length]
        rows.append((f"--length {length} ({seconds:.0f} s written)", f"{max(tree):.1f} MB",
                     f"{max(alone):.1f} MB" if alone else "n/a",
                     f"<= {LIMIT_MB:.0f} MB", benchlib.verdict(max(tree) <= LIMIT_MB)))
    rows.append(("60m vs 5m", f"{growth * 100:+.1f}%", "", f"within {SPREAD * 100:.0f}%",
                 benchlib.verdict(abs(growth) <= SPREAD)))
    print(benchlib.table(["", "peak (RUSAGE_CHILDREN)", "peak (/usr/bin/time %M)", "target", ""], rows))
    print("\nall runs (MB): " + "; ".join(
        f"{k}: " + ", ".join(f"{v:.1f}" for v in figures[k][0]) for k in figures))


if __name__ == "__main__":
    main()
