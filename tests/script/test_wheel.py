"""The wheel, installed into a fresh venv, gives editors a schema for new and built-in scripts.

A source checkout hides packaging mistakes: the schema file is there whether
or not the wheel ships it. So this builds the wheel from the working tree,
installs it into a new venv, and looks at what a user who ran ``pip install``
gets: ``voiceguide new`` and every installed built-in must name a schema file
that exists and finds nothing wrong in them.

Only voiceguide itself comes from the wheel. Its dependencies are borrowed
from the test environment through a ``.pth`` line (a fresh download of numpy
and the rest would test PyPI, not us); a ``.pth`` line adds a folder to
``sys.path`` without running that folder's own ``.pth`` files, so the test
environment's editable voiceguide stays out of sight.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest


from voiceguide.script.schema import dumps

from tests.support.editor_schema import editor_problems, schema_named_by

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "voiceguide", "scripts", "sounds")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv folder, its python) with voiceguide installed from a freshly built wheel."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:  # a copy: a stale build/ folder in the checkout cannot leak into the wheel
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    dist = work / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(src)], check=True, capture_output=True, text=True)
    wheel = next(dist.glob("voiceguide-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    str(wheel)], check=True, capture_output=True, text=True)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "zz_test_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n", encoding="utf-8")
    return venv, python


def in_venv(venv: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(list(args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_the_installed_package_is_the_wheel(installed, tmp_path):
    venv, python = installed
    where = in_venv(venv, tmp_path, str(python), "-c", "import voiceguide; print(voiceguide.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).resolve().is_relative_to(venv.resolve())


def test_installed_builtins_name_a_shipped_schema_that_validates_them(installed, tmp_path):
    venv, python = installed
    found = in_venv(venv, tmp_path, str(python), "-c",
                    "from voiceguide.script.catalog import builtin_dir; print(builtin_dir())")
    assert found.returncode == 0, found.stderr
    folder = Path(found.stdout.strip())
    assert folder.resolve().is_relative_to(venv.resolve())
    builtins = sorted(folder.glob("*.yaml"))
    assert len(builtins) >= 7
    for script in builtins:
        assert schema_named_by(script).read_text(encoding="utf-8") == dumps()
        assert editor_problems(script) == [], script.name


def test_new_from_the_installed_package_names_a_schema_that_exists(installed, tmp_path):
    venv, _ = installed
    elsewhere = tmp_path / "somewhere" / "x.yaml"
    made = in_venv(venv, tmp_path, "voiceguide", "new", "x", "-o", str(elsewhere))
    assert made.returncode == 0, made.stderr
    mine = in_venv(venv, tmp_path, "voiceguide", "new", "mine")
    assert mine.returncode == 0, mine.stderr
    in_user_folder = Path(mine.stdout.strip())
    assert in_user_folder.parent == tmp_path / "config" / "voiceguide" / "scripts"
    for script in (elsewhere, in_user_folder):
        assert schema_named_by(script).read_text(encoding="utf-8") == dumps()
        assert editor_problems(script) == [], script
