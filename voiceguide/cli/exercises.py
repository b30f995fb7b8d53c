"""Browsing exercises: ``list`` and ``preview``."""

from __future__ import annotations

import json

import click

from voiceguide.cli.common import length_option, load_exercise, note_record_steps


@click.command("list")
def list_cmd():
    """List the exercises: id, title and approximate length."""
    from voiceguide.errors import ScriptError
    from voiceguide.script.catalog import entries
    from voiceguide.script.loader import load
    from voiceguide.script.units import format_duration
    from voiceguide.timeline import estimate

    rows = []
    for entry in entries():
        try:
            script = load(entry.path)
            if script.part:  # written to be included (an opening, a closing), not an exercise
                continue
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


@click.command()
@click.argument("exercise")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as one JSON object.")
@length_option()
def preview(exercise, as_json, length):
    """Show the timeline of an exercise without playing it."""
    from voiceguide.player.session import Options, Session
    from voiceguide.player.status import describe
    from voiceguide.script.units import format_duration

    script = load_exercise(exercise)
    with Session(script, Options(length=length)) as session:
        timeline = session.timeline()
    note_record_steps(timeline, "in the preview")
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
        where = f"  ({event.source})" if event.source.file != str(script.path) else ""  # included
        click.echo(f"  {format_duration(event.start / sr):>7}  {event.step:>3}  {describe(event)}{where}")
    click.echo(f"\n  total {format_duration(timeline.duration)} ({timeline.duration:.2f} s)")
