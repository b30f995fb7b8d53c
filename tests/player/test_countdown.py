"""The start delay's clock: pause freezes it, skip starts at once, cancel never starts."""

from __future__ import annotations

import threading
import time

import pytest

from voiceguide.player.countdown import Countdown


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_left_counts_down_with_the_clock() -> None:
    clock = FakeClock()
    countdown = Countdown(30, clock=clock)
    assert countdown.left() == 30
    clock.now += 12.5
    assert countdown.left() == pytest.approx(17.5)
    clock.now += 100
    assert countdown.left() == 0


def test_pause_freezes_what_is_left_and_resume_counts_on() -> None:
    clock = FakeClock()
    countdown = Countdown(30, clock=clock)
    clock.now += 10
    countdown.pause()
    assert countdown.paused
    clock.now += 500
    assert countdown.left() == pytest.approx(20)
    countdown.resume()
    assert not countdown.paused
    clock.now += 5
    assert countdown.left() == pytest.approx(15)
    countdown.toggle()
    assert countdown.paused
    countdown.toggle()
    assert not countdown.paused


def test_wait_returns_true_when_the_time_is_over_and_ticks_meanwhile() -> None:
    ticks = []
    started = time.monotonic()
    assert Countdown(0.3).wait(lambda left, paused: ticks.append((left, paused)), interval=0.05)
    assert time.monotonic() - started >= 0.29
    assert len(ticks) >= 3
    lefts = [left for left, _ in ticks]
    assert lefts == sorted(lefts, reverse=True)
    assert not any(paused for _, paused in ticks)


def test_skip_starts_at_once_and_cancel_never_starts() -> None:
    for action, expected in (("skip", True), ("cancel", False)):
        countdown = Countdown(60)
        outcome: list = []
        waiter = threading.Thread(target=lambda c=countdown, o=outcome: o.append(c.wait(interval=0.05)))
        waiter.start()
        time.sleep(0.1)
        getattr(countdown, action)()
        waiter.join(2)
        assert not waiter.is_alive()
        assert outcome == [expected]
        assert countdown.left() == 0


def test_a_paused_count_does_not_end_until_resumed() -> None:
    countdown = Countdown(0.1, paused=True)
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(countdown.wait(interval=0.02)))
    waiter.start()
    time.sleep(0.3)
    assert waiter.is_alive() and outcome == []
    countdown.resume()
    waiter.join(2)
    assert outcome == [True]


def test_a_negative_or_nan_delay_is_refused() -> None:
    for bad in (-1, float("nan")):
        with pytest.raises(ValueError):
            Countdown(bad)
