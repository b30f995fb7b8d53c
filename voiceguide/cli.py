"""The command line: a thin Click layer over the library.

Each command resolves its arguments, calls one library function and prints
the result. Library errors (:class:`~voiceguide.errors.VoiceguideError`) are
turned into one line per problem on stderr and the error's exit code; only
``--debug`` shows a traceback. Imports of the audio stack happen inside the
commands that need it, so ``list``, ``validate`` and ``about`` start fast.
"""

from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path
from typing import Optional

import click

from voiceguide import __version__
from voiceguide.errors import EXIT_USAGE, ScriptError, UsageError, VoiceguideError

CONTEXT = dict(help_option_names=["-h", "--help"], max_content_width=100)


def _debug() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(root and root.obj and root.obj.get("debug"))


def friendly(func):
    """Turn library errors into messages and exit codes at the edge."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except VoiceguideError as exc:
            if _debug():
                raise
            prefix = "" if isinstance(exc, ScriptError) else "voiceguide: "
            for line in exc.lines():
                click.echo(prefix + line, err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("voiceguide: stopped", err=True)
            sys.exit(130)

    return wrapper


def _duration(ctx, param, value):
    if value is None:
        return None
    from voiceguide.units import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _load(name: str):
    from voiceguide.catalog import resolve
    from voiceguide.loader import load

    return load(resolve(name))


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="voiceguide")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx, debug):
    """A calm, voice-guided exercise player.

    Try `voiceguide list`, then `voiceguide play body-scan`. You may stop any
    session at any time with Ctrl-C.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command("list")
@friendly
def list_cmd():
    """List the exercises: id, title and approximate length."""
    from voiceguide.catalog import entries
    from voiceguide.errors import ScriptError
    from voiceguide.loader import load
    from voiceguide.timeline import estimate
    from voiceguide.units import format_duration

    rows = []
    for entry in entries():
        try:
            script = load(entry.path)
            title, length = script.title, "~" + format_duration(estimate(script).duration)
        except ScriptError as exc:
            title, length = f"(invalid: {exc.problems[0].message})", "-"
        mark = " (yours, shadows the built-in)" if entry.shadows_builtin else (
            "" if entry.builtin else " (yours)")
        rows.append((entry.id, title + mark, length))
    if not rows:
        click.echo("no exercises found")
        return
    width = max(len(r[0]) for r in rows)
    lwidth = max(len(r[2]) for r in rows)
    for ident, title, length in rows:
        click.echo(f"{ident:<{width}}  {length:>{lwidth}}  {title}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@friendly
def validate(paths):
    """Check exercise files; print file:line:col: message for each problem."""
    from voiceguide.errors import ScriptError
    from voiceguide.loader import load

    failed = False
    for path in paths:
        try:
            load(Path(path))
        except ScriptError as exc:
            failed = True
            for line in exc.lines():
                click.echo(line, err=True)
        except VoiceguideError as exc:
            failed = True
            click.echo(f"{path}: {exc}", err=True)
    if failed:
        sys.exit(EXIT_USAGE)
    click.echo(f"{len(paths)} file{'s' if len(paths) != 1 else ''} ok")


def _options(length=None, no_ambient=False, rate=None, volume=None, voice=None):
    from voiceguide.model import MAX_RATE, MIN_RATE, Voice
    from voiceguide.session import Options

    if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
        raise UsageError(f"--rate {rate}: use {MIN_RATE} to {MAX_RATE} words per minute")
    if volume is not None and not 0.0 <= volume <= 1.0:
        raise UsageError(f"--volume {volume}: use a number from 0 to 1")
    return Options(length=length, ambient=not no_ambient, voice=Voice(rate=rate, volume=volume, name=voice))


@cli.command()
@click.argument("exercise")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as one JSON object.")
@click.option("--length", callback=_duration, metavar="D", help="Stretch pauses to last D (e.g. 15m).")
@friendly
def preview(exercise, as_json, length):
    """Show the timeline of an exercise without playing it."""
    from voiceguide.session import Session
    from voiceguide.units import format_duration

    script = _load(exercise)
    with Session(script, _options(length)) as session:
        timeline = session.timeline()
    if as_json:
        click.echo(json.dumps(timeline.to_json(), ensure_ascii=False))
        return
    sr = timeline.sample_rate
    click.echo(f"{timeline.title}  ({format_duration(timeline.duration)})")
    section = None
    for event in timeline.events:
        if event.section != section:
            section = event.section
            click.echo(f"\n  [{section}]")
        what = {"say": lambda e: e.text, "pause": lambda e: "(silence)",
                "bell": lambda e: f"(bell: {e.bell})",
                "breathe": lambda e: f"(breathing: {e.breathe.cycles} cycles)",
                "walk": lambda e: f"(walking: {e.cadence:g} steps a minute)"}[event.kind](event)
        click.echo(f"  {format_duration(event.start / sr):>7}  {event.step:>3}  {what}")
    click.echo(f"\n  total {format_duration(timeline.duration)} ({timeline.duration:.2f} s)")


@cli.command()
@click.argument("exercise")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="WAV, FLAC or OGG file.")
@click.option("--no-ambient", is_flag=True, help="Voice, bells and pacer only.")
@click.option("--length", callback=_duration, metavar="D", help="Stretch pauses to last D (e.g. 15m).")
@friendly
def render(exercise, output, no_ambient, length):
    """Mix an exercise into an audio file."""
    from voiceguide.render import render as render_to
    from voiceguide.session import Session
    from voiceguide.sinks import check_target
    from voiceguide.units import format_duration

    check_target(Path(output))
    script = _load(exercise)
    with Session(script, _options(length, no_ambient)) as session:
        timeline = render_to(session, Path(output))
    click.echo(f"wrote {output} ({format_duration(timeline.duration)})", err=True)


@cli.command()
@click.argument("exercise")
@click.option("--length", callback=_duration, metavar="D", help="Stretch pauses to last D (e.g. 15m).")
@click.option("--no-ambient", is_flag=True, help="No ambient bed.")
@click.option("--device", metavar="D", help="Output device: index or part of its name.")
@click.option("--from", "start_at", metavar="SECTION", help="Start at a section (or step number).")
@click.option("--rate", type=int, metavar="WPM", help="Speaking rate, words per minute.")
@click.option("--volume", type=float, metavar="V", help="Voice volume, 0 to 1.")
@click.option("--latency", type=float, metavar="S", help="Output latency in seconds (default 0.2).")
@click.option("-v", "--verbose", is_flag=True, help="Report start-up time, latency and underruns at the end.")
@friendly
def play(exercise, length, no_ambient, device, start_at, rate, volume, latency, verbose):
    """Play an exercise. Ctrl-C fades out and stops at any time."""
    from voiceguide.player import Player
    from voiceguide.session import Session
    from voiceguide.units import format_duration

    script = _load(exercise)
    with Session(script, _options(length, no_ambient, rate, volume)) as session:
        player = Player(session, device=device, latency=latency, start_at=start_at,
                        on_event=_log_event(session.options.sample_rate))
        click.echo(f"{script.title}. Press Ctrl-C to stop at any time.", err=True)
        result = player.run()
    if result.stopped_by is None:
        click.echo(f"done ({format_duration(result.frames / session.options.sample_rate)})", err=True)
    if verbose:
        from voiceguide.player import process_start_time

        if result.first_audible is not None:
            started = process_start_time()
            click.echo(f"first sound at {result.first_audible:.3f} "
                       f"({result.first_audible - started:.3f} s after the process started)", err=True)
        click.echo(f"latency {result.latency:.3f} s, {result.underruns} underruns", err=True)
    if result.underruns:
        click.echo(f"voiceguide: {result.underruns} underruns; try --latency "
                   f"{max(0.3, result.latency * 2):.1f}", err=True)
    result.raise_if_stopped()


def _log_event(sr: int):
    from voiceguide.units import format_duration

    def log(event):
        if event.kind == "say":
            click.echo(f"{format_duration(event.start / sr):>7}  {event.text}", err=True)

    return log


@cli.command()
def about():
    """What voiceguide is and is not, and when to seek help."""
    from voiceguide.about import ABOUT_TEXT

    click.echo(ABOUT_TEXT)


@cli.command()
@friendly
def devices():
    """List audio output devices (the default marked with *)."""
    import sounddevice as sd

    default = sd.default.device[1]
    for index, dev in enumerate(sd.query_devices()):
        if dev["max_output_channels"] > 0:
            mark = "*" if index == default else " "
            click.echo(f"{mark} {index:>3}  {dev['name']}  ({dev['max_output_channels']} ch, "
                       f"{dev['default_samplerate']:g} Hz)")


@cli.command()
@friendly
def voices():
    """List speech engine voices: id, language, name."""
    from voiceguide.synth import list_voices

    for voice in list_voices():
        mark = "*" if voice.get("default") else " "
        langs = ",".join(voice.get("languages") or [])
        click.echo(f"{mark} {voice['id']:<24} {langs:<8} {voice['name']}")


def main(argv: Optional[list] = None) -> None:
    """Console-script entry point."""
    try:
        cli.main(args=argv, prog_name="voiceguide", standalone_mode=True)
    except BrokenPipeError:  # e.g. `voiceguide preview x | head`
        sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
