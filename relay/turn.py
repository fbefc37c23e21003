"""coturn REST credentials (``use-auth-secret``), so no static TURN password ships in clients.

coturn checks ``credential == base64(HMAC-SHA1(static-auth-secret, username))`` and refuses the
allocation once the ``expiry`` unix time in ``username = "<expiry>:<id>"`` has passed. The relay
and coturn share only the secret; nothing is stored per credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from protocol.signaling import TurnCredentials

#: 8 random bytes: the id only has to make usernames distinct in coturn's logs and quotas; it
#: carries no security (the HMAC does).
_ID_BYTES = 8


def turn_password(secret: str, username: str) -> str:
    """The coturn REST password for ``username``."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def issue_credentials(
    secret: str, uris: tuple[str, ...] | list[str], ttl: int, *, now: float | None = None
) -> TurnCredentials:
    """Fresh credentials valid for ``ttl`` seconds from ``now`` (wall clock: coturn compares
    the expiry with its own ``time()``)."""
    expiry = int(time.time() if now is None else now) + ttl
    username = f"{expiry}:{secrets.token_hex(_ID_BYTES)}"
    return TurnCredentials(
        urls=list(uris), username=username, credential=turn_password(secret, username), ttl=ttl
    )
