"""Wall time of the quick commands: `voiceguide list` and `voiceguide validate scripts/*.yaml`.

Each runs as a fresh process (what a person waits for), ten times; the
median and the worst are printed. Target: both under 200 ms on a desktop
core (a Raspberry Pi Zero 2 W is about ten times slower).
"""

from __future__ import annotations

import glob
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def command() -> list:
    exe = shutil.which("voiceguide", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "voiceguide"]


def timed(args, runs=10):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command() + args, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def main() -> None:
    scripts = sorted(glob.glob(str(ROOT / "scripts" / "*.yaml")))
    for label, args in (("voiceguide list", ["list"]),
                        (f"voiceguide validate scripts/*.yaml ({len(scripts)} files)", ["validate", *scripts])):
        median, worst = timed(args)
        print(f"{label:<48} median {median * 1000:6.1f} ms   worst {worst * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
