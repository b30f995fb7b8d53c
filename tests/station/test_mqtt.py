"""Home Assistant over MQTT: a real mosquitto broker, the bridge as a client of the controller.

In-process tests use the real :class:`Controller` with a start delay, so a
session is "starting" (a real state change) without any sound device; one
test runs the real ``voiceguide station`` process and kills it to see the
broker's last will.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.support.mqtt_broker import Broker, Watcher
from voiceguide.station import homeassistant as ha

BODY = "title: Body scan\nsteps:\n  - say: Notice your feet.\n  - pause: 20s\n"
SHORT = "title: Short\nsteps:\n  - say: Hello.\n"


# -- what Home Assistant is told (no broker) ----------------------------------------------------


def test_discovery_has_one_device_the_select_buttons_number_and_sensors():
    topics = ha.Topics(ha.node_id("Pi-Bedroom.home.arpa"), "homeassistant")
    assert topics.node == "pi-bedroom" and topics.base == "voiceguide/pi-bedroom"
    configs = dict(ha.discovery(topics, "pi-bedroom", ["Body scan", "Short"], "1.0"))
    kinds = sorted(t.split("/")[1] + ":" + t.split("/")[3] for t in configs)
    assert kinds == ["button:next", "button:pause", "button:play", "button:resume", "button:stop",
                     "number:volume", "select:exercise", "sensor:elapsed", "sensor:section", "sensor:state"]
    devices = {json.dumps(c["device"], sort_keys=True) for c in configs.values()}
    assert len(devices) == 1 and "voiceguide on pi-bedroom" in devices.pop()
    assert {c["availability_topic"] for c in configs.values()} == {"voiceguide/pi-bedroom/availability"}
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)
    select = configs["homeassistant/select/pi-bedroom/exercise/config"]
    assert select["options"] == ["Body scan", "Short"]
    volume = configs["homeassistant/number/pi-bedroom/volume/config"]
    assert (volume["min"], volume["max"], volume["unit_of_measurement"]) == (-30.0, 12.0, "dB")


def test_labels_are_titles_and_say_the_id_where_two_titles_are_the_same():
    got = ha.labels([{"id": "a", "title": "Rest"}, {"id": "b", "title": "Rest"}, {"id": "c", "title": "Walk"}])
    assert got == {"Rest (a)": "a", "Rest (b)": "b", "Walk": "c"}


@pytest.mark.parametrize("payload", [b"loud", b"nan", b"40", b"-31", b"\xff", b"1" * 2000])
def test_a_volume_that_is_not_one_is_ignored(payload):
    with pytest.raises(ha.Ignored):
        ha.volume_target(payload)


@pytest.mark.parametrize("payload", [b"press", b"{}", b'{"id": 3}', b'{"id": "x", "speed": 2}', b"[1]"])
def test_a_play_payload_that_is_not_one_is_ignored(payload):
    with pytest.raises(ha.Ignored):
        ha.play_request(payload)


# -- the bridge with a real broker and a real controller -----------------------------------------


@pytest.fixture()
def broker(tmp_path):
    with Broker(tmp_path / "broker") as b:
        yield b


@pytest.fixture()
def controller(tmp_path):
    from voiceguide.station.controller import Controller, Playback

    (tmp_path / "body-scan.yaml").write_text(BODY)
    (tmp_path / "short.yaml").write_text(SHORT)
    catalog = {"body-scan": tmp_path / "body-scan.yaml", "short": tmp_path / "short.yaml"}
    c = Controller(Playback(device="no-such-sound-device-here"), device_wait=0.0, feedback=None,
                   catalog=lambda: dict(catalog), state_file=tmp_path / "state.json", default_exercise="short")
    yield c
    c.close()


def bridge_for(controller, port, **settings):
    from voiceguide.station.mqtt import attach
    from voiceguide.station.settings import MqttSettings

    return attach(controller, MqttSettings(host="127.0.0.1", port=port, **settings))


def state_is(watcher, predicate, after=0.0, timeout=15.0):
    return watcher.wait_for(lambda m: m.topic == "voiceguide/testhost/state" and predicate(json.loads(m.text)),
                            timeout=timeout, after=after)


@pytest.fixture()
def watched(broker, controller, monkeypatch):
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "testhost")
    watcher = Watcher(broker.port)
    bridge = bridge_for(controller, broker.port)
    yield broker, controller, bridge, watcher
    bridge.close()
    watcher.close()


@pytest.mark.broker
def test_discovery_state_select_buttons_and_volume_through_a_real_broker(watched, caplog):
    broker, controller, bridge, watcher = watched
    caplog.set_level(logging.INFO, logger="voiceguide.station")
    select = watcher.wait_for(lambda m: m.topic == "homeassistant/select/testhost/exercise/config")
    assert json.loads(select.text)["options"] == ["Body scan", "Short"]
    assert json.loads(select.text)["device"]["name"] == "voiceguide on testhost"
    watcher.wait_for(lambda m: m.topic == "voiceguide/testhost/availability" and m.text == "online")
    state_is(watcher, lambda s: s["state"] == "idle")
    assert watcher.wait_for(lambda m: m.topic == "voiceguide/testhost/exercise").text == "Short"  # the default

    # choosing does not start anything; play starts what was chosen
    watcher.publish("voiceguide/testhost/exercise/set", "Body scan")
    watcher.wait_for(lambda m: m.topic == "voiceguide/testhost/exercise" and m.text == "Body scan")
    assert controller.state()["state"] == "idle"
    controller.start_delay = 0.0
    # a start delay keeps the session "starting" with no sound device at all
    watcher.publish("voiceguide/testhost/command/play", json.dumps({"id": "body-scan", "delay": "60s"}))
    starting = state_is(watcher, lambda s: s["state"] == "starting")
    assert json.loads(starting.text)["exercise"] == "body-scan"
    # retained: a client that subscribes now gets the discovery configs and the state at once
    late = Watcher(broker.port)
    try:
        kept = late.wait_for(lambda m: m.topic == "voiceguide/testhost/state")
        assert kept.retain and json.loads(kept.text)["state"] == "starting"
        assert late.wait_for(lambda m: m.topic == "homeassistant/select/testhost/exercise/config").retain
    finally:
        late.close()

    # a state change reaches the broker, retained, well within a second
    changed = time.monotonic()
    controller.stop()
    idle = state_is(watcher, lambda s: s["state"] == "idle", after=changed)
    assert idle.at - changed < 1.0, idle.at - changed
    print(f"state change to retained MQTT state: {1000 * (idle.at - changed):.1f} ms")

    watcher.publish("voiceguide/testhost/volume/set", "-6")
    state_is(watcher, lambda s: s["volume_db"] == -6.0)
    assert controller.volume_db == -6.0

    # pause with nothing playing, a volume out of range, an unknown exercise, a button's wrong payload
    for topic, payload in [("command/pause", "PRESS"), ("volume/set", "99"), ("volume/set", "loud"),
                           ("exercise/set", "Nope"), ("command/stop", "now"), ("command/play", '{"id": "../x"}')]:
        watcher.publish(f"voiceguide/testhost/{topic}", payload)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and sum("MQTT" in r.message for r in caplog.records) < 7:
        time.sleep(0.05)
    said = [r.getMessage() for r in caplog.records if "MQTT" in r.getMessage()][-6:]
    assert any("nothing is playing" in line for line in said), said
    assert any("outside -30..12" in line for line in said) and any("not a number of dB" in line for line in said)
    assert any("no exercise 'Nope'" in line for line in said) and any("expected PRESS" in line for line in said)
    assert any('no exercise "../x"' in line for line in said), said
    assert controller.volume_db == -6.0 and controller.state()["state"] == "idle"


@pytest.mark.broker
@pytest.mark.slow
def test_the_bridge_reconnects_and_publishes_again_after_the_broker_restarts(watched, caplog):
    broker, controller, bridge, watcher = watched
    caplog.set_level(logging.INFO, logger="voiceguide.station")
    watcher.wait_for(lambda m: m.topic == "voiceguide/testhost/availability" and m.text == "online")
    broker.stop()
    time.sleep(2.0)
    assert controller.change_volume(-3)["volume_db"] == -3.0   # the station goes on without its broker
    restarted = time.monotonic()
    broker.start()
    config = watcher.wait_for(lambda m: m.topic == "homeassistant/select/testhost/exercise/config",
                              after=restarted, timeout=40)
    watcher.wait_for(lambda m: m.topic == "voiceguide/testhost/availability" and m.text == "online",
                     after=restarted)
    state_is(watcher, lambda s: s["volume_db"] == -3.0, after=restarted)
    print(f"broker back to discovery published again: {config.at - restarted:.2f} s")
    lines = [r.getMessage() for r in caplog.records if "MQTT" in r.getMessage()]
    assert sum("lost the broker" in line for line in lines) == 1, lines
    assert sum("cannot reach" in line for line in lines) <= 1, lines     # one line for the whole outage
    assert any("connected to 127.0.0.1" in line and "again after" in line for line in lines), lines


@pytest.mark.broker
@pytest.mark.slow
def test_a_refused_password_is_one_log_line_and_the_controller_goes_on(tmp_path, controller, caplog):
    caplog.set_level(logging.INFO, logger="voiceguide.station")
    with Broker(tmp_path / "locked", users={"voiceguide": "right"}) as locked:
        bridge = bridge_for(controller, locked.port, username="voiceguide", password="wrong")
        try:
            time.sleep(4.0)   # 1 + 2 s of backoff: three attempts
            assert controller.change_volume(-2)["volume_db"] == -2.0
        finally:
            bridge.close()
        lines = [r.getMessage() for r in caplog.records if "MQTT" in r.getMessage()]
        assert sum("refused" in line for line in lines) == 1, lines
        assert "wrong" not in " ".join(lines)
        bridge = bridge_for(controller, locked.port, username="voiceguide", password="right")
        watcher_ok = False
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not watcher_ok:
                watcher_ok = any("connected to" in r.getMessage() for r in caplog.records)
                time.sleep(0.05)
        finally:
            bridge.close()
        assert watcher_ok


def test_without_an_mqtt_table_nothing_of_mqtt_or_paho_is_imported(tmp_path):
    code = textwrap.dedent("""
        import sys
        from voiceguide.station import service
        station = service.build("127.0.0.1:0", use_gpio=False, feedback=None)
        try:
            assert station.mqtt is None
            loaded = [m for m in sys.modules if m.startswith("paho") or m == "voiceguide.station.mqtt"
                      or m == "voiceguide.station.homeassistant"]
            assert not loaded, loaded
        finally:
            station.close()
            station.lock.release()
        print("ok")
    """)
    (tmp_path / "config" / "voiceguide").mkdir(parents=True)
    (tmp_path / "config" / "voiceguide" / "config.toml").write_text('[station]\nexercise = "x"\n')
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    env = {k: v for k, v in env.items() if not k.startswith("VOICEGUIDE_STATION")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "ok" in result.stdout, result.stdout + result.stderr


@pytest.mark.broker
@pytest.mark.slow
def test_the_real_station_process_in_home_assistant_and_its_last_will(tmp_path):
    from tests.support.station_env import Station

    with Broker(tmp_path / "broker") as broker:
        watcher = Watcher(broker.port)
        try:
            config = tmp_path / "config" / "voiceguide"
            config.mkdir(parents=True)
            (config / "config.toml").write_text(f'[station]\nexercise = "short-check"\n'
                                                f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n')
            env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEGUIDE_STATION")}
            env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"))
            station = Station(env, tmp_path)
            try:
                node = ha.node_id(__import__("socket").gethostname())
                base = f"voiceguide/{node}"
                select = watcher.wait_for(lambda m: m.topic == f"homeassistant/select/{node}/exercise/config")
                options = json.loads(select.text)["options"]
                assert "Short check" in options and "Broken" not in options   # an invalid script is left out
                watcher.wait_for(lambda m: m.topic == f"{base}/availability" and m.text == "online")
                watcher.publish(f"{base}/exercise/set", "Short check")
                watcher.wait_for(lambda m: m.topic == f"{base}/exercise" and m.text == "Short check")
                asked = time.monotonic()
                watcher.publish(f"{base}/command/play", '{"id": "short-check", "delay": "5m"}')
                watcher.wait_for(lambda m: m.topic == f"{base}/state" and json.loads(m.text)["state"] == "starting",
                                 after=asked)
                assert station.api("GET", "/api/state")["state"] == "starting"
                # the state published at start was "idle" too: only one published after the stop counts
                stopped = time.monotonic()
                watcher.publish(f"{base}/command/pause", "PRESS")
                watcher.publish(f"{base}/command/stop", "PRESS")
                watcher.wait_for(lambda m: m.topic == f"{base}/state" and json.loads(m.text)["state"] == "idle",
                                 after=stopped)

                # the broker goes away: the API still answers; it comes back: discovery again
                broker.stop()
                assert station.api("GET", "/api/state")["state"] == "idle"
                assert station.api("POST", "/api/volume", {"db": -4})["volume_db"] == -4.0
                back = time.monotonic()
                broker.start()
                watcher.wait_for(lambda m: m.topic == f"homeassistant/select/{node}/exercise/config", after=back,
                                 timeout=40)
                watcher.wait_for(lambda m: m.topic == f"{base}/state" and json.loads(m.text)["volume_db"] == -4.0,
                                 after=back)
                log = station.log()
                assert log.count("MQTT: lost the broker") == 1, log

                killed = time.monotonic()
                station.proc.send_signal(signal.SIGKILL)
                station.proc.wait(10)
                will = watcher.wait_for(lambda m: m.topic == f"{base}/availability" and m.text == "offline",
                                        after=killed)
                print(f"SIGKILL to the last will 'offline': {will.at - killed:.2f} s")
            finally:
                station.stop()
        finally:
            watcher.close()
