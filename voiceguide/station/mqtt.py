"""The station in Home Assistant: an MQTT client of the controller, like the buttons and the page.

Made by :func:`attach` only when config.toml has an ``[mqtt]`` table (or
``VOICEGUIDE_STATION_MQTT_HOST``); without one nothing of this module or of
paho is imported. What appears in Home Assistant, and every topic, is in
:mod:`.homeassistant`; this module moves it over the network:

* the controller's listener (:meth:`MqttBridge.state_changed`) hands each
  state to a publisher thread, which sends it retained at once when
  something a person sees changed, and at most every
  :data:`ELAPSED_EVERY` seconds when only the clock moved;
* paho's network thread connects, and reconnects after a broker that is
  down, refuses the login or disappears, waiting 1, 2, 4... up to
  :data:`MAX_BACKOFF` seconds; each outage is one log line, and each
  (re)connection sends the discovery configs, the state and ``online``
  again. The HTTP API and the buttons never wait for it;
* commands arrive on paho's thread and call the controller as the API does,
  through the same checks (an id from the catalog, a length the exercise
  can reach, the volume range); a payload that is not what its topic
  expects is ignored with one log line.

Traps: paho re-raises an exception from a callback and its thread dies
then, so every callback here catches what it may meet. The broker's last
will (``offline``, retained) covers a station that dies; a station that
stops says ``offline`` itself.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from typing import Any, Dict, Optional

from voiceguide.errors import VoiceguideError
from voiceguide.station import homeassistant as ha
from voiceguide.station.shared import IdleError, StationListener
from voiceguide.station.settings import MqttSettings

log = logging.getLogger("voiceguide.station")

#: Seconds between two sends of a state that differs only in its clock (elapsed, starts_in).
ELAPSED_EVERY = 10.0
#: Longest wait between two connection attempts (seconds).
MAX_BACKOFF = 30
#: The exercise list is looked at again this often (new scripts appear in the select).
REFRESH_EVERY = 300.0
_CLOCK = ("elapsed", "starts_in")


def attach(controller: Any, settings: MqttSettings) -> Optional["MqttBridge"]:
    """Start the bridge for *controller*; None (one log line) when paho-mqtt is not installed."""
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        log.error("MQTT is set up in config.toml but paho-mqtt is not installed: pip install 'voiceguide[mqtt]'; "
                  "the station runs without MQTT")
        return None
    try:
        bridge = MqttBridge(controller, settings)
    except (OSError, ValueError) as exc:   # a CA file that is not a certificate, say
        log.error("MQTT: cannot set up the connection to %s:%s: %s; the station runs without MQTT",
                  settings.host, settings.port, exc)
        return None
    bridge.start()
    controller.add_listener(bridge)
    return bridge


class MqttBridge(StationListener):
    """One station's MQTT connection; :meth:`start`, then :meth:`close` when the station stops."""

    def __init__(self, controller: Any, settings: MqttSettings, hostname: Optional[str] = None):
        self.controller = controller
        self.settings = settings
        self.hostname = hostname or socket.gethostname()
        self.topics = ha.Topics(ha.node_id(self.hostname), settings.discovery_prefix)
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._closing = False
        self._connected = False
        self._down_said = False           # this outage has had its log line
        self._down_since: Optional[float] = None
        self._need_discovery = False
        self._state: Optional[Dict[str, Any]] = None
        self._sent_key: Any = None
        self._sent_state: Any = None
        self._sent_at = 0.0
        self._sent_label: Optional[str] = None
        self._labels: Dict[str, str] = {}  # label -> id, as the select offers them
        self._refreshed = 0.0
        self._chosen: str = controller.default_exercise
        self.client = self._make_client()
        self._thread = threading.Thread(target=self._publisher, name="voiceguide-mqtt", daemon=True)

    # -- life -------------------------------------------------------------------------------

    def _make_client(self):
        from paho.mqtt.client import CallbackAPIVersion, Client

        client = Client(CallbackAPIVersion.VERSION2, client_id=f"voiceguide-{self.topics.node}-{os.getpid()}")
        client.suppress_exceptions = True    # a bug in a callback is logged by paho's logger, not fatal
        if self.settings.username is not None:
            client.username_pw_set(self.settings.username, self.settings.password)
        if self.settings.tls:
            client.tls_set(ca_certs=self.settings.ca_file)
        client.will_set(self.topics.availability, "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=MAX_BACKOFF)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        log.info("MQTT: connecting to %s (Home Assistant discovery under %s/)", self._where(),
                 self.settings.discovery_prefix)
        self._down_since = time.monotonic()
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=30)
        self.client.loop_start()
        self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        """Say ``offline`` (when connected), disconnect, stop both threads; at most about *timeout* s."""
        self._closing = True
        self._wake.set()
        self.controller.remove_listener(self)
        try:
            if self._connected:
                info = self.client.publish(self.topics.availability, "offline", qos=1, retain=True)
                info.wait_for_publish(timeout / 2)
            self.client.disconnect()
        except (OSError, RuntimeError, ValueError) as exc:
            log.debug("MQTT: closing: %s", exc)
        stopper = threading.Thread(target=self.client.loop_stop, daemon=True)
        stopper.start()
        stopper.join(timeout / 2)       # a connection attempt in progress may hold it up to its timeout
        self._thread.join(timeout / 2)

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}{' (TLS)' if self.settings.tls else ''}"

    # -- paho's thread: connection ----------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            if not self._down_said:
                self._down_said = True
                log.warning("MQTT: the broker at %s refused us: %s; trying again (every %d s at most)",
                            self._where(), reason_code, MAX_BACKOFF)
            return
        after = ""
        if self._down_since is not None and self._down_said:
            after = f" again after {time.monotonic() - self._down_since:.0f} s"
        log.info("MQTT: connected to %s%s", self._where(), after)
        self._down_said = False
        self._down_since = None
        client.subscribe([(topic, 1) for topic in self.topics.subscriptions()])
        with self._lock:
            self._connected = True
            self._need_discovery = True
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        with self._lock:
            was = self._connected
            self._connected = False
        if was and not self._closing:
            self._down_since = time.monotonic()
            self._down_said = True
            log.warning("MQTT: lost the broker at %s (%s); reconnecting (every %d s at most)",
                        self._where(), reason_code, MAX_BACKOFF)

    def _on_connect_fail(self, client, userdata) -> None:
        if not self._down_said and not self._closing:
            self._down_said = True
            log.warning("MQTT: cannot reach the broker at %s; trying again (every %d s at most)",
                        self._where(), MAX_BACKOFF)

    # -- paho's thread: commands ---------------------------------------------------------------

    def _on_message(self, client, userdata, message) -> None:
        topic, payload = message.topic, bytes(message.payload)
        try:
            self._command(topic, payload)
        except ha.Ignored as exc:
            log.warning("MQTT: ignored on %s: %s", topic, exc)
        except IdleError:
            log.info("MQTT: %s ignored: nothing is playing", topic.rsplit("/", 1)[-1])
        except VoiceguideError as exc:
            log.warning("MQTT: %s refused: %s", topic, str(exc).splitlines()[0])
        except Exception:  # never let paho's thread die: the station must stay reachable
            log.exception("MQTT: a command on %s failed", topic)

    def _command(self, topic: str, payload: bytes) -> None:
        t = self.topics
        if topic == t.ha_status:
            if ha.label(payload) == "online":       # Home Assistant (re)started: tell it about us again
                with self._lock:
                    self._need_discovery = True
                self._wake.set()
            return
        if topic == t.exercise_set:
            self._choose(ha.label(payload))
            return
        if topic == t.volume_set:
            target = ha.volume_target(payload)
            self.controller.change_volume(target - self.controller.volume_db)
            return
        for name in ha.BUTTONS:
            if topic == t.command(name):
                self._button(name, payload)
                return

    def _choose(self, label: str) -> None:
        ident = self._labels.get(label)
        if ident is None:
            self._refresh_labels()               # a script added since the select was sent
            ident = self._labels.get(label)
        if ident is None and label in self._labels.values():
            ident = label                         # an id works too (for automations)
        if ident is None:
            raise ha.Ignored(f"no exercise {ha.shorten(label.encode())} in the select")
        self._chosen = ident
        self._wake.set()

    def _button(self, name: str, payload: bytes) -> None:
        if name != "play":
            ha.press(payload)
            getattr(self.controller, name)()
            return
        request = ha.play_request(payload)
        if request is None:
            self.controller.play(self._chosen, origin="mqtt")
            return
        from voiceguide.station.app import check_reach, request_delay, request_length

        ident = request["id"]
        length = check_reach(ident, request_length(request.get("length")))
        self.controller.play(ident, length, origin="mqtt", delay=request_delay(request.get("delay")))

    # -- the listener and the publisher thread ---------------------------------------------------

    def state_changed(self, state: Dict[str, Any]) -> None:
        with self._lock:
            self._state = state
        self._wake.set()

    def _publisher(self) -> None:
        while not self._closing:
            self._wake.wait(timeout=ELAPSED_EVERY / 2)
            self._wake.clear()
            if self._closing:
                break
            try:
                self._publish()
            except (OSError, RuntimeError, ValueError, VoiceguideError) as exc:
                log.warning("MQTT: could not publish: %s", exc)
            except Exception:  # the publisher must go on; the station does not depend on it
                log.exception("MQTT: the publisher failed")

    def _publish(self) -> None:
        with self._lock:
            if not self._connected:
                return
            discovery, self._need_discovery = self._need_discovery, False
            state = self._state
        if discovery:
            self._send_discovery()
        elif time.monotonic() - self._refreshed > REFRESH_EVERY:
            before = dict(self._labels)
            self._refresh_labels()
            if self._labels != before:
                self._send_discovery()
        if state is None or discovery:
            state = self.controller.state()
        self._send_state(state, force=discovery)
        if discovery:
            self._send(self.topics.availability, "online", qos=1)

    def _send(self, topic: str, payload: Any, qos: int = 0) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        self.client.publish(topic, text, qos=qos, retain=True)

    def _refresh_labels(self) -> None:
        self._labels = ha.labels(self.controller.exercises())
        self._refreshed = time.monotonic()

    def _send_discovery(self) -> None:
        from voiceguide import __version__

        self._refresh_labels()
        for topic, config in ha.discovery(self.topics, self.hostname, list(self._labels), __version__):
            self._send(topic, config, qos=1)
        self._sent_label = None

    def _label(self, ident: str) -> str:
        for label, known in self._labels.items():
            if known == ident:
                return label
        return ident

    def _send_state(self, state: Dict[str, Any], force: bool = False) -> None:
        if state.get("exercise"):
            self._chosen = state["exercise"]      # what plays is what is chosen
        label = self._label(self._chosen)
        if label != self._sent_label or force:
            self._send(self.topics.exercise, label, qos=1)
            self._sent_label = label
        key = {k: v for k, v in state.items() if k not in _CLOCK}
        now = time.monotonic()
        if force or key != self._sent_key or (state != self._sent_state and now - self._sent_at >= ELAPSED_EVERY):
            self._send(self.topics.state, state)
            self._sent_key, self._sent_state, self._sent_at = key, state, now

