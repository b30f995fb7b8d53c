"""A session: one script made ready to sound, shared by ``preview``, ``render`` and ``play``.

It ties the pieces of the data flow together -- the speech synthesizer (a
worker process with an on-disk cache), the timeline and the mixer -- so that
the three commands cannot drift apart: they all ask the same object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, List, Mapping, Optional, Tuple

from voiceguide.errors import UnknownVoice, VoiceguideError
from voiceguide.script.model import Script, Voice
from voiceguide.timeline import (SAMPLE_RATE, ClipPart, LazyTimeline, Timeline, compile_timeline,
                                 estimate_speech_samples, flatten)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from voiceguide.audio.mixer import Mixer
    from voiceguide.synth import Synthesizer
    from voiceguide.timeline import Event


@dataclass
class Options:
    """What the command line (or a config file) may change about a session."""

    length: Optional[float] = None       # --length, seconds
    voice: Voice = field(default_factory=Voice)  # --rate, --volume, --voice
    ambient: bool = True                 # --no-ambient
    ambient_db: float = 0.0              # --ambient-level, relative to the script
    sample_rate: int = SAMPLE_RATE
    text_only: bool = False              # --text: print the words, speak nothing
    music: Optional[Path] = None         # --music: the listener's piece for a music step
    #: Where ``voice.name`` was set, for messages (``--voice x``, ``VOICEGUIDE_VOICE=x``, the config file).
    voice_origin: Optional[str] = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], **fields) -> "Options":
        """The session part of the player settings, as :func:`voiceguide.config.effective` gives them.

        ``play``, ``render``, ``preview`` and ``list`` all make their options
        here, so the voice, rate, volume and ambient level come from the same
        places (option, ``VOICEGUIDE_*``, config.toml, default) for each:
        what ``render`` writes is what ``play`` plays. *fields* are the
        command's own (``length``, ``ambient``, ``text_only``, ...).
        """
        voice = settings["voice"]
        origin = None
        if voice.value is not None:
            from voiceguide.config import BY_NAME, config_path

            origin = {"option": f"{BY_NAME['voice'].option} {voice.value}",
                      "environment": f"{BY_NAME['voice'].env}={voice.value}",
                      "file": f'{config_path()}: voice = "{voice.value}"'}.get(voice.origin)
        return cls(voice=Voice(rate=settings["rate"].value, volume=settings["volume"].value, name=voice.value),
                   ambient_db=float(settings["ambient_level"].value or 0.0), voice_origin=origin, **fields)


class _NotCached(Exception):
    """Internal: a clip is not in the cache (see :meth:`Session.cached_timeline`)."""


class Session:
    """One script, its speech and its timeline.

    The synthesizer is started lazily and closed by :meth:`close` (or the
    context manager); pass one in to share its worker and cache.
    """

    def __init__(self, script: Script, options: Optional[Options] = None,
                 synthesizer: Optional["Synthesizer"] = None):
        self.script = script
        self.options = options or Options()
        self._synth = synthesizer
        self._own_synth = synthesizer is None
        self._prefetched = False
        self._music_seconds: Optional[float] = None
        self._synth_lock = __import__("threading").Lock()
        self._progress_items: Optional[list] = None   # see speech_progress
        self._progress_done: set = set()
        #: The voice whose model the first word waits for (its first use here), set by start_speech; else None.
        self.preparing_voice: Optional[str] = None

    # -- speech ------------------------------------------------------------------

    @property
    def synth(self) -> "Synthesizer":
        with self._synth_lock:  # the prefetch thread may be creating it
            if self._synth is None:
                from voiceguide.synth import Synthesizer

                self._synth = Synthesizer(sample_rate=self.options.sample_rate)
            return self._synth

    def spec(self, voice: Voice):
        """The synthesizer's :class:`~voiceguide.synth.VoiceSpec` for a resolved voice."""
        from voiceguide.synth import VoiceSpec

        if voice.rate is None or voice.volume is None:   # the timeline resolves every spoken event's voice
            raise ValueError(f"an unresolved voice reached the synthesizer: {voice}")
        return VoiceSpec(name=voice.name, rate=int(voice.rate), volume=float(voice.volume),
                         language=self.script.language)

    def voice_id(self, voice: Voice) -> str:
        """The engine-qualified voice that speaks with *voice* (``piper:en_US-joe-medium``)."""
        return self.synth.voice_id(self.spec(voice))

    def clip_ready(self, text: str, voice: Voice) -> bool:
        """True when the clip's length is known without waiting (and hurries it if not)."""
        return self.synth.ready(text, self.spec(voice))

    def clip_head(self, text: str, voice: Voice, wait: float = 0.0) -> Optional[int]:
        """The length of a clip's first unit while the rest is made (see :class:`~voiceguide.timeline.ClipPart`)."""
        found = self.synth.head(text, self.spec(voice), wait)
        return None if found is None else len(found[0])

    def speech(self) -> Iterable[Tuple[str, Voice]]:
        """Every spoken text with its voice, in the order it is heard."""
        for item in flatten(self.script, self.options.voice):
            if item.text is not None and item.voice is not None:  # a spoken piece
                yield item.text, item.voice

    def start_speech(self, first_now: bool = True) -> None:
        """Start making the speech now: with *first_now*, the first clip heard at once, then the rest.

        ``play`` calls this as soon as the exercise is loaded, before the
        audio stack starts (issue 24): on a cold cache the first word waits
        for a worker to start, load its voice and make the first clause, and
        all of that now happens while the player starts. The first clip is
        asked for in this thread, as the player will ask for it (due now,
        its first clause sent early); the rest is queued from a thread
        (:meth:`prefetch`). Not *first_now* when the session starts
        elsewhere than its beginning (``--from``). A failure is not raised
        here: it is raised again where the clip is needed.
        """
        if self.options.text_only:
            return
        first = next(iter(self.speech()), None) if first_now else None
        if first is not None:
            self._stream_heads()
            try:
                if not self.clip_ready(*first) and callable(getattr(self.synth, "first_use", None)) \
                        and self.synth.first_use(self.spec(first[1])):
                    self.preparing_voice = self.voice_id(first[1])
            except (VoiceguideError, OSError):
                pass
        self.prefetch(background=True)

    def prefetch(self, background: bool = False) -> None:
        """Queue every clip for synthesis, in playing order (once); returns at once.

        With *background*, even the queueing happens in a thread: a warm cache
        still costs ~25 ms of key hashing and engine probing, which need not
        delay the first sound. A failure there is not lost: it is raised
        again where the clip is needed.
        """
        if self.options.text_only or self._prefetched:
            return
        self._prefetched = True
        items = [(text, self.spec(voice)) for text, voice in self.speech()]
        if not background:
            self.synth.prefetch(items)
            return
        import threading

        def queue_quietly() -> None:
            making = 1
            try:
                making = self.synth.prefetch(items)
            except (VoiceguideError, OSError):
                pass  # a missing engine, a closed synthesizer, a cache folder: raised again where a clip is needed
            if not making:
                from voiceguide.synth import prestart

                prestart.discard()   # every clip is cached: the worker started early is not needed

        threading.Thread(target=queue_quietly, daemon=True).start()

    def speech_progress(self) -> Optional[Tuple[int, int]]:
        """(distinct clips ready, distinct clips in all), or None when nothing is to be synthesised.

        Asked while nothing sounds yet (a cold start makes speech for some
        seconds first), so every surface can say "preparing speech (3 of 40)"
        instead of a silent ``0:00 / ?``. It only looks: the synthesizer's
        pins and the cache entries' headers, never hurrying a clip; a clip
        found ready is not looked at again.
        """
        if self.options.text_only:
            return None
        if self._progress_items is None:
            unique = dict.fromkeys((text, self.spec(voice)) for text, voice in self.speech())
            self._progress_items = list(unique)
        items, done = self._progress_items, self._progress_done
        if not items:
            return None
        synth = self.synth
        for index, (text, spec) in enumerate(items):
            if index not in done and synth.cached(text, spec):
                done.add(index)
        return len(done), len(items)

    def clip_length(self, text: str, voice: Voice) -> int:
        if self.options.text_only:
            # No engine: each step lasts about as long as it would take to say.
            return estimate_speech_samples(text, voice, self.options.sample_rate)
        try:
            return self.synth.length(text, self.spec(voice))
        except UnknownVoice as exc:
            raise self._unknown_voice(exc, voice) from None

    def clip_for(self, event: "Event") -> "np.ndarray":
        if self.options.text_only:
            import numpy as np

            return np.zeros(event.length, dtype=np.float32)
        voice = event.voice
        if voice is None:   # the timeline gives every spoken event its voice
            raise ValueError(f"a spoken event without a voice: {event.text!r}")
        try:
            part = event.data if isinstance(event.data, ClipPart) else None
            if part is None:
                return self.synth.clip(event.text, self.spec(voice))
            if part.offset == 0:
                found = self.synth.head(event.text, self.spec(voice))
                if found is not None and len(found[0]) == event.length:
                    return found[0]
            # The clip is done (its head is let go then): the part is that very clip's samples.
            return self.synth.clip(event.text, self.spec(voice))[part.offset: part.offset + event.length]
        except UnknownVoice as exc:
            raise self._unknown_voice(exc, voice) from None

    def word_spans(self, event: "Event") -> Optional[List[Tuple[int, int]]]:
        """When each word of a say *event*'s clip is spoken (samples into the clip); None: estimate them.

        Kept with the clip in the speech cache since it was made: nothing
        is synthesised for it (see :mod:`voiceguide.synth.words`).
        """
        if self.options.text_only or event.kind != "say" or not event.text or event.voice is None:
            return None
        part = event.data if isinstance(event.data, ClipPart) else None
        try:
            if part is not None and part.offset == 0:
                found = self.synth.head(event.text, self.spec(event.voice))
                if found is not None:
                    from voiceguide.synth.words import decode

                    decoded = decode(found[1], event.text, event.length)
                    return decoded[0] if decoded is not None else None
            spans, _ = self.synth.words(event.text, self.spec(event.voice))
        except Exception:  # captions never stop a session: estimated instead
            return None
        if part is not None:  # the words of this part of the clip, in samples into it
            return [(min(max(0, a - part.offset), event.length), min(max(0, b - part.offset), event.length))
                    for a, b in spans]
        return spans

    def cue_times(self, event: "Event") -> List[Tuple[float, str]]:
        """The caption cues of a say *event* as ``(session seconds it shows from, text)`` (the station's line)."""
        if event.kind != "say" or not event.text:
            return []
        from voiceguide.sinks.cues import clip_cues, place

        sr = self.options.sample_rate
        cues = place(clip_cues(event.text, self.word_spans(event), event.start, event.length, sr), sr)
        return [(cue.start / sr, cue.text) for cue in cues]

    def _unknown_voice(self, exc: "UnknownVoice", voice: Voice) -> "UnknownVoice":
        """*exc* with where the voice's name was written: an option, the environment, the config or the script."""
        if voice.name is not None and voice.name == self.options.voice.name and self.options.voice_origin:
            where = self.options.voice_origin
        else:
            where = str(self.script.path)  # the script's voice: (its message names the voice)
        return UnknownVoice(f"{where}: {exc}")

    # -- timeline and mix -----------------------------------------------------------

    def timeline(self) -> Timeline:
        """The whole timeline (synthesises every clip not yet cached)."""
        self.prefetch()
        return compile_timeline(self.script, self.clip_length, sample_rate=self.options.sample_rate,
                                length=self.options.length, voice=self.options.voice,
                                music_seconds=self.music_seconds())

    def cached_timeline(self, lookup=None) -> Optional[Timeline]:
        """The whole timeline if every clip is already in the speech cache, else None.

        Reads only the cache entries' headers through a
        :class:`~voiceguide.synth.lookup.CacheLookup` (pass one to share it):
        no synthesis, no worker process, no numpy. ``list`` shows this real
        length, and an estimate ("~") only when a clip is missing.
        """
        if self.options.text_only:
            return None
        if lookup is None:
            from voiceguide.synth.lookup import CacheLookup

            lookup = CacheLookup(self.options.sample_rate)

        def cached(text: str, voice: Voice) -> int:
            n = lookup.length(text, self.spec(voice))
            if n is None:
                raise _NotCached
            return n

        try:
            return compile_timeline(self.script, cached, sample_rate=self.options.sample_rate,
                                    length=self.options.length, voice=self.options.voice,
                                    music_seconds=self.music_seconds())
        except _NotCached:
            return None

    def _stream_heads(self) -> bool:
        """Ask the synthesizer for heads, where it makes them: a clip not ready when due starts with
        its first clause. Whether it does."""
        heads = not self.options.text_only and callable(getattr(self.synth, "head", None))
        if heads:
            self.synth.stream_heads = True
        return heads

    def lazy_timeline(self) -> LazyTimeline:
        """The timeline placed lazily, for playing while synthesis runs ahead.

        A clip not synthesised when it is due is waited for in silence (the
        pause before it grows; see :class:`LazyTimeline`), never by stalling.
        """
        heads = self._stream_heads()
        self.prefetch()
        ready = None if self.options.text_only else self.clip_ready
        return LazyTimeline(self.script, self.clip_length, sample_rate=self.options.sample_rate,
                            length=self.options.length, voice=self.options.voice,
                            music_seconds=self.music_seconds(), ready=ready,
                            head=self.clip_head if heads else None)

    def mixer(self, timeline=None) -> "Mixer":
        from voiceguide.audio.mixer import Mixer

        return Mixer(timeline if timeline is not None else self.timeline(), self.script,
                     self.clip_for, ambient=self.options.ambient,
                     ambient_db=self.options.ambient_db,
                     music_for=self._music_for if self.options.music is not None else None)

    # -- the listener's music (--music) ----------------------------------------------

    def music_seconds(self) -> Optional[float]:
        """The length of the ``--music`` piece (from its header), or None without one."""
        if self.options.music is None:
            return None
        if self._music_seconds is None:
            from voiceguide.player.music_request import piece_seconds

            self._music_seconds = piece_seconds(self.options.music)
        return self._music_seconds

    def _music_for(self, samples: int) -> "np.ndarray":
        from voiceguide.player.music_request import load_piece

        music = self.options.music
        assert music is not None   # the mixer is handed this only with --music
        return load_piece(music, self.options.sample_rate, samples)

    def close(self, grace: float = 1.0) -> None:
        """End the speech workers (idempotent); a busy one is killed after *grace* seconds.

        After a stop, ``grace=0``: what is still being synthesised is not
        wanted, and a hung worker must not keep the process (or itself) alive.
        """
        with self._synth_lock:
            synth, self._synth = self._synth, None
            if synth is None or not self._own_synth:
                return
        synth.close(grace=grace)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # Leaving on an error or an interruption: nothing more is wanted from the workers.
        self.close(grace=0.0 if exc_type is not None else 1.0)
