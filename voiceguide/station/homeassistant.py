"""What Home Assistant sees of a station: MQTT topics, discovery configs, and what a command payload means.

Pure data, no network and no paho (:mod:`.mqtt` sends it): so the words and
topics are tested without a broker, and a change of entity is one place.

The device is "voiceguide on HOSTNAME"; every topic of ours starts with
``voiceguide/NODE`` (NODE: the host name, lower case, ``[a-z0-9_-]`` only):

=============================  ========================================================
``voiceguide/NODE/availability``  ``online`` / ``offline`` (retained; the broker's last will says ``offline``)
``voiceguide/NODE/state``         the station's state object, as ``GET /api/state`` (retained)
``voiceguide/NODE/exercise``      the chosen exercise's label (retained): the select's state
``voiceguide/NODE/exercise/set``  the select's commands: a label (or an id)
``voiceguide/NODE/command/NAME``  the buttons: ``PRESS``; ``play`` also takes ``{"id", "length"?, "delay"?}``
``voiceguide/NODE/volume/set``    the number: the volume in dB (-30..12)
=============================  ========================================================

Discovery configs are retained under ``PREFIX/COMPONENT/NODE/OBJECT/config``
(Home Assistant's MQTT discovery), with one ``device`` block; the station
publishes them again whenever it (re)connects and when Home Assistant says
``online`` on ``PREFIX/status``.

Choosing in the select does not start anything: ``play`` starts the chosen
exercise (a dropdown touched on a wall tablet must not start a session).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from voiceguide.station.shared import VOLUME_RANGE_DB

BUTTONS = ("play", "pause", "resume", "stop", "next")
ICONS = {"play": "mdi:play", "pause": "mdi:pause", "resume": "mdi:play-pause", "stop": "mdi:stop",
         "next": "mdi:skip-next"}
PRESS = "PRESS"
#: A command payload longer than this is not one (a label, an id, a number, a small JSON object).
MAX_PAYLOAD = 1024


def node_id(hostname: str) -> str:
    """The host name as a topic level and discovery node id: ``[a-z0-9_-]`` only."""
    node = re.sub(r"[^a-z0-9_-]+", "_", hostname.lower().split(".")[0]).strip("_")
    return node or "station"


@dataclass(frozen=True)
class Topics:
    """Every topic of one station (see the module docs)."""

    node: str
    prefix: str = "homeassistant"

    @property
    def base(self) -> str:
        return f"voiceguide/{self.node}"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def exercise(self) -> str:
        return f"{self.base}/exercise"

    @property
    def exercise_set(self) -> str:
        return f"{self.base}/exercise/set"

    @property
    def volume_set(self) -> str:
        return f"{self.base}/volume/set"

    def command(self, name: str) -> str:
        return f"{self.base}/command/{name}"

    @property
    def ha_status(self) -> str:
        """Home Assistant says ``online`` here when it starts: then discovery is sent again."""
        return f"{self.prefix}/status"

    def config(self, component: str, object_id: str) -> str:
        return f"{self.prefix}/{component}/{self.node}/{object_id}/config"

    def subscriptions(self) -> List[str]:
        return [self.exercise_set, self.volume_set, *(self.command(b) for b in BUTTONS), self.ha_status]


def labels(exercises: List[Dict[str, Any]]) -> Dict[str, str]:
    """label -> id for the select: the titles, with the id added where two titles are the same."""
    counts: Dict[str, int] = {}
    for e in exercises:
        title = str(e.get("title") or e["id"])
        counts[title] = counts.get(title, 0) + 1
    result: Dict[str, str] = {}
    for e in exercises:
        title = str(e.get("title") or e["id"])
        label = title if counts[title] == 1 else f"{title} ({e['id']})"
        result[label[:255]] = e["id"]
    return result


def discovery(topics: Topics, hostname: str, options: List[str], version: str) -> List[Tuple[str, Dict[str, Any]]]:
    """(topic, config) for every entity: the select, the buttons, the volume and the sensors."""
    device = {"identifiers": [f"voiceguide_{topics.node}"], "name": f"voiceguide on {hostname}",
              "manufacturer": "voiceguide", "model": "voiceguide station", "sw_version": version}
    common = {"device": device, "availability_topic": topics.availability,
              "payload_available": "online", "payload_not_available": "offline"}

    def entity(component: str, object_id: str, name: str, **fields: Any) -> Tuple[str, Dict[str, Any]]:
        config = {"name": name, "unique_id": f"voiceguide_{topics.node}_{object_id}",
                  "object_id": f"voiceguide_{topics.node}_{object_id}", **common, **fields}
        return topics.config(component, object_id), config

    lo, hi = VOLUME_RANGE_DB
    result = [
        entity("select", "exercise", "Exercise", options=options or ["(no exercises)"],
               command_topic=topics.exercise_set, state_topic=topics.exercise, icon="mdi:meditation"),
        *(entity("button", name, name.capitalize(), command_topic=topics.command(name), payload_press=PRESS,
                 icon=ICONS[name]) for name in BUTTONS),
        entity("number", "volume", "Volume", command_topic=topics.volume_set, state_topic=topics.state,
               value_template="{{ value_json.volume_db }}", min=lo, max=hi, step=1, mode="slider",
               unit_of_measurement="dB", icon="mdi:volume-high"),
        entity("sensor", "state", "State", state_topic=topics.state, value_template="{{ value_json.state }}",
               json_attributes_topic=topics.state, icon="mdi:account-voice"),
        entity("sensor", "section", "Section", state_topic=topics.state,
               value_template="{{ value_json.section or '' }}", icon="mdi:format-list-bulleted"),
        entity("sensor", "elapsed", "Elapsed", state_topic=topics.state,
               value_template="{{ value_json.elapsed | round(0) | int }}", unit_of_measurement="s",
               device_class="duration", icon="mdi:timer-outline"),
    ]
    return result


class Ignored(ValueError):
    """A payload that is not what its topic expects: ignored with one log line (the message)."""


def volume_target(payload: bytes) -> float:
    """The volume asked for on ``volume/set``: a number of dB within the station's range."""
    try:
        db = float(payload.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise Ignored(f"not a number of dB: {shorten(payload)}") from None
    lo, hi = VOLUME_RANGE_DB
    if not math.isfinite(db) or not lo <= db <= hi:
        raise Ignored(f"volume {db:g} dB is outside {lo:g}..{hi:g}")
    return db


def play_request(payload: bytes) -> Optional[Dict[str, Any]]:
    """``PRESS`` (None: the chosen exercise) or ``{"id", "length"?, "delay"?}`` on ``command/play``."""
    text = _text(payload)
    if text == PRESS:
        return None
    try:
        request = json.loads(text)
    except ValueError:
        raise Ignored(f'expected PRESS or {{"id": ...}}, got {shorten(payload)}') from None
    if (not isinstance(request, dict) or not isinstance(request.get("id"), str)
            or set(request) - {"id", "length", "delay"}
            or not all(isinstance(request.get(k), (str, int, float, type(None))) for k in ("length", "delay"))):
        raise Ignored(f'expected {{"id": ID, "length"?: "15m", "delay"?: "30s"}}, got {shorten(payload)}')
    return request


def press(payload: bytes) -> None:
    if _text(payload) != PRESS:
        raise Ignored(f"expected PRESS, got {shorten(payload)}")


def label(payload: bytes) -> str:
    return _text(payload)


def _text(payload: bytes) -> str:
    if len(payload) > MAX_PAYLOAD:
        raise Ignored(f"a payload of {len(payload)} bytes (at most {MAX_PAYLOAD})")
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise Ignored("a payload that is not UTF-8 text") from None


def shorten(payload: bytes) -> str:
    """A payload for a log line: printable, at most 60 characters."""
    text = payload[:60].decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else "?" for c in text)
    return repr(text + ("..." if len(payload) > 60 else ""))
