"""The ``[station]`` table of ``config.toml``: pins, the default exercise, times.

::

    [station]
    exercise = "daily-check-in"   # what a press starts when idle
    listen = "127.0.0.1:8765"     # --listen overrides it; "0.0.0.0:8765" opens it to the home network
    hosts = ["pi.home.arpa"]      # more names of this machine the page may be opened under
    hold_time = 2.0               # seconds held: stop with a fade
    double_press = 0.4            # seconds between the presses of a double press: next step
    start_volume_limit = 0        # dB: a session never starts louder than this
    volume_step = 2               # dB per volume press or encoder click
    device_wait = 60              # seconds a session waits for a sound card that is not there yet
    start_delay = "30s"           # a press waits this long (then a chime) before its session; default 0
    voice_commands = true         # "guide, pause" through a microphone (pip install 'voiceguide[voice]')
    mic = "USB"                   # the microphone: part of its name or its index; default input if not given
    music_folder = "~/Music/voiceguide"   # pieces (WAV, FLAC, OGG) the page and ctl offer for a music step
    gpio = true                   # false: no buttons, encoder or LED at all
    button = 17                   # BCM pin to ground; false for none
    led = 27                      # through a resistor to ground; false for none
    next_button = 22              # optional extra buttons
    volume_up_button = 23
    volume_down_button = 24
    encoder = { a = 5, b = 6, button = 13 }   # a rotary encoder: volume; its push pauses

An input may be a table instead of a pin number, for other wiring:
``button = { pin = 17, pull = "down" }`` (to 3.3 V with the internal
pull-down) or ``{ pin = 17, pull = "off", active_low = false }`` (an external
resistor; say which level means pressed). An LED wired to 3.3 V rather than
to ground is ``led = { pin = 27, active_low = true }``.

Every key may also come from the environment, ``VOICEGUIDE_STATION_<KEY>``
(``VOICEGUIDE_STATION_EXERCISE=body-scan``), which beats the file. A value
there is written as in TOML (``17``, ``false``, ``{ pin = 17, pull = "down" }``)
or in a simple form: a pin as ``GPIO17``, ``hosts`` as ``pi.home.arpa,pi.lan``,
``encoder`` as ``5,6`` or ``5,6,13`` (a, b, button), ``start_delay`` as ``30s``.

The ``[mqtt]`` table connects the station to a broker (Home Assistant, see
:mod:`.mqtt`); its environment variables are ``VOICEGUIDE_STATION_MQTT_<KEY>``
(``VOICEGUIDE_STATION_MQTT_PASSWORD``)::

    [mqtt]
    host = "broker.home.arpa"      # required: no host, no MQTT
    port = 1883
    username = "voiceguide"
    password = "..."               # or VOICEGUIDE_STATION_MQTT_PASSWORD
    discovery_prefix = "homeassistant"
    tls = false                    # true: TLS to the broker (port 8883 usually)
    ca_file = "/etc/ssl/certs/home-ca.pem"   # with tls: the broker's CA (default: the system's)

Both tables are rows of the one settings scheme (:class:`voiceguide.config.Table`):
the same checks, locations and ``voiceguide config`` as the player's settings.
Every problem is reported as ``config.toml:line:col: message`` like the rest
of the file; nothing here imports gpiozero or paho.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, List, Mapping, Optional, Tuple, Union

from voiceguide.config import (PLAYER, ConfigError, Setting, Table, check_file, config_path, flag, number,
                               parse_flag, parse_toml_value)
from voiceguide.errors import Problem, did_you_mean

Pin = Union[int, str]
PULLS = ("up", "down", "off")


@dataclass(frozen=True)
class Input:
    """A push button (or an encoder's push): its pin and how it is wired."""

    pin: Pin
    pull: str = "up"          # the internal resistor: up (press = to ground), down, off
    active_low: bool = True   # pressed reads low; implied by pull up/down

    @property
    def pull_up(self) -> Optional[bool]:
        """gpiozero's ``pull_up`` argument."""
        return {"up": True, "down": False, "off": None}[self.pull]

    @property
    def active_state(self) -> Optional[bool]:
        """gpiozero's ``active_state``: only given when there is no internal pull."""
        return None if self.pull != "off" else (not self.active_low)


@dataclass(frozen=True)
class Led:
    pin: Pin
    active_low: bool = False  # True when wired from 3.3 V to the pin


@dataclass(frozen=True)
class Encoder:
    a: Pin
    b: Pin
    button: Optional[Input] = None


@dataclass(frozen=True)
class StationSettings:
    exercise: str = "daily-check-in"
    listen: Optional[str] = None
    hosts: Tuple[str, ...] = ()
    hold_time: float = 2.0
    double_press: float = 0.4
    start_volume_limit: float = 0.0
    volume_step: float = 2.0
    device_wait: float = 60.0
    start_delay: float = 0.0
    voice_commands: bool = False
    mic: Union[int, str, None] = None
    music_folder: Optional[str] = None
    gpio: bool = True
    button: Optional[Input] = Input(17)
    led: Optional[Led] = Led(27)
    next_button: Optional[Input] = None
    volume_up_button: Optional[Input] = None
    volume_down_button: Optional[Input] = None
    encoder: Optional[Encoder] = None


@dataclass(frozen=True)
class MqttSettings:
    """The ``[mqtt]`` table: where the broker is and how to log in (no host: no MQTT)."""

    host: Optional[str] = None
    port: int = 1883
    username: Optional[str] = None
    password: Optional[str] = None
    discovery_prefix: str = "homeassistant"
    tls: bool = False
    ca_file: Optional[str] = None


def _pin(value: Any) -> Pin:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 53:
            raise ValueError(f"expected a GPIO (BCM) number from 0 to 53, got {value}")
        return value
    if isinstance(value, str) and re.fullmatch(r"(GPIO|BCM|BOARD|WPI|J8:|P1:)?[0-9]{1,2}", value.strip(), re.I):
        return value.strip()
    raise ValueError(f"expected a pin such as 17 or \"GPIO17\" or \"BOARD11\", got {value!r}")


def _input(value: Any) -> Optional[Input]:
    if value is False:
        return None
    if not isinstance(value, dict):
        return Input(_pin(value))
    unknown = set(value) - {"pin", "pull", "active_low"}
    if unknown:
        key = sorted(unknown)[0]
        raise ValueError(f"unknown key {key!r}{did_you_mean(key, ('pin', 'pull', 'active_low'))}; "
                         f"an input has pin, pull and active_low")
    if "pin" not in value:
        raise ValueError("an input table needs pin, e.g. { pin = 17, pull = \"up\" }")
    pull = value.get("pull", "up")
    if pull not in PULLS:
        raise ValueError(f"pull must be \"up\", \"down\" or \"off\", got {pull!r}")
    implied = pull == "up"
    active_low = value.get("active_low", implied)
    if not isinstance(active_low, bool):
        raise ValueError(f"active_low must be true or false, got {active_low!r}")
    if pull != "off" and active_low != implied:
        raise ValueError(f"with pull = \"{pull}\" a press reads {'low' if implied else 'high'}, so active_low "
                         f"must be {str(implied).lower()}; use pull = \"off\" for an external resistor")
    return Input(_pin(value["pin"]), pull, active_low)


def _led(value: Any) -> Optional[Led]:
    if value is False:
        return None
    if not isinstance(value, dict):
        return Led(_pin(value))
    unknown = set(value) - {"pin", "active_low"}
    if unknown or "pin" not in value:
        raise ValueError("an LED table is { pin = 27 } or { pin = 27, active_low = true }")
    active_low = value.get("active_low", False)
    if not isinstance(active_low, bool):
        raise ValueError(f"active_low must be true or false, got {active_low!r}")
    return Led(_pin(value["pin"]), active_low)


def _encoder(value: Any) -> Optional[Encoder]:
    if value is False:
        return None
    if not isinstance(value, dict) or "a" not in value or "b" not in value:
        raise ValueError("an encoder is a table { a = 5, b = 6 } with an optional button = 13")
    unknown = set(value) - {"a", "b", "button"}
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r}; an encoder has a, b and button")
    button = _input(value["button"]) if "button" in value else None
    return Encoder(_pin(value["a"]), _pin(value["b"]), button)


def _encoder_env(written: str) -> Any:
    """``5,6`` or ``5,6,13`` (a, b, button), or TOML: ``{ a = 5, b = 6, button = 13 }``."""
    parts = [p.strip() for p in written.split(",")]
    if 2 <= len(parts) <= 3 and not written.strip().startswith("{"):
        pins = [parse_toml_value(p) for p in parts]
        return dict(zip(("a", "b", "button"), pins))
    return parse_toml_value(written)


def _hosts_env(written: str) -> Any:
    """``pi.home.arpa,pi.lan`` (commas or spaces), or a TOML list."""
    if written.strip().startswith("["):
        return parse_toml_value(written)
    return [name for name in re.split(r"[,\s]+", written.strip()) if name]


def _exercise(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected an exercise id such as \"daily-check-in\", got {value!r}")
    return value.strip()


def _listen(value: Any) -> str:
    from voiceguide.errors import UsageError
    from voiceguide.station.address import parse_listen

    if not isinstance(value, str):
        raise ValueError(f"expected \"HOST:PORT\" such as \"127.0.0.1:8765\", got {value!r}")
    try:
        parse_listen(value, "listen")
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    return value


_HOST_NAME = r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?"


def _hosts(value: Any) -> Tuple[str, ...]:
    """Names only (no scheme, port or path): the Host allow-list compares names."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of host names such as [\"pi.home.arpa\"], got {value!r}")
    for name in value:
        if not re.fullmatch(_HOST_NAME, name):
            raise ValueError(f"{name!r} is not a host name; give names only, such as \"pi.home.arpa\" "
                             f"(no http://, port or path)")
    return tuple(v.lower().rstrip(".") for v in value)


def _delay(value: Any) -> float:
    """``"30s"``, ``"2m"`` or seconds: the rule of ``play --delay`` (see ``player.countdown.parse_delay``)."""
    from voiceguide.errors import UsageError
    from voiceguide.player.countdown import parse_delay

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a duration such as \"30s\" or \"2m\", got {value!r}")
    try:
        return parse_delay(value, "start_delay")
    except UsageError as exc:
        raise ValueError(str(exc).removeprefix("start_delay: ")) from None


def _mic(value: Any) -> Union[int, str]:
    """A microphone: its index, or a part of its name (``voiceguide devices`` lists them)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip():
        return int(value) if value.strip().isdigit() else value.strip()
    raise ValueError(f"expected a microphone's index or a part of its name, got {value!r}")


def _music_folder(value: Any) -> str:
    """A folder of pieces for music steps (``~`` expanded); it may be missing now (a drive mounted later)."""
    import os

    if not isinstance(value, str) or not value.strip() or any(ord(c) < 32 for c in value):
        raise ValueError(f"expected the path of a folder of music (WAV, FLAC or OGG files), got {value!r}")
    return os.path.expanduser(value.strip())


def _toml(value: Any) -> str:
    """A value as it would be written in config.toml (what ``voiceguide config`` shows)."""
    if value is None:
        return "false"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Input):
        if (value.pull, value.active_low) == ("up", True):
            return _toml(value.pin)
        fields = [f"pin = {_toml(value.pin)}", f'pull = "{value.pull}"']
        if value.pull == "off":
            fields.append(f"active_low = {_toml(value.active_low)}")
        return "{ " + ", ".join(fields) + " }"
    if isinstance(value, Led):
        return _toml(value.pin) if not value.active_low else f"{{ pin = {_toml(value.pin)}, active_low = true }}"
    if isinstance(value, Encoder):
        button = f", button = {_toml(value.button)}" if value.button is not None else ""
        return f"{{ a = {_toml(value.a)}, b = {_toml(value.b)}{button} }}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _station(name: str, default: Any, check, help: str, parse_env=parse_toml_value, **more) -> Setting:
    return Setting(name, default, check, help, parse_env, show=_toml, **more)


_DEFAULTS = StationSettings()

#: ``[station]``: one row per :class:`StationSettings` field (a test holds them to each other).
STATION = Table("station", "VOICEGUIDE_STATION_", (
    _station("exercise", _DEFAULTS.exercise, _exercise, "what a press starts when idle", str),
    _station("listen", None, _listen, "HOST:PORT to serve on (--listen beats it)", str,
             unset="(127.0.0.1:8765)"),
    _station("hosts", (), _hosts, "more names of this machine the page may be opened under", _hosts_env),
    _station("hold_time", _DEFAULTS.hold_time, number(0.5, 10.0), "seconds held: stop with a fade (0.5-10)"),
    _station("double_press", _DEFAULTS.double_press, number(0.1, 1.5),
             "seconds between the presses of a double press (0.1-1.5)"),
    _station("start_volume_limit", _DEFAULTS.start_volume_limit, number(-30.0, 12.0),
             "dB: a session never starts louder (-30..12)"),
    _station("volume_step", _DEFAULTS.volume_step, number(0.5, 6.0), "dB per volume press or encoder click (0.5-6)"),
    _station("device_wait", _DEFAULTS.device_wait, number(0.0, 600.0),
             "seconds a session waits for a missing sound device (0-600)"),
    _station("start_delay", _DEFAULTS.start_delay, _delay, "a press waits this long before its session (\"30s\")"),
    _station("voice_commands", _DEFAULTS.voice_commands, flag, "spoken commands: \"guide, pause\"", parse_flag),
    _station("mic", None, _mic, "the microphone for spoken commands: its index or a part of its name", str,
             unset="(the default input)"),
    _station("music_folder", None, _music_folder, "a folder of pieces (WAV, FLAC, OGG) for exercises with music",
             str, unset="(none: no music from the station)"),
    _station("gpio", _DEFAULTS.gpio, flag, "false: no buttons, encoder or LED at all", parse_flag),
    _station("button", _DEFAULTS.button, _input, "the main button: a BCM pin to ground, or false"),
    _station("led", _DEFAULTS.led, _led, "the LED: a BCM pin through a resistor to ground, or false"),
    _station("next_button", None, _input, "a button for the next step", unset="false"),
    _station("volume_up_button", None, _input, "a button for louder", unset="false"),
    _station("volume_down_button", None, _input, "a button for softer", unset="false"),
    _station("encoder", None, _encoder, "a rotary encoder { a, b, button }: volume; its push pauses",
             _encoder_env, unset="false"),
), about="the station (VOICEGUIDE_STATION_<KEY>)")


def _broker(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(_HOST_NAME + r"|[0-9A-Fa-f:.]+", value.strip()):
        raise ValueError(f"expected the broker's host name or address, such as \"broker.home.arpa\", got {value!r}")
    return value.strip()


def _words(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 256 or any(ord(c) < 32 for c in value):
        raise ValueError("expected a string of 1 to 256 characters on one line")
    return value


def _prefix(value: Any) -> str:
    if (not isinstance(value, str) or not value.strip("/") or len(value) > 100
            or not re.fullmatch(r"[A-Za-z0-9_/.-]+", value)):
        raise ValueError(f"expected a topic prefix such as \"homeassistant\" (letters, digits, _ - . /), got {value!r}")
    return value.strip("/")


def _ca_file(value: Any) -> str:
    import os

    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected the path of a CA certificate file (PEM), got {value!r}")
    path = os.path.expanduser(value.strip())
    if not os.path.isfile(path):
        raise ValueError(f"{path} is not a file; give the broker's CA certificate (PEM)")
    return path


def _secret(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise ValueError("expected a string (the broker's password)")
    return value


#: ``[mqtt]``: the broker for Home Assistant (see :mod:`voiceguide.station.mqtt`).
MQTT = Table("mqtt", "VOICEGUIDE_STATION_MQTT_", tuple(replace(row, show=_toml) for row in (
    Setting("host", None, _broker, "the MQTT broker's host name or address; none: no MQTT", unset="(none: no MQTT)"),
    Setting("port", 1883, number(1, 65535, integer=True), "the broker's port (1883; 8883 is usual with TLS)", int),
    Setting("username", None, _words, "user name at the broker"),
    Setting("password", None, _secret, "password at the broker (shown as stars)", secret=True),
    Setting("discovery_prefix", "homeassistant", _prefix, "Home Assistant's discovery prefix"),
    Setting("tls", False, flag, "TLS to the broker", parse_flag),
    Setting("ca_file", None, _ca_file, "with tls: the broker's CA certificate (default: the system's)",
            unset="(the system's)"),
)), about="Home Assistant over MQTT (VOICEGUIDE_STATION_MQTT_<KEY>)")

#: The tables this module declares (``voiceguide config`` shows them after the player's).
TABLES = (STATION, MQTT)


def parse(table: Any, text: str = "", filename: str = "config.toml") -> Tuple[StationSettings, List[Problem]]:
    """Settings from the ``[station]`` table alone (no environment), and every problem found in it."""
    values, problems = STATION.read({"station": table} if table is not None else {}, text, filename)
    return StationSettings(**values), problems


def load(path: Optional[Path] = None, environ: Optional[Mapping[str, str]] = None,
         ) -> Tuple[StationSettings, Optional[MqttSettings]]:
    """``[station]`` and ``[mqtt]`` from config.toml and ``VOICEGUIDE_STATION_*``.

    The whole file is checked at once (the player's settings too), so a
    station that will not start names every mistake. The MQTT settings are
    None when no host is given (no ``[mqtt]`` table, no
    ``VOICEGUIDE_STATION_MQTT_HOST``): then nothing of MQTT is loaded.
    ConfigError or UsageError if something is invalid.
    """
    path = path or config_path()
    source = check_file((PLAYER, STATION, MQTT), path)
    station = STATION.effective(path, environ, source=source)
    settings = StationSettings(**{name: value.value for name, value in station.items()})
    return settings, _mqtt(path, environ, source)


def _mqtt(path: Path, environ, source) -> Optional[MqttSettings]:
    values = MQTT.effective(path, environ, source=source)
    if values["host"].value is None:
        text, data = source
        if "mqtt" in data:
            line, col = _where(text, "mqtt")
            message = '[mqtt]: host is required, e.g. host = "broker.home.arpa" (or remove the table: no MQTT)'
            raise ConfigError([Problem(str(path), line, col, message)])
        return None
    return MqttSettings(**{name: value.value for name, value in values.items()})


def _where(text: str, table: str) -> Tuple[int, int]:
    from voiceguide.config import locate

    return locate(text, "host", table)


def station_settings(path: Optional[Path] = None, environ: Optional[Mapping[str, str]] = None) -> StationSettings:
    """The ``[station]`` table of ``config.toml`` and ``VOICEGUIDE_STATION_*`` (defaults if absent).

    Here rather than in :mod:`voiceguide.config`: the config module sits below
    the station and must not import it (tests/test_import_direction.py).
    """
    return load(path, environ)[0]


def mqtt_settings(path: Optional[Path] = None, environ: Optional[Mapping[str, str]] = None,
                  ) -> Optional[MqttSettings]:
    return load(path, environ)[1]
