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

Every problem is reported as ``config.toml:line:col: message`` like the rest
of the file; nothing here imports gpiozero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

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
    gpio: bool = True
    button: Optional[Input] = Input(17)
    led: Optional[Led] = Led(27)
    next_button: Optional[Input] = None
    volume_up_button: Optional[Input] = None
    volume_down_button: Optional[Input] = None
    encoder: Optional[Encoder] = None


class _Bad(ValueError):
    pass


def _number(lo: float, hi: float):
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Bad(f"expected a number from {lo:g} to {hi:g}, got {value!r}")
        if not lo <= value <= hi:
            raise _Bad(f"expected {lo:g} to {hi:g}, got {value!r}")
        return float(value)
    return check


def _pin(value: Any) -> Pin:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 53:
            raise _Bad(f"expected a GPIO (BCM) number from 0 to 53, got {value}")
        return value
    if isinstance(value, str) and re.fullmatch(r"(GPIO|BCM|BOARD|WPI|J8:|P1:)?[0-9]{1,2}", value.strip(), re.I):
        return value.strip()
    raise _Bad(f"expected a pin such as 17 or \"GPIO17\" or \"BOARD11\", got {value!r}")


def _input(value: Any) -> Optional[Input]:
    if value is False:
        return None
    if not isinstance(value, dict):
        return Input(_pin(value))
    unknown = set(value) - {"pin", "pull", "active_low"}
    if unknown:
        key = sorted(unknown)[0]
        raise _Bad(f"unknown key {key!r}{did_you_mean(key, ('pin', 'pull', 'active_low'))}; "
                   f"an input has pin, pull and active_low")
    if "pin" not in value:
        raise _Bad("an input table needs pin, e.g. { pin = 17, pull = \"up\" }")
    pull = value.get("pull", "up")
    if pull not in PULLS:
        raise _Bad(f"pull must be \"up\", \"down\" or \"off\", got {pull!r}")
    implied = pull == "up"
    active_low = value.get("active_low", implied)
    if not isinstance(active_low, bool):
        raise _Bad(f"active_low must be true or false, got {active_low!r}")
    if pull != "off" and active_low != implied:
        raise _Bad(f"with pull = \"{pull}\" a press reads {'low' if implied else 'high'}, so active_low "
                   f"must be {str(implied).lower()}; use pull = \"off\" for an external resistor")
    return Input(_pin(value["pin"]), pull, active_low)


def _led(value: Any) -> Optional[Led]:
    if value is False:
        return None
    if not isinstance(value, dict):
        return Led(_pin(value))
    unknown = set(value) - {"pin", "active_low"}
    if unknown or "pin" not in value:
        raise _Bad("an LED table is { pin = 27 } or { pin = 27, active_low = true }")
    active_low = value.get("active_low", False)
    if not isinstance(active_low, bool):
        raise _Bad(f"active_low must be true or false, got {active_low!r}")
    return Led(_pin(value["pin"]), active_low)


def _encoder(value: Any) -> Optional[Encoder]:
    if value is False:
        return None
    if not isinstance(value, dict) or "a" not in value or "b" not in value:
        raise _Bad("an encoder is a table { a = 5, b = 6 } with an optional button = 13")
    unknown = set(value) - {"a", "b", "button"}
    if unknown:
        raise _Bad(f"unknown key {sorted(unknown)[0]!r}; an encoder has a, b and button")
    button = _input(value["button"]) if "button" in value else None
    return Encoder(_pin(value["a"]), _pin(value["b"]), button)


def _exercise(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"expected an exercise id such as \"daily-check-in\", got {value!r}")
    return value.strip()


def _listen(value: Any) -> str:
    from voiceguide.errors import UsageError
    from voiceguide.station.address import parse_listen

    if not isinstance(value, str):
        raise _Bad(f"expected \"HOST:PORT\" such as \"127.0.0.1:8765\", got {value!r}")
    try:
        parse_listen(value, "listen")
    except UsageError as exc:
        raise _Bad(str(exc)) from None
    return value


def _hosts(value: Any) -> Tuple[str, ...]:
    """Names only (no scheme, port or path): the Host allow-list compares names."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(f"expected a list of host names such as [\"pi.home.arpa\"], got {value!r}")
    for name in value:
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?", name):
            raise _Bad(f"{name!r} is not a host name; give names only, such as \"pi.home.arpa\" "
                       f"(no http://, port or path)")
    return tuple(v.lower().rstrip(".") for v in value)


def _delay(value: Any) -> float:
    """``"30s"``, ``"2m"`` or seconds: the rule of ``play --delay`` (see ``player.countdown.parse_delay``)."""
    from voiceguide.errors import UsageError
    from voiceguide.player.countdown import parse_delay

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _Bad(f"expected a duration such as \"30s\" or \"2m\", got {value!r}")
    try:
        return parse_delay(value, "start_delay")
    except UsageError as exc:
        raise _Bad(str(exc).removeprefix("start_delay: ")) from None


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {value!r}")
    return value


CHECKS = {
    "exercise": _exercise,
    "listen": _listen,
    "hosts": _hosts,
    "hold_time": _number(0.5, 10.0),
    "double_press": _number(0.1, 1.5),
    "start_volume_limit": _number(-30.0, 12.0),
    "volume_step": _number(0.5, 6.0),
    "device_wait": _number(0.0, 600.0),
    "start_delay": _delay,
    "gpio": _bool,
    "button": _input,
    "led": _led,
    "next_button": _input,
    "volume_up_button": _input,
    "volume_down_button": _input,
    "encoder": _encoder,
}


def _locate(text: str, key: str) -> Tuple[int, int]:
    """Line and column of *key* inside the ``[station]`` table (the header's when not found)."""
    lines = text.splitlines()
    header = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if header is None:
            if re.match(r"\[\s*station\s*\]", stripped):
                header = number
            else:
                match = re.match(rf"\s*station\s*\.\s*({re.escape(key)})\s*=", line)
                if match:
                    return number, match.start(1) + 1
            continue
        if stripped.startswith("["):
            break
        match = re.match(rf"\s*({re.escape(key)}|\"{re.escape(key)}\")\s*=", line)
        if match:
            return number, match.start(1) + 1
    return (header or 1), 1


def parse(table: Any, text: str = "", filename: str = "config.toml") -> Tuple[StationSettings, List[Problem]]:
    """Settings from the ``[station]`` table, and every problem found in it."""
    problems: List[Problem] = []
    if table is None:
        return StationSettings(), problems
    if not isinstance(table, dict):
        line, col = _locate(text, "station")
        return StationSettings(), [Problem(filename, line, col, "station must be a table: write [station] "
                                                                "on a line of its own, then its settings")]
    values: Dict[str, Any] = {}
    for key, value in table.items():
        line, col = _locate(text, key)
        check = CHECKS.get(key)
        if check is None:
            problems.append(Problem(filename, line, col, f"[station]: unknown setting \"{key}\""
                                                         f"{did_you_mean(key, CHECKS)}; known: {', '.join(CHECKS)}"))
            continue
        try:
            values[key] = check(value)
        except _Bad as exc:
            problems.append(Problem(filename, line, col, f"[station] {key}: {exc}"))
    return StationSettings(**values), problems


def station_settings(path: Optional[Path] = None) -> StationSettings:
    """The ``[station]`` table of ``config.toml`` (defaults if absent); ConfigError if invalid.

    Here rather than in :mod:`voiceguide.config`: the config module sits below
    the station and must not import it (tests/test_import_direction.py).
    """
    from voiceguide.config import ConfigError, config_path, read_toml

    path = path or config_path()
    text, data = read_toml(path)
    settings, problems = parse(data.get("station"), text, str(path))
    if problems:
        raise ConfigError(problems)
    return settings
