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

Nothing here needs a running systemd: the units are text (values quoted by
:mod:`voiceguide.station.unitquote`), the next run time is computed from the
calendar (:func:`~voiceguide.station.weekdays.next_run`), and systemctl is called
only when a user manager answers (:func:`user_manager_running`); otherwise
the commands to run later are printed. Tests check every generated unit with
``systemd-analyze --user verify`` and every calendar with
``systemd-analyze calendar``.

Every value written into a unit is made safe for systemd's parser first:

* an id is a file name and may hold a newline, ``%`` or an escape sequence.
  A value on a ``Key=`` line (``Description=``) passes :func:`unit_value`:
  control characters become visible escapes (``\\n``, never a new line that
  could add ``[Service]`` and ``ExecStart=``), ``%`` becomes ``%%`` (systemd
  expands specifiers there), and no line ends in a backslash (a continuation).
  Each ``ExecStart=`` argument is quoted by :func:`exec_quote` (``%%``,
  ``$$``, C escapes for controls, NUL refused). The JSON comment is ASCII.
  :func:`checked_unit` refuses any unit text with a control character left,
  whatever wrote it; the tests run ``systemd-analyze verify`` over units
  written from hostile ids.
* Units are ours to replace or remove only when voiceguide wrote them: every
  unit carries ``X-Voiceguide=`` (systemd ignores ``X-`` keys) after a
  ``# Written by voiceguide`` comment. Units written before that marker had
  exactly one layout, whose first comment line names the command (and the
  schedule); that line is recognised (:func:`written_by_us`). Any other
  file of the same name is the user's: ``schedule remove``, ``schedule add
  --replace`` and ``station --install`` refuse it with one line.
* The unit folder and the unit files are never followed through a symbolic
  link: a link there is refused with one line naming it (a planted link
  would otherwise have us write or delete a file elsewhere).

Traps:

* systemd expands ``%`` specifiers and ``$`` variables in ``ExecStart=``, and
  splits on spaces: every argument is quoted by :func:`exec_quote`.
* A user manager on Pi OS Lite runs at boot only with lingering
  (``loginctl enable-linger USER``): without it the station and the timers
  start at the first login, not at boot.
* Unit names allow only ``[A-Za-z0-9:_.\\-]``; a schedule name is checked
  before it becomes a file name (nothing a user types becomes a path), with
  ``fullmatch``: ``re.match`` with ``$`` lets a final newline through.
* An argument that begins with ``-`` would be read as an option: options are
  written as ``--name=value`` and the exercise after ``--``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, FrozenSet, List, Optional, Sequence, Tuple

from voiceguide.errors import ScheduleError as ScheduleError  # re-exported: callers catch it as systemd.ScheduleError
from voiceguide.errors import VoiceguideError
from voiceguide.station.unitquote import checked_unit as checked_unit, command_line as command_line
from voiceguide.station.unitquote import exec_quote as exec_quote, unit_value as unit_value
from voiceguide.station.weekdays import DAYS as DAYS, DAYS_HELP as DAYS_HELP, calendar as calendar
from voiceguide.station.weekdays import days_spec as days_spec, days_text as days_text
from voiceguide.station.weekdays import next_run as next_run, parse_days as parse_days, parse_time as parse_time
from voiceguide.visible import visible

PREFIX = "voiceguide-"
STATION_UNIT = "voiceguide-station.service"
MARK = "# voiceguide-schedule: "
#: The key that marks a unit as written by voiceguide; its value is the kind of unit.
OWNER_KEY = "X-Voiceguide"
WRITTEN_BY = "# Written by voiceguide"
#: The first line of the units written before OWNER_KEY (one layout, in one release).
_OLD_SCHEDULE_LINE = "# Written by `voiceguide schedule add`; remove it with `voiceguide schedule remove {name}`."
_OLD_STATION_LINE = "# Written by `voiceguide station --install`."

#: A schedule name; always ``fullmatch``-ed (``$`` would let a final newline through).
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def unit_dir() -> Path:
    """``$XDG_CONFIG_HOME/systemd/user`` (``~/.config/systemd/user``): where user units live."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


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
        # ASCII: JSON then escapes every control character (and U+2028) of a hostile id.
        meta = json.dumps(self.to_json(), ensure_ascii=True, sort_keys=True)
        return checked_unit(
            f"{WRITTEN_BY} (`voiceguide schedule add`); remove it with `voiceguide schedule remove {self.name}`.\n"
            f"{MARK}{meta}\n"
            "[Unit]\n"
            f"Description={unit_value(f'voiceguide: {self.exercise} at {self.at} ({days_text(self.days)})')}\n"
            f"{OWNER_KEY}=schedule\n"
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
        args = ["schedule", "run"]
        if self.length:
            args.append(f"--length={self.length}")
        args += ["--", self.exercise]  # an id that begins with '-' is still the id
        return checked_unit(
            f"{WRITTEN_BY} (`voiceguide schedule add`); remove it with `voiceguide schedule remove {self.name}`.\n"
            "[Unit]\n"
            f"Description={unit_value(f'voiceguide: play {self.exercise} (schedule {self.name})')}\n"
            f"{OWNER_KEY}=schedule\n"
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
    if not _NAME.fullmatch(bare) or bare == "station":
        raise ScheduleError(f"schedule name '{visible(name)}': use lower-case letters, digits, '-', '_' and '.', "
                            f"such as morning-check-in (and not 'station')")
    return bare


def read_schedule(path: Path) -> Optional[Schedule]:
    """The schedule described by a timer file we wrote, or None for any other file."""
    from voiceguide.readfile import read_regular

    try:  # a FIFO or a huge file among the units must not hang or swamp `schedule list`
        text = read_regular(path, _UNIT_LIMIT).decode("utf-8")
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


# -- whose units: ours to write and remove, or the user's -------------------------

_UNIT_LIMIT = 64 * 1024
MISSING, OURS, THEIRS = "missing", "ours", "theirs"


def _link_refused(exc: OSError) -> ScheduleError:
    """One line naming the link (:class:`voiceguide.ownfiles.PlantedLink`'s words), as a usage error."""
    return ScheduleError(visible(str(exc)))


def own_unit_folder(folder: Optional[Path] = None, create: bool = False) -> Path:
    """The unit folder, checked: neither it nor its ``systemd`` parent may be a symbolic link.

    A link planted as ``~/.config/systemd/user`` would have us write units
    (or delete files) wherever it points. With *create* the folder is made
    (``ownfiles.own_folder``: checked again if another process made it).
    Files in it are then written by rename and deleted relative to a
    descriptor of the folder, so a unit that is a link is replaced or
    unlinked, never followed; :func:`unit_owner` refuses such a unit first.
    """
    from voiceguide.ownfiles import PlantedLink, own_folder, refuse_link

    folder = folder or unit_dir()
    try:
        if folder.parent.name == "systemd":
            refuse_link(folder.parent, "folder")
        own_folder(folder, create=create, mode=0o755)
    except PlantedLink as exc:
        raise _link_refused(exc) from None
    except OSError as exc:
        from voiceguide.errors import file_error

        raise file_error(exc.filename or folder, exc, "keep systemd units there", elsewhere="") from None
    return folder


def written_by_us(text: str, kind: str, name: Optional[str] = None) -> bool:
    """Whether a unit's *text* is one voiceguide wrote: a ``schedule`` (named *name*) or the ``station``.

    Ours now: an ``X-Voiceguide=KIND`` line. Ours from before that marker:
    the first line that release wrote, exactly (it names the command, and
    for a schedule its name), so an older install can still be removed.
    """
    lines = text.splitlines()
    if any(line.strip() == f"{OWNER_KEY}={kind}" for line in lines):
        return True
    old = _OLD_STATION_LINE if kind == "station" else _OLD_SCHEDULE_LINE.format(name=name)
    return bool(lines) and lines[0] == old


def unit_owner(path: Path, kind: str, name: Optional[str] = None) -> str:
    """``missing``, ``ours`` or ``theirs`` for the unit file at *path*; a link there is refused.

    Read without following a link (``ownfiles.read_own``). Anything we
    cannot read as a small UTF-8 regular file (a FIFO, a folder, a huge
    file) is the user's: we leave it alone rather than replace it.
    """
    from voiceguide.ownfiles import PlantedLink, read_own

    try:
        text = read_own(path, _UNIT_LIMIT, what="unit").decode("utf-8")
    except FileNotFoundError:
        return MISSING
    except PlantedLink as exc:
        raise _link_refused(exc) from None
    except (OSError, UnicodeDecodeError):
        return THEIRS
    return OURS if written_by_us(text, kind, name) else THEIRS


def _not_ours(path: Path, then: str) -> ScheduleError:
    return ScheduleError(f"{visible(path)} was not written by voiceguide, so voiceguide leaves it alone; {then}")


def write_schedule(schedule: Schedule, folder: Optional[Path] = None, replace: bool = False) -> List[Path]:
    """Write the timer and the service (atomically); refuse to overwrite unless *replace*.

    Even with *replace* only units voiceguide wrote are replaced: a unit of
    the same name that the user wrote is refused with one line.
    """
    from voiceguide.atomic import atomic_file

    folder = own_unit_folder(folder)
    timer = folder / f"{schedule.unit}.timer"
    service = folder / f"{schedule.unit}.service"
    for path in (timer, service):
        if unit_owner(path, "schedule", schedule.name) == THEIRS:
            raise _not_ours(path, "choose another --name, or rename or remove that file yourself")
    if unit_owner(timer, "schedule", schedule.name) == OURS and not replace:
        raise ScheduleError(f"a schedule named {schedule.name} exists already; remove it first "
                            f"(`voiceguide schedule remove {schedule.name}`) or choose --name")
    service_text, timer_text = schedule.service_text(), schedule.timer_text()  # refused before any write
    try:
        own_unit_folder(folder, create=True)
        with atomic_file(service, "w", encoding="utf-8") as f:
            f.write(service_text)
        with atomic_file(timer, "w", encoding="utf-8") as f:
            f.write(timer_text)
    except OSError as exc:
        from voiceguide.errors import file_error

        raise file_error(exc.filename or folder, exc, "write the schedule", elsewhere="") from None
    return [timer, service]


def schedule_files(name: str, folder: Optional[Path] = None) -> Tuple[List[Path], List[str]]:
    """The files of schedule *name* that voiceguide may remove, and a note for each it leaves.

    :class:`ScheduleError` when there is no such schedule, when its timer is
    not one voiceguide wrote (one line: remove it yourself), or when the
    folder or a unit is a symbolic link. A service the user wrote beside our
    timer is left, with a note.
    """
    folder = own_unit_folder(folder)
    bare = check_name(name)
    timer, service = folder / f"{PREFIX}{bare}.timer", folder / f"{PREFIX}{bare}.service"
    owner = unit_owner(timer, "schedule", bare)
    if owner == MISSING:
        names = [s.name for s in schedules(folder)]
        from voiceguide.errors import did_you_mean

        hint = did_you_mean(bare, names) or (f"; there are: {', '.join(names)}" if names else "; there are none")
        raise ScheduleError(f"no schedule named {bare}{hint}")
    if owner == THEIRS:
        raise _not_ours(timer, f"remove it yourself (systemctl --user disable --now {timer.name}, "
                               "then delete the file)")
    files, notes = [timer], []
    service_owner = unit_owner(service, "schedule", bare)
    if service_owner == OURS:
        files.append(service)
    elif service_owner == THEIRS:
        notes.append(f"left {visible(service)}: it was not written by voiceguide; remove it yourself")
    return files, notes


def remove_schedule(name: str, folder: Optional[Path] = None) -> List[Path]:
    """Delete a schedule's files that voiceguide wrote (see :func:`schedule_files`); return them."""
    from voiceguide.ownfiles import PlantedLink, open_folder

    files, _notes = schedule_files(name, folder)
    removed = []
    try:
        fd = open_folder(own_unit_folder(folder))  # unlink by name in this very folder, never via a link
    except PlantedLink as exc:
        raise _link_refused(exc) from None
    try:
        for path in files:
            try:
                os.unlink(path.name, dir_fd=fd)
                removed.append(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                from voiceguide.errors import file_error

                raise file_error(path, exc, "remove it", elsewhere="") from None
    finally:
        os.close(fd)
    return removed


# -- the station's own unit ------------------------------------------------------


def station_arguments(listen: Optional[str] = None, device: Optional[str] = None,
                      exercise: Optional[str] = None, gpio: bool = True) -> List[str]:
    """``voiceguide station``'s arguments for the options given to ``station --install``.

    Every option the person gave reaches the unit (an option left out would
    silently run a different station at boot). Each is written as
    ``--name=value``: a value that begins with ``-`` (a device index such as
    ``-1``) is then never read as an option.
    """
    args = ["station"]
    if listen:
        args.append(f"--listen={listen}")
    if device is not None and device != "":
        args.append(f"--device={device}")
    if exercise:
        args.append(f"--exercise={exercise}")
    if not gpio:
        args.append("--no-gpio")
    return args


def station_unit_text(listen: Optional[str] = None, device: Optional[str] = None,
                      exercise: Optional[str] = None, gpio: bool = True) -> str:
    """The station's user unit, running ``voiceguide station`` with the options given."""
    args = station_arguments(listen, device, exercise, gpio)
    return checked_unit(
        f"{WRITTEN_BY} (`voiceguide station --install`); run it again to change it.\n"
        "[Unit]\n"
        "Description=voiceguide station: voice-guided exercises, hands-free\n"
        f"{OWNER_KEY}=station\n"
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


def write_station_unit(listen: Optional[str] = None, folder: Optional[Path] = None, *,
                       device: Optional[str] = None, exercise: Optional[str] = None,
                       gpio: bool = True) -> Path:
    """Write (or rewrite) ``voiceguide-station.service``; a unit of that name the user wrote is refused."""
    from voiceguide.atomic import atomic_file

    folder = own_unit_folder(folder)
    path = folder / STATION_UNIT
    if unit_owner(path, "station") == THEIRS:
        raise _not_ours(path, "move it away (or remove it) yourself to install voiceguide's")
    text = station_unit_text(listen, device, exercise, gpio)
    try:
        own_unit_folder(folder, create=True)
        with atomic_file(path, "w", encoding="utf-8") as f:
            f.write(text)
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
