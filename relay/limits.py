"""Per-address accounting: the key a client address is counted under, and bounded rate tables.

One address is not one attacker's worth of resources: an IPv6 host is normally handed a whole
/64 (SLAAC, privacy addresses), so counting single IPv6 addresses would give one machine 2**64
separate caps. :func:`address_key` therefore counts an IPv6 client by its /64 network, an IPv4
client by its address (a household NAT is one address, and its members share the caps; the
defaults are sized for that), and an IPv4-mapped IPv6 address (``::ffff:a.b.c.d``, what a dual
stack socket reports) as the IPv4 address it is. Every per-address count in the relay (the
concurrent-connection cap, handshakes in progress, the rates below) goes through this one
function, so an address cannot be counted under one key by one limit and another by the next.

:class:`RateTable` is a token bucket per key (connections per second, rooms per second). It is
bounded: a bucket that has been idle long enough to refill is indistinguishable from a new one,
so it is dropped, and the table never holds more than ``max_keys`` entries (oldest first out),
so an attacker cycling through source addresses costs a bounded amount of memory; cycling only
gives each address a fresh burst, which it would have had anyway.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from dataclasses import dataclass

#: Entries a rate table keeps at most. About 200 bytes each, so 64k keys are ~13 MB: a /48
#: worth of /64s, or 64k IPv4 addresses each within their refill time, before eviction starts.
MAX_RATE_KEYS = 65_536
#: A refused address is logged at most once per this many seconds (and per table); the next
#: line says how many refusals it skipped. One line per refusal let a client write the log.
LOG_INTERVAL = 10.0


def address_key(ip: str) -> str:
    """The accounting key for a client address: IPv4 -> itself; IPv6 -> its /64 network
    (``2001:db8:1:2::/64``); IPv4-mapped IPv6 -> the IPv4 address. Anything unparsable (the
    relay's ``"?"`` for a socket without a peer name) is its own key."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])  # a zone id (fe80::1%eth0) is local
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address):
        mapped = addr.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.IPv6Network((int(addr) >> 64 << 64, 64)))
    return str(addr)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float
    #: When this key was last logged as refused, and refusals not logged since.
    logged: float = float("-inf")
    unlogged: int = 0


class RateTable:
    """Token buckets keyed by :func:`address_key`; ``rate`` tokens per second up to ``burst``.

    Keys are kept in least-recently-touched order, so expiring idle buckets only ever looks at
    the front of the table (amortised O(1) per call) and eviction at ``max_keys`` drops the
    address that has been quiet longest.
    """

    def __init__(self, rate: float, burst: int, *, max_keys: int = MAX_RATE_KEYS,
                 log_interval: float = LOG_INTERVAL) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.log_interval = log_interval
        # A bucket this long untouched is full again (and its log throttle has lapsed):
        # forgetting it changes nothing.
        self._idle = max(burst / rate, log_interval)
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float) -> bool:
        """Spend one token of ``key``'s bucket; False (nothing spent) when it is empty."""
        self._expire(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    def should_log(self, key: str, now: float) -> int | None:
        """After a refused :meth:`take`: None while ``key`` was logged within the interval
        (the refusal is tallied instead); otherwise the number of refusals skipped since the
        last line, and the caller logs one line now."""
        bucket = self._buckets.get(key)
        if bucket is None:  # pragma: no cover - take() just created it
            return 0
        if now - bucket.logged < self.log_interval:
            bucket.unlogged += 1
            return None
        skipped, bucket.unlogged, bucket.logged = bucket.unlogged, 0, now
        return skipped

    def _expire(self, now: float) -> None:
        buckets = self._buckets
        while buckets:
            key, oldest = next(iter(buckets.items()))
            if now - oldest.stamp < self._idle:
                break
            del buckets[key]
