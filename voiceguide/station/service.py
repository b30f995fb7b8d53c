"""``voiceguide station``: the long-running service that ties the station together.

Start-up, in order: read the settings, make (or read) the token, build the
controller, bind the socket (``--listen 127.0.0.1:0`` picks a free port),
write the file that tells ``ctl`` where we listen, attach the buttons and
the LED if there are any, prepare the default and scheduled exercises in
the background, then serve until SIGTERM or SIGINT.

Shutting down: the signal makes uvicorn stop accepting, ends the event
streams (uvicorn would otherwise wait for them), and fades out a playing
session; the process then exits 0 -- a service manager's polite request to
stop is not a failure.

Trap: uvicorn (0.29 and later) re-raises a captured signal after a clean
shutdown, which would end the process with status 143 instead of 0. The
server here installs its own handlers instead (:class:`_Server`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional

from voiceguide.station.address import Address

log = logging.getLogger("voiceguide.station")


def _configure_logging() -> None:
    root = logging.getLogger("voiceguide")
    if not root.handlers:
        handler = logging.StreamHandler(own_stderr())
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
    from voiceguide.station import redact
    from voiceguide.station.connections import quiet_noisy_loggers

    # asyncio's accept errors and uvicorn's warnings go to the same place, one line a minute each
    quiet_noisy_loggers(root.handlers[0] if root.handlers else None)
    redact.install()


def own_stderr():
    """A text stream on a copy of stderr's file descriptor, for the station's log.

    PortAudio points fd 2 at /dev/null for a moment each time it starts.
    It runs in children (the sound child, see :mod:`.memory`; the
    microphone's listener process), and in the station's own process only
    where the sound child could not be spawned; a line logged then by
    another thread would be lost. The copy keeps pointing where stderr
    pointed (a terminal, the journal).
    """
    try:
        return open(os.dup(2), "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                    errors="backslashreplace")
    except (OSError, ValueError, AttributeError):
        return sys.stderr


def bind(address: Address) -> socket.socket:
    """The listening socket (bound here, so a port of 0 becomes a real one before anyone is told)."""
    from voiceguide.errors import VoiceguideError

    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it (Linux): without it a kept-alive client
    # waits ~40 ms per answer (Nagle's algorithm against delayed ACKs).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((address.host, address.port))
    except OSError as exc:
        sock.close()
        hint = ("another station may be running (`voiceguide ctl status`), or choose another port "
                "with --listen 127.0.0.1:8766") if exc.errno == 98 else "check the address"
        raise VoiceguideError(f"cannot listen on {address}: {exc.strerror}; {hint}") from None
    from voiceguide.station.connections import LISTEN_QUEUE

    sock.listen(LISTEN_QUEUE)
    sock.set_inheritable(True)
    return sock


def _make_server(app, sock: socket.socket, on_exit: Callable[[], None]):
    import uvicorn

    from voiceguide.station import connections

    class _Server(uvicorn.Server):
        """uvicorn, told to stop by our own signal handlers (exit 0; see the module docs)."""

        def handle_exit(self, sig, frame) -> None:
            if not self.should_exit:
                on_exit()
            super().handle_exit(sig, frame)

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets=sockets)
            for sock in sockets or ():
                # asyncio left the kernel's queue at its accept batch (connections.LISTEN_QUEUE says why)
                sock.listen(connections.LISTEN_QUEUE)

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, signal.SIG_IGN)
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    # uvicorn's own limits are not enough (measured: 300 silent sockets under `ulimit -n 256` still
    # locked the owner out): the protocol adds the request deadline, the cap and eviction.
    protocol = connections.protocol_class()
    log.debug("at most %d connections at once", protocol.cap)
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", http=protocol,
                            timeout_graceful_shutdown=3, timeout_keep_alive=connections.KEEP_ALIVE,
                            h11_max_incomplete_event_size=connections.MAX_HEAD, backlog=connections.BACKLOG,
                            server_header=False)
    return _Server(config)


@dataclass
class Station:
    """A built, not yet serving, station: what tests and the CLI share."""

    controller: Any
    app: Any
    hub: Any
    sock: socket.socket
    address: Address
    token: Callable[[], str]                    # the token now (re-read when --new-token replaces it)
    gpio: Any = None
    lock: Any = None                            # the one-station-per-user lock (address.StationLock)
    mqtt: Any = None                            # the MQTT bridge (mqtt.MqttBridge) when [mqtt] is set

    def serve(self) -> None:
        """Serve until a signal (main thread) or :meth:`stop` (any thread)."""
        from voiceguide.station import address as where

        where.write(self.address)
        self.server = _make_server(self.app, self.sock, self.begin_shutdown)
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.close()
            where.remove()
            if self.lock is not None:
                self.lock.release()   # last: a new station may start from here on

    def begin_shutdown(self) -> None:
        """End the event streams and fade out the session; uvicorn then stops by itself."""
        log.info("stopping the station")
        self.hub.close()
        threading.Thread(target=self.controller.stop, daemon=True).start()

    def stop(self) -> None:
        self.begin_shutdown()
        self.server.should_exit = True

    def close(self) -> None:
        if self.mqtt is not None:
            self.mqtt.close()   # says "offline" while the broker still hears us
            self.mqtt = None
        if self.gpio is not None:
            self.gpio.close()
            self.gpio = None
        self.controller.close()
        from voiceguide.station.practice_listener import wait_for_rows

        wait_for_rows()  # the last session's row, before the process ends
        with contextlib.suppress(OSError):
            self.sock.close()


def _check_web_server() -> None:
    """The station's web server is an extra (``voiceguide[station]``): without it, say so in one line.

    Checked before anything starts (the token, the socket, the preparation),
    and by finding the packages, not importing them: the import comes later.
    """
    import importlib.util

    from voiceguide.errors import UsageError

    for name in ("starlette", "uvicorn"):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):   # ValueError: hidden (None in sys.modules)
            found = False
        if not found:
            raise UsageError(f"the station's web server ({name}) is not installed: "
                             "pip install 'voiceguide[station]'")


def build(listen: Optional[str] = None, *, device: Any = None, exercise: Optional[str] = None,
          settings_path: Optional[Path] = None, use_gpio: Optional[bool] = None,
          feedback: Any = "default", voice_commands: Optional[bool] = None, mic: Any = None) -> Station:
    """Everything but serving: settings, token, controller, socket, GPIO, preparation."""
    _check_web_server()
    from voiceguide.config import effective
    from voiceguide.station import address as where
    from voiceguide.station.app import create_app
    from voiceguide.station.controller import Controller, Playback
    from voiceguide.station.event_stream import EventHub
    from voiceguide.station.feedback import Feedback
    from voiceguide.station.memory import keep_heap_small
    from voiceguide.station.settings import load
    from voiceguide.station.token import ensure_token
    from voiceguide.synth.engines.espeak import version_from_a_child

    # Mixing is one thread by design, as in `play`: OpenBLAS's worker threads
    # would only cost memory and wake-ups (set before numpy is imported).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    keep_heap_small()   # before preparing: freed loops and blocks go back to the system (issue 24)
    version_from_a_child()   # espeak-ng's version for the cache key, without its libraries kept here
    _configure_logging()
    settings, mqtt_settings = load(settings_path)   # [station] and [mqtt]: every problem of the file at once
    values = {name: v.value for name, v in effective(dict(device=device), path=settings_path).items()}
    playback = Playback(device=values["device"], latency=values["latency"], rate=values["rate"],
                        volume=values["volume"], voice=values["voice"],
                        ambient_db=float(values["ambient_level"] or 0.0),
                        voice_commands=settings.voice_commands if voice_commands is None else voice_commands,
                        mic=settings.mic if mic is None else mic)
    address = where.parse_listen(listen or settings.listen or str(where.default_address()))
    token = ensure_token()
    lock = where.hold_lock()   # before the socket: a second station names the first, not "port in use"
    from voiceguide.paths import state_dir

    try:
        controller = Controller(playback, default_exercise=exercise or settings.exercise,
                                start_volume_limit=settings.start_volume_limit, device_wait=settings.device_wait,
                                state_file=state_dir() / "station-state.json",
                                feedback=Feedback() if feedback == "default" else feedback,
                                start_delay=settings.start_delay,
                                music_folder=Path(settings.music_folder) if settings.music_folder else None)
    except BaseException:
        lock.release()
        raise
    if values["practice_log"]:
        from voiceguide.station.practice_listener import PracticeListener

        controller.add_listener(PracticeListener(controller))
    sock = None
    try:
        sock = bind(address)
        address = Address(address.host, sock.getsockname()[1])
        hub = EventHub()

        def prepare(ids: List[str]) -> None:
            controller.prepare(ids)

        from voiceguide.station.token import TokenFile

        token_now = TokenFile(token)
        app = create_app(controller, token_now, hub=hub, on_schedules_changed=prepare, hosts=settings.hosts)
        gpio = None
        if settings.gpio if use_gpio is None else use_gpio:
            from voiceguide.station.gpio import attach

            gpio = attach(controller, settings)
        bridge = None
        if mqtt_settings is not None:   # no [mqtt]: nothing of MQTT is imported
            from voiceguide.station.mqtt import attach as attach_mqtt

            bridge = attach_mqtt(controller, mqtt_settings)
    except BaseException:
        if sock is not None:
            sock.close()
        controller.close()
        lock.release()
        raise
    from voiceguide.station.schedules import exercises_to_prepare

    log.info("station listening on %s (token in %s); press the button or `voiceguide ctl play ID`",
             address.url, "VOICEGUIDE_STATION_TOKEN" if _token_from_env() else "the token file")
    controller.prepare([controller.default_exercise, *exercises_to_prepare()])
    return Station(controller, app, hub, sock, address, token_now, gpio=gpio, lock=lock, mqtt=bridge)


def _token_from_env() -> bool:
    import os

    from voiceguide.station.token import ENV

    return bool(os.environ.get(ENV, "").strip())
