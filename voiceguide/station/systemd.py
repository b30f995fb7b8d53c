"""Schedules as systemd user timers, and the station's own user service.

``voiceguide schedule add ID --at 07:30 --days mon..fri`` writes two files
into ``$XDG_CONFIG_HOME/systemd/user/`` (default ``~/.config/systemd/user/``):

* ``voiceguide-NAME.timer`` -- ``OnCalendar=Mon..Fri *-*-* 07:30:00``;
  ``Persistent=true`` only with ``--catch-up`` (a Pi that was off at 07:30
  then plays at boot, which most people do not want by surprise);
* ``voiceguide-NAME.service`` -- runs ``voiceguide schedule run ID``, which
  asks a running station to play and plays directly only when none runs,
  so a schedule never fights the station for the sound device.

The timer carries one comment line of JSON with what was asked (id, time,
days, length, catch-up): ``schedule list`` reads it back, so the files stay
the single source of truth and can be edited or removed by hand.

Nothing here needs a running systemd: the units are text, the next run time
is computed from the calendar (:func:`next_run`), and systemctl is called
only when a user manager answers (:func:`user_manager_running`); otherwise
the commands to run later are printed. Tests check every generated unit with
``systemd-analyze --user verify`` and every calendar with
``systemd-analyze calendar``.

Traps:

* systemd expands ``%`` specifiers and ``$`` variables in ``ExecStart=``, and
  splits on spaces: every argument is quoted by :func:`exec_quote`.
* A user manager on Pi OS Lite runs at boot only with lingering
  (``loginctl enable-linger USER``): without it the station and the timers
  start at the first login, not at boot.
* Unit names allow only ``[A-Za-z0-9:_.\\-]``; a schedule name is checked
  before it becomes a file name (nothing a user types becomes a path).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from voiceguide.errors import UsageError, VoiceguideError

PREFIX = "voiceguide-"
STATION_UNIT = "voiceguide-station.service"
MARK = "# voiceguide-schedule: "

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SYSTEMD_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_ALIASES = {
    **{d: i for i, d in enumerate(DAYS)},
    **{name: i for i, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday",
                                         "saturday", "sunday"))},
}
_GROUPS = {"daily": range(7), "everyday": range(7), "every-day": range(7), "all": range(7),
           "weekdays": range(5), "weekends": range(5, 7), "weekend": range(5, 7)}
DAYS_HELP = "days such as mon..fri, sat,sun, mon,wed,fri, weekdays, weekends or daily"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class ScheduleError(UsageError):
    """A schedule cannot be written as asked (bad time, days, name...)."""


def unit_dir() -> Path:
    """``$XDG_CONFIG_HOME/systemd/user`` (``~/.config/systemd/user``): where user units live."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


# -- times and days -----------------------------------------------------------------


def parse_time(text: str) -> Tuple[int, int]:
    """``07:30`` -> (7, 30); 24-hour clock."""
    match = re.fullmatch(r"\s*([0-9]{1,2}):([0-9]{2})\s*", text or "")
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ScheduleError(f"--at {text}: give a time of day as HH:MM on a 24-hour clock, such as 07:30")
    return int(match.group(1)), int(match.group(2))


def parse_days(text: Optional[str]) -> FrozenSet[int]:
    """Weekday numbers (Monday 0) from ``mon..fri``, ``sat,sun``, ``weekdays``, ``daily``..."""
    if text is None or not text.strip():
        return frozenset(range(7))
    days = set()
    for part in re.split(r"[,\s]+", text.strip().lower()):
        if not part:
            continue
        if part in _GROUPS:
            days.update(_GROUPS[part])
            continue
        if ".." in part or "-" in part and part not in _GROUPS:
            first, _, last = part.partition(".." if ".." in part else "-")
            if first not in _DAY_ALIASES or last not in _DAY_ALIASES:
                raise ScheduleError(f"--days {text}: {part!r} is not a range of days; use {DAYS_HELP}")
            a, b = _DAY_ALIASES[first], _DAY_ALIASES[last]
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
            continue
        if part not in _DAY_ALIASES:
            from voiceguide.errors import did_you_mean

            raise ScheduleError(f"--days {text}: unknown day {part!r}{did_you_mean(part, DAYS)}; use {DAYS_HELP}")
        days.add(_DAY_ALIASES[part])
    if not days:
        raise ScheduleError(f"--days {text}: no day given; use {DAYS_HELP}")
    return frozenset(days)


def days_spec(days: Iterable[int]) -> str:
    """systemd's weekday list for *days*: ``Mon..Fri``, ``Sat,Sun``; ``""`` for every day."""
    days = sorted(set(days))
    if len(days) == 7:
        return ""
    runs: List[List[int]] = []
    for d in days:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{_SYSTEMD_DAYS[run[0]]}..{_SYSTEMD_DAYS[run[-1]]}")
        else:
            parts.extend(_SYSTEMD_DAYS[d] for d in run)
    return ",".join(parts)


def days_text(days: Iterable[int]) -> str:
    """How ``list`` shows the days: ``mon..fri``, ``sat,sun``, ``daily``."""
    return days_spec(days).lower() or "daily"


def calendar(hour: int, minute: int, days: Iterable[int]) -> str:
    """The ``OnCalendar=`` expression, in systemd's normalised form."""
    spec = days_spec(days)
    return f"{spec + ' ' if spec else ''}*-*-* {hour:02d}:{minute:02d}:00"


def next_run(hour: int, minute: int, days: Iterable[int],
             now: Optional[_dt.datetime] = None) -> _dt.datetime:
    """The next local time the calendar elapses after *now* (what systemd would say)."""
    now = now or _dt.datetime.now().astimezone()
    days = set(days)
    for ahead in range(8):
        day = now.date() + _dt.timedelta(days=ahead)
        when = _dt.datetime.combine(day, _dt.time(hour, minute), tzinfo=now.tzinfo)
        if when.weekday() in days and when > now:
            return when
    raise AssertionError("a non-empty weekday set elapses within a week")  # pragma: no cover


# -- units ------------------------------------------------------------------------


def exec_quote(arg: str) -> str:
    """One ``ExecStart=`` argument, quoted so systemd passes it through unchanged."""
    text = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    if text and re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", text) and text == arg:
        return text
    return f'"{text}"'


def command_line(args: Sequence[str]) -> str:
    """``ExecStart=`` for ``voiceguide ARGS...`` with this very interpreter.

    The interpreter's absolute path, so a virtual environment works without
    being activated (a service has no shell that could activate it).
    """
    python = os.path.abspath(sys.executable)
    return " ".join(exec_quote(a) for a in (python, "-m", "voiceguide", *args))


@dataclass(frozen=True)
class Schedule:
    """One schedule, as written in its timer's comment."""

    name: str                 # without the voiceguide- prefix
    exercise: str             # an id, or an absolute path
    hour: int
    minute: int
    days: FrozenSet[int] = field(default_factory=lambda: frozenset(range(7)))
    length: Optional[str] = None
    catch_up: bool = False

    @property
    def unit(self) -> str:
        return PREFIX + self.name

    @property
    def at(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"

    @property
    def calendar(self) -> str:
        return calendar(self.hour, self.minute, self.days)

    def to_json(self) -> dict:
        data = asdict(self)
        data["days"] = days_text(self.days)
        data["at"] = self.at
        del data["hour"], data["minute"]
        return data

    def timer_text(self) -> str:
        meta = json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True)
        return (
            f"# Written by `voiceguide schedule add`; remove it with `voiceguide schedule remove {self.name}`.\n"
            f"{MARK}{meta}\n"
            "[Unit]\n"
            f"Description=voiceguide: {self.exercise} at {self.at} ({days_text(self.days)})\n"
            "\n"
            "[Timer]\n"
            f"OnCalendar={self.calendar}\n"
            # A timer's default accuracy is a minute; people expect 07:30 to mean 07:30.
            "AccuracySec=1s\n"
            f"Persistent={'true' if self.catch_up else 'false'}\n"
            f"Unit={self.unit}.service\n"
            "\n"
            "[Install]\n"
            "WantedBy=timers.target\n"
        )

    def service_text(self) -> str:
        args = ["schedule", "run", self.exercise]
        if self.length:
            args += ["--length", self.length]
        return (
            f"# Written by `voiceguide schedule add`; remove it with `voiceguide schedule remove {self.name}`.\n"
            "[Unit]\n"
            f"Description=voiceguide: play {self.exercise} (schedule {self.name})\n"
            "After=sound.target\n"
            "\n"
            "[Service]\n"
            "Type=simple\n"
            f"ExecStart={command_line(args)}\n"
            "Environment=PYTHONUNBUFFERED=1\n"
            # SIGTERM fades a directly played session out; leave it the time to.
            "TimeoutStopSec=15\n"
        )


def default_name(exercise: str, hour: int, minute: int) -> str:
    stem = Path(exercise).stem if ("/" in exercise or exercise.endswith((".yaml", ".yml"))) else exercise
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:40] or "exercise"
    return f"{slug}-{hour:02d}{minute:02d}"


def check_name(name: str) -> str:
    """A schedule name, without the ``voiceguide-`` prefix; refused unless unit-name safe."""
    bare = name[len(PREFIX):] if name.startswith(PREFIX) else name
    for suffix in (".timer", ".service"):
        if bare.endswith(suffix):
            bare = bare[: -len(suffix)]
    if not _NAME.match(bare) or bare == "station":
        raise ScheduleError(f"schedule name {name!r}: use lower-case letters, digits, '-', '_' and '.', "
                            f"such as morning-check-in (and not 'station')")
    return bare


def read_schedule(path: Path) -> Optional[Schedule]:
    """The schedule described by a timer file we wrote, or None for any other file."""
    from voiceguide.readfile import read_regular

    try:  # a FIFO or a huge file among the units must not hang or swamp `schedule list`
        text = read_regular(path, 64 * 1024).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if line.startswith(MARK):
            try:
                data = json.loads(line[len(MARK):])
                hour, minute = parse_time(data["at"])
                return Schedule(name=check_name(path.stem), exercise=str(data["exercise"]), hour=hour,
                                minute=minute, days=parse_days(data.get("days")),
                                length=data.get("length"), catch_up=bool(data.get("catch_up")))
            except (ValueError, KeyError, TypeError, VoiceguideError):
                return None
    return None


def schedules(folder: Optional[Path] = None) -> List[Schedule]:
    """Every schedule in the user unit folder, by name."""
    folder = folder or unit_dir()
    if not folder.is_dir():
        return []
    found = [read_schedule(p) for p in sorted(folder.glob(PREFIX + "*.timer"))]
    return [s for s in found if s is not None]


def write_schedule(schedule: Schedule, folder: Optional[Path] = None, replace: bool = False) -> List[Path]:
    """Write the timer and the service (atomically); refuse to overwrite unless *replace*."""
    from voiceguide.atomic import atomic_file

    folder = folder or unit_dir()
    timer = folder / f"{schedule.unit}.timer"
    service = folder / f"{schedule.unit}.service"
    if timer.exists() and not replace:
        raise ScheduleError(f"a schedule named {schedule.name} exists already; remove it first "
                            f"(`voiceguide schedule remove {schedule.name}`) or choose --name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_file(service, "w", encoding="utf-8") as f:
            f.write(schedule.service_text())
        with atomic_file(timer, "w", encoding="utf-8") as f:
            f.write(schedule.timer_text())
    except OSError as exc:
        from voiceguide.errors import file_error

        raise file_error(exc.filename or folder, exc, "write the schedule", elsewhere="") from None
    return [timer, service]


def remove_schedule(name: str, folder: Optional[Path] = None) -> List[Path]:
    """Delete a schedule's two files; :class:`ScheduleError` when there is no such schedule."""
    folder = folder or unit_dir()
    bare = check_name(name)
    files = [folder / f"{PREFIX}{bare}.timer", folder / f"{PREFIX}{bare}.service"]
    if not files[0].exists():
        names = [s.name for s in schedules(folder)]
        from voiceguide.errors import did_you_mean

        hint = did_you_mean(bare, names) or (f"; there are: {', '.join(names)}" if names else "; there are none")
        raise ScheduleError(f"no schedule named {bare}{hint}")
    removed = []
    for path in files:
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
    return removed


# -- the station's own unit ------------------------------------------------------


def station_unit_text(listen: Optional[str] = None) -> str:
    args = ["station"]
    if listen:
        args += ["--listen", listen]
    return (
        "# Written by `voiceguide station --install`.\n"
        "[Unit]\n"
        "Description=voiceguide station: voice-guided exercises, hands-free\n"
        # Start once the sound devices the user manager knows of are there; a
        # USB card or HAT that appears later is waited for by the session itself.
        "After=sound.target\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={command_line(args)}\n"
        "Restart=on-failure\n"
        "RestartSec=5\n"
        # SIGTERM fades a playing session out within about a second.
        "TimeoutStopSec=15\n"
        "Environment=PYTHONUNBUFFERED=1\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def write_station_unit(listen: Optional[str] = None, folder: Optional[Path] = None) -> Path:
    from voiceguide.atomic import atomic_file

    folder = folder or unit_dir()
    path = folder / STATION_UNIT
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, "w", encoding="utf-8") as f:
            f.write(station_unit_text(listen))
    except OSError as exc:
        from voiceguide.errors import file_error

        raise file_error(exc.filename or folder, exc, f"write {STATION_UNIT}", elsewhere="") from None
    return path


# -- talking to systemd, when it runs ----------------------------------------------

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=20)


def user_manager_running(run: Runner = _run) -> bool:
    """Whether a systemd user manager answers for this user (on Pi OS Lite: after a login, or lingering)."""
    if shutil.which("systemctl") is None:
        return False
    try:
        result = run(["systemctl", "--user", "is-system-running"])
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.stdout.strip() in ("running", "degraded", "starting", "initializing")


def systemctl(*args: str, run: Runner = _run) -> subprocess.CompletedProcess:
    return run(["systemctl", "--user", *args])


def next_elapse_from_systemd(unit: str, run: Runner = _run) -> Optional[str]:
    """systemd's own next run time for a loaded timer, as it prints it; None if it has none."""
    try:
        result = run(["systemctl", "--user", "show", "-p", "NextElapseUSecRealtime", "--value", unit])
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = result.stdout.strip()
    return value if result.returncode == 0 and value and value != "n/a" else None


def enable_commands(units: Sequence[str]) -> List[List[str]]:
    return [["systemctl", "--user", "daemon-reload"],
            ["systemctl", "--user", "enable", "--now", *units]]


def linger_command() -> List[str]:
    import getpass

    return ["loginctl", "enable-linger", getpass.getuser()]
