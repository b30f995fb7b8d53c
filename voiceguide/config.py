"""Player settings from defaults, a config file, the environment and options.

The file is TOML at ``<user config dir>/voiceguide/config.toml`` (on Linux
``~/.config/voiceguide/config.toml``), read with the standard library
(``tomllib``; ``tomli`` before Python 3.11)::

    voice = "gmw/en"      # an engine voice id (`voiceguide voices`)
    rate = 130            # words per minute, 80-300
    volume = 0.9          # voice volume, 0-1
    device = "USB"        # output device: index or part of its name
    ambient_level = -3    # dB added to every ambient layer, -40..+12
    latency = 0.2         # seconds of output buffer, 0.02-2
    practice_log = true   # record each session in `voiceguide log` (false: record nothing)
    streaks = false       # `voiceguide log` also shows days in a row
    speech_cache_mb = 500 # the speech cache keeps at most this much (least recently used go first)
    speech_cache_days = 60  # clips unused this long leave the speech cache

Precedence, strongest first: command-line option, environment variable
(``VOICEGUIDE_RATE`` and so on), the file, the built-in default.
``voiceguide config`` shows every effective value and where it came from.

Trap: tomllib reports syntax errors with a position but not where a *value*
was written, so a bad value is located by finding its key's line in the text.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from voiceguide.errors import Problem, ScriptError, UsageError, did_you_mean
from voiceguide.script.model import DEFAULT_RATE, DEFAULT_VOLUME, MAX_RATE, MIN_RATE

#: The one place each range and default is written; the command-line help,
#: ``voiceguide config``, the file, the environment and the options all use these.
RATE_RANGE = (MIN_RATE, MAX_RATE)            # words per minute (the script format's own range)
VOLUME_RANGE = (0.0, 1.0)
AMBIENT_LEVEL_RANGE = (-40.0, 12.0)          # dB added to every ambient layer
DEFAULT_LATENCY = 0.2                        # seconds of output buffer (more on a Pi)
LATENCY_RANGE = (0.02, 2.0)


#: A config file is a few lines; anything near this is not one (and is not read whole).
MAX_CONFIG_BYTES = 64 * 1024


class ConfigError(ScriptError):
    """The config file is invalid; every problem is located like a script's."""


def _number(lo: float, hi: float, integer: bool = False) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            kind = "a whole number" if integer else "a number"
            raise ValueError(f"expected {kind} from {lo:g} to {hi:g}, got {value!r}")
        if not lo <= value <= hi:
            raise ValueError(f"expected {lo:g} to {hi:g}, got {value!r}")
        return value
    return check


def _text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # a device index
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _flag(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _parse_flag(text: str) -> Any:
    word = text.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    return text  # refused by _flag with the usual message


@dataclass(frozen=True)
class Setting:
    """One player setting: its default, its check (the same for every origin) and its words."""

    name: str
    default: Any
    check: Callable[[Any], Any]
    help: str
    parse_env: Callable[[str], Any] = str
    #: What ``voiceguide config`` shows while the setting is unset (default None).
    unset: str = "-"

    @property
    def env(self) -> str:
        return "VOICEGUIDE_" + self.name.upper()

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: Tuple[Setting, ...] = (
    Setting("voice", None, _text, "engine voice id, see `voiceguide voices`",
            unset="(engine's voice for the language)"),
    Setting("rate", None, _number(*RATE_RANGE, integer=True),
            f"speaking rate, words per minute ({MIN_RATE}-{MAX_RATE})", int,
            unset=f"(the script's, else {DEFAULT_RATE})"),
    Setting("volume", None, _number(*VOLUME_RANGE), "voice volume, 0 to 1", float,
            unset=f"(the script's, else {DEFAULT_VOLUME:g})"),
    Setting("device", None, _text, "output device: index or part of its name",
            lambda s: int(s) if s.strip().isdigit() else s, unset="(the system default)"),
    Setting("ambient_level", 0.0, _number(*AMBIENT_LEVEL_RANGE),
            f"level added to every ambient layer, in dB"
            f" ({AMBIENT_LEVEL_RANGE[0]:g} to {AMBIENT_LEVEL_RANGE[1]:+g})", float),
    Setting("latency", DEFAULT_LATENCY, _number(*LATENCY_RANGE),
            f"output buffer in seconds (default {DEFAULT_LATENCY:g}; more on a Pi)", float),
    Setting("practice_log", True, _flag, "record each session in `voiceguide log`", _parse_flag),
    Setting("streaks", False, _flag, "`voiceguide log` also counts days in a row", _parse_flag),
    Setting("speech_cache_mb", 500, _number(10, 1_000_000, integer=True),
            "most megabytes the speech cache keeps (least recently used clips go first)", int),
    Setting("speech_cache_days", 60, _number(1, 36500, integer=True),
            "clips unused for this many days leave the speech cache", int),
)
BY_NAME = {s.name: s for s in SETTINGS}


def config_path() -> Path:
    from voiceguide.paths import config_file

    return config_file()


@dataclass(frozen=True)
class SettingValue:
    value: Any
    origin: str   # "default", "file", "environment", "option"


def _key_position(text: str, key: str) -> Tuple[int, int]:
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.match(rf"\s*({re.escape(key)}|\"{re.escape(key)}\")\s*=", line)
        if match:
            return number, match.start(1) + 1
    return 1, 1


def read_toml(path: Path) -> Tuple[str, Dict[str, Any]]:
    """(text, data) of the TOML file at *path* (``("", {})`` if it does not exist)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    from voiceguide.errors import file_error
    from voiceguide.readfile import NotRegularFile, TooBig, read_regular

    name = str(path)
    try:
        raw = read_regular(path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        return "", {}
    except NotRegularFile as exc:
        raise ConfigError([Problem(name, 1, 1, f"the config file is {exc.kind}, not a regular file; "
                                               f"remove it, or put a TOML text file there")]) from None
    except TooBig:
        too_big = (f"the config file is larger than {MAX_CONFIG_BYTES // 1024} KB; "
                   "a config file is a few lines of TOML: is it the right file?")
        raise ConfigError([Problem(name, 1, 1, too_big)]) from None
    except OSError as exc:  # a folder on the way that cannot be read, a loop of links
        raise file_error(path, exc, "read the config file", elsewhere="") from None
    try:
        text = raw.decode("utf-8")
        return text, tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigError([Problem(name, 1, 1, "the config file is not UTF-8 text; save it as UTF-8")]) from None
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line, col = (int(match.group(1)), int(match.group(2))) if match else (1, 1)
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "invalid TOML"
        advice = "see `voiceguide config --help` for the format"
        raise ConfigError([Problem(name, line, col, f"{message}; {advice}")]) from None


#: Tables other modules own; each is validated where it is used (``[station]``:
#: :mod:`voiceguide.station.settings`).
TABLES = ("station",)


def read_file(path: Path) -> Dict[str, Any]:
    """The settings in *path* (``{}`` if it does not exist); :class:`ConfigError` if invalid."""
    name = str(path)
    text, data = read_toml(path)
    problems: List[Problem] = []
    values: Dict[str, Any] = {}
    for key, value in data.items():
        if key in TABLES:
            continue
        line, col = _key_position(text, key)
        setting = BY_NAME.get(key)
        if setting is None:
            known = ", ".join([*BY_NAME, *(f"[{t}]" for t in TABLES)])
            problems.append(Problem(name, line, col, f'unknown setting "{key}"{did_you_mean(key, BY_NAME)}; '
                                                   f"known settings: {known}"))
            continue
        try:
            values[key] = setting.check(value)
        except ValueError as exc:
            problems.append(Problem(name, line, col, f"{key}: {exc}"))
    if problems:
        raise ConfigError(problems)
    return values


def effective(options: Optional[Mapping[str, Any]] = None, path: Optional[Path] = None,
              environ: Optional[Mapping[str, str]] = None) -> Dict[str, SettingValue]:
    """Every setting's value and origin; :class:`UsageError` or :class:`ConfigError` if one is invalid.

    *options* holds command-line values (None = not given). Every origin is
    checked by the same :class:`Setting` check, so a value refused in the
    file is refused on the command line too.
    """
    environ = os.environ if environ is None else environ
    options = options or {}
    from_file = read_file(path or config_path())
    result: Dict[str, SettingValue] = {}
    for setting in SETTINGS:
        value = SettingValue(setting.default, "default")
        if setting.name in from_file:
            value = SettingValue(from_file[setting.name], "file")
        raw = environ.get(setting.env)
        if raw not in (None, ""):
            try:
                value = SettingValue(setting.check(setting.parse_env(raw)), "environment")
            except ValueError as exc:
                raise UsageError(f"{setting.env}={raw}: {exc}") from None
        given = options.get(setting.name)
        if given is not None:
            try:
                value = SettingValue(setting.check(given), "option")
            except ValueError as exc:
                raise UsageError(f"{setting.option} {given}: {exc}") from None
        result[setting.name] = value
    return result
