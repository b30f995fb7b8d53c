"""Spoken-command recordings made with voiceguide's own speech engines, and mixtures over sessions.

Used by ``benchmarks/voice_commands.py`` (the measurements) and, with
``--test-data``, to remake the small set kept in ``tests/data/voice/``.

Each command is "guide, <command>" (and "guide <command>" without the
comma's pause) said by espeak-ng voices (variants, rates, pitch) and by
Piper (rates; a pitch shift by resampling) when it is installed; then a
room (a synthetic impulse response: exponential decay, RT60 0.2-0.6 s), a
level, and the session itself heard through the room, as the microphone
would hear the guide's own voice.

    python benchmarks/voice_data.py --test-data     # rewrite tests/data/voice/
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

RATE = 16000
COMMANDS = ("pause", "resume", "stop", "next", "back", "louder", "softer")

#: espeak-ng voices (voice+variant, words per minute, pitch 0-99).
ESPEAK = (("en-us", 150, 50), ("en-us+f2", 140, 60), ("en-gb+m3", 160, 40), ("en-us+f4", 125, 70),
          ("en-gb-x-rp+m1", 175, 45), ("en-us+klatt2", 145, 35), ("en-gb-scotland+f3", 150, 55),
          ("en-us+m7", 135, 30))
#: Piper speaking rates (words per minute) and pitch shifts (resampling factors).
PIPER = ((120, 1.0), (150, 0.94), (175, 1.06), (140, 1.0))


def espeak(text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
    import soundfile

    from voiceguide.audio.dsp import resample

    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", f.name, text],
                       check=True, capture_output=True)
        x, r = soundfile.read(f.name, dtype="float32")
    return np.asarray(resample(x, r, RATE), dtype=np.float32)


def piper_clips(texts: List[str]) -> Dict[Tuple[str, int, float], np.ndarray]:
    """Piper's clips through voiceguide's synthesizer (empty when Piper is not installed)."""
    from voiceguide.audio.dsp import resample
    from voiceguide.synth import Synthesizer, VoiceSpec

    out: Dict[Tuple[str, int, float], np.ndarray] = {}
    try:
        with Synthesizer(sample_rate=RATE) as synth:
            for rate, shift in PIPER:
                spec = VoiceSpec(name="piper", rate=rate)
                for text in texts:
                    clip = synth.clip(text, spec)
                    clip = np.array(clip, dtype=np.float32)
                    if shift != 1.0:  # a pitch (and tempo) shift: play it back at another rate
                        clip = resample(clip, int(RATE * shift), RATE)
                    out[(text, rate, shift)] = np.asarray(clip, dtype=np.float32)
    except Exception as exc:  # no Piper here: espeak-ng alone
        print(f"voice_data: no Piper clips ({type(exc).__name__}: {exc})", file=sys.stderr)
    return out


def trim(x: np.ndarray, floor_db: float = -50.0) -> np.ndarray:
    level = 10 ** (floor_db / 20) * max(1e-9, float(np.max(np.abs(x))))
    loud = np.flatnonzero(np.abs(x) > level)
    return x[loud[0]:loud[-1] + 1] if len(loud) else x


def room(rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room impulse response: a direct path, then decaying noise."""
    n = int(rt60 * RATE)
    t = np.arange(n) / RATE
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60) * 0.25
    tail[: int(0.004 * RATE)] = 0.0
    tail[0] = 1.0
    return (tail / np.sqrt(np.sum(tail ** 2))).astype(np.float32)


def reverb(x: np.ndarray, rt60: float, rng: np.random.Generator) -> np.ndarray:
    ir = room(rt60, rng)
    n = len(x) + len(ir) - 1
    size = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[:n]
    return y.astype(np.float32)


def rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(max(1e-9, float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))))))


def speech_level(x: np.ndarray) -> float:
    """dB RMS of the loud part (the 100 ms windows within 20 dB of the loudest)."""
    w = RATE // 10
    k = len(x) // w
    if k == 0:
        return rms_db(x)
    frames = 10 * np.log10(np.mean(x[: k * w].reshape(k, w).astype(np.float64) ** 2, axis=1) + 1e-18)
    loud = frames[frames > frames.max() - 20]
    return float(10 * np.log10(np.mean(10 ** (loud / 10))))


def commands(piper: bool = True) -> Iterator[Tuple[str, str, np.ndarray]]:
    """(command, a name of how it was said, 16 kHz mono samples) for every voice and both phrasings."""
    texts = [f"guide, {c}" for c in COMMANDS] + [f"guide {c}" for c in COMMANDS]
    for voice, rate, pitch in ESPEAK:
        for text in texts:
            command = text.split()[-1]
            comma = "c" if "," in text else "n"
            yield command, f"espeak-{voice}-{rate}-{pitch}-{comma}", trim(espeak(text, voice, rate, pitch))
    if piper:
        for (text, rate, shift), clip in piper_clips(texts).items():
            command = text.split()[-1]
            comma = "c" if "," in text else "n"
            yield command, f"piper-{rate}-{shift:g}-{comma}", trim(clip)


def load_session(path: Path) -> np.ndarray:
    import soundfile

    from voiceguide.audio.dsp import resample

    x, r = soundfile.read(str(path), dtype="float32", always_2d=True)
    return np.asarray(resample(x.mean(axis=1), r, RATE), dtype=np.float32)


def heard_session(session: np.ndarray, rng: np.random.Generator, level_db: float = -30.0) -> np.ndarray:
    """The session as the microphone hears it: through a room, at *level_db* RMS of its speech, with hiss."""
    y = reverb(session, 0.5, rng)[: len(session)]
    y *= np.float32(10 ** ((level_db - speech_level(y)) / 20))
    y += (rng.standard_normal(len(y)) * 10 ** (-62 / 20)).astype(np.float32)
    return y


def place(background: np.ndarray, clips: List[Tuple[str, str, np.ndarray]], rng: np.random.Generator,
          gap: float = 12.0, over_db: Tuple[float, float] = (-2.0, 8.0)) -> List[dict]:
    """Mix each clip (reverberated, at a level relative to the guide's speech) into *background*.

    Returns the truth: one dict per clip with its start, end, command and how it was said.
    """
    guide_db = speech_level(background)
    truth = []
    at = 3.0
    for command, how, clip in clips:
        rt60 = float(rng.uniform(0.2, 0.6))
        wet = reverb(clip, rt60, rng)
        dry_end = len(clip)
        over = float(rng.uniform(*over_db))
        wet *= np.float32(10 ** ((guide_db + over - speech_level(wet)) / 20))
        start = int((at + rng.uniform(0, gap / 3)) * RATE)
        if start + len(wet) > len(background):
            break
        background[start:start + len(wet)] += wet
        truth.append({"start": start / RATE, "end": (start + dry_end) / RATE, "command": command,
                      "how": how, "over_db": round(over, 1), "rt60": round(rt60, 2)})
        at = start / RATE + gap
    return truth


def test_data(folder: Path, session: Optional[Path]) -> None:
    """The small set kept in the repository: a few clips, and commands over 40 s of a session."""
    import soundfile

    rng = np.random.default_rng(20)
    folder.mkdir(parents=True, exist_ok=True)
    chosen = [("en-us", 150, 50), ("en-us+f2", 140, 60), ("en-gb+m3", 160, 40)]
    kept = []
    for i, command in enumerate(COMMANDS):
        voice, rate, pitch = chosen[i % len(chosen)]
        clip = trim(espeak(f"guide, {command}", voice, rate, pitch))
        clip = reverb(clip, 0.3, rng)
        clip *= np.float32(10 ** ((-24 - speech_level(clip)) / 20))
        pad = np.zeros(int(0.4 * RATE), dtype=np.float32)
        clip = np.concatenate([pad, clip, pad])
        name = f"guide-{command}.flac"
        soundfile.write(str(folder / name), clip, RATE, format="FLAC", subtype="PCM_16")
        kept.append({"file": name, "command": command, "voice": voice})
    mixture = []
    if session is not None:
        background = heard_session(load_session(session)[int(30 * RATE):int(72 * RATE)], rng)
        picks = [(c, "espeak-en-us", trim(espeak(f"guide, {c}", "en-us+f4", 135, 55)))
                 for c in ("pause", "resume", "stop")]
        mixture = place(background, picks, rng, gap=13.0, over_db=(3.0, 5.0))
        soundfile.write(str(folder / "over-session.flac"), np.clip(background, -1, 1), RATE, format="FLAC",
                        subtype="PCM_16")
    (folder / "truth.json").write_text(json.dumps({"clips": kept, "over-session.flac": mixture}, indent=1)
                                       + "\n")


if __name__ == "__main__":
    if "--test-data" in sys.argv:
        sessions = sorted(Path(tempfile.gettempdir()).glob("voiceguide-bench-sessions/body-scan.*"))
        test_data(HERE.parent / "tests" / "data" / "voice", sessions[0] if sessions else None)
