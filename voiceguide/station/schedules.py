"""Add, list and remove schedules: what ``voiceguide schedule`` and the API's ``/api/schedules`` do.

The units themselves are written by :mod:`voiceguide.station.systemd`; this
module checks what is asked (an exercise id from the catalog, never a path:
a schedule's service may ask a station, which plays catalog ids only), then
tells systemd when a user manager runs, and otherwise returns the commands
to run once one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from voiceguide.errors import NotFoundError
from voiceguide.station import systemd
from voiceguide.station.systemd import Schedule


@dataclass
class Outcome:
    schedule: Optional[Schedule]
    files: List[Path]
    notes: List[str]          # what happened with systemd, or what to run, for a person


def check_exercise(exercise: str, what: str = "a schedule plays") -> None:
    """*exercise* must be an id of the catalog (:class:`NotFoundError` with a "did you mean" otherwise)."""
    from voiceguide.errors import did_you_mean
    from voiceguide.script.catalog import entries
    from voiceguide.visible import visible

    ids = [e.id for e in entries()]
    if exercise not in ids:
        hint = visible(did_you_mean(exercise, ids) or "")
        raise NotFoundError(f'no exercise "{visible(exercise)}"{hint}; {what} an id '
                            f"from `voiceguide list` (put your own file in the scripts folder to give it one)")


def _apply(units: Sequence[str], enable: bool, run: systemd.Runner) -> List[str]:
    """daemon-reload, then enable or disable *units*; notes for a person either way."""
    verb = ["enable", "--now"] if enable else ["disable", "--now"]
    if not systemd.user_manager_running(run):
        if not enable:
            return []
        commands = systemd.enable_commands(units)
        return ["systemd is not running for this user here; once it is (after a login, or at boot with "
                "`loginctl enable-linger`), run: " + " && ".join(" ".join(c) for c in commands)]
    notes = []
    if not enable:
        result = systemd.systemctl(*verb, *units, run=run)
        if result.returncode != 0:
            notes.append(f"systemctl --user {' '.join(verb)} said: {result.stderr.strip()}")
    reload = systemd.systemctl("daemon-reload", run=run)
    if reload.returncode != 0:
        notes.append(f"systemctl --user daemon-reload said: {reload.stderr.strip()}")
    if enable:
        result = systemd.systemctl(*verb, *units, run=run)
        if result.returncode != 0:
            notes.append(f"systemctl --user {' '.join(verb)} said: {result.stderr.strip()}")
        else:
            notes.append(f"enabled {', '.join(units)}")
    return notes


def add(exercise: str, at: str, days: Optional[str] = None, *, length: Optional[str] = None,
        name: Optional[str] = None, catch_up: bool = False, replace: bool = False,
        folder: Optional[Path] = None, run: systemd.Runner = systemd._run) -> Outcome:
    check_exercise(exercise)
    hour, minute = systemd.parse_time(at)
    day_set = systemd.parse_days(days)
    if length:
        from voiceguide.station.shared import parse_length

        parse_length(length)
    name = systemd.check_name(name or systemd.default_name(exercise, hour, minute))
    schedule = Schedule(name=name, exercise=exercise, hour=hour, minute=minute, days=day_set,
                        length=length or None, catch_up=catch_up)
    files = systemd.write_schedule(schedule, folder, replace=replace)
    notes = _apply([f"{schedule.unit}.timer"], True, run)
    return Outcome(schedule, files, notes)


def remove(name: str, *, folder: Optional[Path] = None, run: systemd.Runner = systemd._run) -> Outcome:
    """Disable and delete a schedule that voiceguide wrote.

    Whose the units are is settled before systemd is asked anything: a
    timer the user wrote by hand under our prefix is neither disabled nor
    deleted (:class:`~voiceguide.station.systemd.ScheduleError`, one line).
    """
    bare = systemd.check_name(name)
    _files, left = systemd.schedule_files(bare, folder)
    notes = _apply([f"{systemd.PREFIX}{bare}.timer"], False, run)
    files = systemd.remove_schedule(bare, folder)
    return Outcome(None, files, [*left, *notes])


@dataclass
class Listed:
    schedule: Schedule
    next: str                 # when it runs next, as a person reads it
    source: str               # "systemd" or "calendar"
    #: Why it will not run at all, or None: a timer systemd is not running has no "next" to speak of.
    inactive: Optional[str] = None


#: What every surface (``schedule list``, the API, the page) says of a timer no user systemd runs.
NOT_RUNNING = "not active: systemd is not running for this user"


def listing(folder: Optional[Path] = None, run: systemd.Runner = systemd._run,
            now=None) -> List[Listed]:
    """Every schedule with its next run: systemd's own answer when it runs, else the calendar's."""
    found = systemd.schedules(folder)
    live = bool(found) and systemd.user_manager_running(run)
    result = []
    for schedule in found:
        text = systemd.next_elapse_from_systemd(f"{schedule.unit}.timer", run) if live else None
        if text:
            result.append(Listed(schedule, text, "systemd"))
            continue
        when = systemd.next_run(schedule.hour, schedule.minute, schedule.days, now)
        result.append(Listed(schedule, when.strftime("%a %Y-%m-%d %H:%M"), "calendar",
                             None if live else NOT_RUNNING))
    return result


def as_json(items: List[Listed]) -> list:
    """The API's shape: ``[{"name", "id", "at", "days": ["mon", ...], "length", "catch_up", "next", "inactive"}]``.

    ``inactive`` is null, or why the timer will not fire (:data:`NOT_RUNNING`).
    """
    out = []
    for item in items:
        s = item.schedule
        out.append({"name": s.name, "id": s.exercise, "at": s.at,
                    "days": [systemd.DAYS[d] for d in sorted(s.days)] if len(s.days) < 7 else [],
                    "length": s.length, "catch_up": s.catch_up, "next": item.next, "inactive": item.inactive})
    return out


def exercises_to_prepare(folder: Optional[Path] = None) -> List[str]:
    return sorted({s.exercise for s in systemd.schedules(folder)})

