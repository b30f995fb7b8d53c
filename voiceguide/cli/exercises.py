"""Browsing exercises: ``list`` and ``preview``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from voiceguide.cli.common import (length_option, load_exercise, music_option, note_record_steps, session_options,
                                   speech_options)


@click.command("list")
def list_cmd():
    """List the exercises: id, length, title and summary.

    The length is the real one once the exercise's speech has been made (by
    a play, a preview or a render), with the voice and rate `play` would
    use; until then it is estimated from the words and marked ~.
    """
    from voiceguide.cli.list_cache import Rows
    from voiceguide.script.catalog import entries
    from voiceguide.visible import visible

    found = entries()  # the scripts folders first: their problems are what list is about
    kept = Rows.load()  # rows made by an earlier list, used while nothing they come from changed
    lengths = None
    rows = []
    try:
        for entry in found:
            row = kept.row(entry.path)
            if row is None:
                if lengths is None:
                    lengths = _Lengths(session_options({})).__enter__()
                start = len(lengths.lookup.consulted)
                row = _row(entry.path, lengths)
                kept.keep(entry.path, row, lengths.lookup.consulted[start:])
            if row.get("part"):  # written to be included (an opening, a closing), not an exercise
                continue
            if "invalid" in row:
                title, length, summary = f"(invalid: {row['invalid']})", "-", None
            else:
                title, length, summary = row["title"], row["length"], row["summary"]
            mark = " (yours, shadows the built-in)" if entry.shadows_builtin else (
                "" if entry.builtin else " (yours)")
            # An id is a file name: a newline or an escape sequence in it is shown, never acted on.
            rows.append((visible(entry.id), visible(title + mark + (f" \N{EM DASH} {summary}" if summary else "")),
                         length))
    finally:
        if lengths is not None:
            lengths.__exit__(None, None, None)
    kept.save()
    if not rows:
        click.echo("no exercises found")
        return
    width = max(len(r[0]) for r in rows)
    lwidth = max(len(r[2]) for r in rows)
    columns = _terminal_columns()
    for ident, title, length in rows:
        line = f"{ident:<{width}}  {length:>{lwidth}}  {title}"
        if columns and len(line) > columns:  # on a terminal, one row per exercise; a pipe gets it whole
            line = line[:columns - 1] + "\N{HORIZONTAL ELLIPSIS}"
        click.echo(line)


def _row(path, lengths) -> dict:
    """What ``list`` shows of the script at *path*: its title, summary and length, that it is a part,
    or why it is invalid (:mod:`voiceguide.cli.list_cache` keeps it for the next run)."""
    from voiceguide.errors import ScriptError
    from voiceguide.script.loader import load

    try:
        script = load(path)
        if script.part:
            return {"part": True}
        return {"title": script.title, "summary": script.summary, "length": lengths.of(script)}
    except ScriptError as exc:
        return {"invalid": exc.problems[0].message}


class _Lengths:
    """An exercise's length for ``list``: real when its speech is all cached, else ``~`` an estimate.

    The cache's entry headers are read through one
    :class:`~voiceguide.synth.lookup.CacheLookup` (no worker, no numpy).
    Whatever stops that (no engine, an unknown voice) leaves the estimate.
    """

    def __init__(self, options):
        self.options = options
        self.lookup = None

    def __enter__(self):
        from voiceguide.synth.lookup import CacheLookup

        self.lookup = CacheLookup(self.options.sample_rate)
        return self

    def __exit__(self, *exc):
        pass

    def of(self, script) -> str:
        """The length as every surface shows it (:func:`voiceguide.player.lengths.exercise_length`)."""
        from voiceguide.player.lengths import exercise_length

        return exercise_length(script, self.options, self.lookup).text()


def _terminal_columns():
    """The width of the terminal stdout is, or None when it is not a terminal."""
    import os
    import shutil
    import sys

    try:
        if not os.isatty(sys.stdout.fileno()):
            return None
    except (AttributeError, OSError, ValueError):
        return None
    return max(40, shutil.get_terminal_size((100, 24)).columns - 1)


@click.command()
@click.argument("exercise")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as one JSON object.")
@length_option()
@music_option()
@speech_options(ambient_level=False)
def preview(exercise, as_json, length, music, voice, rate, volume):
    """Show the timeline of an exercise without playing it.

    The clips are synthesised (and cached) with the voice, rate and volume
    `play` would use: these options, VOICEGUIDE_* variables, the config file.
    """
    from voiceguide.player.session import Session

    options = session_options(dict(voice=voice, rate=rate, volume=volume), length=length)
    script = load_exercise(exercise)
    from voiceguide.player.music_request import check_request, music_steps

    music = Path(music) if music else None
    check_request(script, music, required=False)
    options.music = music
    with Session(script, options) as session:
        timeline = session.timeline()
        document = timeline.to_json(voice_of=session.voice_id) if as_json else None
    note_record_steps(timeline, "in the preview")
    if music is None and music_steps(script):
        click.echo("voiceguide: this exercise plays a piece you choose (--music FILE); the preview holds "
                   "its longest length for it", err=True)
    if as_json:
        click.echo(json.dumps(document, ensure_ascii=False))
        return
    from voiceguide.visible import visible

    for line in preview_lines(timeline, script):
        click.echo(visible(line))  # a file:line source names a file, whatever its name holds


def preview_lines(timeline, script):
    """The text ``preview`` prints: when each clip, bell or silence begins, its step and file:line.

    A step's number is what ``play --from`` takes; its ``file:line`` is
    where it is written, relative to the exercise's folder (an included
    step from elsewhere, such as a built-in part, shows its file name), so
    the lines stay short and can be found in an editor.
    """
    from pathlib import Path

    from voiceguide.player.status_line import describe
    from voiceguide.script.units import format_duration

    sr = timeline.sample_rate
    folder = Path(script.path).resolve().parent if script.path else None
    rows = [(event.section, format_duration(event.start / sr), str(event.step), _where(event.source, folder),
             describe(event)) for event in timeline.events]
    width = max([len("file:line")] + [len(row[3]) for row in rows])
    yield f"{timeline.title}  ({format_duration(timeline.duration)})"
    yield ""
    yield f"  {'at':>7}  {'step':>4}  {'file:line':<{width}}  what is heard"
    section = None
    for event_section, at, step, where, what in rows:
        if event_section != section:
            section = event_section
            yield f"\n  [{section}]"
        yield f"  {at:>7}  {step:>4}  {where:<{width}}  {what}"
    yield f"\n  total {format_duration(timeline.duration)} ({timeline.duration:.2f} s)"


def _where(source, folder) -> str:
    """``breathing.yaml:14``; ``parts/opening.yaml:7`` for a file under *folder*; else the file's name."""
    from pathlib import Path

    path = Path(source.file)
    shown = path.name
    if folder is not None:
        try:
            shown = str(path.resolve().relative_to(folder))
        except (ValueError, OSError):
            pass
    return f"{shown}:{source.line}"
