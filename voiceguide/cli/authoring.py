"""Writing exercises: ``validate``, ``schema`` and ``new``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from voiceguide.errors import OutputExists


@click.command()
@click.argument("exercises", nargs=-1, required=True, metavar="ID|PATH...")
@click.option("--lint", is_flag=True,
              help="Also give advice that is not an error (long bare silences, brisk speech, ...).")
def validate(exercises, lint):
    """Check exercises (ids or files); print file:line:col: message for each problem.

    An id (`midday-pause`) is the file in your scripts folder or a
    built-in, as for `play`; a path is that file.

    Warnings (file:line:col: warning: ..., such as control characters left
    out of a text) and, with --lint, advice (file:line:col: advice: ...)
    never make the exit code non-zero.
    """
    from voiceguide.cli.validate_cache import Results
    from voiceguide.errors import EXIT_RUNTIME, EXIT_USAGE, FileAccessError, NotFoundError, ScriptError, VoiceguideError
    from voiceguide.script.catalog import resolve

    invalid = runtime = False
    advised = 0
    # What validate printed for a built-in or your own script before, while nothing it reads changed
    # (voiceguide/cli/validate_cache.py): the loader and its grammar are then not even imported.
    kept = None if lint else Results.load()
    for name in exercises:
        path = name
        try:
            path = resolve(name)
            answer = kept.answer(name, path) if kept is not None else None
            if answer is not None:
                invalid = invalid or answer["invalid"]
                for line in answer["lines"]:
                    click.echo(line, err=True)
                continue
            lines: list = []
            try:
                from voiceguide.script.loader import load

                script = load(path)
            except ScriptError as exc:
                lines = list(exc.lines())
                if kept is not None:
                    kept.keep(name, path, lines, True)
                raise
            for warning in script.warnings:  # valid, but worth fixing: exit code stays 0
                lines.append(f"{warning.file}:{warning.line}:{warning.col}: warning: {warning.message}")
                click.echo(lines[-1], err=True)
            if kept is not None:
                kept.keep(name, path, lines, False)
            if lint:
                from voiceguide.script.lint import lint as advice_for

                for advice in advice_for(script):
                    advised += 1
                    click.echo(str(advice))
        except ScriptError as exc:
            invalid = True
            for line in exc.lines():
                click.echo(line, err=True)
        except (NotFoundError, FileAccessError) as exc:  # the message names the file or folder itself
            if isinstance(exc, FileAccessError):
                runtime = True
            else:
                invalid = True
            click.echo(f"voiceguide: {exc}", err=True)
        except VoiceguideError as exc:
            invalid = True
            click.echo(f"{path}: {exc}", err=True)
    if kept is not None:
        kept.save()
    if invalid or runtime:  # an invalid script is the person's to fix (2); an unreadable folder is not (1)
        raise click.exceptions.Exit(EXIT_USAGE if invalid else EXIT_RUNTIME)
    note = f", {advised} piece{'s' if advised != 1 else ''} of advice" if lint else ""
    click.echo(f"{len(exercises)} file{'s' if len(exercises) != 1 else ''} ok{note}")


@click.command()
def schema():
    """Print the JSON Schema (draft 2020-12) of the script format, for editors."""
    from voiceguide.script.schema import dumps

    click.echo(dumps(), nl=False)


@click.command()
@click.argument("name", metavar="NAME|PATH")
@click.option("--from", "template", metavar="ID", help="Start from a copy of this exercise (id or path).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of your scripts folder.")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
def new(name, template, output, force):
    """Write a commented starting script NAME into your scripts folder.

    NAME is the new exercise's id (`midday-pause`: it is then played as
    `voiceguide play midday-pause`), or a path with a folder in it
    (`~/my-practice.yaml`, `./evening.yaml`) to write the file there. A
    name that a built-in exercise has makes yours replace that built-in;
    `new` says so when it writes it.
    """
    from voiceguide.errors import ScriptError
    from voiceguide.script import scaffold
    from voiceguide.script.loader import load_text

    name, given = scaffold.split_name(name, Path(output) if output else None)
    target = scaffold.target_for(name, given)
    if os.path.lexists(target) and not force:  # (a folder that cannot be read: write_new says so)
        raise OutputExists(target)
    text = scaffold.copy_of(template, name, target) if template else scaffold.starting_script(name, target)
    try:
        load_text(text, str(target), target.parent)
    except ScriptError as exc:  # e.g. a copied sound: path that is not next to the copy
        for line in exc.lines():
            click.echo(f"voiceguide: warning: {line}", err=True)
    scaffold.write_new(target, text, force=force)
    warning = scaffold.provide_schema(target)  # the file its first line names, for editors
    if warning:
        click.echo(f"voiceguide: warning: {warning}", err=True)
    click.echo(str(target))
    shadowed = scaffold.shadowed_builtin(target)
    if shadowed:
        click.echo(f"note: {shadowed} is also a built-in exercise: yours now replaces it in list, play "
                   f"and the station (another name keeps both)", err=True)
    click.echo(f"wrote {target}; edit it, then `voiceguide validate {scaffold.shown_name(target)}`", err=True)
