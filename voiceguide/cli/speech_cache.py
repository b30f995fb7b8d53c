"""The speech cache: ``cache`` shows it, ``cache --clear`` empties it."""

from __future__ import annotations

import click


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _day(t) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.localtime(t))


@click.command("cache")
@click.option("--clear", is_flag=True, help="Remove every cached clip and prepared voice model "
              "(they are made again when needed).")
def cache_cmd(clear):
    """Show the speech cache (folder, clips, size, limits, prepared voice models), or clear it.

    Spoken clips are kept so that a session starts at once the next time.
    The cache keeps at most speech_cache_mb megabytes (least recently used
    clips go first) and drops clips unused for speech_cache_days days; both
    are settings (see `voiceguide config`). A natural (Piper) voice also
    keeps its model prepared for this machine in the cache's models folder
    (about 63 MB a voice), so that it loads in a fraction of a second; the
    limits do not apply to those, and --clear removes them too (the next
    session prepares the model again, about a second). Clearing is always
    safe: a session that is playing keeps the clips and model it has.
    """
    from voiceguide.paths import speech_cache_dir
    from voiceguide.synth.cachesize import DAY, Limits, clear as clear_folder, usage

    folder = speech_cache_dir()
    if clear:
        removed = clear_folder(folder)
        click.echo(f"removed {removed.files} files ({_size(removed.bytes)}) from {folder}")
        return
    limits = Limits.from_config(strict=True)
    used = usage(folder)
    click.echo(f"speech cache: {folder}{'' if folder.is_dir() else ' (not there yet)'}")
    click.echo(f"  {used.clips} clips, {_size(used.bytes)}"
               + (f", and {_size(used.other_bytes)} left by older versions or interrupted writes"
                  " (removed after the next session that speaks)" if used.other_bytes else ""))
    click.echo(f"  limits: {limits.max_bytes // (1024 * 1024)} MB (least recently used clips go first); "
               f"clips unused for {limits.max_age_s / DAY:g} days are removed")
    if used.clips:
        click.echo(f"  least recently used {_day(used.oldest_use)}, most recently {_day(used.newest_use)}")
    if used.models or used.model_temp_bytes:
        click.echo(f"  prepared voice models: {used.models} ({_size(used.model_bytes)})"
                   + (f", and {_size(used.model_temp_bytes)} being written or left by an interrupted worker"
                      if used.model_temp_bytes else ""))
