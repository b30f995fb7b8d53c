"""The mixer with fake clips: block invariance, silence, ducking, fades, limiting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voiceguide.audio.dsp import LIMIT_CEILING, soft_limit
from voiceguide.audio.mixer import Mixer, render_blocks
from voiceguide.script.model import Bell, Breathe, Drone, Noise, Pause, Say, Script, Walk
from voiceguide.timeline import LazyTimeline, compile_timeline

from tests.support.fakes import SRC, FakeSynth

SR = 48000


def make(*steps, ambient=(), duck=8.0):
    return Script(title="T", steps=tuple(steps), path=Path("t.yaml"), ambient=tuple(ambient), duck_db=duck)


BED = (Drone(110.0, -30.0, SRC), Noise("brown", -36.0, SRC))


def mix(script, block=1 << 16, ambient=True, lazy=False):
    synth = FakeSynth()
    tl = compile_timeline(script, synth.length)
    timeline = LazyTimeline(script, synth.length) if lazy else tl
    mixer = Mixer(timeline, script, lambda e: synth.clip(e.text, e.voice), ambient=ambient)
    out = np.concatenate([b.copy() for b in render_blocks(mixer, block)])
    return tl, out


def rms_db(x):
    return 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12)


def test_output_is_as_long_as_the_timeline_and_identical_for_any_block_size():
    s = make(Bell("chime", SRC), Say("one two three", SRC, pause=2.0), Breathe(1.0, 1.5, 2, SRC),
             Walk(3.0, 60, SRC), Say("bye", SRC), ambient=BED)
    tl, big = mix(s)
    assert len(big) == tl.length
    for block in (1000, 2048, 4801):
        _, small = mix(s, block=block)
        np.testing.assert_array_equal(big, small)
    _, lazy = mix(s, block=2048, lazy=True)
    np.testing.assert_array_equal(big, lazy)


def test_pauses_are_digital_silence_without_ambient():
    s = make(Say("a b", SRC, pause=3.0), Say("c", SRC), ambient=BED)
    tl, out = mix(s, ambient=False)
    pause = [e for e in tl.events if e.kind == "pause"][0]
    assert not out[pause.start:pause.end].any()


def test_pauses_hold_only_the_bed_with_ambient():
    s = make(Say("a b", SRC, pause=8.0), Say("c", SRC), ambient=BED)
    tl, out = mix(s)
    pause = [e for e in tl.events if e.kind == "pause"][0]
    middle = out[pause.start + 2 * SR:pause.end - 2 * SR]
    # about the drone level (-30 dB sine RMS -> -33 dBFS) plus a quieter noise bed
    assert -36 < rms_db(middle) < -29


def test_bed_is_ducked_under_the_voice_and_starts_before_the_onset():
    s = make(Pause(6.0, SRC), Say("a b c d e f", SRC), Pause(6.0, SRC), ambient=BED, duck=12.0)
    tl, bed_only = mix(make(Pause(6.0, SRC), Pause(2.4, SRC), Pause(6.0, SRC), ambient=BED, duck=12.0))
    _, with_voice = mix(s, ambient=True)
    _, voice_only = mix(s, ambient=False)
    bed_under = with_voice - voice_only
    say = [e for e in compile_timeline(s, FakeSynth().length).events if e.kind == "say"][0]
    during = slice(say.start + SR // 2, say.end - SR // 2)
    drop = rms_db(bed_only[during]) - rms_db(bed_under[during])
    assert drop == pytest.approx(12.0, abs=0.5)
    # already dipping at the onset, untouched 0.5 s before it
    before = slice(say.start - SR // 2 - 2400, say.start - SR // 2)
    assert rms_db(bed_only[before]) - rms_db(bed_under[before]) == pytest.approx(0.0, abs=0.1)
    at = slice(say.start - 480, say.start)
    assert rms_db(bed_only[at]) - rms_db(bed_under[at]) > 6.0


def test_ambient_fades_in_and_out_and_the_session_ends_in_silence():
    s = make(Pause(12.0, SRC), ambient=BED)
    tl, out = mix(s)
    assert abs(out[0]) < 1e-6
    assert rms_db(out[:SR // 10]) < rms_db(out[5 * SR:6 * SR]) - 20
    assert abs(out[-1]) < 1e-4
    assert rms_db(out[-SR // 10:]) < rms_db(out[5 * SR:6 * SR]) - 20


def test_no_clicks_at_clip_edges():
    s = make(Pause(1.0, SRC), Say("a b", SRC), Pause(1.0, SRC), Bell("bowl", SRC))
    tl, out = mix(s, ambient=False)
    for e in tl.events:
        if e.kind in ("say", "bell"):
            edge = out[e.start:e.start + 48]
            assert np.max(np.abs(np.diff(edge, prepend=0.0))) < 0.05
            if e.kind == "say":
                tail = out[e.end - 48:e.end + 1]
                assert np.max(np.abs(np.diff(tail))) < 0.05


def test_limiter_never_exceeds_minus_one_dbfs():
    x = np.linspace(-4, 4, 10001).astype(np.float32)
    soft_limit(x)
    assert np.max(np.abs(x)) <= LIMIT_CEILING + 1e-6
    quiet = np.linspace(-0.5, 0.5, 101).astype(np.float32)
    before = quiet.copy()
    soft_limit(quiet)
    np.testing.assert_array_equal(quiet, before)


def test_mix_is_deterministic():
    s = make(Say("a", SRC, pause=2.0), ambient=BED)
    np.testing.assert_array_equal(mix(s)[1], mix(s)[1])


def test_walk_ticks_fall_on_the_cadence():
    s = make(Walk(4.0, 60, SRC))
    tl, out = mix(s, ambient=False)
    loud = np.flatnonzero(np.abs(out) > 1e-3)
    onsets = loud[np.diff(loud, prepend=-SR) > SR // 10]  # first loud sample after 0.1 s of quiet
    assert list(onsets) == pytest.approx([0, SR, 2 * SR, 3 * SR], abs=200)
    assert onsets[1] - onsets[0] == pytest.approx(SR, abs=2)
