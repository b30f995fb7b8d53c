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
from voiceguide.errors import EXIT_USAGE, DeviceError, ScriptError, UsageError, VoiceguideError

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
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug: say so in one line, keep the traceback for --debug
            if _debug():
                raise
            click.echo(f"voiceguide: internal error ({type(exc).__name__}: {exc}); "
                       f"run again with --debug for the details, and please report it", err=True)
            sys.exit(1)

    return wrapper


def _duration(ctx, param, value):
    if value is None:
        return None
    from voiceguide.script.units import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _load(name: str):
    from voiceguide.script.catalog import resolve
    from voiceguide.script.loader import load

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
    from voiceguide.script.catalog import entries
    from voiceguide.errors import ScriptError
    from voiceguide.script.loader import load
    from voiceguide.timeline import estimate
    from voiceguide.script.units import format_duration

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
@click.option("--lint", is_flag=True,
              help="Also give advice that is not an error (long bare silences, brisk speech, ...).")
@friendly
def validate(paths, lint):
    """Check exercise files; print file:line:col: message for each problem.

    With --lint, valid files also get advice as file:line:col: advice: ...
    lines; advice alone never makes the exit code non-zero.
    """
    from voiceguide.errors import ScriptError
    from voiceguide.script.loader import load

    failed = False
    advised = 0
    for path in paths:
        try:
            script = load(Path(path))
            if lint:
                from voiceguide.script.lint import lint as advice_for

                for advice in advice_for(script):
                    advised += 1
                    click.echo(str(advice))
        except ScriptError as exc:
            failed = True
            for line in exc.lines():
                click.echo(line, err=True)
        except VoiceguideError as exc:
            failed = True
            click.echo(f"{path}: {exc}", err=True)
    if failed:
        sys.exit(EXIT_USAGE)
    note = f", {advised} piece{'s' if advised != 1 else ''} of advice" if lint else ""
    click.echo(f"{len(paths)} file{'s' if len(paths) != 1 else ''} ok{note}")


@cli.command()
@friendly
def schema():
    """Print the JSON Schema (draft 2020-12) of the script format, for editors."""
    from voiceguide.script.schema import dumps

    click.echo(dumps(), nl=False)


@cli.command()
@click.argument("name")
@click.option("--from", "source", metavar="ID", help="Start from a copy of this exercise (id or path).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of your scripts folder.")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@friendly
def new(name, source, output, force):
    """Write a commented starting script NAME into your scripts folder."""
    from voiceguide.script import scaffold
    from voiceguide.errors import ScriptError
    from voiceguide.script.loader import load_text

    scaffold.check_name(name)
    target = scaffold.target_for(name, Path(output) if output else None)
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; choose another name, or add --force to overwrite it")
    text = scaffold.copy_of(source, name, target) if source else scaffold.starting_script(name, target)
    try:
        load_text(text, str(target), target.parent)
    except ScriptError as exc:  # e.g. a copied sound: path that is not next to the copy
        for line in exc.lines():
            click.echo(f"voiceguide: warning: {line}", err=True)
    scaffold.write_new(target, text, force=force)
    click.echo(str(target))
    click.echo(f"wrote {target}; edit it, then `voiceguide validate {target}`", err=True)


def _options(length=None, no_ambient=False, rate=None, volume=None, voice=None):
    from voiceguide.script.model import MAX_RATE, MIN_RATE, Voice
    from voiceguide.player.session import Options

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
    from voiceguide.player.session import Session
    from voiceguide.script.units import format_duration

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
        where = f"  ({event.source})" if event.source.file != str(script.path) else ""  # included
        click.echo(f"  {format_duration(event.start / sr):>7}  {event.step:>3}  {what}{where}")
    click.echo(f"\n  total {format_duration(timeline.duration)} ({timeline.duration:.2f} s)")


@cli.command()
@click.argument("exercise")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="WAV, FLAC or OGG file.")
@click.option("--no-ambient", is_flag=True, help="Voice, bells and pacer only.")
@click.option("--length", callback=_duration, metavar="D", help="Stretch pauses to last D (e.g. 15m).")
@click.option("--captions", type=click.Path(dir_okay=False), metavar="FILE.vtt",
              help="Also write WebVTT captions of every spoken step.")
@friendly
def render(exercise, output, no_ambient, length, captions):
    """Mix an exercise into an audio file."""
    from voiceguide.player.render import render as render_to
    from voiceguide.player.session import Session
    from voiceguide.sinks.file import check_target
    from voiceguide.script.units import format_duration

    check_target(Path(output))
    if captions and not Path(captions).resolve().parent.is_dir():
        raise UsageError(f"--captions {captions}: the folder does not exist")
    script = _load(exercise)
    with Session(script, _options(length, no_ambient)) as session:
        timeline = render_to(session, Path(output))
    click.echo(f"wrote {output} ({format_duration(timeline.duration)})", err=True)
    if captions:
        from voiceguide.sinks.captions import write_vtt

        write_vtt(timeline, Path(captions))
        click.echo(f"wrote {captions} ({len(timeline.says())} captions)", err=True)


@cli.command()
@click.argument("exercise")
@click.option("--length", callback=_duration, metavar="D", help="Stretch pauses to last D (e.g. 15m).")
@click.option("--no-ambient", is_flag=True, help="No ambient bed.")
@click.option("--from", "start_at", metavar="SECTION", help="Start at a section (or a step number from preview).")
@click.option("--voice", metavar="ID", help="Engine voice id (see `voiceguide voices`).")
@click.option("--rate", type=int, metavar="WPM", help="Speaking rate, words per minute (80-300).")
@click.option("--volume", type=float, metavar="V", help="Voice volume, 0 to 1.")
@click.option("--ambient-level", type=float, metavar="DB", help="dB added to every ambient layer (e.g. -6).")
@click.option("--device", metavar="D", help="Output device: index or part of its name (see `voiceguide devices`).")
@click.option("--latency", type=float, metavar="S", help="Output buffer in seconds (default 0.2; more on a Pi).")
@click.option("--text", "text_only", is_flag=True,
              help="Print each step's words instead of speaking them (bells and bed kept).")
@click.option("-v", "--verbose", is_flag=True, help="Report start-up time, latency and underruns at the end.")
@friendly
def play(exercise, length, no_ambient, start_at, voice, rate, volume, ambient_level, device, latency,
         text_only, verbose):
    """Play an exercise. You may stop at any time.

    On a terminal: space pauses and resumes, n or the right arrow skips to
    the next step, p or the left arrow goes back, + and - change the volume,
    q quits with a fade. Without a terminal (a service, a pipe, nohup) it
    logs one line per step; SIGTERM fades out and exits 0.
    """
    import os
    import threading

    # Mixing is one thread by design: OpenBLAS's idle worker threads would
    # only cost start-up time and wake-ups (set before numpy is imported).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # PortAudio's start-up (probing ALSA) runs in C without the GIL: let it
    # overlap with loading the script and numpy instead of adding to them.
    threading.Thread(target=__import__, args=("sounddevice",), daemon=True).start()
    from voiceguide.config import effective
    from voiceguide.player.keys import KeyReader
    from voiceguide.player.player import Player
    from voiceguide.player.session import Session
    from voiceguide.player.status import LogStatus, TerminalStatus
    from voiceguide.script.units import format_duration

    settings = effective(dict(voice=voice, rate=rate, volume=volume, device=device,
                              ambient_level=ambient_level, latency=latency))
    value = {name: v.value for name, v in settings.items()}
    options = _options(length, no_ambient, value["rate"], value["volume"], value["voice"])
    options.ambient_db = float(value["ambient_level"] or 0.0)
    options.text_only = text_only
    script = _load(exercise)
    interactive = KeyReader.available() and sys.stderr.isatty()
    text_stream = sys.stdout if text_only else None
    status = TerminalStatus(text_stream=text_stream) if interactive else LogStatus(text_stream=text_stream)
    with Session(script, options) as session:
        session.prefetch(background=True)  # synthesis starts now, while the device opens
        player = Player(session, device=value["device"], latency=value["latency"], start_at=start_at,
                        status=status, headless=not interactive)
        status.start(script.title, None)
        if interactive:
            with KeyReader(player.handle_key):
                result = player.run()
        else:
            result = player.run()
    sr = session.options.sample_rate
    if result.quit:
        status.message("stopped; take your time")
    elif result.stopped_by is None:
        status.message(f"done ({format_duration(result.frames / sr)}); take your time")
    if verbose:
        from voiceguide.player.player import process_start_time

        if result.first_audible is not None:
            started = process_start_time()
            click.echo(f"first sound at {result.first_audible:.3f} "
                       f"({result.first_audible - started:.3f} s after the process started)", err=True)
        click.echo(f"latency {result.latency:.3f} s, {result.underruns} underruns", err=True)
    if result.underruns:
        click.echo(f"voiceguide: {result.underruns} underruns (gaps in the sound); try --latency "
                   f"{max(0.3, result.latency * 2):.1f}", err=True)
    result.raise_if_stopped()


@cli.command()
@friendly
def config():
    """Show each player setting, its value and where it came from.

    Settings come from, strongest first: a command-line option, an
    environment variable (VOICEGUIDE_RATE, ...), the config file, the
    default. The file is TOML, for example:

    \b
        rate = 130
        volume = 0.9
        device = "USB"
        ambient_level = -3
        latency = 0.3
        voice = "gmw/en"
    """
    from voiceguide.config import SETTINGS, config_path, effective

    path = config_path()
    click.echo(f"config file: {path}{'' if path.exists() else ' (not there; defaults apply)'}")
    values = effective()
    for setting in SETTINGS:
        v = values[setting.name]
        unset = {"voice": "(engine's voice for the language)", "rate": "(the script's, else 140)",
                 "volume": "(the script's, else 0.9)", "device": "(the system default)"}
        shown = unset.get(setting.name, "-") if v.value is None else repr(v.value)
        origin = f"{v.origin} ({setting.env})" if v.origin == "environment" else v.origin
        click.echo(f"  {setting.name:<14} {shown:<36} {origin:<12} {setting.help}")


@cli.command()
@friendly
def about():
    """What voiceguide is and is not, and when to seek help."""
    from voiceguide.about import ABOUT_TEXT

    click.echo(ABOUT_TEXT)


@cli.command()
@friendly
def devices():
    """List audio output devices (the default marked with *)."""
    from voiceguide.sinks.live import list_outputs, no_device_message

    outputs = list_outputs()
    if not outputs:
        raise DeviceError(no_device_message())
    for dev in outputs:
        mark = "*" if dev["default"] else " "
        rates = ", ".join(f"{r / 1000:g}k" for r in dev["rates"]) or "none of the usual"
        click.echo(f"{mark} {dev['index']:>3}  {dev['name']}  ({dev['channels']} ch; rates {rates})")


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
