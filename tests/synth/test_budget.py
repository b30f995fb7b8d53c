"""What a machine affords for Piper (issue 24): workers by memory and CPU, and espeak-ng where memory is short."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from voiceguide.synth import budget, voices
from voiceguide.synth.budget import Memory, piper_plan

GiB = 1024


@pytest.mark.parametrize("total, available, cores, expected", [
    (512, 380, 4, 0),          # Pi Zero 2 W: espeak-ng
    (512, 512, 4, 0),          # even all of it is too little
    (1024, 700, 4, 1),         # Pi 3: one worker, whatever its cores
    (2 * GiB, 1800, 4, 1),     # 2 GB Pi 4: still small
    (4 * GiB, 3500, 4, 4),     # 4 GB Pi 4: a worker a core, memory holds them
    (4 * GiB, 1100, 4, 2),     # ... as many as the available memory holds
    (8 * GiB, 7000, 2, 2),     # never more than the cores
    (8 * GiB, 7000, 1, 1),     # one usable core (affinity, or a CPU quota under 2 cores)
    (8 * GiB, 550, 4, 0),      # a big machine with little free memory
])
def test_plan(total: float, available: float, cores: int, expected: int) -> None:
    assert piper_plan(mem=Memory(total, available), cores=cores) == expected


@pytest.mark.parametrize("total, roomy", [(1024, False), (2 * GiB, False), (4 * GiB, True), (24 * GiB, True)])
def test_a_pi_3_or_a_2_gb_pi_4_keeps_its_memory_for_speech(total: float, roomy: bool) -> None:
    """Piper's mapped weights (faster to load, more resident) only where memory is to spare."""
    assert budget.roomy(Memory(total, total / 2)) is roomy


def test_a_small_machine_saves_the_lean_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The worker is told the layout the machine affords (a 1 GB Pi 3: the model cut before its vocoder,
    voiced a piece at a time; a big one: the weights mapped)."""
    from voiceguide.synth.dispatch import Dispatcher

    choice = voices.choose("piper", "en") if voices.piper_voices() else None
    if choice is None or choice.engine != "piper":
        pytest.skip("no Piper voice installed")
    import threading

    for mb, small in (("1024", True), ("8192", False)):
        monkeypatch.setenv(budget.MEMORY_ENV, mb)
        d = Dispatcher(tmp_path, ["python"], 1, None, 5.0, 5.0, 60.0, threading.Lock(),
                       {"synthesised": 0, "restarts": 0, "workers_started": 0, "idle_exits": 0}, lambda k, p: 0)
        with d._lock:
            pool = d._pool(choice)
        saved = pool.argv[pool.argv.index("--optimised") + 1]
        assert saved.endswith(".small") == small
        d.close(0.0)


def test_plan_takes_the_callers_limit() -> None:
    assert piper_plan(1, mem=Memory(8 * GiB, 7000), cores=4) == 1
    assert piper_plan(3, mem=Memory(8 * GiB, 7000), cores=4) == 3


def test_memory_env_is_the_whole_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(budget.MEMORY_ENV, "1024")
    assert budget.memory() == Memory(1024, 1024)
    assert piper_plan(cores=4) == 1
    monkeypatch.setenv(budget.MEMORY_ENV, "512")
    assert piper_plan(cores=4) == 0
    monkeypatch.setenv(budget.MEMORY_ENV, "lots")      # not a number: the real machine's
    real = budget.memory()
    assert real is None or real.total_mb > 0


def _cgroup_tree(tmp: Path, v2: str = "", v1: str = "") -> Path:
    if v2:
        (tmp / "a" / "b").mkdir(parents=True)
        (tmp / "a" / "cpu.max").write_text(v2)
        (tmp / "a" / "b" / "cpu.max").write_text("max 100000\n")
    if v1:
        (tmp / "cpu,cpuacct" / "a").mkdir(parents=True)
        quota, period = v1.split()
        (tmp / "cpu,cpuacct" / "a" / "cpu.cfs_quota_us").write_text(quota + "\n")
        (tmp / "cpu,cpuacct" / "a" / "cpu.cfs_period_us").write_text(period + "\n")
        (tmp / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("-1\n")
        (tmp / "cpu,cpuacct" / "cpu.cfs_period_us").write_text("100000\n")
    return tmp


def test_cpu_budget_reads_cgroup_v2_up_the_tree(tmp_path: Path) -> None:
    root = _cgroup_tree(tmp_path, v2="30000 100000\n")
    procs = tmp_path / "self-cgroup"
    procs.write_text("0::/a/b\n")
    assert budget.cpu_budget(str(root), str(procs)) == pytest.approx(0.3)
    procs.write_text("0::/\n")
    assert budget.cpu_budget(str(root), str(procs)) is None


def test_cpu_budget_reads_cgroup_v1(tmp_path: Path) -> None:
    root = _cgroup_tree(tmp_path, v1="150000 100000")
    procs = tmp_path / "self-cgroup"
    procs.write_text("4:memory:/x\n2:cpu,cpuacct:/a\n0::/\n")
    assert budget.cpu_budget(str(root), str(procs)) == pytest.approx(1.5)
    procs.write_text("2:cpu,cpuacct:/\n")
    assert budget.cpu_budget(str(root), str(procs)) is None


def test_usable_cores_under_a_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "cpu_budget", lambda: 0.3)
    assert budget.usable_cores() == 1
    monkeypatch.setattr(budget, "cpu_budget", lambda: None)
    assert budget.usable_cores() >= 1


def test_short_memory_means_espeak_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    piper_choice = voices.Choice("piper", "x", "piper:x")
    monkeypatch.setattr(voices, "_choose", lambda *a: piper_choice)
    monkeypatch.setattr(voices, "_told_memory", [])
    monkeypatch.setenv(budget.MEMORY_ENV, "1024")
    assert voices.choose(None, "en").engine == "piper"
    monkeypatch.setenv(budget.MEMORY_ENV, "512")
    with caplog.at_level(logging.WARNING, logger="voiceguide.synth"):
        for _ in range(3):
            fallback = voices.choose("piper", "en")
            assert fallback.engine == "espeak" and fallback.qualified == "espeak:en"
    lines = [r.getMessage() for r in caplog.records if "memory" in r.getMessage()]
    assert lines == [f"voiceguide: warning: not enough memory for the natural voice (needs about "
                     f"{budget.PIPER_NEEDS_MB} MB); espeak-ng speaks"]
