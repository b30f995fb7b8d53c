"""The station's start delay (issue 23): ``starting`` with ``starts_in``, pause, next and stop act on it.

In-process: a real controller and runner with a sound device that is not
there, so what follows the delay fails at once -- which is enough to see
that the session begins exactly when the count ends, and never when it was
stopped. The API's ``delay`` field is checked through the ASGI app, and the
whole path over a real socket in tests/station/test_station.py.
"""

from __future__ import annotations

import time
from typing import List

import pytest

from tests.station.test_hostile_requests import assert_refused, call
from voiceguide.station.controller import Controller, Playback
from voiceguide.station.shared import SessionStart


class Heard:
    """A listener: which sessions began (the practice log hangs on the same call)."""

    def __init__(self) -> None:
        self.started: List[SessionStart] = []

    def session_started(self, start: SessionStart) -> None:
        self.started.append(start)

    def session_ended(self, end) -> None:
        pass

    def state_changed(self, state) -> None:
        pass


class Chimes:
    def __init__(self) -> None:
        self.times: List[float] = []

    def chime(self, *args, **kw):
        self.times.append(time.monotonic())
        return None

    def notice(self, text, playback):
        pass


@pytest.fixture()
def station(tmp_path):
    script = tmp_path / "short.yaml"
    script.write_text("title: Short\nsteps:\n  - say: Hello.\n")
    chimes, heard = Chimes(), Heard()
    controller = Controller(Playback(device="no-such-sound-device-here"), device_wait=0.0, feedback=chimes,
                            catalog=lambda: {"short": script}, state_file=tmp_path / "state.json",
                            start_delay=1.5, default_exercise="short")
    controller.add_listener(heard)
    yield controller, chimes, heard
    controller.close()


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_delayed_session_says_starting_counts_down_then_chimes_and_begins(station):
    controller, chimes, heard = station
    asked = time.monotonic()
    state = controller.play("short", delay=1.2)
    assert state["state"] == "starting" and state["exercise"] == "short"
    assert state["starts_in"] == 2   # whole seconds, rounded up: 1.2 -> 2
    assert heard.started == [] and chimes.times == []   # nothing has begun: nothing logged, no chime yet
    time.sleep(0.5)
    assert controller.state()["starts_in"] == 1
    wait_for(lambda: heard.started)
    assert time.monotonic() - asked >= 1.15
    assert len(chimes.times) == 1 and chimes.times[0] - asked >= 1.15  # the gentle chime ends the delay
    assert controller.state()["starts_in"] is None


def test_pause_freezes_the_count_resume_goes_on_and_next_starts_at_once(station):
    controller, chimes, heard = station
    controller.play("short", delay=30)
    paused = controller.pause()
    assert paused["state"] == "paused" and paused["starts_in"] == 30
    time.sleep(1.2)
    assert controller.state()["starts_in"] == 30 and controller.state()["state"] == "paused"
    assert controller.toggle()["state"] == "starting"
    time.sleep(1.1)
    assert controller.state()["starts_in"] <= 29
    assert heard.started == []
    controller.next()  # "start now", as space on the terminal
    wait_for(lambda: heard.started)


def test_stop_during_the_delay_never_begins_the_session(station):
    controller, chimes, heard = station
    controller.play("short", delay=0.8)
    assert controller.stop()["state"] == "idle"
    time.sleep(1.5)
    assert heard.started == [] and chimes.times == []
    assert controller.state()["state"] == "idle" and controller.state()["starts_in"] is None


def test_a_press_waits_start_delay_after_its_acknowledging_chime(station):
    controller, chimes, heard = station
    pressed = time.monotonic()
    controller.press()
    wait_for(lambda: chimes.times)          # the press is acknowledged at once
    assert chimes.times[0] - pressed < 1.0
    assert controller.state()["state"] == "starting"
    wait_for(lambda: heard.started)
    assert time.monotonic() - pressed >= 1.45
    assert len(chimes.times) == 2           # then the session's own chime


def test_start_delay_setting_reads_durations_and_refuses_what_is_not_one(tmp_path):
    from voiceguide.station.settings import parse

    assert parse({"start_delay": "30s"})[0].start_delay == 30.0
    assert parse({"start_delay": 90})[0].start_delay == 90.0
    assert parse({})[0].start_delay == 0.0
    for bad in ("soon", -5, True, "2h", [1]):
        settings, problems = parse({"start_delay": bad}, "[station]\nstart_delay = 1\n")
        assert len(problems) == 1 and "start_delay" in problems[0].message, (bad, problems)


@pytest.fixture()
def app():
    from tests.station.test_hostile_requests import FakeController
    from voiceguide.station.app import create_app
    from voiceguide.station.event_stream import EventHub

    controller = FakeController()
    return create_app(controller, "t" * 43, hub=EventHub()), controller


@pytest.mark.parametrize("given, seconds", [("30s", 30.0), (45, 45.0), ("1m30s", 90.0), ("0s", None)])
def test_the_api_passes_a_delay_on(app, given, seconds):
    import json

    asgi, controller = app
    status, _, _ = call(asgi, "POST", "/api/play", json.dumps({"id": "body-scan", "delay": given}).encode())
    assert status == 200
    assert controller.calls == [("play", ("body-scan", None, "api")) + ((seconds,) if seconds else ())]


@pytest.mark.parametrize("given", ["soon", "-5s", "2h", [30], True, {"s": 1}])
def test_the_api_refuses_a_delay_that_is_not_one(app, given):
    import json

    asgi, controller = app
    status, _, data = call(asgi, "POST", "/api/play", json.dumps({"id": "body-scan", "delay": given}).encode())
    assert_refused(status, data)
    assert "delay" in data["error"] and controller.calls == []


def test_ctl_play_sends_the_delay_and_status_says_when_it_starts(monkeypatch):
    from click.testing import CliRunner

    from voiceguide.cli import cli
    from voiceguide.station import client
    from voiceguide.station.address import Address

    sent = []
    starting = {"state": "starting", "exercise": "body-scan", "title": "Body scan", "elapsed": 0.0,
                "duration": 597.0, "section": None, "text": None, "volume_db": 0.0, "starts_in": 100}

    def call(self, method, path, body=None):
        sent.append((method, path, body))
        return dict(starting)

    monkeypatch.setattr(client, "find", lambda station=None: Address("127.0.0.1", 1))
    monkeypatch.setattr(client.Client, "call", call)
    done = CliRunner().invoke(cli, ["ctl", "play", "body-scan", "--delay", "1m40s"])
    assert done.exit_code == 0, done.output
    assert sent == [("POST", "/api/play", {"id": "body-scan", "origin": "ctl", "delay": 100.0})]
    assert done.output.strip() == "starting  Body scan  starts in 1:40"

    hinted = CliRunner().invoke(cli, ["ctl", "play", "body-scan", "--delay", "2"])
    assert "--delay 2 means 2 seconds; for minutes write 2m" in hinted.output
    refused = CliRunner().invoke(cli, ["ctl", "play", "body-scan", "--delay", "soon"])
    assert refused.exit_code == 2 and "--delay" in refused.output
