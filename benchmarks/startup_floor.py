"""Start-up of the quick commands against the floor of a Click + PyYAML program.

The floor is a tiny script that imports Click and PyYAML and prints one line
through a Click command: no program that reads YAML behind a Click command
line can start faster. Each command (`list`, `validate scripts/*.yaml`,
`ctl status` with no station listening, `--help`) runs as a fresh process
paired with a run of the floor, A B A B ..., and the ratio is taken pair by
pair, so a shared machine's drift cancels. Target (issue 24): the median
ratio <= 1.5 for each.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, machine, median, table, verdict, voiceguide_cmd  # noqa: E402

FLOOR = """\
import click
import yaml


@click.command()
def main():
    click.echo(yaml.safe_load("a: 1")["a"])


main()
"""
TARGET = 1.5


def timed(args, env) -> float:
    start = time.perf_counter()
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    return time.perf_counter() - start


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    scripts = sorted(glob.glob(str(ROOT / "scripts" / "*.yaml")))
    with tempfile.TemporaryDirectory() as tmp:
        floor = Path(tmp) / "floor.py"
        floor.write_text(FLOOR)
        env = dict(os.environ, XDG_CONFIG_HOME=str(Path(tmp) / "config"),
                   XDG_STATE_HOME=str(Path(tmp) / "state"), VOICEGUIDE_STATION_TOKEN="x" * 32)
        # ctl status finds no station: a port nothing listens on.
        commands = [("list", ["list"]), (f"validate ({len(scripts)} files)", ["validate", *scripts]),
                    ("ctl status", ["ctl", "--station", "127.0.0.1:9", "status"]), ("--help", ["--help"])]
        rows = []
        load_before = os.getloadavg()[0]
        for label, args in commands:
            floors, times, ratios = [], [], []
            timed([sys.executable, str(floor)], env)  # warm-up
            timed(voiceguide_cmd() + args, env)
            for _ in range(runs):
                f = timed([sys.executable, str(floor)], env)
                t = timed(voiceguide_cmd() + args, env)
                floors.append(f)
                times.append(t)
                ratios.append(t / f)
            ratio = median(ratios)
            rows.append([label, f"{median(times) * 1000:.0f} ms", f"{median(floors) * 1000:.0f} ms",
                         f"{ratio:.2f}x (min {min(ratios):.2f}, max {max(ratios):.2f})",
                         f"<= {TARGET}x {verdict(ratio <= TARGET)}"])
        print(machine(), f"- load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}, {runs} pairs each")
        print(table(["command", "median", "floor median", "ratio (pair by pair, median)", "target"], rows))


if __name__ == "__main__":
    main()
