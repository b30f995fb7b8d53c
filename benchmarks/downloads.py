"""Downloads: MP3 size per minute, and a station's time to the first byte of one, cold and warm.

(a) Size: ``voiceguide render ID -o ID.mp3`` for every built-in exercise at
    its own length (LAME VBR quality 5, mono, 48 kHz); bytes per minute of
    session, each and over them all. The page's size estimate
    (``MP3_BYTES_PER_SECOND`` in ``station/static/app.js``) comes from here.
(b) Time to the first byte of ``GET /api/exercises/body-scan/audio``
    from a real station process on loopback (a private cache folder):
    *cold* = not yet rendered, with the speech already cached (the station
    prepares its exercises; what a phone asking first meets), *cold, empty
    cache* = every clip synthesised too, *warm* = rendered before (median of
    ``--runs``). The time to the whole file is printed beside it.

Exits 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

SCRIPT = "body-scan"


def get(port: int, token: str, path: str) -> Tuple[float, float, int]:
    """(seconds to the first byte, seconds to the last, bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    first = response.read(1)
    ttfb = time.perf_counter() - start
    rest = response.read()
    total = time.perf_counter() - start
    conn.close()
    assert response.status == 200, (response.status, rest[:200])
    return ttfb, total, len(first) + len(rest)


def sizes(tmp: Path, env) -> None:
    ids = sorted(p.stem for p in (benchlib.ROOT / "scripts").glob("*.yaml"))
    rows, all_bytes, all_seconds = [], 0, 0.0
    for ident in ids:
        out = tmp / f"{ident}.mp3"
        done = subprocess.run(benchlib.voiceguide_cmd() + ["render", ident, "-o", str(out), "--force"], env=env,
                              capture_output=True, text=True, cwd=benchlib.ROOT)
        if done.returncode != 0:   # a part written to be included, or a music step
            continue
        import soundfile

        seconds = soundfile.info(str(out)).frames / 48000
        size = out.stat().st_size
        all_bytes += size
        all_seconds += seconds
        rows.append((ident, f"{seconds / 60:.1f}", f"{size / 1e6:.2f}", f"{size / seconds * 60 / 1e6:.3f}",
                     f"{size * 8 / seconds / 1000:.1f}"))
    print(benchlib.table(("exercise", "minutes", "MB", "MB per minute", "kbit/s"), rows))
    print(f"all: {all_bytes / all_seconds * 60 / 1e6:.3f} MB per minute "
          f"({all_bytes / all_seconds:.0f} bytes a second)\n")


def first_bytes(tmp: Path, runs: int) -> None:
    from tests.support.station_env import Station

    path = f"/api/exercises/{SCRIPT}/audio?format=mp3"
    for label, empty in (("cold (speech cached)", False), ("cold, empty cache", True)):
        cache = tmp / ("cache-empty" if empty else "cache-warm-speech")
        env = benchlib.env_with_cache(cache)
        if not empty:   # the speech, as a station that prepared its exercises has it
            benchlib.session_duration(SCRIPT, env)
        home = tmp / f"home-{int(empty)}"
        env["XDG_CONFIG_HOME"] = str(home / "config")
        env["XDG_STATE_HOME"] = str(home / "state")
        with Station(env, home) as station:
            ttfb, total, size = get(station.port, station.token, path)
            print(f"{label}: first byte {ttfb * 1000:.0f} ms, whole file {total * 1000:.0f} ms ({size} bytes)")
            if empty:
                continue
            warm = [get(station.port, station.token, path) for _ in range(runs)]
            print(f"warm (kept): first byte median {benchlib.median([w[0] for w in warm]) * 1000:.1f} ms, "
                  f"worst {max(w[0] for w in warm) * 1000:.1f} ms; whole file median "
                  f"{benchlib.median([w[1] for w in warm]) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    benchlib.audio_env()   # puts the checkout on sys.path for tests.support
    print(benchlib.machine())
    with tempfile.TemporaryDirectory(prefix="vg-bench-downloads-") as tmp:
        tmp_path = Path(tmp)
        sizes(tmp_path, benchlib.env_with_cache(tmp_path / "size-cache", dict(os.environ)))
        first_bytes(tmp_path, args.runs)


if __name__ == "__main__":
    main()
