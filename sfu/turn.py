"""Short-lived TURN credentials for coturn's `use-auth-secret` (the "TURN REST API").

coturn, started with `use-auth-secret` and `static-auth-secret=<secret>`, accepts any user
name of the form `<expiry unix time>:<anything>` whose password is
base64(HMAC-SHA1(secret, user name)), until that expiry. So nothing but the shared secret
is configured on both sides, and a credential handed to a browser stops working by itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

TURN_CREDENTIAL_SECONDS = 12 * 3600


def turn_credentials(
    secret: str, identity: str, now: float, ttl: int = TURN_CREDENTIAL_SECONDS
) -> tuple[str, str]:
    """(username, credential) for `identity`, valid `ttl` seconds from `now`."""
    username = f"{int(now) + ttl}:{identity}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")
