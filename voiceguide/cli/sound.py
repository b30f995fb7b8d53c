"""Sounding an exercise: ``render`` into a file and ``play`` it live."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from voiceguide.cli.common import duration, load_exercise
from voiceguide.errors import UsageError


def _options(length=None, no_ambient=False, rate=None, volume=None, voice=None):
    from voiceguide.script.model import MAX_RATE, MIN_RATE, Voice
    from voiceguide.player.session import Options

    if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
        raise UsageError(f"--rate {rate}: use {MIN_RATE} to {MAX_RATE} words per minute")
    if volume is not None and not 0.0 <= volume <= 1.0:
        raise UsageError(f"--volume {volume}: use a number from 0 to 1")
    return Options(length=length, ambient=not no_ambient, voice=Voice(rate=rate, volume=volume, name=voice))



@click.command()
@click.argument("exercise")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="WAV, FLAC or OGG file.")
@click.option("--no-ambient", is_flag=True, help="Voice, bells and pacer only.")
@click.option("--length", callback=duration, metavar="D", help="Stretch pauses to last D (e.g. 15m).")
@click.option("--captions", type=click.Path(dir_okay=False), metavar="FILE.vtt",
              help="Also write WebVTT captions of every spoken step.")
def render(exercise, output, no_ambient, length, captions):
    """Mix an exercise into an audio file."""
    from voiceguide.player.render import render as render_to
    from voiceguide.player.session import Session
    from voiceguide.sinks.file import check_target
    from voiceguide.script.units import format_duration

    check_target(Path(output))
    if captions and not Path(captions).resolve().parent.is_dir():
        raise UsageError(f"--captions {captions}: the folder does not exist")
    script = load_exercise(exercise)
    with Session(script, _options(length, no_ambient)) as session:
        timeline = render_to(session, Path(output))
    click.echo(f"wrote {output} ({format_duration(timeline.duration)})", err=True)
    if captions:
        from voiceguide.sinks.captions import write_vtt

        write_vtt(timeline, Path(captions))
        click.echo(f"wrote {captions} ({len(timeline.says())} captions)", err=True)


@click.command()
@click.argument("exercise")
@click.option("--length", callback=duration, metavar="D", help="Stretch pauses to last D (e.g. 15m).")
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
    script = load_exercise(exercise)
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
