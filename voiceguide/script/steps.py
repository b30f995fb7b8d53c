"""Building steps: find a step's kind, read its value and options, and call its builder.

A step is a bare string (a say step) or a mapping with exactly one kind key
plus that kind's options. :func:`read_step` finds the kind (with the
messages an author needs when there are none or two), reads the kind's value
and every option through the grammar table, and then calls the kind's
builder: the kind's own :meth:`~voiceguide.kinds.Kind.build` (every kind,
its grammar row and its builder live in one module of :mod:`voiceguide.kinds`;
adding one is described there and in docs/design-notes.md), or
:func:`_include` for ``include``, the one step that is not a kind.

Trap: a builder runs only when the value and every option were read without
a problem, so it never sees a half-valid step; it must not report a problem
about a value the grammar already checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Tuple

from yaml.nodes import Node, ScalarNode, SequenceNode

from voiceguide import kinds
from voiceguide.errors import ScriptError, did_you_mean
from voiceguide.script import grammar as g
from voiceguide.script.compose import is_bad
from voiceguide.script.model import Say, Voice
from voiceguide.script.path_policy import include_target
from voiceguide.script.problems import Bad, short
from voiceguide.script.values import found

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.script.build import ScriptBuilder

#: How deep includes may nest (a includes b includes c ...).
MAX_INCLUDE_DEPTH = 8


def _kinds_text() -> str:
    """The step kinds, as errors list them (computed: a kind may be registered after import)."""
    return ", ".join(g.step_names())


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
    for option in spec.options:
        if option.required and option.name not in options:
            raise b.err(node, kinds.get(kind).missing(option.name))
    built = _read_options(b, spec, options)
    if value is _BAD or failed:
        raise Bad()
    return _build(kind)(b, node, kind_node, value, built)


def _bare_say(b: "ScriptBuilder", node: ScalarNode) -> Say:
    """A bare string is a say step; a bare number or nothing is a mistake worth naming."""
    value = b.value(node)
    if value is None:
        raise b.err(node, f"empty step; write text to say, or a step such as 'pause: 4s' ({_kinds_text()})")
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
    step_names = g.step_names()
    present = [k for k, _, _ in items if k in step_names]
    if len(present) > 1:
        owners = [k for k in present if k != "pause" and "pause" in g.STEPS[k].option_names()]
        if owners and "pause" in present:
            present.remove("pause")
    if len(present) == 1:
        return present[0]
    if present:
        second = next(kn for k, kn, _ in items if k == present[1])
        raise b.err(
            second,
            f'a step has exactly one kind, but this one has "{present[0]}" and "{present[1]}";'
            f" split it into separate '- ' steps (kinds: {_kinds_text()})",
        )
    reported = False
    options = set(g.all_option_names())
    for key, key_node, _ in items:
        if key not in options:
            b.err(
                key_node,
                f'unknown step kind "{short(key)}"{did_you_mean(key, step_names)};'
                f" a step is one of: {_kinds_text()}",
            )
            reported = True
    if not reported and items:
        keys = ", ".join(k for k, _, _ in items)
        b.err(node, f"this step has no kind (only {keys}); a step needs exactly one of: {_kinds_text()}")
    elif not node.value:
        b.err(node, f"empty step {{}}; a step needs exactly one of: {_kinds_text()}")
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


# --- include: the one step that is not a kind (it is spliced in where it stands)


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


def _build(kind: str) -> Callable[..., Any]:
    """The builder of step kind *kind*: the kind's own (:mod:`voiceguide.kinds`), or include's."""
    return _include if kind == g.INCLUDE.name else kinds.get(kind).build
