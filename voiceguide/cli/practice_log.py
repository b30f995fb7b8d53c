"""``voiceguide log``, ``cue`` and ``cues``: the practice log on the command line.

Thin: each command opens :class:`~voiceguide.practice.store.PracticeLog`,
asks it one thing and prints what :mod:`voiceguide.practice.report` makes of
it. Reading never creates the database: with no log yet, the commands say
so kindly and exit 0.
"""

from __future__ import annotations

import sys
import time

import click

from voiceguide.errors import UsageError

#: How far back ``log`` reads for "this week" (a day more than seven, for time zones).
WEEK_SECONDS = 8 * 24 * 3600


def _open(create: bool = False):
    """The log, or None if there is none yet and *create* is false."""
    import os

    from voiceguide.errors import file_error
    from voiceguide.practice.store import PracticeLog, PracticeLogError, default_path

    if not create:
        try:
            os.lstat(default_path())  # a link there is refused by PracticeLog, never followed
        except FileNotFoundError:
            return None
        except OSError as exc:  # there may be a log, behind a folder that cannot be entered
            raise PracticeLogError(str(file_error(default_path(), exc, "read the practice log",
                                                  elsewhere=""))) from None
    return PracticeLog(create=create)


def _streaks_on() -> bool:
    from voiceguide.config import effective

    return bool(effective()["streaks"].value)


def _can_draw_blocks() -> bool:
    try:
        "█▏".encode(sys.stdout.encoding or "ascii")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


@click.command("log")
@click.option("--week", is_flag=True, help="The last seven days as a small bar chart of minutes.")
@click.option("--json", "as_json", is_flag=True, help="Every session as JSON (for use elsewhere).")
@click.option("--csv", "as_csv", is_flag=True, help="Every session as CSV (for a spreadsheet).")
@click.option("-n", "--last", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many recent sessions the table shows.")
@click.option("--forget", is_flag=True, help="Delete every session, cue and recording (asks first).")
@click.option("--yes", is_flag=True, help="With --forget: do not ask (needed without a terminal).")
def log_cmd(week, as_json, as_csv, last, forget, yes):
    """Your recent sessions: when, what, how long, and how each ended.

    Kept only on this machine, readable only by you. Sessions are recorded
    by `voiceguide play` (set practice_log = false in the config to record
    nothing). Days practised are counted; set streaks = true in the config
    to also see days in a row.
    """
    if sum((week, as_json, as_csv, forget)) > 1:
        raise UsageError("choose one of --week, --json, --csv and --forget")
    if yes and not forget:
        raise UsageError("--yes goes with --forget")
    if forget:
        return _forget(yes)
    from voiceguide.practice import report

    log = _open()
    if as_json or as_csv:
        rows = log.sessions() if log else []
        click.echo(report.sessions_json(rows) if as_json else report.sessions_csv(rows), nl=as_json)
        return
    if log is None:
        click.echo("No sessions yet. They appear here after `voiceguide play`.")
        return
    with log:
        now = time.time()
        end = report.today()
        recent = log.sessions(since=now - WEEK_SECONDS)
        seconds = log.seconds_by_day(since=None if _streaks_on() else now - WEEK_SECONDS)
        cue_days = log.cue_days(since=None if _streaks_on() else now - WEEK_SECONDS)
        if week:
            lines = report.week_chart(recent, end, unicode=_can_draw_blocks())
        else:
            lines = report.table(log.sessions(limit=last)) or ["No sessions yet."]
        days = report.practised_days(seconds, cue_days)
        lines += [""] + report.summary(days, end, show_streak=_streaks_on())
    click.echo("\n".join(lines).rstrip())


def _forget(yes: bool) -> None:
    from voiceguide.practice.store import default_path

    log = _open()
    if log is None:
        click.echo(f"There is no practice log to forget ({default_path()}).")
        return
    with log:
        sessions, cues, recordings = log.count_sessions(), len(log.cues()), log.count_recordings()
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError("--forget deletes every session, cue and recording: add --yes to confirm "
                                 "(there is no terminal to ask on)")
            spoken = f" ({_count(recordings, 'recording')})" if recordings else ""
            question = (f"Delete all {_count(sessions, 'session')} and {_count(cues, 'cue')}{spoken} "
                        f"from the practice log? This cannot be undone.")
            if not click.confirm(question, default=False):
                click.echo("Nothing was deleted.")
                return
        counts = log.forget()
    spoken = f" and {_count(counts['recordings'], 'recording')}" if counts["recordings"] else ""
    click.echo(f"Deleted {_count(counts['sessions'], 'session')} and {_count(counts['cues'], 'cue')}{spoken}.")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


#: The most ``cue`` reads from a pipe or file: a cue is a few words, and a pipe may not end.
CUE_INPUT_LIMIT = 4096


def _cue_from_input() -> str:
    """The cue piped in (``echo text | voiceguide cue``): at most :data:`CUE_INPUT_LIMIT` bytes, lines joined.

    Read once, not line by line: a cue written over two lines is still one
    cue. More than the limit is refused rather than cut, since it is
    probably a file given by mistake (``< notes.txt``, ``< /dev/zero``).
    Bytes that are not UTF-8 become U+FFFD instead of an error.
    """
    stream = sys.stdin.buffer
    data = b""
    while len(data) <= CUE_INPUT_LIMIT:
        chunk = stream.read(CUE_INPUT_LIMIT + 1 - len(data))
        if not chunk:
            break
        data += chunk
    if len(data) > CUE_INPUT_LIMIT:
        raise UsageError(f"standard input holds more than {CUE_INPUT_LIMIT} bytes; a cue is a few words, "
                         f'e.g. echo "a flicker of warmth at lunch" | voiceguide cue')
    return " ".join(data.decode("utf-8", "replace").split())


@click.command("cue")
@click.argument("words", nargs=-1)
def cue_cmd(words):
    """Note one small emotional cue from today.

    For example: voiceguide cue "a pang of envy when the parcel came".
    Without words, on a terminal, it asks for them; from a pipe, it reads
    them (echo "warmth at lunch" | voiceguide cue). Small is good.
    """
    text = " ".join(words).strip()
    if not text and not sys.stdin.isatty():
        text = _cue_from_input()
        if not text:
            raise UsageError('give the cue as words, e.g. voiceguide cue "a flicker of warmth at lunch"')
    if not text:
        text = click.prompt("One small thing you felt today (Enter on its own to skip)", default="",
                            show_default=False).strip()
        if not text:
            click.echo("Nothing noted, and that is fine.")
            return
    with _open(create=True) as log:
        cue = log.add_cue(text)
    from voiceguide.visible import visible

    click.echo(f"Noted for {cue.day}: {visible(cue.text)}")


@click.command("cues")
@click.option("--json", "as_json", is_flag=True, help="Every cue as JSON.")
def cues_cmd(as_json):
    """The cues you have noted, by day."""
    from voiceguide.practice import report

    log = _open()
    cues = []
    if log is not None:
        with log:
            cues = log.cues()
    if as_json:
        click.echo(report.cues_json(cues))
    elif not cues:
        click.echo('No cues yet. `voiceguide cue "..."` notes one.')
    else:
        click.echo("\n".join(report.cues_by_day(cues)))

