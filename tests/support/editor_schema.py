"""What an editor does with a script's first line: find the schema it names and check the script.

The YAML language server resolves ``# yaml-language-server: $schema=REF``
relative to the script's own folder, or as a ``file://`` URI. These helpers
do the same, so a test can assert what a user's editor would see.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

MODELINE = "# yaml-language-server: $schema="


def schema_named_by(script: Path) -> Path:
    """The file *script*'s first line names, resolved as the editor resolves it."""
    first = script.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MODELINE), f"{script}: no schema line: {first!r}"
    ref = first[len(MODELINE):]
    if ref.startswith("file://"):
        return Path(unquote(urlparse(ref).path))
    assert "://" not in ref, ref
    return script.parent / ref


def editor_problems(script: Path) -> list:
    """The schema's complaints about *script* (``[]``: the editor shows no red)."""
    import jsonschema
    import yaml

    schema_file = schema_named_by(script)
    assert schema_file.is_file(), f"{script} names {schema_file}, which does not exist"
    validator = jsonschema.Draft202012Validator(json.loads(schema_file.read_text(encoding="utf-8")))
    document = yaml.safe_load(script.read_text(encoding="utf-8"))
    return [e.message for e in validator.iter_errors(document)]
