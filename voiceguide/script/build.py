"""The node tree of one file to a :class:`~voiceguide.script.model.Script`: top-level keys and ambient layers.

:class:`ScriptBuilder` is a :class:`~voiceguide.script.values.Reader` that
knows where its file is (for ``sound:`` and ``include:`` paths) and which
files enclose it (for include cycles). It adds the kinds of value that need
more than one node to the reader's table: step lists
(:mod:`voiceguide.script.steps`), ambient layers (here) and sound paths
(:mod:`voiceguide.script.path_policy`), then reads the top-level keys and checks
the whole-script limits (:mod:`voiceguide.script.limits`).

Every top-level key is read even when another one failed, so one
``validate`` shows every problem in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from yaml.nodes import MappingNode, Node, ScalarNode

from voiceguide.script import grammar as g
from voiceguide.script.grammar import DEFAULT_LEVELS, TOP_KEYS
from voiceguide.script.limits import check_limits
from voiceguide.script.model import DEFAULT_DUCK_DB, Drone, Noise, Script, SoundLoop, Source, Voice
from voiceguide.script.path_policy import sound_path
from voiceguide.script.problems import Bad, Problems
from voiceguide.script.steps import read_steps
from voiceguide.script.compose import is_bad
from voiceguide.script.values import Reader, found

LAYER_KINDS = tuple(g.LAYER_KINDS)
_LAYER_OPTIONS = tuple(k.name for k in g.LAYER_OPTIONS)

#: What a top-level scalar is, by its YAML tag, named without quoting it.
_KIND_OF_TAG = {"null": "nothing", "bool": "true or false", "int": "a number", "float": "a number"}

#: How an include loads the file it names: (path, enclosing files) -> Script.
LoadFile = Callable[[Path, Tuple[Path, ...]], Script]


class ScriptBuilder(Reader):
    """Builds the Script of one file; problems go to its :class:`Problems`."""

    def __init__(self, problems: Problems, base_dir: Path, path: Path, stack: Tuple[Path, ...],
                 load_file: LoadFile):
        super().__init__(problems)
        self.base_dir = base_dir
        self.path = path
        self.load_file = load_file
        try:
            here = path.resolve()
        except (OSError, RuntimeError):  # pragma: no cover - a name that cannot be resolved
            here = path
        #: Scripts being loaded, outermost first, this one last: a cycle is one seen twice.
        self.stack: Tuple[Path, ...] = stack + (here,)
        #: Where top-level keys' values were written (Script.key_sources).
        self.key_sources: Dict[str, Source] = {}
        #: id(step) -> the include step that brought it in, for limits' locations.
        self.included_at: Dict[int, Source] = {}

    def key_read(self, spec: g.Mapping, key: str, value_node: Node) -> None:
        if spec is g.VOICE:
            self.key_sources["voice." + key] = self.source(value_node)

    # -- the script

    def script(self, root: Node) -> Optional[Script]:
        """The Script, or None when any problem was reported."""
        items = self._top_level(root)
        if items is None:
            return None
        fields = {key: (key_node, value_node) for key, key_node, value_node in items}
        for key, key_node, _ in items:
            if key not in TOP_KEYS:
                self.unknown(key, key_node, g.TOP.what, TOP_KEYS)

        def get(key: str, default: Any) -> Any:
            if key not in fields:
                return default
            value_node = fields[key][1]
            try:
                value = self.build(g.TOP.key(key).value, value_node)
            except Bad:
                return default
            self.key_sources[key] = self.source(value_node)
            return value

        title = get("title", None)
        if "title" not in fields:
            self.err(root, "the script has no title; add a line such as 'title: Body scan'")
        summary = get("summary", None)
        language = get("language", "en")
        voice = Voice(**get("voice", {}))
        ambient = get("ambient", ())
        duck = get("duck", DEFAULT_DUCK_DB)
        part = get("part", False)
        steps: Tuple[Any, ...] = ()
        if "steps" not in fields:
            self.err(root, "the script has no steps; add 'steps:' with a list of steps")
        else:
            steps = get("steps", ())
            if steps:
                check_limits(self.problems, steps, voice.rate, self.included_at)
        if self.problems or title is None:
            return None
        return Script(title=title, steps=steps, path=self.path, summary=summary, language=language,
                      voice=voice, ambient=ambient, duck_db=duck, key_sources=dict(self.key_sources),
                      part=part, warnings=self.problems.warnings())

    def _top_level(self, root: Node) -> Optional[List[Tuple[str, Node, Node]]]:
        """The top-level keys, or None after reporting a file that is not a script at all.

        Such a file (a key, a config file, a page of notes given by mistake)
        is reported without quoting a word of it: errors are printed, logged
        and sent over the station's API.
        """
        if is_bad(root):  # a tag or alias already reported
            return None
        if not isinstance(root, MappingNode):
            kind = _KIND_OF_TAG.get(root.tag.rsplit(":", 1)[-1], "text") if isinstance(root, ScalarNode) else None
            self.err(root, f"{g.TOP.what}: expected a mapping such as {g.TOP.example},"
                           f" got {kind or found(root, None)}")
            return None
        try:
            items = self.mapping(root, g.TOP.what, g.TOP.example)
        except Bad:
            return None
        if items and not any(key in TOP_KEYS for key, _, _ in items):
            self.err(root, f"this is not a voiceguide script: it has none of the keys {', '.join(TOP_KEYS)};"
                           " check the path, or start a script with `voiceguide new`")
            return None
        return items

    # -- ambient

    def ambient(self, spec: g.Layers, node: Node) -> Tuple[Any, ...]:
        """The ambient layers; each bad one reported and left out."""
        layers = []
        for item in self.sequence(node, "ambient"):
            try:
                layers.append(self.layer(item))
            except Bad:
                pass
        return tuple(layers)

    def layer(self, node: Node) -> Any:
        """One layer: exactly one of drone, noise or sound, and a level."""
        items = self.mapping(node, "an ambient layer", "{drone: A2, level: -28 dB}")
        kinds = [(k, kn, vn) for k, kn, vn in items if k in LAYER_KINDS]
        for key, key_node, _ in items:
            if key not in LAYER_KINDS and key not in _LAYER_OPTIONS:
                self.unknown(key, key_node, "an ambient layer", LAYER_KINDS + _LAYER_OPTIONS)
        if len(kinds) != 1:
            target = kinds[1][1] if len(kinds) > 1 else node
            found = " and ".join(f'"{k}"' for k, _, _ in kinds) or "none"
            raise self.err(
                target,
                f"an ambient layer needs exactly one of {', '.join(LAYER_KINDS[:-1])} or {LAYER_KINDS[-1]}"
                f" (found {found}); write one layer per '- ' item",
            )
        kind, _, value_node = kinds[0]
        level_db = DEFAULT_LEVELS[kind]
        level_bad = False
        for key, _, level_node in items:
            if key == "level":
                try:
                    level_db = self.build(g.LAYER_OPTIONS[0].value, level_node)
                except Bad:
                    level_bad = True
        layer = self._layer_of(kind, value_node, level_db, self.source(node))
        if level_bad:
            raise Bad()
        return layer

    def _layer_of(self, kind: str, value_node: Node, level_db: float, source: Source) -> Any:
        spec = g.LAYER_KINDS[kind].value
        if kind == "drone":
            value = self.value(value_node)
            hz = self.build(spec, value_node)
            note = value.strip() if isinstance(value, str) else None
            return Drone(hz=hz, level_db=level_db, source=source, note=note)
        if kind == "noise":
            return Noise(color=self.build(spec, value_node), level_db=level_db, source=source)
        return SoundLoop(path=self.build(spec, value_node), level_db=level_db, source=source)


ScriptBuilder.readers = {
    **Reader.readers,
    g.Steps: lambda self, spec, node: read_steps(self, node, spec.what),
    g.Layers: ScriptBuilder.ambient,
    g.SoundPath: lambda self, spec, node: sound_path(self, node, self.base_dir),
}
