"""The dev mail system's submission service for the bot: AUTH required, over TLS when TLS is on,
checking passwords or OAuth2 tokens (XOAUTH2, OAUTHBEARER) against the same identity provider
Dovecot asks, and refusing passwords for the OAuth-only domain as Microsoft 365 does."""
from __future__ import annotations

import base64
import json
from collections.abc import Callable

from aiosmtpd.smtp import SMTP as SMTPServer, AuthResult, LoginPassword, Session, Envelope, auth_mechanism

INVALID = "535 5.7.8 Authentication credentials invalid"


class SubmissionAuth:
    """aiosmtpd authenticator (PLAIN, LOGIN) plus the OAuth2 mechanisms as handler methods."""

    def __init__(self, password: str, oauth_only_domains: tuple[str, ...],
                 introspect: Callable[[str], str | None] | None) -> None:
        self.password, self.oauth_only, self.introspect = password, oauth_only_domains, introspect
        self.attempts = 0  # AUTH commands seen, for tests of back-off
        self.failures = 0

    def __call__(self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: object) -> AuthResult:
        self.attempts += 1
        ok = (isinstance(auth_data, LoginPassword) and auth_data.password.decode() == self.password
              and auth_data.login.decode().rpartition("@")[2].lower() not in self.oauth_only)
        self.failures += not ok
        # handled=False makes aiosmtpd answer 535; handled=True with failure would leave the client waiting
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def token_user(self, token: str) -> str | None:
        return self.introspect(token) if self.introspect else None


class OAuthMechanisms:
    """Mixed into the relay handler: aiosmtpd calls auth_<MECHANISM>(server, args)."""

    auth: SubmissionAuth

    @auth_mechanism("XOAUTH2")
    async def auth_XOAUTH2(self, server: SMTPServer, args: list[str]) -> AuthResult:
        fields = await _initial(server, args)
        user, _, rest = fields.partition("\x01")
        return await self._check(server, user.removeprefix("user="), rest)

    @auth_mechanism("OAUTHBEARER")
    async def auth_OAUTHBEARER(self, server: SMTPServer, args: list[str]) -> AuthResult:
        fields = await _initial(server, args)
        header, _, rest = fields.partition("\x01")
        user = header.split(",")[1].removeprefix("a=").replace("=2C", ",").replace("=3D", "=")
        return await self._check(server, user, rest)

    async def _check(self, server: SMTPServer, user: str, rest: str) -> AuthResult:
        self.auth.attempts += 1
        token = next((f.removeprefix("auth=Bearer ") for f in rest.split("\x01") if f.startswith("auth=Bearer ")), "")
        if token and self.auth.token_user(token) == user:
            return AuthResult(success=True, auth_data=user)
        self.auth.failures += 1
        # as Gmail does: the error as a challenge, then 535 after the client's empty answer
        error = json.dumps({"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"})
        await server.challenge_auth(error)
        return AuthResult(success=False, handled=False, message=INVALID)


async def _initial(server: SMTPServer, args: list[str]) -> str:
    if len(args) > 1:
        return base64.b64decode(args[1]).decode(errors="replace")
    answer = await server.challenge_auth("")
    return answer.decode(errors="replace") if isinstance(answer, bytes) else ""
