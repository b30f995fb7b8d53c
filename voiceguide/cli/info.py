"""What is here and how it is set up: ``about``, ``config`` and ``devices``."""

from __future__ import annotations

import click


@click.command()
def about():
    """What voiceguide is and is not, and when to seek help."""
    from voiceguide.about import ABOUT_TEXT

    click.echo(ABOUT_TEXT)


@click.command()
def config():
    """Show each setting, its value and where it came from.

    Settings come from, strongest first: a command-line option, an
    environment variable, the config file, the default. The player's
    settings are at the top of the file (VOICEGUIDE_RATE, ...); the
    station's under [station] (VOICEGUIDE_STATION_EXERCISE, ...) and
    [mqtt] (VOICEGUIDE_STATION_MQTT_PASSWORD, ...); docs/station.md has
    them all. The file is TOML, for example:

    \b
        rate = 130
        volume = 0.9
        device = "USB"
        latency = 0.3
        [station]
        exercise = "body-scan"
        button = 17
        [mqtt]
        host = "broker.home.arpa"
    """
    from voiceguide.config import PLAYER, check_file, config_path
    from voiceguide.station.settings import TABLES

    import os

    path = config_path()
    tables = (PLAYER, *TABLES)
    # before the first line: a file that cannot be read is an error, not "not there"; every problem at once
    source = check_file(tables, path)
    shown = [(table, table.effective(path, source=source)) for table in tables]
    click.echo(f"config file: {path}{'' if os.path.lexists(path) else ' (not there; defaults apply)'}")
    width = max(len(s.name) for table in tables for s in table.rows)
    for table, values in shown:
        if table.name:
            click.echo(f"[{table.name}]")
        for setting in table.rows:
            v = values[setting.name]
            origin = f"{v.origin} ({setting.env})" if v.origin == "environment" else v.origin
            click.echo(f"  {setting.name:<{width}} {setting.shown(v.value):<36} {origin:<12} {setting.help}")


@click.command()
def devices():
    """List audio output devices (the default marked with *)."""
    from voiceguide.errors import DeviceError
    from voiceguide.sinks.live import list_outputs, no_device_message

    outputs = list_outputs()
    if not outputs:
        raise DeviceError(no_device_message())
    for dev in outputs:
        mark = "*" if dev["default"] else " "
        rates = ", ".join(f"{r / 1000:g}k" for r in dev["rates"]) or "none of the usual"
        click.echo(f"{mark} {dev['index']:>3}  {dev['name']}  ({dev['channels']} ch; rates {rates})")
