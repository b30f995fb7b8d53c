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

One scheme for every table of the file: a :class:`Table` of :class:`Setting`
rows (name, default, check, help, how the environment writes it), the value
checks here (:func:`number`, :func:`text`, :func:`flag`...), one way to find
where a key was written (:func:`locate`) and one way to report it
(``file:line:col: message``, every problem at once, :class:`ConfigError`).
The player's settings are :data:`PLAYER`; the station declares its own tables
(``[station]``, ``[mqtt]``) in :mod:`voiceguide.station.settings` with the same
types, which is how ``VOICEGUIDE_STATION_<KEY>`` and ``voiceguide config``
come to them. A new setting is one row (and, for the station, one field).

Trap: tomllib reports syntax errors with a position but not where a *value*
was written, so a bad value is located by finding its key's line in the text.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from voiceguide.errors import Problem, ScriptError, UsageError, did_you_mean
from voiceguide.script.defaults import DEFAULT_RATE, DEFAULT_VOLUME, MAX_RATE, MIN_RATE

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


# -- the value checks every table shares ---------------------------------------------
# A check takes what TOML (or an environment parser) gave and returns the value to
# use, or raises ValueError with words for a person ("expected ..., got ...").


def number(lo: float, hi: float, integer: bool = False) -> Callable[[Any], Any]:
    """A number from *lo* to *hi* (a whole number with *integer*; else given back as a float)."""
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            kind = "a whole number" if integer else "a number"
            raise ValueError(f"expected {kind} from {lo:g} to {hi:g}, got {value!r}")
        if not lo <= value <= hi:
            raise ValueError(f"expected {lo:g} to {hi:g}, got {value!r}")
        return value if integer else float(value)
    return check


def text(value: Any) -> str:
    """A non-empty string, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value.strip()


def _device(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # a device index
    return text(value)


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def parse_flag(written: str) -> Any:
    """An environment variable's true/false (1/0, yes/no, on/off too); anything else is left for the check."""
    word = written.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    return written  # refused by flag() with the usual message


def parse_toml_value(written: str) -> Any:
    """An environment variable written as a TOML value (``17``, ``false``, ``{ a = 5, b = 6 }``,
    ``["a", "b"]``); what is not one is taken as the string it is (``GPIO17``, ``30s``)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    try:
        return tomllib.loads(f"v = {written}")["v"]
    except tomllib.TOMLDecodeError:
        return written.strip()


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else repr(value)


@dataclass(frozen=True)
class Setting:
    """One setting: its default, its check (the same for every origin) and its words.

    A row of a :class:`Table`; the table gives it its place in the file and
    its environment variable (:attr:`env`).
    """

    name: str
    default: Any
    check: Callable[[Any], Any]
    help: str
    parse_env: Callable[[str], Any] = str
    #: What ``voiceguide config`` shows while the setting is unset (default None).
    unset: str = "-"
    #: How ``voiceguide config`` writes a value (a secret shows as stars).
    show: Callable[[Any], str] = _shown
    secret: bool = False
    env_prefix: str = "VOICEGUIDE_"   # set by the table

    @property
    def env(self) -> str:
        return self.env_prefix + self.name.upper()

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def shown(self, value: Any) -> str:
        if value is None:
            return self.unset
        return "********" if self.secret else self.show(value)


@dataclass(frozen=True)
class SettingValue:
    value: Any
    origin: str   # "default", "file", "environment", "option"


class Table:
    """The rows of one part of config.toml: the top level (*name* ``""``) or a ``[name]`` table.

    Every origin goes through the same rows: :meth:`read` (the file, every
    problem located), :meth:`from_environment` (``ENV_PREFIX + KEY``) and
    options, then :meth:`effective` says each value and where it came from.
    """

    def __init__(self, name: str, env_prefix: str, rows: Tuple[Setting, ...], about: str = ""):
        self.name = name
        self.env_prefix = env_prefix
        self.about = about
        self.rows: Tuple[Setting, ...] = tuple(replace(row, env_prefix=env_prefix) for row in rows)
        self.by_name: Dict[str, Setting] = {row.name: row for row in self.rows}

    @property
    def label(self) -> str:
        return f"[{self.name}]" if self.name else "settings"

    def _where(self, key: str) -> str:
        return f"[{self.name}] {key}" if self.name else key

    def read(self, data: Mapping[str, Any], text: str, filename: str) -> Tuple[Dict[str, Any], List[Problem]]:
        """The checked values this table holds in the parsed file *data*, and every problem."""
        problems: List[Problem] = []
        values: Dict[str, Any] = {}
        if self.name:
            table = data.get(self.name)
            if table is None:
                return values, problems
            if not isinstance(table, dict):
                line, col = locate(text, self.name)
                return values, [Problem(filename, line, col, f"{self.name} must be a table: write [{self.name}] "
                                                             f"on a line of its own, then its settings")]
        else:
            table = {key: value for key, value in data.items() if key not in TABLES}
        for key, value in table.items():
            line, col = locate(text, key, self.name)
            setting = self.by_name.get(key)
            if setting is None:
                suggestion = did_you_mean(key, self.by_name)
                if self.name:
                    message = f'[{self.name}]: unknown setting "{key}"{suggestion}; known: {", ".join(self.by_name)}'
                else:
                    known = ", ".join([*self.by_name, *(f"[{t}]" for t in TABLES)])
                    message = f'unknown setting "{key}"{suggestion}; known settings: {known}'
                problems.append(Problem(filename, line, col, message))
                continue
            try:
                values[key] = setting.check(value)
            except ValueError as exc:
                problems.append(Problem(filename, line, col, f"{self._where(key)}: {exc}"))
        return values, problems

    def from_environment(self, environ: Mapping[str, str]) -> Tuple[Dict[str, Any], List[str]]:
        """The checked values set in the environment, and one line per refused one."""
        values: Dict[str, Any] = {}
        problems: List[str] = []
        for setting in self.rows:
            raw = environ.get(setting.env)
            if raw in (None, ""):
                continue
            try:
                values[setting.name] = setting.check(setting.parse_env(raw))
            except ValueError as exc:
                shown = "********" if setting.secret else raw
                problems.append(f"{setting.env}={shown}: {exc}")
        return values, problems

    def effective(self, path: Optional[Path] = None, environ: Optional[Mapping[str, str]] = None,
                  options: Optional[Mapping[str, Any]] = None,
                  source: Optional[Tuple[str, Mapping[str, Any]]] = None) -> Dict[str, SettingValue]:
        """Every row's value and origin: option, environment, file, default (strongest first).

        :class:`ConfigError` (every problem, located) for the file;
        :class:`UsageError` (one line per variable) for the environment, then
        for an option. *source* is the file's ``(text, data)`` when already read.
        """
        environ = os.environ if environ is None else environ
        options = options or {}
        path = path or config_path()
        text, data = source if source is not None else read_toml(path)
        from_file, problems = self.read(data, text, str(path))
        if problems:
            raise ConfigError(problems)
        from_env, bad = self.from_environment(environ)
        if bad:
            raise SettingsUsageError(bad)
        result: Dict[str, SettingValue] = {}
        for setting in self.rows:
            value = SettingValue(setting.default, "default")
            if setting.name in from_file:
                value = SettingValue(from_file[setting.name], "file")
            if setting.name in from_env:
                value = SettingValue(from_env[setting.name], "environment")
            given = options.get(setting.name)
            if given is not None:
                try:
                    value = SettingValue(setting.check(given), "option")
                except ValueError as exc:
                    raise UsageError(f"{setting.option} {given}: {exc}") from None
            result[setting.name] = value
        return result


class SettingsUsageError(UsageError):
    """Environment variables with values their settings refuse: one line each."""

    def __init__(self, problems: List[str]):
        self.problems = tuple(problems)
        super().__init__("\n".join(problems))

    def lines(self) -> Tuple[str, ...]:
        return self.problems


#: The player's settings: the top level of config.toml, ``VOICEGUIDE_<NAME>``, ``play``'s options.
PLAYER = Table("", "VOICEGUIDE_", (
    Setting("voice", None, text, "engine voice id, see `voiceguide voices`",
            unset="(engine's voice for the language)"),
    Setting("rate", None, number(*RATE_RANGE, integer=True),
            f"speaking rate, words per minute ({MIN_RATE}-{MAX_RATE})", int,
            unset=f"(the script's, else {DEFAULT_RATE})"),
    Setting("volume", None, number(*VOLUME_RANGE), "voice volume, 0 to 1", float,
            unset=f"(the script's, else {DEFAULT_VOLUME:g})"),
    Setting("device", None, _device, "output device: index or part of its name",
            lambda s: int(s) if s.strip().isdigit() else s, unset="(the system default)"),
    Setting("ambient_level", 0.0, number(*AMBIENT_LEVEL_RANGE),
            f"level added to every ambient layer, in dB"
            f" ({AMBIENT_LEVEL_RANGE[0]:g} to {AMBIENT_LEVEL_RANGE[1]:+g})", float),
    Setting("latency", DEFAULT_LATENCY, number(*LATENCY_RANGE),
            f"output buffer in seconds (default {DEFAULT_LATENCY:g}; more on a Pi)", float),
    Setting("practice_log", True, flag, "record each session in `voiceguide log`", parse_flag),
    Setting("streaks", False, flag, "`voiceguide log` also counts days in a row", parse_flag),
    Setting("speech_cache_mb", 500, number(10, 1_000_000, integer=True),
            "most megabytes the speech cache keeps (least recently used clips go first)", int),
    Setting("speech_cache_days", 60, number(1, 36500, integer=True),
            "clips unused for this many days leave the speech cache", int),
), about="the player's settings (top of the file; VOICEGUIDE_<NAME>)")
SETTINGS: Tuple[Setting, ...] = PLAYER.rows
BY_NAME = PLAYER.by_name


def config_path() -> Path:
    from voiceguide.paths import config_file

    return config_file()


def locate(text: str, key: str, table: str = "") -> Tuple[int, int]:
    """Line and column of *key* in the TOML *text*: at the top level, or in ``[table]``.

    tomllib says where a syntax error is but not where a value was written,
    so a refused value is found by its key's line (``key =``, ``"key" =``,
    or ``table.key =`` above any table header). Not found: the table's
    header, else 1:1.
    """
    plain = re.compile(rf"\s*({re.escape(key)}|\"{re.escape(key)}\")\s*=")
    dotted = re.compile(rf"\s*{re.escape(table)}\s*\.\s*({re.escape(key)})\s*=") if table else None
    header = re.compile(rf"\[\s*{re.escape(table)}\s*\]") if table else None
    inside = not table        # are we in the part of the file that holds the key?
    found_header = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            inside = bool(header and header.match(stripped))
            if inside and found_header is None:
                found_header = number
            continue
        match = plain.match(line) if inside else None
        if match is None and dotted is not None and found_header is None:
            match = dotted.match(line)
        if match:
            return number, match.start(1) + 1
    return (found_header or 1), 1


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


#: The tables other modules declare (rows and checks in :mod:`voiceguide.station.settings`,
#: read with :func:`check_file`): the player's settings leave them alone, and this module
#: imports nothing of the station (tests/test_import_direction.py).
TABLES = ("station", "mqtt")


def check_file(tables, path: Optional[Path] = None) -> Tuple[str, Dict[str, Any]]:
    """Read *path* once and check it against every table in *tables*; ConfigError with every problem.

    Returns ``(text, data)`` for :meth:`Table.effective`'s *source*.
    """
    path = path or config_path()
    text, data = read_toml(path)
    problems: List[Problem] = []
    for table in tables:
        problems.extend(table.read(data, text, str(path))[1])
    if problems:
        problems.sort(key=lambda p: (p.line, p.col))
        raise ConfigError(problems)
    return text, data


def read_file(path: Path) -> Dict[str, Any]:
    """The player's settings in *path* (``{}`` if it does not exist); :class:`ConfigError` if invalid."""
    text, data = read_toml(path)
    values, problems = PLAYER.read(data, text, str(path))
    if problems:
        raise ConfigError(problems)
    return values


def effective(options: Optional[Mapping[str, Any]] = None, path: Optional[Path] = None,
              environ: Optional[Mapping[str, str]] = None) -> Dict[str, SettingValue]:
    """Every player setting's value and origin; :class:`UsageError` or :class:`ConfigError` if one is invalid.

    *options* holds command-line values (None = not given). Every origin is
    checked by the same :class:`Setting` check, so a value refused in the
    file is refused on the command line too.
    """
    return PLAYER.effective(path, environ, options)
