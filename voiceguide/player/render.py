"""``render``: a whole session into an audio file, block by block.

:func:`render` mixes a session into a file; :func:`render_exercise` is the
whole ``voiceguide render`` around it: the target checked, unfinished
renders of earlier runs cleaned away, SIGTERM and SIGHUP turned into an
orderly stop (the temporary file is removed, the target left as it was),
and the captions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from voiceguide.player.session import Session
from voiceguide.sinks.file import FileSink
from voiceguide.timeline import Timeline

#: Large blocks amortise Python overhead; the mix is block-size independent.
RENDER_BLOCK = 1 << 16


def render(session: Session, path: Path, timeline: Optional[Timeline] = None,
           block: int = RENDER_BLOCK, replace: bool = True) -> Timeline:
    """Mix *session* into *path* (WAV, FLAC, OGG, MP3 or Opus by extension); return its timeline.

    The file is exactly ``timeline.length`` samples long (an MP3 as decoded:
    its LAME info frame tells the decoder the encoder's delay and padding).
    An MP3 or Opus file also gets the title, the summary and one chapter per
    section (:mod:`voiceguide.sinks.tags`). Memory stays flat: only one
    block and the clips that sound in it are held at a time. Without
    *replace* an existing *path* is kept (:class:`FileExistsError`).
    """
    from voiceguide.audio.mixer import render_blocks

    timeline = timeline or session.timeline()
    mixer = session.mixer(timeline)
    with FileSink(Path(path), timeline.sample_rate, replace=replace,
                  finish=_tagger(Path(path), session, timeline)) as sink:
        for chunk in render_blocks(mixer, block):
            sink.write(chunk)
    return timeline


def _tagger(path: Path, session: Session, timeline: Timeline) -> Optional[Callable[[Path], None]]:
    """What writes an MP3's or Opus file's title, summary and chapters (nothing for other formats)."""
    kind = path.suffix.lower()[1:]
    if kind not in ("mp3", "opus"):
        return None

    def tag(finished: Path) -> None:
        from voiceguide.sinks.tags import tag_file, timeline_chapters

        tag_file(finished, kind, session.script.title, session.script.summary, timeline_chapters(timeline))

    return tag


def check_outputs(output: Path, captions: Optional[Path] = None, force: bool = False,
                  script: Optional[Path] = None) -> None:
    """Refuse outputs that cannot be written or would replace something a person made.

    The rules are :mod:`voiceguide.sinks.overwrite`'s: an existing file only with
    *force*; never the *script* being rendered, never a script at all, and
    the captions never the audio output (whatever *force* says).
    """
    from voiceguide.errors import UsageError
    from voiceguide.sinks.overwrite import check_output
    from voiceguide.sinks.file import check_target, check_writable

    output = Path(output)
    check_target(output)
    if captions is not None:  # the two outputs first: one file named twice is the more basic slip
        captions = Path(captions)
        if not captions.resolve().parent.is_dir():
            raise UsageError(f"--captions {captions}: the folder does not exist")
        if captions.is_dir():
            raise UsageError(f"--captions {captions} is a folder; give a file name such as "
                             f"{captions / output.with_suffix('.vtt').name}")
        check_output(captions, True, "--captions", other=output, other_option="-o")
    check_output(output, force, "-o", script=script)
    check_writable(output)
    if captions is not None:
        check_output(captions, force, "--captions", script=script)
        check_writable(captions)


def render_exercise(script, options, output: Path, captions: Optional[Path] = None,
                    say: Callable[[str], None] = lambda line: None, force: bool = False) -> Timeline:
    """Render *script* into *output* (and WebVTT *captions*); *say* gets notes for the person.

    Existing files are replaced only with *force*, and never a script or
    the audio by the captions (:func:`check_outputs`). Raises
    :class:`~voiceguide.errors.Interrupted` (exit 128 + the signal; 130 for
    Ctrl-C) when stopped, after the temporary file is removed.
    """
    from voiceguide.errors import Interrupted, OutputExists, file_error
    from voiceguide.player.signals import interrupting
    from voiceguide.sinks.file import remove_stale

    output = Path(output)
    check_outputs(output, captions, force, getattr(script, "path", None))
    stale = remove_stale(output.parent)
    if stale:
        names = ", ".join(p.name for p in stale)
        say(f"removed {len(stale)} unfinished render{'s' if len(stale) != 1 else ''} "
            f"left by an earlier run ({names})")
    cues = None
    try:
        with interrupting():
            with Session(script, options) as session:
                timeline = render(session, output, replace=force)
                if captions is not None:  # timed by the words' timings kept with the clips: no synthesis
                    from voiceguide.sinks.cues import timeline_cues

                    cues = timeline_cues(timeline, session.word_spans)
    except FileExistsError:  # made by someone else while the mix was written
        raise OutputExists(output) from None
    except Interrupted as exc:
        raise Interrupted(f"{exc}; {output} was not written", exc.exit_code) from None
    except KeyboardInterrupt:
        raise Interrupted(f"stopped; {output} was not written") from None
    if captions is not None:
        from voiceguide.sinks.captions import write_vtt

        check_outputs(output, captions, True, getattr(script, "path", None))  # -o exists now: same file?
        try:
            write_vtt(timeline, Path(captions), replace=force, cues=cues)
        except FileExistsError:
            raise OutputExists(captions) from None
        except OSError as exc:  # the audio is written; the captions name their own path
            raise file_error(captions, exc, "write the captions") from None
    return timeline
