"""Render speed: `voiceguide render body-scan` with a warm and a cold cache, against a sox peer.

(a) Warm cache: ``voiceguide render body-scan -o tmp.wav`` as a fresh
    subprocess, wall time including Python start-up, with a speech (and
    ambient loop) cache warmed by one untimed render. Target >= 300x real
    time; the session's duration comes from ``voiceguide preview --json``.
(b) The same mix built by SoX from the same speech clips
    (``benchmarks/sox_peer.py``: clips and bells exported untimed, then one
    ``sox -m`` timed), run side by side with (a), alternating, in this run.
    Target: voiceguide at least 2x faster.
(c) Cold cache: the same render with ``XDG_CACHE_HOME`` pointing at a fresh
    empty folder each time (every clip synthesised by espeak-ng, ambient
    loops rebuilt). Target >= 60x real time.

Each is run 3 times (``--runs N``); the median is reported, the worst too.
A private cache folder is used throughout, so other work on this machine
neither helps nor disturbs the figures. Exits 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402
import sox_peer  # noqa: E402

SCRIPT = "body-scan"
WARM_TARGET = 300.0
COLD_TARGET = 60.0
PEER_RATIO_TARGET = 2.0


def render_once(out: Path, env) -> float:
    start = time.perf_counter()
    subprocess.run(benchlib.voiceguide_cmd() + ["render", SCRIPT, "-o", str(out), "--force"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=benchlib.ROOT)
    return time.perf_counter() - start


def frames(path: Path) -> int:
    import soundfile as sf

    return sf.info(str(path)).frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vg-bench-render-") as tmp:
        tmp = Path(tmp)
        warm_cache = tmp / "warm-cache"
        warm_env = benchlib.env_with_cache(warm_cache)
        out = tmp / "render.wav"
        peer_out = tmp / "peer.wav"

        # Warm up (untimed): synthesise every clip, build the ambient loops.
        render_once(out, warm_env)
        duration = benchlib.session_duration(SCRIPT, warm_env)

        # Export the clips for the peer from the same warm cache (untimed).
        os.environ["XDG_CACHE_HOME"] = str(warm_cache)
        manifest = sox_peer.export(SCRIPT, tmp / "clips")
        if abs(manifest["length"] / manifest["sample_rate"] - duration) > 1e-6:
            print(f"warning: peer timeline {manifest['length']} samples differs from preview {duration} s")

        warm, peer = [], []
        for _ in range(args.runs):  # side by side, alternating
            warm.append(render_once(out, warm_env))
            peer.append(sox_peer.run(manifest, peer_out))
        lengths = (frames(out), frames(peer_out))

        cold = []
        for i in range(args.runs):
            cold_env = benchlib.env_with_cache(tmp / f"cold-cache-{i}")
            cold.append(render_once(out, cold_env))

    med = benchlib.median
    warm_x, cold_x, peer_x = duration / med(warm), duration / med(cold), duration / med(peer)
    ratio = med(peer) / med(warm)
    print(f"render speed, {SCRIPT} ({duration:.2f} s of audio), {args.runs} runs each, median (worst)")
    print(f"machine: {benchlib.machine()}")
    print(f"peer: {len(manifest['inputs'])} clips and bells, {len(manifest['ambient'])} ambient layers, "
          f"one `sox -m`; output lengths voiceguide {lengths[0]} / sox {lengths[1]} samples\n")
    rows = [
        ("(a) voiceguide render, warm cache", f"{med(warm):.3f} s ({max(warm):.3f})", f"{warm_x:.0f}x",
         f">= {WARM_TARGET:.0f}x", benchlib.verdict(warm_x >= WARM_TARGET)),
        ("(b) sox peer, same clips", f"{med(peer):.3f} s ({max(peer):.3f})", f"{peer_x:.0f}x", "", ""),
        ("    voiceguide vs sox peer", "", f"{ratio:.2f}x faster", f">= {PEER_RATIO_TARGET:.0f}x",
         benchlib.verdict(ratio >= PEER_RATIO_TARGET)),
        ("(c) voiceguide render, cold cache", f"{med(cold):.3f} s ({max(cold):.3f})", f"{cold_x:.0f}x",
         f">= {COLD_TARGET:.0f}x", benchlib.verdict(cold_x >= COLD_TARGET)),
    ]
    print(benchlib.table(["what", "wall time", "real time", "target", ""], rows))
    print("\nall runs (s): warm " + ", ".join(f"{t:.3f}" for t in warm)
          + " | sox " + ", ".join(f"{t:.3f}" for t in peer)
          + " | cold " + ", ".join(f"{t:.3f}" for t in cold))


if __name__ == "__main__":
    main()
