"""Buttons, encoder and LED with gpiozero's mock pins, driving a real controller into a real sink.

gpiozero is set up as on a Pi, from the environment (``GPIOZERO_PIN_FACTORY=mock``
with PWM-capable mock pins), and :func:`voiceguide.station.gpio.attach` builds
the devices from ``[station]`` settings. Pins are pressed by driving them
low, as a button to ground does; the LED's level is read from its pin over
time. Sessions synthesise with the real engine and play through PortAudio
into a private PulseAudio null sink (the ``pulse`` device), in this process.
"""

from __future__ import annotations

import logging
import os
import time

import pytest

from tests.support.audio_env import PulseNullSink
from tests.support.station_env import BROKEN, SHORT
from voiceguide.station.settings import Input

pytestmark = pytest.mark.audio
gpiozero = pytest.importorskip("gpiozero")

BREATHING = """\
title: Breathing check
steps:
  - say: Breathe with the tone. You may stop at any time.
  - breathe: {inhale: 1.5s, exhale: 4s, cycles: 4}
"""


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    """A null sink reached as PortAudio's ``pulse`` device (PULSE_SERVER is read at each open).

    The station's runner stops PortAudio when it goes idle and starts it for
    each job; it may be running or not when this fixture restarts it.
    """
    from voiceguide.sinks.live import start_portaudio, stop_portaudio

    sink = PulseNullSink(tmp_path_factory.mktemp("gpio-pulse")).start()
    before = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = f"unix:{sink.socket}"
    stop_portaudio()
    start_portaudio()
    yield sink
    if before is None:
        os.environ.pop("PULSE_SERVER", None)
    else:
        os.environ["PULSE_SERVER"] = before
    sink.stop()
    stop_portaudio()
    start_portaudio()


@pytest.fixture()
def mock_pins(monkeypatch):
    from gpiozero import Device

    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setenv("GPIOZERO_MOCK_PIN_CLASS", "mockpwmpin")
    Device.pin_factory = None
    yield
    if Device.pin_factory is not None:
        Device.pin_factory.reset()
        Device.pin_factory.close()
    Device.pin_factory = None


class Chimes:
    """The real feedback, noting when each chime and notice was played."""

    def __init__(self):
        from voiceguide.station.feedback import Feedback

        self.real = Feedback()
        self.chimes = []
        self.chimes_ended = []
        self.notices = []

    def chime(self, *args, **kw):
        self.chimes.append(time.monotonic())
        try:
            return self.real.chime(*args, **kw)
        finally:
            self.chimes_ended.append(time.monotonic())

    def notice(self, text, playback):
        self.notices.append(text)
        self.real.notice(text, playback)


@pytest.fixture()
def station(pulse, mock_pins, tmp_path):
    """A controller and its GPIO, as ``voiceguide station`` builds them, with the settings it gives."""
    from voiceguide.station.controller import Controller, Playback
    from voiceguide.station.gpio import attach
    from voiceguide.station.settings import Encoder, Input, StationSettings

    scripts = {}
    for name, text in (("short-check", SHORT), ("breathing-check", BREATHING), ("broken", BROKEN)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        scripts[name] = path
    made = []

    def build(default="short-check", start_volume_limit=0.0, **settings):
        feedback = Chimes()
        controller = Controller(Playback(device="pulse"), default_exercise=default,
                                start_volume_limit=start_volume_limit, feedback=feedback,
                                catalog=lambda: dict(scripts), state_file=tmp_path / "state.json")
        options = dict(volume_up_button=Input(23), encoder=Encoder(5, 6, Input(13)))
        options.update(settings)
        gpio = attach(controller, StationSettings(**options))
        assert gpio is not None
        made.append((controller, gpio))
        return controller, gpio, feedback

    yield build
    for controller, gpio in made:
        gpio.close()
        controller.close()


def pin(number):
    from gpiozero import Device

    return Device.pin_factory.pin(number)


def press(number=17, hold=0.1):
    pin(number).drive_low()
    time.sleep(hold)
    pin(number).drive_high()


def wait_for(controller, predicate, timeout=30.0, what="state"):
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = controller.state()
        if predicate(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last {state}")


def led_levels(seconds, every=0.05, number=27):
    levels = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        levels.append(float(pin(number).state))
        time.sleep(every)
    return levels


def test_a_press_starts_the_default_exercise_with_a_chime_and_the_led_pulses(station):
    controller, gpio, feedback = station()
    assert set(led_levels(0.3)) == {0.0}, "off while idle"
    pressed = time.monotonic()
    press()
    assert controller.state()["state"] == "playing"  # at once: idle has no double press to wait for
    wait_for(controller, lambda s: s["section"] == "One" and s["text"].startswith("This is the first"))
    assert feedback.chimes and feedback.chimes[0] - pressed < 0.3
    levels = led_levels(3.0)
    assert min(levels) < 0.2 and max(levels) > 0.8, levels
    assert len({round(v, 1) for v in levels}) >= 5, "a pulse glides through many levels"


def test_the_led_breathes_at_the_pace_of_the_exercise(station):
    controller, gpio, _ = station(default="breathing-check")
    press()
    wait_for(controller, lambda s: s["state"] == "playing" and s["elapsed"] > 0.2)
    levels = led_levels(5.5, every=0.02)
    # rising for 1.5 s (the inhale) and falling for 4 s (the exhale); the default pulse is 3 s and 3 s
    rises = sum(1 for a, b in zip(levels, levels[1:]) if b > a)
    falls = sum(1 for a, b in zip(levels, levels[1:]) if b < a)
    assert 0.62 < falls / (rises + falls) < 0.85, (rises, falls)


def test_press_while_playing_pauses_with_a_steady_light_and_press_again_resumes(station):
    controller, gpio, _ = station()
    press()
    wait_for(controller, lambda s: s["section"] == "One")
    press()
    assert controller.state()["state"] == "playing", "a single press waits to rule out a double press"
    wait_for(controller, lambda s: s["state"] == "paused", timeout=2.0)
    time.sleep(0.2)
    assert set(led_levels(1.0)) == {1.0}
    paused_at = controller.state()["elapsed"]
    time.sleep(1.0)
    assert controller.state()["elapsed"] == pytest.approx(paused_at, abs=0.15)
    press()
    wait_for(controller, lambda s: s["state"] == "playing", timeout=2.0)
    wait_for(controller, lambda s: s["elapsed"] > paused_at + 0.5)


def test_a_double_press_skips_to_the_next_step(station):
    controller, gpio, _ = station()
    press()
    wait_for(controller, lambda s: s["section"] == "One" and s["elapsed"] > 1.0)
    seen = []
    press(hold=0.08)
    time.sleep(0.12)
    press(hold=0.08)
    state = wait_for(controller, lambda s: seen.append(s["state"]) or s["section"] == "Two", timeout=5.0)
    assert state["elapsed"] < 8.0, "skipped, not played through"
    assert "paused" not in seen


def test_holding_two_seconds_stops_with_a_fade_and_a_chime(station):
    controller, gpio, feedback = station()
    press()
    wait_for(controller, lambda s: s["section"] == "One")
    started_chimes = len(feedback.chimes)
    seen = []
    pin(17).drive_low()
    deadline = time.monotonic() + 2.6
    while time.monotonic() < deadline:
        seen.append(controller.state()["state"])
        time.sleep(0.05)
    pin(17).drive_high()
    assert seen[-1] == "idle" and "paused" not in seen
    assert seen.index("idle") * 0.05 > 1.7, "it stopped before the hold time"
    deadline = time.monotonic() + 5
    while len(feedback.chimes) == started_chimes and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(feedback.chimes) == started_chimes + 1
    time.sleep(0.5)
    assert set(led_levels(0.5)) == {0.0}
    time.sleep(0.6)
    assert controller.state()["state"] == "idle", "the release after a hold must not start anything"


def test_a_pause_pressed_while_the_session_starts_is_kept_and_it_starts_paused(station):
    """Press to start, press again at once: the second press (a single one, acted on 0.4 s
    after its release) comes while the acknowledging chime still plays, before the session
    has a player. It must not be lost: the session starts paused, silent, with a steady light."""
    controller, gpio, feedback = station()
    press()
    time.sleep(0.1)
    press()
    state = wait_for(controller, lambda s: s["state"] == "paused", timeout=2.0)
    paused_at = time.monotonic()
    assert state["exercise"] == "short-check" and state["elapsed"] == 0.0
    deadline = time.monotonic() + 10
    while not feedback.chimes_ended and time.monotonic() < deadline:
        time.sleep(0.05)
    assert feedback.chimes_ended and paused_at < feedback.chimes_ended[0], "paused before it had started"
    time.sleep(2.0)                   # the session has its device and its first words by now
    state = controller.state()
    assert state["state"] == "paused" and state["elapsed"] == 0.0 and state["section"] is None, state
    assert set(led_levels(0.5)) == {1.0}
    press()
    wait_for(controller, lambda s: s["state"] == "playing", timeout=2.0)
    state = wait_for(controller, lambda s: s["elapsed"] > 1.0, timeout=5.0)
    assert state["section"] == "One", "from the very start"


def test_the_next_button_skips_to_the_next_step(station):
    """Wired to 3.3 V with the internal pull-down: pressed reads high."""
    controller, gpio, _ = station(next_button=Input(22, pull="down"))

    def press_next():
        pin(22).drive_high()
        time.sleep(0.1)
        pin(22).drive_low()

    press_next()                      # idle: nothing to skip, and nothing starts
    time.sleep(0.5)
    assert controller.state()["state"] == "idle"
    press()
    for now, then in (("One", "Two"), ("Two", "Three")):
        wait_for(controller, lambda s, now=now: s["section"] == now and s["elapsed"] > 1.0)
        pressed = time.monotonic()
        press_next()
        state = wait_for(controller, lambda s, then=then: s["section"] == then, timeout=3.0)
        assert state["state"] == "playing"
        assert time.monotonic() - pressed < 2.0, "skipped, not played through (each step is over 5 s)"


def test_a_session_that_cannot_start_blinks_the_led_and_says_so(station):
    from voiceguide.station.controller import FAILED_TO_START
    from voiceguide.station.gpio import ERROR_BLINK_SECONDS

    controller, gpio, feedback = station(default="broken")
    press()
    state = wait_for(controller, lambda s: s["error"] is not None)
    assert state["state"] == "idle" and "broken.yaml:4:" in state["error"]
    levels = led_levels(1.0, every=0.02)
    changes = sum(1 for a, b in zip(levels, levels[1:]) if a != b)
    assert changes >= 6, levels   # quick blinks: 0.1 s on, 0.1 s off
    time.sleep(ERROR_BLINK_SECONDS)
    assert set(led_levels(0.5)) == {0.0}
    deadline = time.monotonic() + 20
    while not feedback.notices and time.monotonic() < deadline:
        time.sleep(0.1)
    assert feedback.notices == [FAILED_TO_START]


def test_the_encoder_and_buttons_change_the_volume_but_a_session_starts_no_louder_than_the_ceiling(station):
    controller, gpio, _ = station(start_volume_limit=-6.0)
    a, b = pin(5), pin(6)
    for _ in range(3):               # three clicks clockwise
        for p in (a, b, a, b):
            p.drive_low() if p.state else p.drive_high()
    assert controller.state()["volume_db"] == 6.0
    press(23)                        # the volume-up button
    assert controller.state()["volume_db"] == 8.0
    press(13)                        # the encoder's push: starts when idle
    state = wait_for(controller, lambda s: s["section"] == "One")
    assert state["volume_db"] == -6.0
    for p in (b, a, b, a):           # one click anticlockwise
        p.drive_low() if p.state else p.drive_high()
    assert controller.state()["volume_db"] == -8.0
    press(13)
    wait_for(controller, lambda s: s["state"] == "paused", timeout=2.0)


def test_without_a_pin_library_the_station_logs_one_line_and_goes_on(monkeypatch, caplog):
    from gpiozero import Device

    from voiceguide.station.controller import Controller
    from voiceguide.station.gpio import attach
    from voiceguide.station.settings import StationSettings

    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-pin-library")
    Device.pin_factory = None
    controller = Controller(catalog=lambda: {})
    try:
        with caplog.at_level(logging.INFO, logger="voiceguide.station"):
            assert attach(controller, StationSettings()) is None
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 1 and lines[0].startswith("no GPIO here (")
        assert "runs without buttons or LED" in lines[0]
    finally:
        controller.close()
        Device.pin_factory = None
