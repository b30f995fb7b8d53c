"""One truth on every surface (issue 19): the same length, the same words, each surface in its own language.

Fast checks of the parts; the page itself is checked in a real browser in
tests/station/test_web_page.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide.cli import cli
from voiceguide.script.loader import load_text
from voiceguide.script.units import format_duration
from voiceguide.station.session_state import Run, SessionStatus, state_object, station_words
from voiceguide.timeline import compile_timeline


def scripts_folder() -> Path:
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "voiceguide" / "scripts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def list_rows(output: str) -> dict:
    """``{id: (length, the line)}`` of ``list`` or ``ctl list``."""
    rows = {}
    for line in output.splitlines():
        ident, length = line.split()[:2]
        rows[ident] = (length, line)
    return rows


@pytest.fixture()
def station_answers(monkeypatch):
    """``ctl`` talking to a controller in this process (its answers as the API gives them, as JSON)."""
    from voiceguide.station import client
    from voiceguide.station.address import Address
    from voiceguide.station.controller import Controller

    controller = Controller(catalog=lambda: {e: p for e, p in _catalog().items()})
    monkeypatch.setattr(client, "find", lambda station=None: Address("127.0.0.1", 1))
    monkeypatch.setattr(client.Client, "exercises", lambda self: json.loads(json.dumps(controller.exercises())))
    monkeypatch.setattr(client.Client, "state", lambda self: json.loads(json.dumps(controller.state())))
    yield controller
    controller.close()


def _catalog():
    from voiceguide.station.shared import catalog

    return catalog()


def test_list_the_api_and_ctl_list_show_one_length_estimated_until_the_speech_is_made(station_answers):
    word = uuid.uuid4().hex[:8]  # speech no earlier test has cached
    ident = f"one-truth-{word}"
    (scripts_folder() / f"{ident}.yaml").write_text(
        f"title: One truth\nsteps:\n  - say: Settle in, {word}.\n    pause: 2s\n  - say: Rest, {word}.\n")
    runner = CliRunner()

    def surfaces():
        listed = list_rows(runner.invoke(cli, ["list"]).output)[ident][0]
        [api] = [e for e in station_answers.exercises() if e["id"] == ident]
        ctl = runner.invoke(cli, ["ctl", "list"])
        assert ctl.exit_code == 0, ctl.output
        return listed, api, list_rows(ctl.output)[ident][0], ctl.output

    listed, api, ctl, _ = surfaces()
    assert listed.startswith("~") and api["estimated"] is True
    assert listed == api["duration_text"] == ctl == "~" + format_duration(api["duration"])

    made = runner.invoke(cli, ["preview", ident])  # synthesises (and caches) the speech, as a play would
    assert made.exit_code == 0, made.output
    real = re.search(r"total (\d+:\d\d) \(", made.output).group(1)
    listed, api, ctl, ctl_output = surfaces()
    assert api["estimated"] is False and isinstance(api["duration"], float)  # still a number of seconds
    assert listed == api["duration_text"] == ctl == real                      # no ~: it is the real length

    # ctl list's columns line up, as list's do: the lengths end, and the titles start, in one column
    lines = ctl_output.splitlines()
    ends = {m.end() for m in (re.match(r"\S+ +~?\d+:\d\d", line) for line in lines)}
    starts = {len(re.match(r"\S+ +~?\d+:\d\d  ", line).group(0)) for line in lines}
    assert len(ends) == 1 and len(starts) == 1, ctl_output


def test_the_station_shows_the_total_from_its_first_answer_and_logs_no_estimate_as_planned():
    from voiceguide.player.lengths import Length

    run = Run(exercise="breathing", origin="api", script=load_text("title: B\nsteps:\n  - say: hi\n", "b.yaml"))
    run.planned = Length(457.3, True)
    state = state_object(run, 0.0, None)
    assert state["duration"] == 457.3 and state["estimated"] is True and state["duration_text"] == "~7:37"
    run.status = SessionStatus(lambda: None, "B")
    run.status.tick(1.0, 445.0, False, 0.0)   # the player knows the real length now
    state = state_object(run, 0.0, None)
    assert (state["duration"], state["estimated"], state["duration_text"]) == (445.0, False, "7:25")


def test_preparing_speech_is_in_the_state_and_in_ctl_status():
    from voiceguide.station.client import describe_state

    changes = []
    run = Run(exercise="body-scan", origin="api", script=load_text("title: Body scan\nsteps:\n  - say: hi\n", "b.yaml"))
    run.status = SessionStatus(lambda: changes.append(1), "Body scan")
    run.status.preparing((3, 40))
    state = state_object(run, 0.0, None)
    assert state["preparing"] == {"done": 3, "total": 40} and changes
    assert describe_state(state) == "playing  Body scan  0:00 / ?  preparing speech (3 of 40)"
    run.status.preparing(None)
    assert state_object(run, 0.0, None)["preparing"] is None
    idle = state_object(None, 0.0, None)
    assert {"state", "exercise", "title", "elapsed", "duration", "section", "text", "volume_db"} <= set(idle)


def test_the_breathing_step_is_in_the_state_with_its_live_phase():
    script = load_text("title: B\nsteps:\n  - say: hi\n  - breathe: {inhale: 4s, hold: 1s, exhale: 6s, cycles: 3}\n",
                       "b.yaml")
    events = compile_timeline(script, lambda t, v: 48000, sample_rate=48000).events
    breathe = next(e for e in events if e.kind == "breathe")
    run = Run(exercise="b", origin="api", script=script)
    run.status = SessionStatus(lambda: None, "B")
    at = breathe.start / 48000
    run.status.event(breathe, at)
    run.status.tick(at + 6.0, 40.0, False, 0.0)
    state = state_object(run, 0.0, None)
    assert state["text"] == "(breathing: out · 1 of 3)"          # as the terminal shows it
    assert state["breathing"] == {"inhale": 4.0, "hold": 1.0, "exhale": 6.0, "hold_out": 0.0, "cycles": 3,
                                  "start": round(at, 2)}


def test_the_station_logs_a_pause_in_its_own_words():
    assert "press space" not in station_words("paused; press space to go on")
    assert "press the button" in station_words("paused; press space to go on")
    assert station_words("volume +2 dB") == "volume +2 dB"


def test_ctl_speaks_of_its_own_commands_not_of_http_requests():
    from voiceguide.station.client import in_ctl_words

    assert in_ctl_words('no exercise "x"; GET /api/exercises lists them') == \
        'no exercise "x"; `voiceguide ctl list` lists them'
    assert in_ctl_words("nothing is playing; start an exercise first (POST /api/play)") == \
        "nothing is playing; start an exercise first (`voiceguide ctl play ID`)"


def test_ctl_takes_json_before_or_after_its_subcommand(station_answers):
    runner = CliRunner()
    for args in (["ctl", "--json", "status"], ["ctl", "status", "--json"]):
        done = runner.invoke(cli, args)
        assert done.exit_code == 0, done.output
        assert json.loads(done.output)["state"] == "idle"
    listed = runner.invoke(cli, ["ctl", "list", "--json"])
    assert isinstance(json.loads(listed.output), list)


def test_ctl_help_is_whole():
    shown = CliRunner().invoke(cli, ["ctl", "--help"]).output
    volume = next(line for line in shown.splitlines() if line.strip().startswith("volume"))
    assert "(e.g" not in volume and not volume.rstrip().endswith("..."), volume
    assert "Louder or softer by DB decibels (3 or -2)." in volume


def test_a_schedule_no_systemd_runs_says_it_is_not_active(tmp_path):
    from tests.station.test_parts import UserManager
    from voiceguide.station import schedules, systemd

    schedule = systemd.Schedule(name="morning", exercise="body-scan", hour=7, minute=30,
                                days=systemd.parse_days("tue"))
    systemd.write_schedule(schedule, tmp_path)
    [off] = schedules.listing(tmp_path, run=UserManager(state="offline"))
    assert off.inactive == "not active: systemd is not running for this user"
    assert schedules.as_json([off])[0]["inactive"] == off.inactive
    [on] = schedules.listing(tmp_path, run=UserManager())
    assert on.inactive is None and schedules.as_json([on])[0]["inactive"] is None


def test_gpiozero_fallback_warnings_become_the_stations_one_line(monkeypatch, caplog):
    gpiozero = pytest.importorskip("gpiozero")
    from voiceguide.station.controller import Controller
    from voiceguide.station.gpio import attach
    from voiceguide.station.settings import StationSettings

    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    gpiozero.Device.pin_factory = None
    controller = Controller(catalog=lambda: {})
    try:
        with warnings.catch_warnings(record=True) as escaped:
            warnings.simplefilter("always")
            with caplog.at_level(logging.INFO, logger="voiceguide.station"):
                assert attach(controller, StationSettings()) is None   # this is no Pi
        assert [w for w in escaped if "PinFactoryFallback" in w.category.__name__] == []
        lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
        assert len(lines) == 1 and lines[0].startswith("no GPIO here (") and "tried lgpio" in lines[0], lines
    finally:
        controller.close()
        gpiozero.Device.pin_factory = None


def test_a_session_that_fails_is_idle_with_its_error_while_the_notice_says_so(tmp_path):
    """No phantom "playing" while the station says aloud that the session could not start."""
    import time

    from voiceguide.station.controller import Controller, Playback

    script = tmp_path / "fine.yaml"
    script.write_text("title: Fine\nsteps:\n  - say: Hello.\n")
    seen = []

    class Feedback:
        def chime(self, *args, **kw):
            return None

        def notice(self, text, playback):
            seen.append((text, controller.state()))

    controller = Controller(Playback(device="no-such-sound-device-here"), device_wait=0.0, feedback=Feedback(),
                            catalog=lambda: {"fine": script}, state_file=tmp_path / "state.json")
    try:
        assert controller.play("fine")["state"] == "playing"
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        [(text, state)] = seen
        assert "could not be started" in text
        assert state["state"] == "idle" and state["exercise"] is None and "device" in state["error"]
    finally:
        controller.close()


def test_the_station_shows_the_rest_of_a_sentence_after_its_first_clause():
    """Piper's first clause is heard as an event of its own (ClipPart(0)), the rest of the clip as a second
    event that is not announced again: the station's text goes on to the rest's words where they sound."""
    from voiceguide.script.model import Source
    from voiceguide.timeline import ClipPart, Event

    sr = 1000
    text = "Now a much longer sentence, so that the box grows."
    head = Event("say", 0, 1500, Source("g.yaml", 3), None, 1, text=text, data=ClipPart(0))
    rest = Event("say", 1800, 2500, Source("g.yaml", 3), None, 1, text=text, data=ClipPart(1500))

    def cue_times(event):
        if isinstance(event.data, ClipPart):      # the head alone: its words, the rest piled at its end
            return [(event.start / sr, "Now a much longer sentence,")]
        # the whole clip (placed so that the rest falls where it sounds): two cues, the second in the rest
        assert (event.start, event.length) == (300, 4000)
        return [(event.start / sr, "Now a much longer sentence,"),
                ((event.start + 2000) / sr, "so that the box grows.")]

    status = SessionStatus(lambda: None, "Growing")
    status.cue_times = cue_times
    status.event(head, 0.0)
    status.tick(1.0, 10.0, False, 0.0)
    assert status.text == "Now a much longer sentence,"
    status.continued(rest, 1.8)
    status.tick(1.9, 10.0, False, 0.0)
    assert status.text == "Now a much longer sentence,"   # the rest's first words have not begun
    status.tick(2.4, 10.0, False, 0.0)
    assert status.text == "so that the box grows."
