"""The echo canceller (voiceguide/listening/echo.py) in a synthetic room.

The room: a bulk delay (20-60 ms, the output's latency and the air) and an
exponentially decaying noise impulse response (RT60 0.2-0.5 s), microphone
noise at -70 dBFS. The guide: espeak-ng saying a few sentences of a body
scan (or, without espeak-ng, the kept command clips one after another),
resampled to 16 kHz. The person: a kept "guide, pause" clip, said over the
guide's voice.
"""

from __future__ import annotations

import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from voiceguide.listening.echo import EchoCanceller, erle_db

DATA = Path(__file__).resolve().parents[1] / "data" / "voice"
R = 16000
GUIDE_TEXT = ("Let your attention settle on the breath. Notice the air moving in, and the air moving out. "
              "If your mind wanders, that is fine. Gently bring it back to the breath. Now bring your "
              "attention to your feet. Notice any sensations there: warmth, coolness, pressure. There is "
              "nothing to change. Simply notice, and let it be.")


def load(path: Path) -> np.ndarray:
    import soundfile as sf

    from voiceguide.audio.dsp import resample

    x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return np.asarray(resample(x[:, 0], rate, R), dtype=np.float32)


def room(rt60: float, delay: float, seed: int = 1, seconds: float = 0.55) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * R)
    t = np.arange(n) / R
    h = rng.standard_normal(n) * np.exp(-3 * math.log(10) * t / rt60)  # 60 dB down after rt60
    h = np.concatenate([np.zeros(int(delay * R)), h])[:n]
    return h / np.sqrt(np.sum(h ** 2))


def heard(reference: np.ndarray, h: np.ndarray, gain_db: float = -12.0, seed: int = 2) -> np.ndarray:
    """What the microphone hears of *reference* played in the room *h*, with its own noise."""
    echo = np.convolve(reference, h)[: len(reference)] * 10 ** (gain_db / 20)
    noise = np.random.default_rng(seed).standard_normal(len(reference)) * 10 ** (-70 / 20)
    return (echo + noise).astype(np.float32)


def run(mic: np.ndarray, reference: np.ndarray, chunk: int = 1600, **kwargs) -> np.ndarray:
    """The canceller over the whole stream in *chunk*-sample pieces, output moved back by its delay."""
    aec = EchoCanceller(**kwargs)
    out = np.concatenate([aec.process(mic[i:i + chunk], reference[i:i + chunk])
                          for i in range(0, len(mic), chunk)])
    return out[aec.delay:]


def level_db(x: np.ndarray) -> float:
    return 10 * math.log10(float(np.mean(np.square(x, dtype=np.float64))) + 1e-20)


@pytest.mark.parametrize("rt60, delay", [(0.2, 0.02), (0.35, 0.04), (0.5, 0.06)])
def test_after_a_few_seconds_the_echo_is_20_db_down(guide, rt60, delay):
    mic = heard(guide, room(rt60, delay))
    out = run(mic, guide)
    settled = slice(10 * R, len(out))
    assert erle_db(mic[settled], out[settled]) >= 20.0
    assert erle_db(mic[: 2 * R], out[: 2 * R]) < 10.0  # (it does learn: not there from the start)


@pytest.mark.parametrize("over_echo_db", [0.0, 6.0, -10.0])
def test_a_command_said_over_the_guide_survives(guide, command, over_echo_db):
    """The person's "guide, pause", said over the echo, is in the output at its own level, and the filter
    has not learnt it (the echo is still 20 dB down afterwards)."""
    mic = heard(guide, room(0.4, 0.05))
    at = 12 * R
    span = slice(at, at + len(command))
    near = command * np.float32(10 ** ((level_db(mic[span]) + over_echo_db - level_db(command)) / 20))
    said = mic.copy()
    said[span] += near
    out = run(said, guide)
    assert abs(level_db(out[span]) - level_db(near)) <= 2.0
    assert level_db(out[span] - near) <= level_db(mic[span]) - 15.0  # the echo went, the command stayed
    after = slice(span.stop + R // 2, len(out))
    assert erle_db(mic[after], out[after]) >= 20.0


def test_a_silent_reference_passes_the_microphone_through(command):
    mic = np.concatenate([np.zeros(3000, np.float32), command, np.zeros(5000, np.float32)])
    aec = EchoCanceller()
    out = np.concatenate([aec.process(mic[i:i + 999], np.zeros(len(mic[i:i + 999]), np.float32))
                          for i in range(0, len(mic), 999)])
    assert aec.delay == 256
    assert np.array_equal(out[:256], np.zeros(256, np.float32))
    assert np.array_equal(out[256:], mic[:-256])


def test_after_the_guide_stops_the_microphone_passes_through_again(guide, command):
    """Once a filter's length of silence has been played, the output is the microphone again, exactly."""
    reference = np.concatenate([guide[: 6 * R], np.zeros(2 * R, np.float32)])
    mic = heard(reference, room(0.3, 0.03))
    mic[7 * R: 8 * R] += command[: R]
    out = run(mic, reference)
    quiet = slice(6 * R + R, len(out))
    assert np.array_equal(out[quiet], mic[quiet])


def test_zeros_and_extremes_never_make_nan(guide):
    n = 4 * R
    for mic, ref in [(np.zeros(n), np.zeros(n)), (np.zeros(n), guide[:n]), (guide[:n], np.zeros(n)),
                     (np.ones(n), np.ones(n)), (np.sign(guide[:n]), guide[:n] * 1e-6)]:
        out = run(np.asarray(mic, np.float32), np.asarray(ref, np.float32))
        assert out.dtype == np.float32
        assert np.all(np.isfinite(out))
    assert not np.any(run(np.zeros(n, np.float32), guide[:n]))   # a dead microphone stays silent


def test_any_chunking_gives_the_same_output(guide):
    mic = heard(guide[: 3 * R], room(0.3, 0.03))
    ref = guide[: 3 * R]
    whole = run(mic, ref, chunk=len(mic))
    for chunk in (1, 7, 256, 1000, 1600):
        assert np.array_equal(run(mic, ref, chunk=chunk), whole)


def test_lengths_must_match():
    with pytest.raises(ValueError):
        EchoCanceller().process(np.zeros(10, np.float32), np.zeros(11, np.float32))


def test_nothing_grows_block_by_block(guide):
    mic = heard(guide[: 8 * R], room(0.3, 0.03))
    aec = EchoCanceller()
    aec.process(mic[: 2 * R], guide[: 2 * R])
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(2 * R, 8 * R, 1600):
            aec.process(mic[i:i + 1600], guide[i:i + 1600])
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024


def test_a_realigned_filter_keeps_what_it_learnt(guide):
    """The reference moves 300 samples earlier against the echo mid-stream; realign() shifts the filter and
    retakes the history: the echo stays as far down as before the move."""
    mic = heard(guide, room(0.3, 0.04))
    late = np.concatenate([np.zeros(300, np.float32), guide])[: len(guide)]   # 300 samples late ...
    aec = EchoCanceller()
    switch = 12 * R
    out = []
    for i in range(0, len(mic), 1600):
        if i == switch:
            need = aec.history_needed
            aec.realign(300, guide[i - need:i])        # ... from here on, where it belongs
        ref = guide if i >= switch else late
        out.append(aec.process(mic[i:i + 1600], ref[i:i + 1600]))
    result = np.concatenate(out)[aec.delay:]
    before = slice(switch - 2 * R, switch)
    after = slice(switch, switch + 2 * R)
    assert erle_db(mic[after], result[after]) >= erle_db(mic[before], result[before]) - 3.0
    assert erle_db(mic[after], result[after]) >= 15.0
