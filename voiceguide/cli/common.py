"""What several commands share: option callbacks and finding an exercise.

Nothing here imports the audio stack, so every command can use it.
"""

from __future__ import annotations

from typing import Any, Optional

import click


def duration(ctx, param, value) -> Optional[float]:
    """Click callback: ``15m``, ``90s``, ``1m30s`` or seconds, as seconds."""
    if value is None:
        return None
    from voiceguide.script.units import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    _note_seconds(param, value, seconds)
    return seconds


def delay(ctx, param, value) -> Optional[float]:
    """Click callback for ``--delay``: ``30s``, ``2m`` or seconds (:func:`voiceguide.player.countdown.parse_delay`)."""
    if value is None:
        return None
    from voiceguide.errors import UsageError
    from voiceguide.player.countdown import parse_delay

    try:
        seconds = parse_delay(value, param.opts[0])
    except UsageError as exc:
        raise click.BadParameter(str(exc).removeprefix(f"{param.opts[0]}: ")) from None
    _note_seconds(param, value, seconds)
    return seconds


def delay_option():
    return click.option("--delay", callback=delay, metavar="D",
                        help="Wait D first (e.g. 30s, 2m): time to settle; then a chime and the session.")


def _note_seconds(param, value: str, seconds: float) -> None:
    """``--length 15``: fifteen minutes were likely meant; say what a bare number means."""
    if _bare_number(value) and 0 < seconds < 60:
        click.echo(f"voiceguide: note: {param.opts[0]} {value} means {value} seconds; "
                   f"for minutes write {value}m", err=True)


def _bare_number(text: str) -> bool:
    try:
        float(str(text).strip())
    except ValueError:
        return False
    return True


def load_exercise(name: str):
    """The script for an id or a path (:class:`~voiceguide.errors.NotFoundError`, ScriptError)."""
    from voiceguide.script.catalog import resolve
    from voiceguide.script.loader import load

    return load(resolve(name))


def length_option(help_text: str = "Stretch pauses to last D (e.g. 15m)."):
    return click.option("--length", callback=duration, metavar="D", help=help_text)


def setting_option(name: str, type: Any = None, metavar: Optional[str] = None):
    """A ``play`` option for the config setting *name*: its flag and help come from :mod:`voiceguide.config`.

    The value is checked there too (the same check as for the file and the
    environment), not by Click.
    """
    from voiceguide.config import BY_NAME

    setting = BY_NAME[name]
    text = setting.help[0].upper() + setting.help[1:] + f" (also {setting.env} or the config file)."
    return click.option(setting.option, type=type, metavar=metavar, help=text)


def note_record_steps(timeline, doing: str) -> None:
    """One line on stderr per event that records the listener (a ``record`` step): only ``play`` records."""
    from voiceguide import kinds

    for event in timeline.events:
        seconds = kinds.get(event.kind).capture_seconds(event)
        if seconds is not None:
            click.echo(f"voiceguide: step {event.step} ({event.source}) records the listener's answer "
                       f"only in `play`; {doing} it is {seconds:g} s of quiet", err=True)


def music_option():
    # a plain string: player.music_request.refuse_unreadable says in one line what a folder, a FIFO or a device is
    return click.option("--music", metavar="FILE", type=click.Path(),
                        help="Your own piece of music (WAV, FLAC, OGG) for an exercise with a music step.")


def session_options(settings: dict, **fields):
    """Session options from the settings of every origin: *settings* are a command's values of
    ``voice``, ``rate``, ``volume`` and ``ambient_level`` (None: not given), then ``VOICEGUIDE_*``,
    then config.toml. The same for ``play``, ``render``, ``preview`` and ``list``.
    """
    from voiceguide.config import effective
    from voiceguide.player.session import Options

    return Options.from_settings(effective(settings), **fields)


def speech_options(ambient_level: bool = True):
    """``--voice``, ``--rate``, ``--volume`` (and ``--ambient-level``) as ``play`` has them."""
    def apply(command):
        options = [setting_option("voice", metavar="ID"), setting_option("rate", type=int, metavar="WPM"),
                   setting_option("volume", type=float, metavar="V")]
        if ambient_level:
            options.append(setting_option("ambient_level", type=float, metavar="DB"))
        for option in reversed(options):
            command = option(command)
        return command
    return apply
