"""The test audio environment on a desktop: a user's PulseAudio server must not take the file device away.

Debian's /etc/alsa/conf.d/99-pulse.conf makes ALSA's ``default`` PulseAudio
whenever a server answers (issue 19: five tests failed on every desktop with
"Error opening played.wav"). tests/support/audio_env.py defends twice: the
children do not see the user's server, and the ``.asoundrc`` keeps its
``default`` even when they do. Each defence is checked alone, with ``aplay``
(quick), and then ``voiceguide play`` end to end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import soundfile as sf

from tests.support.audio_env import ASOUNDRC_FILE, alsa_file_home, base_env, voiceguide

pytestmark = pytest.mark.audio

#: The test .asoundrc as it was before issue 19: it overrides ``default`` and nothing else.
ASOUNDRC_WITHOUT_DEFENCE = "\n".join(line for line in ASOUNDRC_FILE.splitlines()
                                     if not line.startswith(("#", "!@hooks")))


def aplay_captures(env: Dict[str, str], wav: Path, tmp: Path) -> bool:
    """Whether a tenth of a second played to ALSA's ``default`` under *env* lands in *wav*."""
    if not shutil.which("aplay"):
        pytest.skip("aplay is not installed (./run installs alsa-utils)")
    tone = tmp / "tone.wav"
    sf.write(str(tone), (0.2 * np.sin(np.arange(4800) / 8.0)).astype(np.float32), 48000, subtype="PCM_16")
    if wav.exists():
        wav.unlink()
    subprocess.run(["aplay", "-q", "-D", "default", str(tone)], env=env, capture_output=True, timeout=30)
    return wav.exists() and sf.info(str(wav)).frames > 0


def home_with(asoundrc: str, tmp: Path) -> (Path, Path):
    home, wav = alsa_file_home(tmp)
    (home / ".asoundrc").write_text(asoundrc.format(wav=wav))
    return home, wav


def user_env(home: Path) -> Dict[str, str]:
    """An environment that, like the suite's before issue 19, still finds the user's server."""
    return dict(os.environ, HOME=str(home))


def test_premise_the_pulse_hook_takes_an_undefended_default(desktop_pulse, tmp_path):
    home, wav = home_with(ASOUNDRC_WITHOUT_DEFENCE, tmp_path)
    if not os.path.exists("/etc/alsa/conf.d/99-pulse.conf"):
        pytest.skip("no ALSA pulse hook on this machine")
    assert not aplay_captures(user_env(home), wav, tmp_path), "the desktop server did not take ALSA's default"


def test_the_children_do_not_see_the_users_sound_server(desktop_pulse, tmp_path):
    home, wav = home_with(ASOUNDRC_WITHOUT_DEFENCE, tmp_path)
    assert aplay_captures(base_env(home), wav, tmp_path)


def test_the_asoundrc_keeps_its_default_when_a_server_answers(desktop_pulse, tmp_path):
    home, wav = alsa_file_home(tmp_path)
    assert aplay_captures(user_env(home), wav, tmp_path)


@pytest.mark.slow
def test_play_writes_the_file_device_beside_a_desktop_server(desktop_pulse, tmp_path):
    script = tmp_path / "short.yaml"
    script.write_text("title: Short\nsteps:\n  - bell: chime\n  - pause: 1s\n")
    home, wav = alsa_file_home(tmp_path)
    result = voiceguide("play", str(script), env=base_env(home))
    assert result.returncode == 0, result.stderr
    played, _ = sf.read(str(wav))
    assert np.abs(played).max() > 0.01
