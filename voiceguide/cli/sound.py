"""Sounding an exercise: ``render`` into a file and ``play`` it live."""

from __future__ import annotations

from pathlib import Path

import click

from voiceguide.cli.common import (delay_option, length_option, load_exercise, music_option, note_record_steps,
                                   session_options, setting_option, speech_options)


@click.command()
@click.argument("exercise")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="WAV, FLAC, OGG, MP3 or Opus file (MP3 and Opus with chapters).")
@click.option("--no-ambient", is_flag=True, help="Voice, bells and pacer only.")
@length_option()
@click.option("--captions", type=click.Path(dir_okay=False), metavar="FILE.vtt",
              help="Also write WebVTT captions of every spoken step.")
@click.option("--force", is_flag=True, help="Overwrite FILE (and the captions) if they exist.")
@music_option()
@speech_options()
def render(exercise, output, no_ambient, length, captions, force, music, voice, rate, volume, ambient_level):
    """Mix an exercise into an audio file: the same mix `play` plays.

    The voice, rate, volume and ambient level come from the same places as
    for `play` (these options, VOICEGUIDE_* variables, the config file). An
    existing file is replaced only with --force. The captions never replace
    the audio file or an exercise script, with or without --force.
    """
    from voiceguide.player.music_request import check_request
    from voiceguide.player.render import check_outputs, render_exercise
    from voiceguide.script.units import format_duration

    options = session_options(dict(voice=voice, rate=rate, volume=volume, ambient_level=ambient_level),
                              length=length, ambient=not no_ambient)  # a bad setting: refused before anything
    output_path, captions_path = Path(output), Path(captions) if captions else None
    check_outputs(output_path, captions_path, force)  # before the script is read: a slip in -o is common
    script = load_exercise(exercise)
    music = Path(music) if music else None
    check_request(script, music, required=True)
    options.music = music
    timeline = render_exercise(script, options, output_path,
                               captions_path, say=lambda line: click.echo(f"voiceguide: {line}", err=True),
                               force=force)
    note_record_steps(timeline, "in the file")
    click.echo(f"wrote {output} ({format_duration(timeline.duration)})", err=True)
    if captions:
        click.echo(f"wrote {captions} ({len(timeline.says())} captions)", err=True)


@click.command()
@click.argument("exercise")
@length_option()
@click.option("--no-ambient", is_flag=True, help="No ambient bed.")
@click.option("--from", "start_at", metavar="SECTION", help="Start at a section (or a step number from preview).")
@setting_option("voice", metavar="ID")
@setting_option("rate", type=int, metavar="WPM")
@setting_option("volume", type=float, metavar="V")
@setting_option("ambient_level", type=float, metavar="DB")
@setting_option("device", metavar="D")
@setting_option("latency", type=float, metavar="S")
@click.option("--text", "text_only", is_flag=True,
              help="Print each step's words instead of speaking them (bells and bed kept).")
@click.option("-v", "--verbose", is_flag=True,
              help="Report start-up time, latency, underruns and waits for speech at the end.")
@music_option()
@delay_option()
@click.option("--voice-commands", is_flag=True,
              help='Listen for spoken commands: "guide, pause", resume, stop, next, back, louder, softer.')
@click.option("--mic", metavar="NAME|INDEX", help="The microphone for --voice-commands (default: the default input).")
def play(exercise, length, no_ambient, start_at, voice, rate, volume, ambient_level, device, latency,
         text_only, verbose, music, delay, voice_commands, mic):
    """Play an exercise. You may stop at any time.

    On a terminal: space pauses and resumes, n or the right arrow skips to
    the next step, p or the left arrow goes back, + and - change the volume,
    q quits with a fade. With --delay it waits first in silence (space starts
    at once, p pauses the count, q quits), then a soft chime. Without a
    terminal (a service, a pipe, nohup) it logs one line per step; SIGTERM
    fades out and exits 0. With --voice-commands, say "guide, pause" (a soft
    tick answers; "guide, stop" pauses and ends after 8 s unless you say
    "guide, resume").
    """
    from voiceguide.player.foreground import PlayRequest, play as play_request

    play_request(PlayRequest(
        exercise, length=length, ambient=not no_ambient, start_at=start_at, text_only=text_only,
        verbose=verbose, music=music, delay=delay, voice_commands=voice_commands, mic=mic,
        settings=dict(voice=voice, rate=rate, volume=volume, device=device, ambient_level=ambient_level,
                      latency=latency)))
