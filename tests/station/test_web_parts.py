"""Fast checks of the web guard's parts; the rules themselves are tested over a socket in test_web_security."""

from __future__ import annotations

import logging

import pytest

from voiceguide.station import redact
from voiceguide.station.security import Throttle, split_host
from voiceguide.station.token import TokenFile, new_token


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_throttle_is_free_at_first_then_doubles_then_queues_then_refuses():
    clock = Clock()
    t = Throttle(free=3, base=0.5, cap=4.0, give_up=10.0, clock=clock)
    assert [t.delay("a") for _ in range(3)] == [0, 0, 0]
    # without waiting (parallel guesses) each waits behind the one before
    assert [t.delay("a") for _ in range(4)] == [0.5, 1.5, 3.5, 7.5]
    assert t.delay("a") is None                 # the queue would pass 10 s: 429 at once
    assert t.delay("b") == 0                    # another address is not affected
    t.clear("a")
    assert t.delay("a") == 0


def test_throttle_forgets_quiet_addresses_and_keeps_memory_bounded():
    clock = Clock()
    t = Throttle(free=1, window=60.0, limit=100, clock=clock)
    for i in range(1000):
        t.delay(f"10.0.{i // 256}.{i % 256}")
    assert len(t._seen) <= 100
    t.delay("x"), t.delay("x")
    clock.now += 61
    assert t.delay("x") == 0                    # a minute of quiet: a fresh start


@pytest.mark.parametrize("header, name", [
    ("localhost:8765", "localhost"), ("[::1]:8765", "::1"), ("[::1]", "::1"), ("Pi.Local.", "pi.local"),
    ("192.168.1.2", "192.168.1.2"), ("a:b:c", None), ("[::1]x", None), ("", None), ("host:", None)])
def test_split_host(header, name):
    assert split_host(header) == name


def test_the_redaction_filter_rewrites_uvicorn_access_lines(caplog):
    logger = logging.getLogger("uvicorn.access")
    redact.install()
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/?token=s3cr3t-T0ken&x=1", "1.1", 303)
        logging.getLogger("voiceguide.station").warning("header was Bearer s3cr3t-T0ken")
    text = caplog.text
    assert "s3cr3t-T0ken" not in text and "token=[hidden]&x=1" in text


def test_a_running_station_sees_a_replaced_token_and_keeps_the_last_good_one(tmp_path, monkeypatch):
    monkeypatch.delenv("VOICEGUIDE_STATION_TOKEN", raising=False)
    path = tmp_path / "station-token"
    new_token(path)
    first = path.read_text().strip()
    current = TokenFile(first, path)
    assert current() == first
    new_token(path)
    second = path.read_text().strip()
    assert second != first and current() == second
    path.unlink()
    assert current() == second                  # a missing file locks no one out, lets no one in
