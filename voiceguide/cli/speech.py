"""Speech: ``voices`` (what can speak) and ``prepare`` (synthesise ahead)."""

from __future__ import annotations

import sys
import time

import click

from voiceguide.cli.common import load_exercise, speech_options


@click.command()
def voices():
    """List the voices of both speech engines, Piper and espeak-ng.

    Columns: engine, id (give it to --voice or the config's `voice`),
    language, quality and where the voice came from. The voice marked * speaks
    English scripts by default; every script gets the best voice installed
    for its language (Piper where it has one, else espeak-ng). Drop any
    Piper voice (NAME.onnx with NAME.onnx.json) into
    ~/.local/share/voiceguide/voices/ (the XDG data folder) to add it.
    """
    from voiceguide.errors import EngineError
    from voiceguide.synth import list_voices
    from voiceguide.synth.engines import espeak, piper
    from voiceguide.synth.voices import best_piper_voice, piper_voices

    rows = []
    found = piper_voices()
    best = best_piper_voice("en", found)
    for v in found:
        if v.problem:
            click.echo(f"voiceguide: warning: {v.problem}", err=True)
            continue
        rows.append((best is not None and v.id == best.id, "piper", f"piper:{v.id}", v.language,
                     v.quality or "-", v.source))
    espeak_problem = None
    try:
        espeak_voices = list_voices()
    except EngineError as exc:
        espeak_voices, espeak_problem = [], str(exc)
    version = espeak.engine_version()[1]
    for v in sorted(espeak_voices, key=lambda v: v["id"]):
        langs = v.get("languages") or ["-"]
        rows.append((best is None and bool(v.get("default")), "espeak", f"espeak:{v['id']}", langs[0],
                     "formant", version))
    if not rows:
        raise EngineError(espeak_problem or "no speech engine is installed")
    heading = ("ENGINE", "ID", "LANGUAGE", "QUALITY", "SOURCE")
    widths = [max(len(str(r[i + 1])) for r in rows + [(False, *heading)]) for i in range(4)]

    def line(mark: str, cells) -> str:
        return mark + " " + "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)) + "  " + cells[-1]

    click.echo(line(" ", heading))
    for mark, *cells in rows:
        click.echo(line("*" if mark else " ", cells))
    if espeak_problem:
        click.echo(f"voiceguide: espeak-ng: {espeak_problem}", err=True)
    if not piper.available():
        click.echo(f"voiceguide: Piper (natural voices) is not installed: {piper.MISSING_HINT}", err=True)


@click.command()
@click.argument("exercises", nargs=-1, metavar="[ID|PATH]...")
@click.option("--all", "every", is_flag=True, help="Every built-in and user exercise.")
@click.option("--voice-only", is_flag=True,
              help="Only make the voice ready (Piper's model optimised and kept), no exercise.")
@speech_options(ambient_level=False)
def prepare(exercises, every, voice_only, voice, rate, volume):
    """Synthesise every spoken step ahead of time, so a session starts at once.

    Uses the voice, rate and volume that `play` would use (the config file
    and VOICEGUIDE_* variables included). Fills the speech cache, in the
    order the words are heard, with a progress bar on a terminal.
    `--voice-only` makes just the voice ready, once after installing: the
    first session with a Piper voice otherwise spends about 0.4 s (a few
    seconds on a Pi) optimising its model before the first word.
    """
    from voiceguide.cli.common import session_options
    from voiceguide.errors import UsageError
    from voiceguide.player.session import Session
    from voiceguide.synth import Synthesizer

    if voice_only:
        if exercises or every:
            raise UsageError("--voice-only prepares the voice alone: name no exercise and leave out --all")
        _prepare_voice(session_options(dict(voice=voice, rate=rate, volume=volume)))
        return
    if every:
        from voiceguide.script.catalog import entries

        exercises = tuple(exercises) + tuple(e.id for e in entries())
    if not exercises:
        raise UsageError("name the exercises to prepare (see `voiceguide list`), or use --all")
    options = session_options(dict(voice=voice, rate=rate, volume=volume))
    scripts = [load_exercise(name) for name in dict.fromkeys(exercises)]
    with Synthesizer(sample_rate=options.sample_rate) as synth:
        for name, script in zip(dict.fromkeys(exercises), scripts):
            with Session(script, options, synthesizer=synth) as session:
                items = list(dict.fromkeys((text, session.spec(v)) for text, v in session.speech()))
                voice_ids = sorted({synth.voice_id(spec) for _, spec in items})
                t0 = time.monotonic()
                before = synth.stats["synthesised"]
                synth.prefetch(items)
                label = f"{name} ({', '.join(voice_ids)})"
                if sys.stderr.isatty():
                    with click.progressbar(items, label=label, file=sys.stderr,
                                           item_show_func=lambda item: None) as bar:
                        for text, spec in bar:
                            synth.length(text, spec)
                else:
                    for text, spec in items:
                        synth.length(text, spec)
                made = synth.stats["synthesised"] - before
                click.echo(f"prepared {label}: {len(items)} clips, {made} new, "
                           f"in {time.monotonic() - t0:.1f} s", err=True)


#: What ``prepare --voice-only`` has the voice say (kept in the speech cache like any clip; never played).
READY_WORDS = "Ready when you are."


def _prepare_voice(options) -> None:
    """Have the voice that speaks English by default say a few words, so that its first worker
    loads it as a session's would: a Piper model is optimised and kept, and the voice is remembered
    for the next session's early worker (:mod:`voiceguide.synth.prestart`)."""
    from voiceguide.script.defaults import DEFAULT_RATE, DEFAULT_VOLUME
    from voiceguide.synth import Synthesizer, VoiceSpec

    given = options.voice   # a script's own rate or volume would win in a session; the worker is the same
    spec = VoiceSpec(name=given.name, rate=int(given.rate or DEFAULT_RATE),
                     volume=float(DEFAULT_VOLUME if given.volume is None else given.volume))
    t0 = time.monotonic()
    with Synthesizer(sample_rate=options.sample_rate) as synth:
        # Said afresh each time: a worker loads the voice only for a clip not cached, and a kept
        # model can be gone while this clip is not (a new piper-tts or onnxruntime saves anew).
        synth.entry_path(READY_WORDS, spec).unlink(missing_ok=True)
        synth.length(READY_WORDS, spec)
        ident = synth.voice_id(spec)
    click.echo(f"prepared the voice {ident} in {time.monotonic() - t0:.1f} s", err=True)
