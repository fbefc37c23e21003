"""The address to give the other person for the embedded relay: one on the LAN they can reach.

The address shown to the other person must be one *they* can reach, so loopback is only the
last resort. A UDP ``connect`` picks the interface of the default route without sending a
packet; with no default route (an isolated test box) the interface list is scanned instead.
"""

from __future__ import annotations

import ipaddress
import socket

import psutil

#: Any routable address works for the UDP-connect trick; nothing is sent to it.
_PROBE_ADDR = ("192.0.2.1", 9)  # TEST-NET-1 (RFC 5737)
LOOPBACK = "127.0.0.1"
#: Bind address for a relay other machines may reach (the user chose to share on the LAN).
ALL_ADDRESSES = "0.0.0.0"


def _usable(addr: str) -> bool:
    try:
        ip = ipaddress.IPv4Address(addr)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def lan_ipv4() -> str:
    """The machine's non-loopback IPv4 address, else 127.0.0.1."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(_PROBE_ADDR)
            addr = str(s.getsockname()[0])
            if _usable(addr):
                return addr
    except OSError:
        pass
    try:
        for _name, addrs in sorted(psutil.net_if_addrs().items()):
            for a in addrs:
                if a.family == socket.AF_INET and _usable(a.address):
                    return str(a.address)
    except OSError:
        pass
    return LOOPBACK
