"""play never stalls for speech: a clip that is not synthesised yet is waited for in the pause before it.

Fast tests of the lazily placed timeline (:class:`LazyTimeline` with
``ready``), and one real run: a cold cache played through ALSA's file
plugin (unpaced, so synthesis is always behind) still plays every word,
without an underrun, and ``-v`` reports the wait.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voiceguide.script.model import Bell, Pause, Say, Script
from voiceguide.timeline import LazyTimeline, compile_timeline

from tests.support.fakes import SRC

SR = 48000


def words_len(text, voice):
    return len(text.split()) * SR // 2


def script(*steps):
    return Script(title="T", steps=tuple(steps), path=Path("t.yaml"))


S = script(Bell("bowl", SRC), Say("one two", SRC, pause=2.0), Say("three four five", SRC), Pause(1.0, SRC))


def test_with_every_clip_ready_the_lazy_timeline_is_the_whole_timeline():
    lazy = LazyTimeline(S, words_len, sample_rate=SR, ready=lambda text, voice: True)
    assert tuple(lazy) == compile_timeline(S, words_len, sample_rate=SR).events
    assert lazy.waits == []


def test_a_late_clip_lengthens_the_pause_before_it_and_nothing_else():
    polls = {"three four five": 5}          # not ready for the first five polls

    def ready(text, voice):
        left = polls.get(text, 0)
        polls[text] = left - 1
        return left <= 0

    lazy = LazyTimeline(S, words_len, sample_rate=SR, ready=ready, wait=0.1)
    events = list(lazy)
    full = compile_timeline(S, words_len, sample_rate=SR).events
    waits = [e for e in events if e.kind == "pause" and e.length == SR // 10]
    assert len(waits) == 5 and all(w.step == 3 for w in waits)        # they belong to the late step
    late = next(e for e in events if e.text == "three four five")
    planned = next(e for e in full if e.text == "three four five")
    assert late.start == planned.start + 5 * SR // 10                  # half a second later
    assert late.length == planned.length                               # every word kept
    assert [e.kind for e in events if e.length != SR // 10] == [e.kind for e in full]
    assert lazy.waits == [(3, 5 * SR // 10)]


def test_length_option_never_waits_it_needs_every_clip_first():
    lazy = LazyTimeline(S, words_len, sample_rate=SR, length=20.0, ready=lambda t, v: False)
    assert sum(1 for _ in lazy) == len(compile_timeline(S, words_len, sample_rate=SR, length=20.0).events)


@pytest.mark.slow
@pytest.mark.audio
def test_cold_play_waits_for_speech_instead_of_stalling(tmp_path):
    import soundfile

    from tests.support.audio_env import alsa_file_home, base_env, voiceguide

    home, wav = alsa_file_home(tmp_path)
    env = base_env(home)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cold-cache")          # nothing synthesised yet
    yaml = tmp_path / "late.yaml"
    yaml.write_text("title: Late\nsteps:\n  - say: Let your hands rest.\n"
                    "  - say: Notice the floor beneath your feet, and let your breath slow down.\n"
                    "  - say: Feel the air on your skin, and the weight of your body.\n")
    r = voiceguide("play", str(yaml), "--no-ambient", "-v", env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert " 0 underruns" in r.stderr and "waited" in r.stderr, r.stderr
    played, sr = soundfile.read(str(wav), dtype="float32", always_2d=True)
    # Every spoken clip is played whole: the played speech is as long as the three clips.
    preview = voiceguide("preview", str(yaml), "--json", env=env)
    import json

    says = [e for e in json.loads(preview.stdout)["events"] if e["kind"] == "say"]
    speech = sum(e["end"] - e["start"] for e in says)
    x = played[:, 0]
    frame = sr // 100
    n = x.size // frame
    loud = np.sqrt((x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)) > 1e-3
    assert loud.sum() / 100 >= 0.8 * speech


def test_only_what_is_about_to_sound_waits_not_what_is_asked_far_ahead():
    """The mixer asks length_by seconds ahead (for the fade-out): no silence may be placed for that."""
    lazy = LazyTimeline(S, words_len, sample_rate=SR, ready=lambda text, voice: False, wait=0.1)
    assert lazy.length_by(60 * SR) is None                      # not the end: a clip is still coming
    (bell,) = lazy.events_until(60 * SR)
    assert bell.kind == "bell" and lazy.waits == []
    assert lazy.length_by(60 * SR) is None and len(lazy.events_until(60 * SR)) == 1   # asking again: still nothing
    block_end = bell.end + SR // 4
    sounding = lazy.sounding(bell.end, block_end)               # the block that reaches the clip
    assert {e.kind for e in sounding} == {"pause"}              # silence, while the clip is made
    assert block_end <= lazy._frontier <= block_end + SR // 10    # waits only up to the block's end
