"""Connecting and logging in to the mail servers exactly as configured: TLS checked against the
configured CAs, a password or an OAuth2 token, and errors that name the setting to change.

A refused login is remembered (bot.authstate) so the next polls wait instead of hammering
the server; a port and security that do not match fail within seconds, naming the pair to try.
"""
from __future__ import annotations

import asyncio
import base64
import ssl
from dataclasses import dataclass, field

import aiosmtplib
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from imapclient.imapclient import SocketTimeout

from bot.authstate import AuthBackoff, fingerprint
from bot.oauth import OAuthError, TokenKeeper, oauthbearer, secret_values, xoauth2
from bot.tls import TlsSettings, client_context, pair_hint

GREETING_SECONDS = 5.0  # a server greets at once; silence means it waits for a TLS handshake
AUTH_METHODS = ("password", "oauth2")


class LoginFailed(Exception):
    """Connecting or logging in failed; the message says what to change.

    `counts` is True when the server refused the credentials themselves: such failures are
    backed off, because providers lock mailboxes after repeated refusals.
    """

    def __init__(self, message: str, counts: bool = False) -> None:
        super().__init__(message)
        self.counts = counts


class LoginWaiting(LoginFailed):
    """A refused login is being waited out: nothing was sent to the server, and the refusal was logged."""


@dataclass(eq=False)
class Login:
    """How the bot proves who it is to one server (built from the config, shared by every connection)."""

    server: str  # "imap" or "smtp": the config section, named in every message
    method: str  # password | oauth2
    username: str
    password: str = field(default="", repr=False)
    tls: TlsSettings = TlsSettings()
    tokens: TokenKeeper | None = None
    backoff: AuthBackoff | None = None
    notices: set[str] = field(default_factory=set)  # what was said once already
    mechanism: str = ""  # the SASL mechanism of the last successful login, for `check`

    def fingerprint(self) -> str:
        """Changes when the credentials do, also a secret replaced in its file or variable."""
        source = [repr(self.tokens.source), *secret_values(self.tokens.source)] if self.tokens else []
        return fingerprint(self.method, self.username, self.password, *source)

    def first_time(self, notice: str) -> bool:
        """True the first time this notice is given by this process."""
        if notice in self.notices:
            return False
        self.notices.add(notice)
        return True

    def check_backoff(self) -> None:
        refusal = self.backoff.waiting(self.server, self.fingerprint()) if self.backoff else None
        if refusal is not None:
            raise LoginWaiting(refusal.describe())

    def record(self, failure: LoginFailed | None) -> None:
        if self.backoff is None:
            return
        if failure is None:
            self.backoff.accepted(self.server)
        elif failure.counts:
            self.backoff.refused(self.server, self.fingerprint(), str(failure))


# IMAP

def connect_imap(host: str, port: int, security: str, timeout: float, login: Login) -> IMAPClient:
    """An IMAPClient connected (and upgraded to TLS if configured), not yet logged in."""
    where = f"IMAP {host}:{port}"
    context = client_context(login.tls)
    greeting = min(GREETING_SECONDS, timeout)
    try:
        client = IMAPClient(host, port=port, ssl=security == "ssl", ssl_context=context,
                            timeout=SocketTimeout(connect=greeting, read=timeout))
    except ssl.SSLCertVerificationError as exc:
        raise LoginFailed(_untrusted(where, "imap", exc)) from exc
    except ssl.SSLError as exc:
        raise LoginFailed(f"{where} did not answer the TLS handshake with TLS ({exc.reason}): "
                          f"{pair_hint('imap', port, security)}") from exc
    except TimeoutError as exc:
        if security == "ssl":
            raise LoginFailed(f"{where}: no answer within {greeting:.0f} s") from exc
        raise LoginFailed(f"{where} sent no greeting within {greeting:.0f} s with imap.security = \"{security}\" "
                          f"(a TLS port waits for a handshake): {pair_hint('imap', port, security)}") from exc
    if security == "starttls":
        _imap_starttls(client, where, port, context)
    return client


def _imap_starttls(client: IMAPClient, where: str, port: int, context: ssl.SSLContext) -> None:
    if b"STARTTLS" not in client.capabilities():
        client.shutdown()
        raise LoginFailed(f"{where} offers no STARTTLS: {pair_hint('imap', port, 'starttls')}")
    try:
        client.starttls(context)
    except ssl.SSLCertVerificationError as exc:
        raise LoginFailed(_untrusted(where, "imap", exc)) from exc


def _untrusted(where: str, server: str, exc: ssl.SSLCertVerificationError) -> str:
    return (f"{where}: the server's certificate is not trusted ({exc.verify_message}): if the server uses a "
            f"private CA, set {server}.ca_file to that CA's PEM file (or {server}.ca_dir)")


def imap_login(client: IMAPClient, login: Login, host: str, port: int, now: bool = False) -> None:
    """Log in with the configured method; raises LoginFailed naming the setting to change.
    `now` tries even while a refusal is being waited out (the operator asked, with `check`)."""
    if not now:
        login.check_backoff()
    try:
        if login.method == "oauth2":
            _imap_oauth(client, login, host, port)
        else:
            _imap_password(client, login)
    except LoginFailed as failure:
        login.record(failure)
        raise
    login.record(None)


def _imap_password(client: IMAPClient, login: Login) -> None:
    capabilities = client.capabilities()
    if b"LOGINDISABLED" in capabilities:
        raise LoginFailed("IMAP: the server takes no password on an unencrypted connection (LOGINDISABLED): "
                          "set imap.security = \"ssl\" or \"starttls\"")
    try:
        client.login(login.username, login.password)
        login.mechanism = "LOGIN"
    except LoginError as exc:
        hint = _oauth_hint(capabilities, "imap")
        raise LoginFailed(f"IMAP refused the password for {login.username!r}: {_text(exc)}{hint}", counts=True) from None


def _oauth_hint(capabilities: tuple[bytes, ...], server: str) -> str:
    if any(c in capabilities for c in (b"AUTH=XOAUTH2", b"AUTH=OAUTHBEARER")):
        return (f"; check {server}.username and {server}.password, or, if this mailbox takes OAuth2 only "
                f"(Microsoft 365, Google), set {server}.auth = \"oauth2\" and an [oauth] section")
    return f"; check {server}.username and {server}.password"


def _imap_oauth(client: IMAPClient, login: Login, host: str, port: int) -> None:
    assert login.tokens is not None
    capabilities = client.capabilities()
    offered = [m for m in ("OAUTHBEARER", "XOAUTH2") if b"AUTH=" + m.encode() in capabilities]
    if not offered:
        mechanisms = " ".join(c.decode() for c in capabilities if c.startswith(b"AUTH=")) or "none"
        raise LoginFailed(f"IMAP {host}:{port} offers no OAuth2 login (it offers {mechanisms}): "
                          f"set imap.auth = \"password\", or use TLS (imap.security) if it hides them")
    token = _token(login)
    for attempt in range(2):
        try:
            if offered[0] == "OAUTHBEARER":
                client.oauthbearer_login(login.username, token)
            else:
                client.oauth2_login(login.username, token)
            login.mechanism = offered[0]
            return
        except LoginError as exc:
            if attempt:
                raise LoginFailed(f"IMAP refused a fresh OAuth2 token for {login.username!r}: {_text(exc)}; "
                                  f"check that the app may use IMAP for this mailbox", counts=True) from None
            token = _token(login, refused=token)


def _token(login: Login, refused: str = "") -> str:
    assert login.tokens is not None
    try:
        return login.tokens.refused(refused) if refused else login.tokens.token()
    except OAuthError as exc:
        raise LoginFailed(f"OAuth2: {exc}", counts=exc.refused) from None


def _text(exc: Exception) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    return text


# SMTP

def smtp_client(host: str, port: int, security: str, timeout: float, login: Login) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(hostname=host, port=port, timeout=timeout, use_tls=security == "ssl",
                           start_tls=security == "starttls", tls_context=client_context(login.tls))


async def connect_smtp(smtp: aiosmtplib.SMTP, security: str, login: Login) -> None:
    """Connect (and STARTTLS) quickly, naming the port/security pair to try when they do not match."""
    where = f"SMTP {smtp.hostname}:{smtp.port}"
    greeting = min(GREETING_SECONDS, float(smtp.timeout or GREETING_SECONDS))
    try:
        await smtp.connect(timeout=greeting)
    except (aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPConnectTimeoutError) as exc:
        if security == "ssl":
            raise LoginFailed(f"{where}: no answer within {greeting:.0f} s") from exc
        raise LoginFailed(f"{where} sent no greeting within {greeting:.0f} s with smtp.security = \"{security}\" "
                          f"(a TLS port waits for a handshake): {pair_hint('smtp', smtp.port or 0, security)}") from exc
    except aiosmtplib.SMTPConnectError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ssl.SSLCertVerificationError):
            raise LoginFailed(_untrusted(where, "smtp", cause)) from exc
        if isinstance(cause, ssl.SSLError) or "SSL" in str(exc):
            raise LoginFailed(f"{where} did not answer the TLS handshake with TLS: "
                              f"{pair_hint('smtp', smtp.port or 0, security)}") from exc
        raise
    except aiosmtplib.SMTPException as exc:
        if "STARTTLS" in str(exc):
            raise LoginFailed(f"{where} offers no STARTTLS: {pair_hint('smtp', smtp.port or 0, 'starttls')}") from exc
        raise


async def smtp_login(smtp: aiosmtplib.SMTP, login: Login, now: bool = False) -> None:
    """Log in if a username is configured: one mechanism, one try (two for an expired token)."""
    if not login.username:
        return
    if not now:
        login.check_backoff()
    try:
        if login.method == "oauth2":
            await _smtp_oauth(smtp, login)
        else:
            await _smtp_password(smtp, login)
    except LoginFailed as failure:
        login.record(failure)
        raise
    login.record(None)


async def _smtp_mechanisms(smtp: aiosmtplib.SMTP) -> list[str]:
    if smtp.last_ehlo_response is None:  # after STARTTLS the server's extensions must be asked again
        await smtp.ehlo()
    if not smtp.supports_extension("auth"):
        raise LoginFailed(f"SMTP {smtp.hostname}:{smtp.port} offers no AUTH on this connection: it may want TLS "
                          f"first (smtp.security = \"starttls\" or \"ssl\"), or it is a relay that needs no login "
                          f"(smtp.username = \"\")")
    return [m.upper() for m in smtp.server_auth_methods]


async def _smtp_password(smtp: aiosmtplib.SMTP, login: Login) -> None:
    offered = await _smtp_mechanisms(smtp)
    try:  # one mechanism only: trying PLAIN then LOGIN doubles the failures a provider counts
        if "PLAIN" in offered:
            await smtp.auth_plain(login.username, login.password)
            login.mechanism = "PLAIN"
        elif "LOGIN" in offered:
            await smtp.auth_login(login.username, login.password)
            login.mechanism = "LOGIN"
        else:
            raise LoginFailed(f"SMTP offers no password login (it offers {' '.join(offered)}): "
                              f"set smtp.auth = \"oauth2\" and an [oauth] section")
    except aiosmtplib.SMTPAuthenticationError as exc:
        hint = ("; the server wants TLS first: set smtp.security" if exc.code == 538
                else "; check smtp.username and smtp.password")
        raise LoginFailed(f"SMTP refused the password for {login.username!r}: {exc.code} {exc.message}{hint}",
                          counts=exc.code != 538) from None


async def _smtp_oauth(smtp: aiosmtplib.SMTP, login: Login) -> None:
    offered = [m for m in ("OAUTHBEARER", "XOAUTH2") if m in await _smtp_mechanisms(smtp)]
    if not offered:
        raise LoginFailed(f"SMTP {smtp.hostname}:{smtp.port} offers no OAuth2 login: set smtp.auth = \"password\"")
    token = await asyncio.to_thread(_token, login)  # a fetch must not stall the other connections
    for attempt in range(2):
        code, message = await _smtp_sasl(smtp, offered[0], login, token)
        if code == 235:
            login.mechanism = offered[0]
            return
        if attempt:
            raise LoginFailed(f"SMTP refused a fresh OAuth2 token for {login.username!r}: {code} {message}; "
                              f"check that the app may send mail (SMTP AUTH) for this mailbox", counts=True)
        token = await asyncio.to_thread(_token, login, token)


async def _smtp_sasl(smtp: aiosmtplib.SMTP, mechanism: str, login: Login, token: str) -> tuple[int, str]:
    text = (oauthbearer(login.username, token, smtp.hostname or "", smtp.port or 0) if mechanism == "OAUTHBEARER"
            else xoauth2(login.username, token))
    response = await smtp.execute_command(b"AUTH", mechanism.encode(), base64.b64encode(text.encode()))
    if response.code == 334:  # the error comes as a challenge; an empty (or ^A) answer ends the exchange
        response = await smtp.execute_command(b"AQ==" if mechanism == "OAUTHBEARER" else b"")
    return response.code, response.message
