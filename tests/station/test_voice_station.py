"""Spoken commands on a real path (issue 20): a station paused, resumed and stopped by voice over its own echo.

A private PulseAudio server with two null sinks:

* ``room`` -- the default sink: the station plays there;
* ``mic`` -- its monitor is the default source: the station's "microphone".

A loopback carries ``room``'s sound into ``mic`` :data:`ECHO_DB` lower: the
guide's own voice as a microphone across the room hears it (its sentences
reach the microphone at about -28 dB RMS, the takes at -24 dB: a person
some 4 dB over the guide, within benchmarks/voice_data.py's range). A person is the takes of tests/data/voice-takes/
(and the kept clips of tests/data/voice/) played into ``mic`` with
``paplay``, at the start of a quiet stretch between the guide's sentences,
as a person lying down would say it. A person who is not understood says
it again: each command gets :data:`ATTEMPTS` tries, the takes in turn (the
recogniser is weak yet, see benchmarks/README.md; only takes it accepts
over the file alone are played, and a command with none fails at once).

What is asserted is the station's own state over its HTTP API -- playing
-> paused -> playing -> paused ("guide, stop" pauses at once) -> idle after
:data:`~voiceguide.player.voice.STOP_GRACE`, and nothing acted on before a
command was said -- and its answer heard in the room: one soft tick for
pause and resume, two for stop.

Beside the station, ``voiceguide listen --json`` listens on the same source
and every phrase it decodes is shown when the test fails: what the
recogniser heard, with its features.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import pytest
import soundfile

from tests.support.audio_env import PulseNullSink
from tests.support.station_env import Station

pytestmark = [pytest.mark.audio, pytest.mark.slow]

DATA = Path(__file__).resolve().parents[1] / "data"
#: The takes of each command, in the order a test tries them.
TAKES: Dict[str, List[Path]] = {
    "pause": [DATA / "voice" / "guide-pause.flac"],
    "resume": [DATA / "voice" / "guide-resume.flac"],
    "stop": [DATA / "voice" / "guide-stop.flac"],
}
for _command, _takes in json.loads((DATA / "voice-takes" / "takes.json").read_text()).items():
    TAKES.setdefault(_command, []).extend(DATA / "voice-takes" / take["file"] for take in _takes)

#: The guide's echo in the microphone, in dB under what the station plays.
ECHO_DB = -8.0
#: Tries per command (a person repeats the phrase; the takes in turn).
ATTEMPTS = 4
#: Seconds after a take has been played that the station has to act on it.
ACT_WITHIN = 4.5
#: A command's ticks are counted from the end of its phrase to this many seconds after its state was seen.
TICKS_WITHIN = 1.2
#: The silence after the command word in each take (tests/support/voice_takes.py pads them with 0.4 s).
TAKE_PAD = 0.4
#: The room's meter: samples (at 16 kHz) a level is measured over, and how many make half a second.
BLOCK = 320
HALF = 25
#: Seconds of silence before each take when the recogniser hears them alone (:func:`accepted_takes`).
APART = 3.0
#: The room is quiet (the guide between sentences) when its last second stayed under this (dBFS).
QUIET_DB = -50.0

#: Sentences with quiet stretches: nothing in them sounds like a command.
SCRIPT = "title: Lying down\nsummary: Sentences and quiet stretches, for spoken commands.\nsteps:\n" + "".join(
    f"  - say: {line}\n    pause: 6s\n" for line in (
        "Lie down on your back and let your eyes close.",
        "Feel the floor holding the weight of your body.",
        "Notice the air moving in and out at your nostrils.",
        "Let your shoulders soften and your jaw loosen.",
        "Feel your hands resting, heavy and warm.",
        "Let each breath come in its own time.",
        "Notice any sounds in the room, near and far.",
        "Rest here a little longer, comfortable and easy.",
        "Feel the whole body breathing, from head to feet.",
        "Slowly let your attention widen to the whole room.",
    ))


class Room:
    """The sinks, the echo and a meter of what the station plays (see the module docs)."""

    def __init__(self, pulse: PulseNullSink):
        self.env = pulse.env
        self.pactl("load-module", "module-null-sink", "sink_name=mic", "rate=48000", "channels=1")
        self.pactl("load-module", "module-null-sink", "sink_name=room", "rate=48000", "channels=2")
        self.pactl("set-default-sink", "room")
        self.pactl("set-default-source", "mic.monitor")
        self.pactl("load-module", "module-loopback", "source=room.monitor", "sink=mic", "latency_msec=60",
                          "source_dont_move=true", "sink_dont_move=true")
        deadline = time.monotonic() + 5
        while True:
            inputs = [line.split() for line in self.pactl("list", "short", "sink-inputs").splitlines()]
            echo = [fields[0] for fields in inputs if "module-loopback" in " ".join(fields)]
            if echo or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert echo, "the loopback made no sink input"
        self.pactl("set-sink-input-volume", echo[0], f"{ECHO_DB:g}dB")
        self.levels: List[Tuple[float, float]] = []   # (monotonic time, dBFS of the 20 ms played into room)
        self._meter = subprocess.Popen(["parec", "-d", "room.monitor", "--raw", "--format=float32le",
                                        "--rate=16000", "--channels=1", "--latency-msec=20"],
                                       env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        threading.Thread(target=self._measure, daemon=True).start()

    def pactl(self, *args: str) -> str:
        done = subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, timeout=10)
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout.strip()

    def _measure(self) -> None:
        stdout = self._meter.stdout
        assert stdout is not None
        while True:
            data = stdout.read(BLOCK * 4)
            if len(data) < BLOCK * 4:
                return
            x = np.frombuffer(data, dtype=np.float32).astype(np.float64)
            self.levels.append((time.monotonic(), float(10 * np.log10(np.mean(x ** 2) + 1e-12))))

    def wait_quiet(self, timeout: float = 15.0) -> bool:
        """Wait for the start of a quiet stretch: the guide has spoken (half a second of sound, not a tick),
        then stayed under :data:`QUIET_DB` for a second (longer than a pause inside a sentence; the
        script's pauses leave five seconds more)."""
        since = time.monotonic()
        while time.monotonic() < since + timeout:
            heard = [level for at, level in list(self.levels) if at > since]
            spoke = sum(level > QUIET_DB + 10 for level in heard) >= HALF   # a sentence, not a tick
            if spoke and len(heard) > 2 * HALF and max(heard[-2 * HALF:]) < QUIET_DB:
                return True
            time.sleep(0.05)
        return False

    def loudest(self, since: float, until: float = float("inf")) -> float:
        return max((level for at, level in list(self.levels) if since <= at <= until), default=-120.0)

    def ticks(self, start: float, end: float, longest: float = 0.25) -> int:
        """How many short separate sounds (ticks) the station played between two moments.

        A sound longer than *longest* is the guide's voice, not a tick: after "guide, resume" the
        session goes on, and its next words may begin within the moment the ticks are listened for.
        """
        frames = [(at, level > QUIET_DB - 10) for at, level in list(self.levels) if start <= at <= end]
        count, began = 0, None
        for at, loud in frames + [(end, False)]:
            if loud and began is None:
                began = at
            elif not loud and began is not None:
                count += at - began <= longest
                began = None
        return count

    def say(self, take: Path) -> None:
        """Play *take* into the microphone; returns when it has been heard to its end."""
        subprocess.run(["paplay", "-d", "mic", str(take)], env=self.env, check=True, timeout=30)

    def close(self) -> None:
        self._meter.terminate()
        self._meter.wait(5)


class Diagnostics:
    """``voiceguide listen --json`` on the same microphone: every phrase decoded, for a failure's message."""

    def __init__(self, env: Dict[str, str], t0: float):
        self.t0 = t0
        self.heard: List[str] = []
        self._proc = subprocess.Popen([sys.executable, "-m", "voiceguide", "listen", "--json"], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                level_line = "level" in json.loads(line)   # twice a second: the microphone's level
            except ValueError:
                level_line = False
            if not level_line:
                self.heard.append(f"{time.monotonic() - self.t0:5.1f} s  {line.strip()}")

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(5)


def accepted_takes() -> Dict[str, List[Path]]:
    """Each command's takes the recogniser acts on alone, by the rules of ``voiceguide listen --file``.

    One recogniser (loading its models takes longer than a take) hears the
    takes one after another, each after :data:`APART` s of silence.
    """
    import soundfile

    from voiceguide.audio.dsp import resample
    from voiceguide.listening.commands import Debounce, decide
    from voiceguide.listening.recognizer import RATE, Recognizer

    recognizer, debounce = Recognizer(), Debounce()
    spans: List[Tuple[float, float, str, Path]] = []
    candidates = []
    for command, takes in TAKES.items():
        for take in takes:
            x, rate = soundfile.read(str(take), dtype="float32", always_2d=True)
            stream = np.concatenate([np.zeros(int(APART * RATE), dtype=np.float32),
                                     np.asarray(resample(x.mean(axis=1), rate, RATE), dtype=np.float32)])
            start = recognizer.position + APART
            for at in range(0, len(stream), RATE // 10):
                candidates += recognizer.feed(stream[at:at + RATE // 10])
            spans.append((start, recognizer.position, command, take))
    candidates += recognizer.flush()
    heard = [c for c in candidates if decide(c) and debounce(c)]
    return {command: [take for start, end, said, take in spans if said == command
                      and [c.command for c in heard if start <= c.start < end] == [command]]
            for command in TAKES}


def poll(station: Station, predicate: Callable[[dict], bool], timeout: float) -> Optional[dict]:
    """The first state that satisfies *predicate* within *timeout* seconds, or None."""
    deadline = time.monotonic() + timeout
    while True:
        state = station.api("GET", "/api/state")
        if predicate(state) or time.monotonic() > deadline:
            return state if predicate(state) else None
        time.sleep(0.1)


def test_a_station_is_paused_resumed_and_stopped_by_voice_over_its_own_echo(tmp_path):
    pytest.importorskip("pocketsphinx")
    from voiceguide.player.voice import STOP_GRACE

    takes: Dict[str, List[Path]] = {}   # checked while the station starts
    checking = threading.Thread(target=lambda: takes.update(accepted_takes()), daemon=True)
    checking.start()
    log: List[str] = []       # what was said when, and what the station did
    t0 = time.monotonic()

    def note(line: str) -> None:
        log.append(f"{time.monotonic() - t0:5.1f} s  {line}")

    with PulseNullSink(tmp_path) as pulse:
        room = Room(pulse)
        diagnostics = Diagnostics(room.env, t0)
        station = Station(room.env, tmp_path, "--voice-commands")
        try:
            def explain() -> str:
                return ("\n".join(log) + "\n-- what `voiceguide listen` decoded beside the station:\n"
                        + "\n".join(diagnostics.heard) + "\n-- the station's log:\n" + station.log()[-3000:])

            def command(name: str, before: str, after: Callable[[dict], bool], ticks: int) -> None:
                """Say "guide, NAME" until the station's state satisfies *after* (at most ATTEMPTS times);
                then the station's answer, *ticks* soft ticks, is heard in the room (when the guide was quiet)."""
                for attempt in range(ATTEMPTS):
                    state = station.api("GET", "/api/state")
                    if state["state"] != before:
                        if attempt and after(state):
                            note(f"{state['state']}: the last try was acted on late")
                            return
                        raise AssertionError(f"{state['state']} before \"guide, {name}\" was said (a command "
                                             f"heard in the guide's own voice?)\n{explain()}")
                    take = takes[name][attempt % len(takes[name])]
                    if before == "playing" and not room.wait_quiet():
                        note("no quiet stretch came; saying it over the guide")
                    said = time.monotonic()
                    room.say(take)
                    # the station cannot act before the command word has ended: until then, what the room
                    # heard was the guide; after it, the station's answer
                    spoken = said + soundfile.info(str(take)).duration - TAKE_PAD
                    guide = room.loudest(said, spoken)
                    note(f"said {take.name}; the guide meanwhile "
                         + ("quiet" if guide < QUIET_DB else f"at {guide:.0f} dBFS"))
                    acted = poll(station, after, ACT_WITHIN)
                    if acted is not None:
                        seen = time.monotonic()
                        note(f"{acted['state']} {seen - spoken:.1f} s after the phrase ended")
                        time.sleep(TICKS_WITHIN)
                        if guide >= QUIET_DB:
                            note("the guide was speaking: the station's ticks are not counted")
                        else:
                            heard = room.ticks(spoken, seen + TICKS_WITHIN)
                            assert heard == ticks, f"{heard} ticks after {name}, not {ticks}\n{explain()}"
                        return
                    note("not acted on")
                raise AssertionError(f'"guide, {name}" was never acted on in {ATTEMPTS} tries; '
                                     f"the state is {station.api('GET', '/api/state')['state']}\n{explain()}")

            (station.config_home / "voiceguide" / "scripts" / "lying-down.yaml").write_text(SCRIPT)
            station.api("POST", "/api/play", {"id": "lying-down"})
            assert poll(station, lambda s: s["state"] == "playing" and s["text"], 90), explain()
            note("playing")
            checking.join(60)
            assert all(takes.get(c) for c in TAKES), f"no take of some command is recognised even alone: {takes}"
            note("takes the recogniser accepts alone: " + ", ".join(t.name for ts in takes.values() for t in ts))

            command("pause", "playing", lambda s: s["state"] == "paused", ticks=1)
            assert station.api("GET", "/api/state")["state"] == "paused", explain()
            command("resume", "paused", lambda s: s["state"] == "playing", ticks=1)
            command("stop", "playing", lambda s: s["state"] in ("paused", "idle"), ticks=2)
            paused_at = time.monotonic() - TICKS_WITHIN
            idle = poll(station, lambda s: s["state"] == "idle", STOP_GRACE + 20)
            waited = time.monotonic() - paused_at
            note(f"idle {waited:.1f} s after the stop's pause")
            time.sleep(0.5)  # the log's lines of the end
            assert idle is not None, f"a spoken stop never ended the session\n{explain()}"
            assert waited > STOP_GRACE - 1.5, f"a spoken stop ended at once, not after its grace\n{explain()}"
            assert waited < STOP_GRACE + 3, f"a spoken stop ended late\n{explain()}"
            assert f"stopping in {STOP_GRACE:.0f} s" in station.log(), explain()
            # the microphone is read by the listener process and the sound played by the sound child:
            # nothing of PortAudio (nor what ALSA's plugins pull in, some never unloaded) in the station
            maps = Path(f"/proc/{station.proc.pid}/maps").read_text()
            assert "libportaudio" not in maps and "libpulse" not in maps, "PortAudio ran in the station"
            print("\n".join(log) + "\n-- what `voiceguide listen` decoded beside the station:\n"
                  + "\n".join(diagnostics.heard))
        finally:
            station.stop()
            diagnostics.close()
            room.close()


def test_a_missing_microphone_is_one_line_and_the_session_goes_on(tmp_path):
    pytest.importorskip("pocketsphinx")
    with PulseNullSink(tmp_path) as pulse:
        with Station(pulse.env, tmp_path, "--voice-commands", "--mic", "no-such-microphone") as station:
            station.api("POST", "/api/play", {"id": "short-check"})
            station.wait_for(lambda s: s["section"] == "One" and s["text"], timeout=60)
            station.wait_for(lambda s: s["section"] == "Two", timeout=30)   # the session goes on
            station.wait_for(lambda s: s["section"] == "Three", timeout=30)
            lines = [line for line in station.log().splitlines() if "voice commands" in line]
            assert len(lines) == 1, station.log()
            assert "no-such-microphone" in lines[0] and "going on without voice commands" in lines[0], lines
            station.wait_for(lambda s: s["state"] == "idle", timeout=30)    # and ends as it would have
            assert "Traceback" not in station.log()
