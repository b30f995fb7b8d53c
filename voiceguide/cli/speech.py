"""The speech engine: ``voices``."""

from __future__ import annotations

import click


@click.command()
def voices():
    """List speech engine voices: id, language, name (the default marked *).

    Give an id to --voice or to `voice` in the config file or a script.
    """
    from voiceguide.synth import list_voices

    rows = [("*" if voice.get("default") else " ", voice["id"], ",".join(voice.get("languages") or []) or "-",
             voice["name"]) for voice in list_voices()]
    rows.sort(key=lambda row: row[1])
    width = max([len("ID")] + [len(row[1]) for row in rows])
    lwidth = max([len("LANGUAGE")] + [len(row[2]) for row in rows])
    click.echo(f"  {'ID':<{width}}  {'LANGUAGE':<{lwidth}}  NAME")
    for mark, ident, langs, name in rows:
        click.echo(f"{mark} {ident:<{width}}  {langs:<{lwidth}}  {name}")
