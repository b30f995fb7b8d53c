"""``voiceguide station``, ``ctl`` and ``schedule``: the Click side of :mod:`voiceguide.station`.

Thin, like the rest of the command line: each command parses its arguments
and calls one thing in the station package. ``ctl`` imports only the
standard-library client, so it starts fast on a Pi Zero.
"""

from __future__ import annotations

import json
import os
import sys

import click

from voiceguide.cli.common import delay_option
from voiceguide.errors import VoiceguideError

CONTEXT = dict(help_option_names=["-h", "--help"], max_content_width=100)


def _systemd_note(lines) -> None:
    for line in lines:
        click.echo(line, err=True)


@click.command(context_settings=CONTEXT)
@click.option("--listen", metavar="HOST:PORT",
              help="Where to serve (default 127.0.0.1:8765, or [station] listen in config.toml).")
@click.option("--device", metavar="D", help="Output device: index or part of its name (see `voiceguide devices`).")
@click.option("--exercise", metavar="ID", help="What the button starts (default: [station] exercise, daily-check-in).")
@click.option("--no-gpio", is_flag=True, help="Do not use buttons or the LED even if there are some.")
@click.option("--voice-commands", is_flag=True, default=None,
              help='Listen for spoken commands: "guide, pause" (also voice_commands under [station]).')
@click.option("--mic", metavar="NAME|INDEX", help="The microphone for spoken commands (default: the default input).")
@click.option("--install", is_flag=True,
              help="Write a systemd user unit that runs this station at boot, and say how to enable it.")
@click.option("--enable", is_flag=True, help="With --install: also enable and start it, and enable lingering.")
@click.option("--pairing", is_flag=True,
              help="Print the address (and QR code) a phone opens to pair with the station, then exit.")
@click.option("--new-token", is_flag=True,
              help="Replace the token (paired phones must pair again), then exit.")
def station(listen, device, exercise, no_gpio, voice_commands, mic, install, enable, pairing, new_token):
    """Run the station: a service for hands-free sessions (API, buttons, timers).

    It plays at most one session at a time and is idle otherwise. Control it
    with `voiceguide ctl ...`, the buttons, the schedules or the web page at
    the address it prints. Only SIGTERM or Ctrl-C end it (a playing session
    fades out first). The token every request needs is made on first start
    in ~/.config/voiceguide/station-token (VOICEGUIDE_STATION_TOKEN overrides).

    It listens only on this machine unless told otherwise; with
    --listen 0.0.0.0:8765 a phone on the home network can open its page, and
    the station prints the pairing address and its QR code on the terminal.
    """
    if enable and not install:
        raise click.UsageError("--enable goes with --install")
    if sum(map(bool, (install, pairing, new_token))) > 1:
        raise click.UsageError("choose one of --install, --pairing and --new-token")
    if install:
        _install(listen, enable, device=device, exercise=exercise, gpio=not no_gpio)
        return
    if new_token:
        _new_token()
        return
    if pairing:
        _pairing(listen)
        return
    from voiceguide.station.pairing import announce
    from voiceguide.station.service import build

    built = build(listen, device=device, exercise=exercise, use_gpio=False if no_gpio else None,
                  voice_commands=voice_commands, mic=mic)
    announce(built.address.host, built.address.port, built.token(), out=sys.stdout)
    built.serve()


def _new_token() -> None:
    from voiceguide.station.address import read
    from voiceguide.station.token import new_token

    path = new_token()
    running = read() is not None
    click.echo(f"made a new station token in {path}; "
               + ("the running station uses it from now on. " if running else "")
               + "Phones paired before must pair again: `voiceguide station --pairing` prints the new address.")


def _pairing(listen) -> None:
    from voiceguide.station import address as where
    from voiceguide.station.pairing import announce, is_loopback
    from voiceguide.station.settings import station_settings
    from voiceguide.station.token import ensure_token

    found = where.read()
    if found is not None and not listen:
        address = found[0]
    else:
        address = where.parse_listen(listen or station_settings().listen or str(where.default_address()))
        click.echo(f"no station is running now; this is the address once it runs with --listen {address}",
                   err=True)
    announce(address.host, address.port, ensure_token(), out=sys.stdout, force=True)
    if is_loopback(address.host):
        click.echo("The station listens only on this machine, so a phone cannot reach it: start it with "
                   "--listen 0.0.0.0:8765 (or listen = \"0.0.0.0:8765\" in the [station] table of "
                   "config.toml) to open it to the home network.", err=True)


def _install(listen, enable, *, device=None, exercise=None, gpio=True) -> None:
    """Write the station's unit with every option given here (README: they are kept), then enable it."""
    from voiceguide.station import systemd

    if listen:
        from voiceguide.station.address import parse_listen

        parse_listen(listen)
    if exercise:
        from voiceguide.station.schedules import check_exercise

        check_exercise(exercise, "the station's button plays")
    path = systemd.write_station_unit(listen, device=device, exercise=exercise, gpio=gpio)
    click.echo(f"wrote {path}")
    commands = [*systemd.enable_commands([systemd.STATION_UNIT]), systemd.linger_command()]
    if not enable:
        click.echo("to start it now and at every boot, run:")
        for command in commands:
            click.echo("  " + " ".join(command))
        return
    if not systemd.user_manager_running():
        raise VoiceguideError("systemd is not running for this user here, so the station cannot be enabled now; "
                              "log in on the Pi (or over SSH) and run: "
                              + " && ".join(" ".join(c) for c in commands))
    import subprocess

    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise VoiceguideError(f"`{' '.join(command)}` failed: {result.stderr.strip() or result.returncode}"
                                  + ("; try it with sudo" if command[0] == "loginctl" else ""))
        click.echo("ran: " + " ".join(command))
    click.echo("the station runs now and at every boot; `voiceguide ctl status` to check")


# -- ctl -------------------------------------------------------------------------


@click.group(context_settings=CONTEXT)
@click.option("--station", "where", metavar="HOST:PORT",
              help="The station to talk to (default: the one running for this user).")
@click.option("--json", "as_json", is_flag=True, help="Print the station's JSON answer.")
@click.pass_context
def ctl(ctx, where, as_json):
    """Control a running station: status, play ID, music, pause, resume, toggle, next, back, stop, volume DB."""
    ctx.ensure_object(dict)
    ctx.obj["station"] = where
    ctx.obj["json"] = as_json


def _json_option(command):
    """``--json`` after the subcommand too (``ctl status --json``), as well as before it (``ctl --json status``)."""

    def remember(ctx, param, value):
        if value:
            ctx.ensure_object(dict)["json"] = True
        return value

    return click.option("--json", is_flag=True, expose_value=False, callback=remember,
                        help="Print the station's JSON answer.")(command)


def _client():
    from voiceguide.station.client import Client, find

    return Client(find(click.get_current_context().obj.get("station")))


def _show(state) -> None:
    from voiceguide.station.client import describe_state
    from voiceguide.visible import visible

    if click.get_current_context().obj.get("json"):
        click.echo(json.dumps(state, ensure_ascii=False))
    else:  # what a station says (ids, titles, spoken text) is shown, never acted on by the terminal
        click.echo(visible(describe_state(state)))


@ctl.command()
@_json_option
def status():
    """What the station is doing."""
    _show(_client().state())


@ctl.command("list")
@_json_option
def ctl_list():
    """The exercises the station can play.

    With their lengths as `voiceguide list` shows them (~ marks an estimate:
    the speech is not made yet).
    """
    items = _client().exercises()
    if click.get_current_context().obj.get("json"):
        click.echo(json.dumps(items, ensure_ascii=False))
        return
    from voiceguide.script.units import format_duration

    # the same columns as `voiceguide list`; ~ only where the station could only estimate the length
    from voiceguide.visible import visible

    rows = [(visible(e["id"]), e.get("duration_text") or format_duration(e["duration"]),
             visible(str(e["title"]) + (f" \N{EM DASH} {e['summary']}" if e.get("summary") else ""))) for e in items]
    width = max((len(r[0]) for r in rows), default=0)
    lwidth = max((len(r[1]) for r in rows), default=0)
    for ident, length, title in rows:
        click.echo(f"{ident:<{width}}  {length:>{lwidth}}  {title}")


@ctl.command()
@click.argument("exercise")
@click.option("--length", metavar="D", help="Stretch pauses to last D (e.g. 15m).")
@delay_option()
@click.option("--music", metavar="NAME",
              help="For an exercise with music: a piece of the station's music folder (`voiceguide ctl music`).")
@_json_option
def play(exercise, length, delay, music):
    """Start an exercise (a playing one fades out first)."""
    _show(_client().play(exercise, length, delay=delay, music=music))


@ctl.command("music")
@_json_option
def ctl_music():
    """The pieces of the station's music folder (music_folder under [station]), for play --music NAME."""
    items = _client().music()
    if click.get_current_context().obj.get("json"):
        click.echo(json.dumps(items, ensure_ascii=False))
        return
    if not items:
        click.echo("no music: set music_folder under [station] on the station (a folder of WAV, FLAC or OGG "
                   "files)", err=True)
        return
    from voiceguide.script.units import format_duration
    from voiceguide.visible import visible

    for item in items:
        seconds = item.get("seconds")
        length = format_duration(seconds) if isinstance(seconds, (int, float)) else "?"
        click.echo(f"{length:>7}  {visible(item['name'])}")


def _action(name: str, doc: str):
    def command():
        _show(_client().action(name))

    command.__doc__ = doc
    ctl.command(name)(_json_option(command))


for _name, _doc in (("pause", "Pause the session."), ("resume", "Resume a paused session."),
                    ("toggle", "Pause or resume."), ("next", "Skip to the next step."),
                    ("back", "Go back a step."), ("stop", "Stop with a fade.")):
    _action(_name, _doc)


@ctl.command(context_settings=dict(ignore_unknown_options=True))
@click.argument("db", type=float)
@_json_option
def volume(db):
    """Louder or softer by DB decibels (3 or -2).

    As the + and - keys of `voiceguide play`; the station remembers it.
    """
    _show(_client().action("volume", {"db": db}))


# -- schedule --------------------------------------------------------------------


@click.group(context_settings=CONTEXT)
def schedule():
    """Play exercises at set times, as systemd user timers (voiceguide-*.timer)."""


@schedule.command("add")
@click.argument("exercise")
@click.option("--at", "at", required=True, metavar="HH:MM", help="Time of day, 24-hour clock.")
@click.option("--days", metavar="DAYS", help="mon..fri, sat,sun, mon,wed,fri, weekdays, weekends (default: daily).")
@click.option("--length", metavar="D", help="Stretch pauses to last D (e.g. 15m).")
@click.option("--name", metavar="NAME", help="Name of the schedule (default: ID-HHMM).")
@click.option("--catch-up", is_flag=True, help="Play at boot if the machine was off at the time (Persistent=true).")
@click.option("--replace", is_flag=True, help="Overwrite a schedule of the same name.")
def schedule_add(exercise, at, days, length, name, catch_up, replace):
    """Play EXERCISE at a time of day, on some days."""
    from voiceguide.station import schedules, systemd
    from voiceguide.visible import visible

    outcome = schedules.add(exercise, at, days, length=length, name=name, catch_up=catch_up, replace=replace)
    s = outcome.schedule
    assert s is not None  # add() always returns the schedule it wrote
    click.echo(f"{s.name}: {visible(s.exercise)} at {s.at} ({systemd.days_text(s.days)})")
    for path in outcome.files:
        click.echo(f"wrote {path}", err=True)
    _systemd_note(outcome.notes)
    _ask_station_to_prepare(exercise)


def _ask_station_to_prepare(exercise: str) -> None:
    """Let a running station synthesise the new schedule's exercise ahead (best effort)."""
    from voiceguide.station.client import Client, find

    try:
        Client(find(), timeout=3).call("POST", "/api/prepare", {"id": exercise})
    except VoiceguideError:
        pass


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
def schedule_list(as_json):
    """The schedules, with when each runs next."""
    from voiceguide.station import schedules, systemd

    items = schedules.listing()
    if as_json:
        click.echo(json.dumps(schedules.as_json(items), ensure_ascii=False))
        return
    if not items:
        click.echo("no schedules; add one with `voiceguide schedule add ID --at 07:30`")
        return
    from voiceguide.visible import visible

    width = max(len(i.schedule.name) for i in items)
    for item in items:
        s = item.schedule  # its exercise and length come from a unit file, which anyone may have edited
        extra = (f" for {visible(s.length)}" if s.length else "") + (", catches up at boot" if s.catch_up else "")
        when = (item.inactive if item.inactive else
                f"next: {item.next}" + ("" if item.source == "systemd" else " (from the calendar)"))
        click.echo(f"{s.name:<{width}}  {visible(s.exercise)} at {s.at} {systemd.days_text(s.days)}{extra}  {when}")


@schedule.command("remove")
@click.argument("name")
def schedule_remove(name):
    """Remove a schedule (its timer and its service)."""
    from voiceguide.station import schedules

    outcome = schedules.remove(name)
    for path in outcome.files:
        click.echo(f"removed {path}", err=True)
    _systemd_note(outcome.notes)


@schedule.command("run", hidden=True)
@click.argument("exercise")
@click.option("--length", metavar="D")
def schedule_run(exercise, length):
    """What a schedule's service runs: ask the station to play, or play here when none runs."""
    from voiceguide.visible import visible

    from voiceguide.station.client import Client, NoStationError, find

    try:
        client = Client(find())
        client.play(exercise, length, origin="schedule")
        click.echo(f"asked the station at {client.address} to play {visible(exercise)}", err=True)
        return
    except NoStationError:
        pass
    click.echo(f"no station runs; playing {visible(exercise)} here", err=True)
    # Not 'python -m voiceguide': the service runs in the home folder, and -m would import a
    # ~/voiceguide checkout instead of this package (see voiceguide.synth.lifetime).
    from voiceguide.station.unitquote import voiceguide_argv

    argv = voiceguide_argv(["play", *(["--length", length] if length else []),
                            "--", exercise])  # an id that begins with '-' is still the id
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)

