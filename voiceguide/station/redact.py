"""Keep the station's token out of every log line, and every log line one line.

The pairing address (``/?token=...``) is a request line like any other, and
uvicorn's access log prints request lines whole: under systemd that would put
the token in the journal, readable by anyone in the ``adm`` group. A logging
filter rewrites ``token=...`` (and a bearer header, should one ever be
formatted into a message) before any handler sees the record.

The same filter passes what a record quotes (its string arguments, and the
words of an exception given as one) through :func:`voiceguide.visible.visible`:
an exercise id is a file name and a request path is anyone's, and either may
hold a newline (a forged log line in the journal), an escape sequence or a
bidi override. Numbers and other objects are left for the format to show.

Trap: a filter on a *logger* only sees records logged on that very logger,
not those propagated from its children, so :func:`install` puts the filter
on each logger the station writes through and on the root handlers.
"""

from __future__ import annotations

import logging
import re

from voiceguide.visible import visible

_PATTERNS = (
    (re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE), r"\1[hidden]"),
    (re.compile(r"(bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1[hidden]"),
)

LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error", "voiceguide", "voiceguide.station")


def scrub(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _safe(value: object) -> object:
    """A record's argument as it may be logged: text scrubbed and made visible; numbers as they are."""
    if isinstance(value, BaseException):
        value = str(value)
    return visible(scrub(value)) if isinstance(value, str) else value


class RedactToken(logging.Filter):
    """Rewrites a record's message and arguments (token hidden, controls visible); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = visible(scrub(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(_safe(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _safe(v) for k, v in record.args.items()}
        return True


_FILTER = RedactToken()


def install() -> None:
    """Attach the filter to the station's loggers and to every root handler (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
