"""What the quick commands load (issue 24): each one imports only what it uses.

``--help`` and ``ctl status`` need Click, the command table and (for ``ctl``)
the standard-library client: not the script loader, its grammar or the step
kinds, nor numpy. ``benchmarks/startup_floor.py`` measures the time this
saves; this keeps the imports from creeping back.
"""

from __future__ import annotations

import pytest

from tests.support.processes import loaded_after

#: Never loaded by ``--help`` or ``ctl status``.
UNUSED = ("voiceguide.script.loader", "voiceguide.script.grammar", "voiceguide.script.build",
          "voiceguide.script.model", "voiceguide.kinds", "voiceguide.synth", "voiceguide.player", "numpy")


@pytest.mark.parametrize("args", [("--help",), ("ctl", "--station", "127.0.0.1:9", "status")])
def test_quick_commands_load_no_loader(tmp_path, args):
    code, loaded = loaded_after(tmp_path, *args)
    assert loaded, code
    if args == ("--help",):
        assert code == "0"
    else:
        assert code == "1"  # no station there: one line, and the same imports as an answer would take
        assert "voiceguide.station.client" in loaded
    wrong = sorted(name for name in loaded if name.startswith(UNUSED))
    assert wrong == [], f"voiceguide {' '.join(args)} loaded {wrong}"


def test_script_package_names_still_import():
    """The package's names stay reachable (now loaded on first use)."""
    import voiceguide.script as script

    assert script.load is script.loader.load
    assert script.Script is script.model.Script
    with pytest.raises(AttributeError):
        script.no_such_name  # noqa: B018
