"""A sox peer for ``voiceguide render``: the same mix, built by SoX from the same speech clips.

Two halves, so that only SoX is timed:

* :func:`export` (not timed) asks voiceguide's own library for the session's
  timeline, writes each spoken clip and each bell as a 32-bit WAV into a
  folder and returns a manifest (start samples, gains, ambient layers,
  length);
* :func:`command` turns the manifest into one ``sox -m`` command line: each
  clip and bell is an input pipe ``|sox clip.wav -p pad <start>``, the drone
  is ``synth sine`` and the noise ``synth brownnoise`` at the script's levels
  (with the same 4 s fade in and 5 s fade out voiceguide gives the bed), every
  input at ``-v 1`` (``sox -m`` would otherwise scale each input by 1/n),
  then a 50 ms master fade out, ``trim`` to exactly the session's length and
  a 24-bit mono WAV like voiceguide's.

Not reproduced (they only make voiceguide's job harder): ducking the bed
under the voice, the drone's harmonics and slow movement, the limiter.

Run alone::

    python benchmarks/sox_peer.py body-scan out.wav     # exports, runs sox, prints the time
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

SOX = "sox"


def _gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


def export(script_id: str, folder: Path) -> Dict:
    """Write the session's clips and bells into *folder*; return the manifest (not timed)."""
    import numpy as np
    import soundfile as sf

    from voiceguide.audio import generators
    from voiceguide.script.catalog import resolve
    from voiceguide.script.loader import load
    from voiceguide.script.model import Drone, Noise
    from voiceguide.player.session import Session

    folder.mkdir(parents=True, exist_ok=True)
    script = load(resolve(script_id))
    inputs: List[Dict] = []
    bells: Dict[str, Path] = {}
    with Session(script) as session:
        timeline = session.timeline()
        sr = timeline.sample_rate
        for i, event in enumerate(timeline.events):
            if event.kind == "say":
                path = folder / f"say{i:04d}.wav"
                sf.write(str(path), np.asarray(session.clip_for(event), dtype=np.float32), sr,
                         subtype="PCM_32")
                inputs.append({"path": str(path), "start": event.start, "gain": 1.0})
            elif event.kind == "bell":
                if event.bell not in bells:
                    path = folder / f"bell-{event.bell}.wav"
                    sf.write(str(path), np.asarray(generators.bell(event.bell, sr), dtype=np.float32), sr,
                             subtype="PCM_32")
                    bells[event.bell] = path
                inputs.append({"path": str(bells[event.bell]), "start": event.start,
                               "gain": _gain(event.level_db or 0.0)})
            elif event.kind in ("breathe", "walk"):
                raise SystemExit(f"sox peer: {event.kind} steps are not reproduced")
    ambient = []
    for layer in script.ambient:
        if isinstance(layer, Drone):
            ambient.append({"synth": "sine", "hz": layer.hz, "gain": _gain(layer.level_db)})
        elif isinstance(layer, Noise):
            ambient.append({"synth": f"{layer.color}noise", "gain": _gain(layer.level_db)})
    return {"sample_rate": sr, "length": timeline.length, "inputs": inputs, "ambient": ambient}


def command(manifest: Dict, out: Path) -> List[str]:
    """One ``sox -m`` command line that builds the mix into *out*."""
    sr, length = manifest["sample_rate"], manifest["length"]
    fmt = ["-r", str(sr), "-c", "1"]
    argv = [SOX, "-V1", "-m"]
    for layer in manifest["ambient"]:
        synth = ["synth", f"{length}s", layer["synth"]] + ([f"{layer['hz']:g}"] if "hz" in layer else [])
        pipe = [SOX, "-V1", "-n", *fmt, "-p", *synth,
                "vol", f"{layer['gain']:.6g}", "fade", "h", "4", f"{length}s", "5"]
        argv += ["-v", "1", "|" + shlex.join(pipe)]
    for item in manifest["inputs"]:
        pipe = [SOX, "-V1", item["path"], "-p", "pad", f"{item['start']}s"]
        argv += ["-v", f"{item['gain']:.6g}", "|" + shlex.join(pipe)]
    argv += [*fmt, "-b", "24", str(out), "trim", "0", f"{length}s", "fade", "h", "0", f"{length}s", "0.05"]
    return argv


def run(manifest: Dict, out: Path) -> float:
    """Run the sox peer once; return its wall time in seconds."""
    argv = command(manifest, out)
    start = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - start


def main() -> None:
    script_id = sys.argv[1] if len(sys.argv) > 1 else "body-scan"
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "sox-peer.wav")
    with tempfile.TemporaryDirectory(prefix="vg-soxpeer-") as tmp:
        manifest = export(script_id, Path(tmp))
        seconds = run(manifest, out)
    duration = manifest["length"] / manifest["sample_rate"]
    print(f"sox peer: {len(manifest['inputs'])} clips and bells + {len(manifest['ambient'])} ambient "
          f"layers, {duration:.1f} s of audio in {seconds:.2f} s ({duration / seconds:.0f}x real time)")


if __name__ == "__main__":
    main()
