"""The packages follow the data flow: a lower stage never imports a higher one.

The map (what each package owns and may import) is in docs/design-notes.md,
"The map of the packages"; LAYERS below is that map as data. Every import in
the source counts, at the top of a module or inside a function, because a
lazy import still ties the lower stage to the higher one (and drags the
higher one's dependencies into commands that should not need them).

Plus the promise that makes ``list`` and ``validate`` start fast on a
Raspberry Pi: ``voiceguide.script`` never imports numpy (nor the audio
libraries that import it), checked both in the source and in the modules a
real ``voiceguide list`` / ``validate`` run has loaded when it ends.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import voiceguide
from tests.support.processes import loaded_after

PACKAGE = Path(voiceguide.__file__).resolve().parent

#: Lowest first. A module may import its own layer and the layers before it.
LAYERS: Tuple[Tuple[str, ...], ...] = (
    ("__init__", "errors", "paths", "atomic", "readfile", "cacheentry", "about",
     "visible", "ownfiles"),  # foundations: no voiceguide imports (ownfiles uses readfile's words)
    ("script", "kinds"),        # YAML -> Script model, and the step kinds' hooks; no numpy at import
    ("config", "practice"),     # settings and the practice log: plain data, no audio
    ("synth",),                 # speech clips
    ("timeline",),              # Script + clip lengths -> placed events
    ("audio",),                 # events -> float32 blocks
    ("sinks", "listening"),     # blocks -> file, device, captions; a microphone -> spoken commands
    ("player",),                # sessions: timeline + mixer + sink, controls
    ("cli", "station", "__main__"),  # the edges a person or a network talks to
)
RANK: Dict[str, int] = {name: rank for rank, names in enumerate(LAYERS) for name in names}

#: What script/ must never import: numpy, and libraries that import it.
HEAVY = ("numpy", "soundfile", "sounddevice", "soxr", "scipy")


def top_level_parts() -> List[str]:
    """Every package and module directly in voiceguide/ (``__init__`` for the package itself)."""
    names = []
    for path in PACKAGE.iterdir():
        if path.is_dir() and (path / "__init__.py").is_file():
            names.append(path.name)
        elif path.suffix == ".py":
            names.append(path.stem)
    return sorted(names)


def modules() -> Iterator[Tuple[str, Path]]:
    """(dotted name, file) of every module of voiceguide."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("voiceguide",) + path.relative_to(PACKAGE).with_suffix("").parts
        yield ".".join(parts), path


def imports(module: str, path: Path) -> Iterator[Tuple[str, int]]:
    """(imported module, line) for every import statement anywhere in the file."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:  # `from voiceguide import paths` imports voiceguide.paths
                yield f"{target}.{alias.name}", node.lineno


def part_of(dotted: str, parts: List[str]) -> str:
    """The top-level part of voiceguide a dotted name belongs to (``__init__`` for the package)."""
    pieces = dotted.split(".")
    if len(pieces) > 1 and pieces[1] in parts:
        return pieces[1]
    return "__init__"


def test_every_part_of_the_package_has_a_place_on_the_map():
    unplaced = [name for name in top_level_parts() if name not in RANK]
    assert unplaced == [], f"add {unplaced} to LAYERS here and to the map in docs/design-notes.md"


def test_no_lower_stage_imports_a_higher_one():
    parts = top_level_parts()
    wrong = []
    for module, path in modules():
        own = part_of(module, parts)
        for target, line in imports(module, path):
            if target.split(".")[0] != "voiceguide":
                continue
            other = part_of(target, parts)
            if RANK.get(other, -1) > RANK[own]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {own} imports {target} ({other})")
    assert wrong == [], "a lower stage imports a higher one:\n" + "\n".join(sorted(set(wrong)))


def test_the_script_package_never_imports_numpy_or_the_audio_libraries():
    wrong = []
    for module, path in modules():
        if not module.startswith("voiceguide.script"):
            continue
        for target, line in imports(module, path):
            if target.split(".")[0] in HEAVY:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {target}")
    assert wrong == []


def test_the_kinds_import_numpy_only_inside_a_sound_hook():
    """A kind's mixer hook may need numpy; ``list`` and ``validate`` load every kind: never at import."""
    wrong = []
    for module, path in modules():
        if not module.startswith("voiceguide.kinds"):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # the module's own statements only
            for target in _imported(node):
                if target.split(".")[0] in HEAVY:
                    wrong.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: imports {target} at the top")
    assert wrong == []


def _imported(node: ast.AST) -> List[str]:
    """What a top-level statement imports (``if TYPE_CHECKING:`` blocks are for annotations only)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    return []


def test_list_and_validate_load_no_numpy(tmp_path):
    builtins = sorted((PACKAGE.parent / "scripts").glob("*.yaml"))
    sound = tmp_path / "with-sound.yaml"  # a sound: layer's file is checked too, without numpy
    sound.write_text("title: T\nambient:\n  - sound: rain.ogg\nsteps:\n  - say: hello\n", encoding="utf-8")
    for args in (("list",), ("validate", "--lint", *map(str, builtins), str(sound))):
        code, loaded = loaded_after(tmp_path, *args)
        assert code == "0", (args, code)
        assert "voiceguide.script" in loaded
        heavy = sorted({name.split(".")[0] for name in loaded} & set(HEAVY))
        assert heavy == [], f"voiceguide {args[0]} loaded {heavy}"


def test_no_two_public_classes_share_a_name():
    """A name means one thing: two `Value` classes (a grammar's and a setting's) once did not."""
    where: Dict[str, List[str]] = {}
    for module, path in modules():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                where.setdefault(node.name, []).append(module)
    assert {name: found for name, found in where.items() if len(found) > 1} == {}
