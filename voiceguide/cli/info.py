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

    import os

    path = config_path()
    values = effective()  # before the first line: a file that cannot be read is an error, not "not there"
    click.echo(f"config file: {path}{'' if os.path.lexists(path) else ' (not there; defaults apply)'}")
    width = max(len(s.name) for s in SETTINGS)
    for setting in SETTINGS:
        v = values[setting.name]
        shown = (setting.unset if v.value is None else
                 str(v.value).lower() if isinstance(v.value, bool) else repr(v.value))
        origin = f"{v.origin} ({setting.env})" if v.origin == "environment" else v.origin
        click.echo(f"  {setting.name:<{width}} {shown:<36} {origin:<12} {setting.help}")


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
