"""What several commands share: option callbacks and finding an exercise.

Nothing here imports the audio stack, so every command can use it.
"""

from __future__ import annotations

from typing import Optional

import click


def duration(ctx, param, value) -> Optional[float]:
    """Click callback: ``15m``, ``90s``, ``1m30s`` or seconds, as seconds."""
    if value is None:
        return None
    from voiceguide.script.units import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def load_exercise(name: str):
    """The script for an id or a path (:class:`~voiceguide.errors.NotFoundError`, ScriptError)."""
    from voiceguide.script.catalog import resolve
    from voiceguide.script.loader import load

    return load(resolve(name))


def length_option(help_text: str = "Stretch pauses to last D (e.g. 15m)."):
    return click.option("--length", callback=duration, metavar="D", help=help_text)
