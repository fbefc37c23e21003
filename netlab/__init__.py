"""Network lab: throw-away Linux network namespaces for calls under real (and bad) conditions.

Why: a call over loopback proves little. This module builds small private networks out of
network namespaces so tests and scripts (``scripts/soak.py``) can run each client in its own
"host", force TURN, and add loss, delay and jitter -- without touching any real interface.
Every address is in 10.231.0.0/16 and lives only inside namespaces created here.

An installed package (``import netlab``) rather than a folder under ``tests/`` so scripts
(``scripts/soak.py``) use it without editing ``sys.path``; it is a test and bench tool, and no
product package imports it (an import-linter contract in ``pyproject.toml``). Tests:
``tests/netlab/test_*.py``.

Needs root (``ip netns add``) and some Debian packages (iproute2, procps; iptables for loss,
coturn for TURN; ``scripts/system-deps.sh`` installs them): :func:`unavailable_reason` names
what is missing, so tests skip with that reason instead of failing half-way through a lab.

Topologies (each a context manager yielding a :class:`Lab`; everything is torn down on exit,
also on errors; namespace names are ``avc-<pid>-<hex>-<role>`` so :func:`cleanup_stale` can
remove what a crashed run left behind)::

    direct()   A 10.231.1.1 ---------------- B 10.231.1.2         services run in A
    turn_split()
               A 10.231.1.1 --- T --- B 10.231.2.1                T: 10.231.1.254, 10.231.2.254,
                                                                  service address 10.231.3.1 (lo)
               A and B each have a route to 10.231.3.1 only; T does not forward, so A and B
               cannot reach each other: a call must go through coturn on T.
    routed(loss=, delay_ms=, jitter_ms=)
               A 10.231.1.1 --- M --- B 10.231.2.1                M routes (ip_forward=1),
                                                                  service address 10.231.3.1 (lo)

Impairment in ``routed``: loss is ``iptables -m statistic --mode random`` on M's FORWARD chain,
once per direction (``-i`` the A-side or B-side veth); ``turn_split`` takes loss too, on T's
INPUT chain (so each relayed direction loses it once), but no delay. Delay and jitter come from
a user-space shim (``netlab/shim.py``; no ``tc netem`` here): policy routing in M sends
every packet that M forwards between A and B into a TUN device; the shim reads it, holds it for
``delay +- jitter`` (each packet drawn independently, so jitter may reorder, as on a real path)
and writes it back into the TUN, from where M's main table routes it on. This delays every IP
packet in both directions whatever its protocol; traffic addressed to M itself (the relay,
coturn on 10.231.3.1) is delivered by the ``local`` table first and is not impaired.

Lab.service_addr is where to run the relay (and coturn): reachable from both A and B.
:class:`Coturn` runs a test coturn (``use-auth-secret``) in a namespace; credentials come from
``relay.turn`` (the same REST scheme the relay hands out).
"""

from .lab import (
    PREFIX,
    SERVICE_ADDR,
    Coturn,
    Lab,
    NetlabError,
    cleanup_stale,
    delete_namespace,
    direct,
    list_namespaces,
    require,
    routed,
    sh,
    turn_split,
    unavailable_reason,
)
from .tools import HIDE_ENV, TOOLS, TUN_DEVICE, missing, which

__all__ = [
    "HIDE_ENV",
    "PREFIX",
    "SERVICE_ADDR",
    "TOOLS",
    "TUN_DEVICE",
    "Coturn",
    "Lab",
    "NetlabError",
    "cleanup_stale",
    "delete_namespace",
    "direct",
    "list_namespaces",
    "missing",
    "require",
    "routed",
    "sh",
    "turn_split",
    "unavailable_reason",
    "which",
]
