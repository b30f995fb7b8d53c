"""The pairing address: what a phone opens to reach the station, and its QR code.

``http://ADDRESS:PORT/?token=TOKEN`` carries the token once; the station
swaps it for a cookie at the first request (see :mod:`voiceguide.station.guard`).
It is printed only to a terminal, never to a log: under systemd, stdout is the
journal, so a non-terminal gets a line that says how to see it instead.

When the station listens on every interface (``0.0.0.0``) the address has to
be one the phone can reach, so we list this machine's own interface
addresses (Linux: ``SIOCGIFADDR`` per interface; no packet is sent) and
prefer private LAN ranges over anything else.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import List, Optional, TextIO

WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (``localhost`` counts)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _interface_addresses() -> List[str]:
    found: List[str] = []
    try:
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _, name in socket.if_nameindex():
                try:
                    packed = fcntl.ioctl(s.fileno(), 0x8915,  # SIOCGIFADDR
                                         struct.pack("256s", name[:15].encode()))
                except OSError:
                    continue   # no IPv4 address on this interface
                found.append(socket.inet_ntoa(packed[20:24]))
    except (ImportError, OSError, AttributeError):
        pass
    if not found:   # not Linux: ask the resolver (which may ask DNS, hence only as a fallback)
        try:
            for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
                found.append(str(info[4][0]))   # AF_INET: (host, port)
        except OSError:
            pass
    return found


def lan_addresses() -> List[str]:
    """This machine's IPv4 addresses a phone could use, private LAN ranges first."""
    seen: List[str] = []
    for address in _interface_addresses():
        ip = ipaddress.ip_address(address)
        if ip.is_loopback or ip.is_link_local or ip.is_unspecified or address in seen:
            continue
        seen.append(address)
    return sorted(seen, key=lambda a: (not ipaddress.ip_address(a).is_private, a.startswith("172.")))


def reachable_host(listen_host: str) -> str:
    """The host part a phone should use for a station listening on ``listen_host``."""
    if listen_host in WILDCARDS:
        addresses = lan_addresses()
        if addresses:
            return addresses[0]
        return f"{socket.gethostname().split('.')[0]}.local"
    return listen_host


def pairing_url(listen_host: str, port: int, token: str) -> str:
    host = reachable_host(listen_host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/?token={token}"


def qr_code(text: str) -> str:
    """``text`` as a QR code drawn with block characters (two rows a line).

    segno (pure Python, no dependencies) draws light modules as blocks, which
    reads correctly on the usual dark terminal; phone scanners also read the
    inverted code a light terminal shows.
    """
    import io

    import segno

    out = io.StringIO()
    segno.make(text, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue()


def announce(listen_host: str, port: int, token: str, out: Optional[TextIO] = None,
             force: bool = False) -> bool:
    """Print the pairing address and QR code when listening beyond loopback.

    Prints only to a terminal (or with ``force``): returns whether it did. A
    station on loopback needs no pairing from a phone: nothing is printed.
    """
    out = out or sys.stdout
    if is_loopback(listen_host) and not force:
        return False
    if not (force or out.isatty()):
        print("station: to pair a phone, run `voiceguide station --pairing` in a terminal "
              "(the address holds the token, so it is not written to the log)", file=out)
        return False
    url = pairing_url(listen_host, port, token)
    print("Open this address on your phone (on the same home network), or scan the code:", file=out)
    print(f"  {url}", file=out)
    print(qr_code(url), file=out)
    print("The address holds the station's key: share it only with your own devices. "
          "`voiceguide station --new-token` replaces it.", file=out)
    out.flush()
    return True
