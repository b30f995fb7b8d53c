"""Takes of the spoken commands for the real-path test (tests/station/test_voice_station.py).

A person who is not understood says it again, a little differently: the test
plays a command's takes in turn until the station acts on one. The takes
are kept in ``tests/data/voice-takes/`` (16 kHz FLAC, with ``takes.json``
saying how each was made) and remade with::

    python -m tests.support.voice_takes          # from the repository's root

Every take is one the recogniser accepted over the file alone when it was
made (``voiceguide listen --file``); the test checks that again before it
plays them. How they are made:

* "guide, pause" and "guide resume": espeak-ng voices (variants, rates,
  pitch), through a small synthetic room (RT60 0.3 s), as
  ``benchmarks/voice_data.py`` makes tests/data/voice/.
* "guide stop": Piper (the ``neural`` extra), said without the comma's
  pause and dry (a close microphone). When they were made, no espeak-ng
  voice's "guide, stop" or "guide stop" -- 8 voices, rates 110-175,
  pitch 30-70, with or without a room -- cleared stop's floor, and a room
  pulled Piper's under it too. Piper samples its durations, so each
  synthesis differs: this keeps the first few that are accepted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TAKES = ROOT / "tests" / "data" / "voice-takes"
RATE = 16000
#: The level of a take's speech (dB RMS of its loud part), as the kept clips of tests/data/voice/.
LEVEL_DB = -24.0

#: espeak-ng takes: (file stem, text, voice, words per minute, pitch).
ESPEAK_TAKES = (
    ("pause-rp", "guide, pause", "en-gb-x-rp+m1", 175, 45),
    ("pause-klatt", "guide pause", "en-us+klatt2", 145, 35),
    ("pause-m7", "guide pause", "en-us+m7", 135, 30),
    ("resume-us", "guide resume", "en-us", 150, 50),
    ("resume-gb", "guide resume", "en-gb+m3", 160, 40),
    ("resume-klatt", "guide resume", "en-us+klatt2", 145, 35),
)
#: Piper takes of "guide stop": rates (words per minute) and pitch shifts (resampling factors) tried in turn.
PIPER_TRIES = ((130, 1.0), (120, 1.0), (130, 0.94), (140, 0.94), (120, 0.94), (130, 1.06), (140, 1.0))
PIPER_KEEP = 3


def espeak(text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
    import soundfile

    from voiceguide.audio.dsp import resample

    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", f.name, text],
                       check=True, capture_output=True)
        x, r = soundfile.read(f.name, dtype="float32")
    return np.asarray(resample(x, r, RATE), dtype=np.float32)


def trim(x: np.ndarray, floor_db: float = -50.0) -> np.ndarray:
    level = 10 ** (floor_db / 20) * max(1e-9, float(np.max(np.abs(x))))
    loud = np.flatnonzero(np.abs(x) > level)
    return x[loud[0]:loud[-1] + 1] if len(loud) else x


def reverb(x: np.ndarray, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """*x* in a synthetic room: a direct path, then exponentially decaying noise."""
    n = int(rt60 * RATE)
    t = np.arange(n) / RATE
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60) * 0.25
    ir[: int(0.004 * RATE)] = 0.0
    ir[0] = 1.0
    ir /= np.sqrt(np.sum(ir ** 2))
    return np.convolve(x, ir).astype(np.float32)


def levelled(x: np.ndarray) -> np.ndarray:
    """*x* with its speech at :data:`LEVEL_DB`, and 0.4 s of silence either side."""
    w = RATE // 10
    k = len(x) // w
    frames = 10 * np.log10(np.mean(x[: k * w].reshape(k, w).astype(np.float64) ** 2, axis=1) + 1e-18)
    loud = frames[frames > frames.max() - 20]
    speech_db = float(10 * np.log10(np.mean(10 ** (loud / 10))))
    pad = np.zeros(int(0.4 * RATE), dtype=np.float32)
    return np.concatenate([pad, x * np.float32(10 ** ((LEVEL_DB - speech_db) / 20)), pad])


def accepted(path: Path) -> List[str]:
    """The commands the recogniser acts on in *path*, alone (the rules of ``voiceguide listen --file``)."""
    from voiceguide.cli.listen import heard_in_file

    return [command for _, command in heard_in_file(str(path))]


def piper_stops() -> Iterator[Tuple[str, np.ndarray]]:
    from voiceguide.audio.dsp import resample
    from voiceguide.synth import Synthesizer, VoiceSpec

    for rate, shift in PIPER_TRIES:
        with tempfile.TemporaryDirectory() as cache:  # a fresh synthesis each time, not the cached one
            os.environ["XDG_CACHE_HOME"] = cache
            with Synthesizer(sample_rate=RATE) as synth:
                clip = np.array(synth.clip("guide stop", VoiceSpec(name="piper", rate=rate)), dtype=np.float32)
        if shift != 1.0:  # a pitch (and tempo) shift: played back at another rate
            clip = np.asarray(resample(clip, int(RATE * shift), RATE), dtype=np.float32)
        yield f"piper {rate} wpm, pitch x{shift:g}, dry", trim(clip)


def write(folder: Path = TAKES) -> Dict[str, list]:
    import soundfile

    rng = np.random.default_rng(2020)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.flac"):
        old.unlink()
    made: Dict[str, list] = {}

    def keep(stem: str, command: str, how: str, clip: np.ndarray, check: Callable[[Path], List[str]]) -> bool:
        path = folder / f"{stem}.flac"
        soundfile.write(str(path), levelled(clip), RATE, format="FLAC", subtype="PCM_16")
        if check(path) != [command]:
            path.unlink()
            print(f"voice_takes: {stem} ({how}) is not accepted; not kept", file=sys.stderr)
            return False
        made.setdefault(command, []).append({"file": path.name, "how": how})
        return True

    for stem, text, voice, rate, pitch in ESPEAK_TAKES:
        clip = reverb(trim(espeak(text, voice, rate, pitch)), 0.3, rng)
        keep(stem, text.split()[-1], f"espeak-ng {voice} {rate} wpm pitch {pitch}, {text!r}, room RT60 0.3 s",
             clip, accepted)
    kept = 0
    for how, clip in piper_stops():
        if kept < PIPER_KEEP and keep(f"stop-{kept + 1}", "stop", f"{how}, 'guide stop'", clip, accepted):
            kept += 1
    (folder / "takes.json").write_text(json.dumps(made, indent=1) + "\n")
    return made


if __name__ == "__main__":
    print(json.dumps(write(), indent=1))
