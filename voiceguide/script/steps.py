"""Building steps: find a step's kind, read its value and options, and call its builder.

A step is a bare string (a say step) or a mapping with exactly one kind key
plus that kind's options. :func:`read_step` finds the kind (with the
messages an author needs when there are none or two), reads the kind's value
and every option through the grammar table, and then calls the kind's
builder from :data:`STEP_BUILDERS` -- a table, so the kinds a script may use
are the keys of one dict, checked against the grammar by a test.

Adding a kind of step (``record``, the practice log's, is the latest; follow it):

1. the model: a frozen dataclass in :mod:`voiceguide.script.model`, added to
   ``Step`` and ``STEP_KINDS``;
2. the grammar: a ``StepKind("record", <value>, <doc>, options=(...))`` in
   :data:`voiceguide.script.grammar.STEPS` -- the loader reads its value and
   options from there, ``voiceguide schema`` publishes it, and the docs test
   then asks for it in docs/authoring.md;
3. here: a function ``_record(b, node, value_node, value, options) -> Record``
   and the entry ``"record": _record`` in :data:`STEP_BUILDERS`. ``value`` and
   ``options`` are already read and valid; use ``b.source(node)`` for the
   step's Source, and raise ``b.err(node, "...")`` for a check the grammar
   cannot express;
4. :data:`voiceguide.script.limits.MIN_SECONDS` if the step takes time; the
   timeline places it.

Trap: a builder runs only when the value and every option were read without
a problem, so it never sees a half-valid step; it must not report a problem
about a value the grammar already checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Tuple

from yaml.nodes import Node, ScalarNode, SequenceNode

from voiceguide.errors import ScriptError, did_you_mean
from voiceguide.script import grammar as g
from voiceguide.script.compose import is_bad
from voiceguide.script.grammar import DEFAULT_BELL_DB, DEFAULT_CADENCE, STEP_NAMES
from voiceguide.script.model import (Bell, Breathe, Count, Music, Pause, Record, Repeat, Say, Section, Voice,
                                     Walk)
from voiceguide.script.paths import include_target
from voiceguide.script.problems import Bad, short
from voiceguide.script.values import found

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.script.build import ScriptBuilder

#: How deep includes may nest (a includes b includes c ...).
MAX_INCLUDE_DEPTH = 8

#: The options each step kind takes besides its kind key.
STEP_OPTIONS: Dict[str, Tuple[str, ...]] = {name: k.option_names() for name, k in g.STEPS.items()}

_KINDS_TEXT = ", ".join(STEP_NAMES)

#: A step's kind value that failed (its problem is reported); None is a real value.
_BAD = object()


class Included:
    """What an ``include`` step builds: steps to splice into the enclosing list."""

    def __init__(self, steps: Tuple[Any, ...]):
        self.steps = steps


def read_steps(b: "ScriptBuilder", node: Node, what: str) -> Tuple[Any, ...]:
    """A non-empty list of steps; included steps spliced in; bad steps reported and left out."""
    items = b.sequence(node, what)
    if not items:
        raise b.err(node, f"{what} is empty; add at least one step such as '- say: Hello'")
    out: List[Any] = []
    for item in items:
        try:
            step = read_step(b, item)
        except Bad:
            continue
        if isinstance(step, Included):
            out.extend(step.steps)
        else:
            out.append(step)
    return tuple(out)


def read_step(b: "ScriptBuilder", node: Node) -> Any:
    """One step (or :class:`Included`); raises Bad after reporting."""
    if is_bad(node):
        raise Bad()
    if isinstance(node, ScalarNode):
        return _bare_say(b, node)
    if isinstance(node, SequenceNode):
        raise b.err(node, "a step cannot be a list; remove the extra '- ' or '['")
    items = b.mapping(node, "a step", "{say: Hello}")
    kind = _kind_of(b, node, items)
    spec = g.STEPS[kind]
    allowed = spec.option_names()
    kind_node: Node = node
    options: Dict[str, Node] = {}
    failed = False
    for key, key_node, value_node in items:
        if key == kind:
            kind_node = value_node
        elif key in allowed:
            options[key] = value_node
        else:
            hint = ""
            if isinstance(spec.value, g.Mapping) and key in spec.value.names():
                hint = f"indent {key} under {kind}: (two more spaces than {kind})"
            b.unknown(key, key_node, f"a {kind} step", allowed, hint)
            failed = True
    try:
        value: Any = b.build(spec.value, kind_node)
    except Bad:
        value = _BAD
    if kind == "repeat" and "steps" not in options:
        raise b.err(node, "repeat needs 'steps:' with the list of steps to repeat, indented under it")
    built = _read_options(b, spec, options)
    if value is _BAD or failed:
        raise Bad()
    return STEP_BUILDERS[kind](b, node, kind_node, value, built)


def _bare_say(b: "ScriptBuilder", node: ScalarNode) -> Say:
    """A bare string is a say step; a bare number or nothing is a mistake worth naming."""
    value = b.value(node)
    if value is None:
        raise b.err(node, f"empty step; write text to say, or a step such as 'pause: 4s' ({_KINDS_TEXT})")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise b.err(
            node,
            f"a step cannot be just {found(node, value)}; write 'pause: {node.value}'"
            f" to wait, or put it in quotes to say it",
        )
    return Say(text=b.build(g.STEPS["say"].value, node), source=b.source(node), voice=Voice())


def _kind_of(b: "ScriptBuilder", node: Node, items: List[Tuple[str, Node, Node]]) -> str:
    """The one kind key of a step mapping; reports none or two and raises Bad.

    ``pause`` is both a kind and an option of say and count: ``{say: Hi,
    pause: 4s}`` is a say step with a pause after it.
    """
    present = [k for k, _, _ in items if k in STEP_NAMES]
    if len(present) > 1:
        owners = [k for k in present if k != "pause" and "pause" in STEP_OPTIONS[k]]
        if owners and "pause" in present:
            present.remove("pause")
    if len(present) == 1:
        return present[0]
    if present:
        second = next(kn for k, kn, _ in items if k == present[1])
        raise b.err(
            second,
            f'a step has exactly one kind, but this one has "{present[0]}" and "{present[1]}";'
            f" split it into separate '- ' steps (kinds: {_KINDS_TEXT})",
        )
    reported = False
    options = set(g.all_option_names())
    for key, key_node, _ in items:
        if key not in options:
            b.err(
                key_node,
                f'unknown step kind "{short(key)}"{did_you_mean(key, STEP_NAMES)};'
                f" a step is one of: {_KINDS_TEXT}",
            )
            reported = True
    if not reported and items:
        keys = ", ".join(k for k, _, _ in items)
        b.err(node, f"this step has no kind (only {keys}); a step needs exactly one of: {_KINDS_TEXT}")
    elif not node.value:
        b.err(node, f"empty step {{}}; a step needs exactly one of: {_KINDS_TEXT}")
    raise Bad()


def _read_options(b: "ScriptBuilder", spec: g.StepKind, options: Dict[str, Node]) -> Dict[str, Any]:
    """Build every option from the grammar, reporting each bad one; raise Bad if any failed."""
    out: Dict[str, Any] = {}
    failed = False
    for key, value_node in options.items():
        try:
            out[key] = b.build(spec.option(key).value, value_node)
        except Bad:
            failed = True
    if failed:
        raise Bad()
    return out


# --- one builder per kind: (builder, step node, kind's value node, value, options) -> step


def _say(b: "ScriptBuilder", node: Node, value_node: Node, text: str, opts: Dict[str, Any]) -> Say:
    voice = Voice(rate=opts.get("rate"), volume=opts.get("volume"), name=opts.get("voice"))
    return Say(text=text, source=b.source(node), pause=opts.get("pause", 0.0),
               stretch=opts.get("stretch", 1.0), voice=voice)


def _pause(b: "ScriptBuilder", node: Node, value_node: Node, seconds: float, opts: Dict[str, Any]) -> Pause:
    return Pause(seconds=seconds, source=b.source(node), stretch=opts.get("stretch", 1.0))


def _bell(b: "ScriptBuilder", node: Node, value_node: Node, kind: str, opts: Dict[str, Any]) -> Bell:
    return Bell(kind=kind, source=b.source(node), level_db=opts.get("level", DEFAULT_BELL_DB))


def _section(b: "ScriptBuilder", node: Node, value_node: Node, name: str, opts: Dict[str, Any]) -> Section:
    return Section(name=name, source=b.source(node))


def _repeat(b: "ScriptBuilder", node: Node, value_node: Node, times: int, opts: Dict[str, Any]) -> Repeat:
    return Repeat(times=times, steps=opts["steps"], source=b.source(node))


def _count(b: "ScriptBuilder", node: Node, value_node: Node, to: int, opts: Dict[str, Any]) -> Count:
    return Count(to=to, source=b.source(node), pause=opts.get("pause", 0.0),
                 stretch=opts.get("stretch", 1.0), interval=opts.get("interval", 1.0))


def _breathe(b: "ScriptBuilder", node: Node, value_node: Node, pattern: Dict[str, Any],
             opts: Dict[str, Any]) -> Breathe:
    return Breathe(inhale=pattern["inhale"], exhale=pattern["exhale"], cycles=pattern["cycles"],
                   source=b.source(node), hold=pattern.get("hold", 0.0),
                   hold_out=pattern.get("hold_out", 0.0))


def _walk(b: "ScriptBuilder", node: Node, value_node: Node, walk: Dict[str, Any], opts: Dict[str, Any]) -> Walk:
    return Walk(duration=walk["duration"], cadence=walk.get("cadence", DEFAULT_CADENCE),
                source=b.source(node))


def _record(b: "ScriptBuilder", node: Node, value_node: Node, record: Dict[str, Any],
            opts: Dict[str, Any]) -> Record:
    return Record(seconds=record["seconds"], source=b.source(node), prompt=record.get("prompt"))


def _music(b: "ScriptBuilder", node: Node, value_node: Node, seconds: float, opts: Dict[str, Any]) -> Music:
    return Music(seconds=seconds, source=b.source(node), fade=opts.get("fade", g.DEFAULT_FADE))


def _include(b: "ScriptBuilder", node: Node, value_node: Node, written: str, opts: Dict[str, Any]) -> Included:
    """The steps of another script, loaded now and inlined where the include stands.

    Why at load time: the timeline, preview, lint and the limits then see
    ordinary steps, each with the Source of the file it was written in.
    The included script's title, voice and ambient are not used: the
    including script's own apply to every step.
    """
    shown = short(written, 80)
    if len(b.stack) >= MAX_INCLUDE_DEPTH:
        raise b.err(value_node, f"include {shown}: includes nest more than {MAX_INCLUDE_DEPTH}"
                                " deep; include fewer scripts inside each other")
    target = include_target(b, value_node, written, b.base_dir)
    try:
        resolved = target.resolve()
    except (OSError, RuntimeError) as exc:
        raise b.err(value_node, f"cannot include {shown} ({exc}); check the path") from exc
    if resolved in b.stack:
        chain = " -> ".join(p.name for p in b.stack[b.stack.index(resolved):] + (resolved,))
        raise b.err(value_node, f"include {shown} makes a cycle ({chain}); a script cannot"
                                " include itself, directly or through another script")
    try:
        included = b.load_file(target, b.stack)
    except ScriptError as exc:
        first = exc.problems[0]
        more = len(exc.problems) - 1
        extra = f" (and {more} more)" if more else ""
        raise b.err(value_node, f"included script {shown} has a problem{extra}: {first}") from exc
    b.problems.carry(included.warnings)
    for step in included.steps:
        b.included_at[id(step)] = b.source(node)
    return Included(included.steps)


StepBuilder = Callable[["ScriptBuilder", Node, Node, Any, Dict[str, Any]], Any]

#: step kind -> its builder; the keys are exactly the grammar's step kinds (a test checks).
STEP_BUILDERS: Dict[str, StepBuilder] = {
    "say": _say,
    "pause": _pause,
    "bell": _bell,
    "section": _section,
    "repeat": _repeat,
    "count": _count,
    "breathe": _breathe,
    "walk": _walk,
    "record": _record,
    "music": _music,
    "include": _include,
}
