"""Reply-address tokens: random, stored, unguessable; a pure encode/decode pair."""
from __future__ import annotations

import base64
import re
import secrets

TOKEN_LENGTH = 26  # base32 characters: 130 bits of randomness
_TOKEN_RE = re.compile(r"^[a-z2-7]{%d}$" % TOKEN_LENGTH)


def new_token() -> str:
    """Lower-case base32, so servers that fold the case of local parts keep it intact."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()[:TOKEN_LENGTH]


def reply_address(bot_address: str, token: str, separator: str = "+") -> str:
    local, _, domain = bot_address.partition("@")
    return f"{local}{separator}{token}@{domain}"


def token_from_address(address: str, bot_address: str, separator: str = "+") -> str | None:
    """The token in `bot+TOKEN@domain`, or None if the address is not one of ours."""
    local, _, domain = address.lower().partition("@")
    bot_local, _, bot_domain = bot_address.lower().partition("@")
    prefix = bot_local + separator
    if domain != bot_domain or not local.startswith(prefix):
        return None
    token = local[len(prefix):]
    return token if _TOKEN_RE.match(token) else None
