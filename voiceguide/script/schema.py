"""JSON Schema (draft 2020-12) of script format v1, generated from :mod:`voiceguide.script.grammar`.

Why generated: editors (VS Code and others through the YAML language server)
validate and complete as you type from a JSON Schema. A hand-written schema
would drift from what ``voiceguide validate`` accepts; this one is built
from the very :class:`~voiceguide.script.grammar.ValueSpec` objects the loader builds
values with, and the duration, level and gain patterns are the regular
expressions the parsers in :mod:`voiceguide.script.units` use.

The schema is a little more permissive than the loader where JSON Schema
cannot say what the loader checks (the loader stays the judge): sound files
that must exist inside the script's folder, include targets and cycles,
limits on the whole session (length, steps after repeats, alias expansion,
nesting), note names below 20 Hz or above 2000 Hz, and ranges of durations
written as text (``interval: 100ms``). ``tests/test_schema.py`` lists each
such case by name.

Patterns use only syntax shared by ECMA-262 and Python's ``re``.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Sequence

from voiceguide.script import grammar as g
from voiceguide.script import units
from voiceguide.script.model import FORMAT_VERSION

SCHEMA_ID = "https://voiceguide.invalid/schema/format-v1.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def text_pattern(limit: int, one_line: bool) -> str:
    """Text that, stripped, is not empty, at most *limit* characters and (maybe) one line.

    ``^\\s*X{1,limit}\\s*$`` matches exactly when the stripped text fits: the
    outer ``\\s*`` can only take whitespace, so the middle always holds the
    whole stripped text.
    """
    body = r"[^\n]" if one_line else r"[\s\S]"
    return rf"^(?=[\s\S]*\S)\s*{body}{{1,{limit}}}\s*$"


def _text(spec: g.Text) -> Dict[str, Any]:
    string = {"type": "string", "pattern": text_pattern(spec.limit, spec.one_line)}
    # YAML reads `say: 42` or `say: yes` as a number or a boolean; the loader
    # takes them as written, so the schema allows them too.
    other = ["number", "boolean"] if spec.numbers else ["boolean"]
    return {"anyOf": [string, {"type": other}]}


def _number(low: float, high: float, *, exclusive_low: bool = False) -> Dict[str, Any]:
    out: Dict[str, Any] = {"type": "number"}
    out["exclusiveMinimum" if exclusive_low else "minimum"] = low
    if high < math.inf:
        out["maximum"] = high
    return out


def value_schema(spec: g.ValueSpec) -> Dict[str, Any]:
    """The JSON Schema of one kind of value from the grammar table."""
    if isinstance(spec, g.Text):
        return _text(spec)
    if isinstance(spec, g.Flag):
        return {"type": "boolean"}
    if isinstance(spec, g.Keyword):
        return {"enum": list(spec.choices)}
    if isinstance(spec, g.Language):
        return {"type": "string",
                "pattern": rf"^(?=\s*[\s\S]{{1,{spec.limit}}}\s*$)\s*{spec.pattern[1:-1]}\s*$"}
    if isinstance(spec, g.Duration):
        low = spec.low if spec.low is not None else 0.0
        high = spec.high if spec.high is not None else math.inf
        number = _number(low, high, exclusive_low=spec.positive and spec.low is None)
        pattern = units.POSITIVE_DURATION_PATTERN if spec.positive else units.DURATION_PATTERN
        return {"anyOf": [number, {"type": "string", "pattern": pattern}]}
    if isinstance(spec, g.Level):
        return {"anyOf": [{"type": "number", "maximum": 0},
                          {"type": "string", "pattern": units.LEVEL_PATTERN}]}
    if isinstance(spec, g.Gain):
        return {"anyOf": [_number(0.0, units.MAX_GAIN_DB),
                          {"type": "string", "pattern": units.GAIN_PATTERN}]}
    if isinstance(spec, g.Pitch):
        return {"anyOf": [_number(units.MIN_PITCH_HZ, units.MAX_PITCH_HZ),
                          {"type": "string", "pattern": units.PITCH_PATTERN}]}
    if isinstance(spec, g.Integer):
        return {"type": "integer", "minimum": spec.low, "maximum": spec.high}
    if isinstance(spec, g.Number):
        return _number(spec.low, spec.high)
    if isinstance(spec, (g.SoundPath, g.ScriptRef)):
        return {"type": "string", "pattern": text_pattern(spec.limit, True)}
    if isinstance(spec, g.Steps):
        return {"$ref": "#/$defs/steps"}
    if isinstance(spec, g.Layers):
        return {"type": "array", "items": {"$ref": "#/$defs/layer"}}
    if isinstance(spec, g.Mapping):
        return _object(spec.keys, spec.what)
    raise TypeError(f"no schema for {spec!r}")  # pragma: no cover - a new kind of value


def _key(key: g.Key) -> Dict[str, Any]:
    return {"description": key.doc, **value_schema(key.value)}


def _object(keys: Sequence[g.Key], title: str = "", description: str = "") -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if title:
        out["title"] = title
    if description:
        out["description"] = description
    out["type"] = "object"
    out["properties"] = {k.name: _key(k) for k in keys}
    required = [k.name for k in keys if k.required]
    if required:
        out["required"] = required
    out["additionalProperties"] = False
    return out


def _step(kind: g.StepKind) -> Dict[str, Any]:
    main = g.Key(kind.name, kind.value, kind.doc, required=True)
    return _object((main,) + kind.options, f"{kind.name} step", f"{kind.doc}, e.g. {kind.example}")


def _layer(kind: g.Key) -> Dict[str, Any]:
    main = g.Key(kind.name, kind.value, kind.doc, required=True)
    return _object((main,) + g.LAYER_OPTIONS, f"{kind.name} layer", kind.doc)


def schema() -> Dict[str, Any]:
    """The whole schema as a JSON-ready dict (key order is stable)."""
    bare = _text(g.STEPS["say"].value)  # type: ignore[arg-type]
    bare = {"anyOf": [bare["anyOf"][0], {"type": "boolean"}],
            "description": "a bare text is a say step"}
    steps: List[Dict[str, Any]] = [bare] + [_step(kind) for kind in g.STEPS.values()]
    top = _object(g.TOP.keys)
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": f"voiceguide exercise script, format v{FORMAT_VERSION}",
        "description": "Generated by `voiceguide schema` from the loader's grammar; "
                       "see docs/authoring.md. `voiceguide validate` has the final word.",
        **{k: v for k, v in top.items()},
        "$defs": {
            "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}},
            "step": {"anyOf": steps},
            "layer": {"anyOf": [_layer(kind) for kind in g.LAYER_KINDS.values()]},
        },
    }


def dumps() -> str:
    """The schema as the text ``voiceguide schema`` prints.

    The same text is shipped beside the built-in scripts
    (``scripts/voiceguide.schema.json``, a test keeps it equal) and written
    into the user's scripts folder by ``voiceguide new``.
    """
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"
