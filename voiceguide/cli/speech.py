"""The speech engine: ``voices``."""

from __future__ import annotations

import click


@click.command()
def voices():
    """List speech engine voices: id, language, name."""
    from voiceguide.synth import list_voices

    for voice in list_voices():
        mark = "*" if voice.get("default") else " "
        langs = ",".join(voice.get("languages") or [])
        click.echo(f"{mark} {voice['id']:<24} {langs:<8} {voice['name']}")
