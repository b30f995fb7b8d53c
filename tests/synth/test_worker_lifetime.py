"""Speech workers run only our code, never outlive their player, and say what is wrong (issue 14).

Real processes and the real engine throughout.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support.processes import pids_with

pytestmark = pytest.mark.audio

HELPER = Path(__file__).resolve().parents[1] / "support" / "synth_worker.py"
EXE = shutil.which("voiceguide", path=str(Path(sys.executable).parent))


def short_script(folder: Path) -> Path:
    path = folder / "short.yaml"
    path.write_text("title: Short\nvoice: {name: espeak}\nsteps:\n  - say: Breathe in slowly.\n", encoding="utf-8")
    return path


def env_for(tmp_path: Path) -> dict:
    return dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "config"))


def test_a_voiceguide_folder_in_the_current_folder_is_never_run(tmp_path):
    """python -m put the current folder first: an unpacked archive's worker.py ran instead of ours."""
    hostile = tmp_path / "unpacked"
    marker = tmp_path / "foreign-code-ran"
    (hostile / "voiceguide" / "synth").mkdir(parents=True)
    for init in ("voiceguide/__init__.py", "voiceguide/synth/__init__.py"):
        (hostile / init).write_text(f"open({str(marker)!r}, 'a').write('{init}\\n')\n")
    (hostile / "voiceguide" / "synth" / "worker.py").write_text(
        f"open({str(marker)!r}, 'a').write('worker\\n')\nimport sys\nsys.exit(0)\n")
    done = subprocess.run([EXE, "render", str(short_script(tmp_path)), "--no-ambient", "-o", str(tmp_path / "out.wav")],
                          cwd=hostile, env=env_for(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), marker.read_text()
    assert (tmp_path / "out.wav").stat().st_size > 10000


PLAYER = """
import sys
from voiceguide.synth import Synthesizer, VoiceSpec
s = Synthesizer(cache_dir=sys.argv[1], workers=1, timeout=600,
                worker_argv=[sys.executable, sys.argv[2], "--hang-on", sys.argv[3]])
print("asking", flush=True)
s.clip(sys.argv[3], VoiceSpec(name="espeak"))   # the worker hangs on it: we wait here
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_worker_hung_in_synthesis_ends_with_its_player(tmp_path, how):
    """The hung worker reads no input, so only the kernel can tell it its player is gone."""
    text = f"hang here {uuid.uuid4().hex}"
    player = subprocess.Popen([sys.executable, "-c", PLAYER, str(tmp_path), str(HELPER), text],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert player.stdout.readline().strip() == "asking"
        deadline = time.monotonic() + 30
        while not pids_with(text) and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = pids_with(text)
        assert len(workers) == 1, "the worker never started"
        time.sleep(0.5)                                   # it is in the hung request now
        player.send_signal(how)
        player.wait(timeout=10)
        deadline = time.monotonic() + 3
        while pids_with(text) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pids_with(text) == [], "the worker outlived its player"
    finally:
        if player.poll() is None:
            player.kill()
        for pid in pids_with(text):
            os.kill(pid, signal.SIGKILL)


def as_a_person() -> list:
    """A command prefix under which file permissions apply: root may write anywhere, a person may not."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be made to apply")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-all"]


def test_an_unwritable_speech_cache_is_one_clear_line_at_once(tmp_path):
    """Once: 30 s of waiting, then an error blaming the speech engine."""
    speech = tmp_path / "cache" / "voiceguide" / "speech"
    speech.mkdir(parents=True)
    os.chmod(speech, 0o500)
    started = time.monotonic()
    try:
        done = subprocess.run([*as_a_person(), EXE, "render", str(short_script(tmp_path)), "--no-ambient",
                               "-o", str(tmp_path / "out.wav")],
                              cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True, timeout=60)
    finally:
        os.chmod(speech, 0o700)
    took = time.monotonic() - started
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1, done.stderr
    assert str(speech) in lines[0] and "writable" in lines[0], lines[0]
    assert "engine" not in lines[0] and "report" not in lines[0] and "Traceback" not in done.stderr
    assert took < 10, f"took {took:.1f} s"


def test_a_file_where_the_speech_cache_folder_should_be_is_one_clear_line(tmp_path):
    speech = tmp_path / "cache" / "voiceguide" / "speech"
    speech.parent.mkdir(parents=True)
    speech.write_text("not a folder")
    done = subprocess.run([EXE, "render", str(short_script(tmp_path)), "--no-ambient", "-o", str(tmp_path / "o.wav")],
                          cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True, timeout=60)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert str(speech) in lines[0] and "not a folder" in lines[0]
