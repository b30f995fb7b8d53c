"""Buttons, a rotary encoder and an LED on a Raspberry Pi, through gpiozero.

What a person does with the one button (default GPIO 17 to ground):

* **press** when idle: the default exercise starts (a soft chime first);
* **press** while playing: pause, and press again to resume;
* **double press**: skip to the next step;
* **hold** for ``hold_time`` (2 s): stop, with a fade and a chime.

Optional extras: a next button, volume up/down buttons (held, they repeat),
and a rotary encoder whose clicks change the volume and whose push pauses
and resumes (or starts, when idle).

The LED (default GPIO 27, through a resistor to ground) is off when idle,
pulses slowly while playing -- at the pace of the exercise's breathing
step, when it has one --, stays on while paused and blinks quickly for a
few seconds when a session fails.

Everything goes through the :class:`~voiceguide.station.controller.Controller`,
like the API. gpiozero is an optional extra (``pip install 'voiceguide[pi]'``):
without it, or on a machine without GPIO, :func:`attach` logs one line and
the station runs without buttons.

Traps:

* A single press can only be told from the first half of a double press
  by waiting: pause/resume acts ``double_press`` seconds after the release.
  Starting from idle does not wait (there is nothing to skip to).
* gpiozero calls the callbacks from its own threads; they only call the
  controller, which is thread-safe, and never block.
* Pulsing needs PWM; a pin factory without it gets a slow blink instead.
* In tests, ``GPIOZERO_PIN_FACTORY=mock`` and ``GPIOZERO_MOCK_PIN_CLASS=mockpwmpin``
  give pins that can be pressed from Python and an LED whose level is recorded.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Iterator, List, Optional, Tuple

from voiceguide.errors import VoiceguideError
from voiceguide.station.controller import StationListener

log = logging.getLogger("voiceguide.station")

#: Slow pulse while playing, when the exercise has no breathing step (seconds in, out).
DEFAULT_PULSE = (3.0, 3.0)
#: A failed session: quick blinks for this long, then back to the state's light.
ERROR_BLINK_SECONDS = 5.0
BOUNCE = 0.02


def attach(controller, settings) -> Optional["Gpio"]:
    """The station's buttons and LED, or None (one log line) when there is no GPIO to use."""
    try:
        import gpiozero  # noqa: F401
    except ImportError:
        log.info("gpiozero is not installed (pip install 'voiceguide[pi]'); no buttons or LED")
        return None
    fallbacks: List[str] = []
    try:
        with _pin_factory_fallbacks(fallbacks):
            return Gpio(controller, settings)
    except Exception as exc:  # BadPinFactory, PinInvalidPin, permissions...
        tried = f", tried {', '.join(fallbacks)}" if fallbacks else ""
        log.warning("no GPIO here (%s: %s%s); the station runs without buttons or LED",
                    type(exc).__name__, exc, tried)
        return None


@contextlib.contextmanager
def _pin_factory_fallbacks(into: List[str]) -> Iterator[None]:
    """Keep gpiozero's ``PinFactoryFallback`` warnings off the terminal; their reasons go into *into*.

    On every machine that is not a Pi, gpiozero warns once per pin library
    it tries (lgpio, RPi.GPIO, pigpio, native: eight lines of
    ``warnings.warn`` output) before it gives up; the station's own one
    line names them (*into* gets each library's name). On a Pi where a
    fallback works, the reasons are logged at debug level only. Other
    warnings pass through untouched.
    """
    import warnings

    from gpiozero.exc import PinFactoryFallback

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PinFactoryFallback)
        try:
            yield
        finally:
            for warning in caught:
                if issubclass(warning.category, PinFactoryFallback):
                    into.append(str(warning.message).replace("Falling back from ", "", 1).split(":")[0])
                    log.debug("gpiozero: %s", warning.message)
                else:
                    warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def _safely(action, *args) -> None:
    try:
        action(*args)
    except VoiceguideError as exc:  # nothing playing, say
        log.info("button: %s", exc)
    except Exception:
        log.exception("button action failed")


def _button(spec, **kw):
    from gpiozero import Button

    return Button(spec.pin, pull_up=spec.pull_up, active_state=spec.active_state, bounce_time=BOUNCE, **kw)


class MainButton:
    """Press, double press and hold on one button, as the module docs describe."""

    def __init__(self, controller, spec, hold_time: float, double_press: float):
        self.controller = controller
        self.double_press = double_press
        self._lock = threading.Lock()
        self._timer: Optional[threading.Timer] = None
        self._consumed = False
        self._held = False
        self.device = _button(spec, hold_time=hold_time)
        self.device.when_pressed = self._pressed
        self.device.when_released = self._released
        self.device.when_held = self._hold

    def _pressed(self) -> None:
        with self._lock:
            self._held = False
            if self._timer is not None:  # the second press of a double press
                self._timer.cancel()
                self._timer = None
                self._consumed = True
                action = self.controller.next
            elif not self.controller.busy:
                self._consumed = True
                action = self.controller.press
            else:
                self._consumed = False
                return
        _safely(action)

    def _released(self) -> None:
        with self._lock:
            if self._held or self._consumed:
                self._held = self._consumed = False
                return
            self._timer = threading.Timer(self.double_press, self._single)
            self._timer.daemon = True
            self._timer.start()

    def _single(self) -> None:
        with self._lock:
            self._timer = None
        _safely(self.controller.press)

    def _hold(self) -> None:
        with self._lock:
            self._held = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        _safely(lambda: self.controller.stop(chime=True))

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        self.device.close()


def breathing_pace(path: Optional[str]) -> Tuple[float, float]:
    """(in, out) seconds of the exercise's first breathing step, else :data:`DEFAULT_PULSE`."""
    if not path:
        return DEFAULT_PULSE
    try:
        from voiceguide import kinds
        from voiceguide.script.loader import load

        step = next(iter(kinds.find(load(path).steps, "breathe")), None)
    except Exception:
        return DEFAULT_PULSE
    if step is None:
        return DEFAULT_PULSE
    return (step.inhale + step.hold, step.exhale + step.hold_out)


class Light(StationListener):
    """The LED follows the controller: off idle, pulsing playing, on paused, blinking on failure."""

    def __init__(self, spec):
        from gpiozero import LED, PWMLED

        self._lock = threading.Lock()
        self._mode: Optional[str] = None
        self._pace = DEFAULT_PULSE
        self._error_until = 0.0
        self._restore: Optional[threading.Timer] = None
        self._state = "idle"
        try:
            self.device = PWMLED(spec.pin, active_high=not spec.active_low)
            self.pwm = True
        except Exception:  # no PWM on this pin factory
            self.device = LED(spec.pin, active_high=not spec.active_low)
            self.pwm = False
        self._show("idle")

    @property
    def mode(self) -> Optional[str]:
        return self._mode

    def _show(self, mode: str) -> None:
        """Change the light only when its mode changes (a state arrives every second)."""
        if mode == self._mode:
            return
        self._mode = mode
        led = self.device
        if mode == "playing":
            fade_in, fade_out = self._pace
            if self.pwm:
                led.pulse(fade_in_time=fade_in, fade_out_time=fade_out)
            else:
                led.blink(on_time=fade_in, off_time=fade_out)
        elif mode == "paused":
            led.on()
        elif mode == "error":
            led.blink(on_time=0.1, off_time=0.1)
        else:
            led.off()

    def state_changed(self, state) -> None:
        import time

        with self._lock:
            self._state = state.get("state", "idle")
            if time.monotonic() < self._error_until and self._state == "idle":
                return
            self._show(self._state)

    def session_started(self, start) -> None:
        pace = breathing_pace(start.path)
        with self._lock:
            self._pace = pace
            self._error_until = 0.0
            if self._mode == "error":
                self._show("idle")

    def session_ended(self, end) -> None:
        import time

        if end.outcome != "error":
            return
        with self._lock:
            self._error_until = time.monotonic() + ERROR_BLINK_SECONDS
            self._show("error")
            if self._restore is not None:
                self._restore.cancel()
            self._restore = threading.Timer(ERROR_BLINK_SECONDS, self._after_error)
            self._restore.daemon = True
            self._restore.start()

    def _after_error(self) -> None:
        with self._lock:
            if self._mode == "error":
                self._show(self._state)

    def close(self) -> None:
        with self._lock:
            if self._restore is not None:
                self._restore.cancel()
            self.device.close()


class Gpio:
    """Every input and the LED, attached to one controller."""

    def __init__(self, controller, settings):
        self.controller = controller
        self._devices: List[Any] = []
        self.button: Optional[MainButton] = None
        self.light: Optional[Light] = None
        step = settings.volume_step
        try:
            if settings.button is not None:
                self.button = MainButton(controller, settings.button, settings.hold_time, settings.double_press)
                self._devices.append(self.button)
            if settings.next_button is not None:
                b = _button(settings.next_button)
                b.when_pressed = lambda: _safely(controller.next)
                self._devices.append(b)
            for spec, delta in ((settings.volume_up_button, step), (settings.volume_down_button, -step)):
                if spec is not None:
                    b = _button(spec, hold_time=0.4, hold_repeat=True)
                    b.when_pressed = b.when_held = (lambda d=delta: _safely(controller.change_volume, d))
                    self._devices.append(b)
            if settings.encoder is not None:
                from gpiozero import RotaryEncoder

                enc = RotaryEncoder(settings.encoder.a, settings.encoder.b, max_steps=0)
                enc.when_rotated_clockwise = lambda: _safely(controller.change_volume, step)
                enc.when_rotated_counter_clockwise = lambda: _safely(controller.change_volume, -step)
                self._devices.append(enc)
                if settings.encoder.button is not None:
                    push = _button(settings.encoder.button)
                    push.when_pressed = lambda: _safely(controller.press)
                    self._devices.append(push)
            if settings.led is not None:
                self.light = Light(settings.led)
                self._devices.append(self.light)
                controller.add_listener(self.light)
        except BaseException:
            self.close()
            raise
        pins = [f"button {settings.button.pin}" if settings.button else None,
                f"LED {settings.led.pin}" if settings.led else None]
        log.info("GPIO ready: %s", ", ".join(p for p in pins if p) or "nothing configured")

    def close(self) -> None:
        if self.light is not None:
            self.controller.remove_listener(self.light)
        for device in reversed(self._devices):
            try:
                device.close()
            except Exception:  # gpiozero's, lgpio's or the pin factory's own errors: the pins are freed at exit
                log.debug("GPIO: closing %s failed", device, exc_info=True)
        self._devices.clear()
