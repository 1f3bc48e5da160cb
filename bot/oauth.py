"""OAuth2 access tokens for IMAP and SMTP: where they come from, and kept until shortly before expiry.

Sources: a generic refresh-token grant (any provider, and a Gmail user via `supplierbot
auth`), Microsoft 365's client-credentials flow through msal, and a Google service account
with domain-wide delegation through google-auth. Secrets are read from the environment or
a file when a token is fetched; no token or secret is ever logged or put in an error.
"""
from __future__ import annotations

import json
import os
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import requests

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_SCOPE = "https://mail.google.com/"
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
MICROSOFT_SCOPE = "https://outlook.office365.com/.default"
PROVIDERS = ("microsoft", "google_service_account", "google_user", "generic")


class OAuthError(Exception):
    """No token could be obtained; the message names the setting to look at, never a secret.

    `refused` is False when the provider could not be reached: that is an outage to ride
    out, not a refusal to back off from.
    """

    def __init__(self, message: str, refused: bool = True) -> None:
        super().__init__(message)
        self.refused = refused


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float  # time.time() seconds
    lifetime: float


@dataclass(frozen=True)
class SecretRef:
    """A secret named in the config by where it lives: an environment variable or a file."""

    setting: str  # e.g. "oauth.client_secret", for messages
    env: str = ""
    file: Path | None = None

    def read(self) -> str:
        if self.env:
            value = os.environ.get(self.env, "")
            if not value:
                raise OAuthError(f"{self.setting}_env: environment variable {self.env!r} is not set")
            return value.strip()
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise OAuthError(f"{self.setting}_file: cannot read {self.file}: {exc.strerror}") from None

    def replace(self, value: str) -> None:
        """Store a rotated secret (a new refresh token) where the old one was, readable by us only."""
        if self.file is None:
            return
        write_private(self.file, value + "\n")


def write_private(path: Path, text: str) -> None:
    """Write atomically, mode 0600: a half-written refresh token would lock the bot out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class TokenSource(Protocol):
    def fetch(self) -> AccessToken: ...


def _https_context(ca_file: Path | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


def _requests_session(ca_file: Path | None, timeout: float = 30.0) -> requests.Session:
    """A requests session for msal and google-auth that trusts `ca_file` when given.

    requests lets REQUESTS_CA_BUNDLE override a session's `verify`, so it goes with each request.
    """
    import functools

    import requests

    session = requests.Session()
    session.request = functools.partial(session.request, verify=str(ca_file) if ca_file else True,  # type: ignore[method-assign]
                                        timeout=timeout)
    return session


def post_form(url: str, form: dict[str, str], ca_file: Path | None, timeout: float = 30.0) -> dict:
    """POST a form to a token endpoint; the JSON answer, or OAuthError with the provider's error code."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Accept": "application/json"})
    context = _https_context(ca_file) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise OAuthError(f"token endpoint {url} refused: HTTP {exc.code} {_error_code(exc)}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise OAuthError(f"token endpoint {url} unreachable: {getattr(exc, 'reason', exc)}", refused=False) from None


def _error_code(exc: urllib.error.HTTPError) -> str:
    """The provider's `error` and `error_description` (they name the problem, and hold no secret)."""
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        return ""
    return " ".join(str(body.get(k, "")) for k in ("error", "error_description")).strip()


def _token_from(answer: dict, where: str, now: float) -> AccessToken:
    if "access_token" not in answer:
        raise OAuthError(f"{where} answered without an access token: {answer.get('error', 'no error code')}")
    lifetime = float(answer.get("expires_in", 3600))
    return AccessToken(str(answer["access_token"]), now + lifetime, lifetime)


@dataclass(frozen=True)
class RefreshTokenSource:
    """Any provider's refresh-token grant (RFC 6749 §6); a Gmail user's token uses Google's endpoint."""

    token_url: str
    client_id: str
    refresh_token: SecretRef
    client_secret: SecretRef | None = None
    scope: str = ""
    ca_file: Path | None = None
    clock: Callable[[], float] = time.time

    def fetch(self) -> AccessToken:
        refresh = self.refresh_token.read()
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": self.client_id}
        if self.client_secret is not None:
            form["client_secret"] = self.client_secret.read()
        if self.scope:
            form["scope"] = self.scope
        answer = post_form(self.token_url, form, self.ca_file)
        rotated = answer.get("refresh_token")
        if rotated and rotated != refresh:  # providers that rotate refresh tokens revoke the old one
            self.refresh_token.replace(str(rotated))
        return _token_from(answer, self.token_url, self.clock())


@dataclass(frozen=True)
class MicrosoftSource:
    """Microsoft 365: an app registration's client-credentials flow (secret or certificate) through msal."""

    tenant: str
    client_id: str
    client_secret: SecretRef | None = None
    certificate_file: SecretRef | None = None  # PEM with the private key
    certificate_thumbprint: str = ""
    authority: str = MICROSOFT_AUTHORITY
    scope: str = MICROSOFT_SCOPE
    ca_file: Path | None = None
    clock: Callable[[], float] = time.time

    def fetch(self) -> AccessToken:
        import msal  # only operators on Microsoft 365 need it loaded
        import requests

        # a fresh application each time: msal's own cache would hand back a token the server just refused
        app = msal.ConfidentialClientApplication(
            self.client_id, client_credential=self._credential(),
            authority=f"{self.authority.rstrip('/')}/{self.tenant}", http_client=_requests_session(self.ca_file),
            instance_discovery=False if self.authority != MICROSOFT_AUTHORITY else None)
        try:
            answer = app.acquire_token_for_client(scopes=[self.scope])
        except ValueError as exc:  # msal raises ValueError for an authority it cannot discover
            raise OAuthError(f"oauth.tenant/oauth.authority: {exc}") from None
        except requests.RequestException as exc:
            raise OAuthError(f"Microsoft's token endpoint unreachable: {type(exc).__name__}", refused=False) from None
        if "access_token" not in answer:
            raise OAuthError(f"Microsoft refused the client credentials: {answer.get('error', '')} "
                             f"{(str(answer.get('error_description', '')).splitlines() or [''])[0]}")
        return _token_from(answer, "Microsoft", self.clock())

    def _credential(self) -> str | dict[str, str]:
        if self.certificate_file is not None:
            return {"private_key": self.certificate_file.read(), "thumbprint": self.certificate_thumbprint}
        assert self.client_secret is not None
        return self.client_secret.read()


@dataclass(frozen=True)
class GoogleServiceAccountSource:
    """Google Workspace: a service account with domain-wide delegation, acting as the bot's mailbox."""

    key_file: SecretRef
    subject: str  # the mailbox the service account acts for
    scope: str = GOOGLE_SCOPE
    ca_file: Path | None = None

    def fetch(self) -> AccessToken:
        import google.auth.exceptions
        import google.auth.transport.requests
        from google.oauth2 import service_account

        try:
            info = json.loads(self.key_file.read())
            credentials = service_account.Credentials.from_service_account_info(
                info, scopes=[self.scope], subject=self.subject)
        except ValueError as exc:
            raise OAuthError(f"{self.key_file.setting}_file: not a service account key: {exc}") from None
        try:
            credentials.refresh(google.auth.transport.requests.Request(_requests_session(self.ca_file)))
        except google.auth.exceptions.TransportError as exc:
            raise OAuthError(f"Google's token endpoint unreachable: {_first_line(exc)}", refused=False) from None
        except google.auth.exceptions.GoogleAuthError as exc:
            raise OAuthError(f"Google refused the service account for {self.subject}: {_first_line(exc)}") from None
        # google-auth's expiry is a naive UTC datetime
        expires_at = credentials.expiry.replace(tzinfo=timezone.utc).timestamp() if credentials.expiry else 0.0
        return AccessToken(credentials.token, expires_at or time.time() + 3600, max(expires_at - time.time(), 1.0))


def _first_line(exc: Exception) -> str:
    text = str(exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__


class TokenKeeper:
    """One cached access token per account, shared by every IMAP and SMTP connection (thread-safe).

    A token is refreshed a little before it expires (a fifth of its lifetime, at most five
    minutes) and at once when a server refuses it.
    """

    def __init__(self, source: TokenSource, clock: Callable[[], float] = time.time) -> None:
        self.source, self.clock = source, clock
        self.fetched = 0  # how many tokens were obtained (for tests and `check`)
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenKeeper({type(self.source).__name__})"

    def token(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._refresh_at(self._token):
                self._token = self.source.fetch()
                self.fetched += 1
            return self._token.value

    def refused(self, value: str) -> str:
        """The server refused `value`: a new token (unless another connection already got one)."""
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None
        return self.token()

    @staticmethod
    def _refresh_at(token: AccessToken) -> float:
        return token.expires_at - min(300.0, token.lifetime / 5)


def secret_values(source: TokenSource) -> list[str]:
    """The current values of a source's secrets (to notice a changed one); unreadable ones as ""."""
    values = []
    for ref in vars(source).values():
        if isinstance(ref, SecretRef):
            try:
                values.append(ref.read())
            except OAuthError:
                values.append("")
    return values


def xoauth2(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (Google's and Microsoft's format)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def oauthbearer(user: str, token: str, host: str, port: int) -> str:
    """The SASL OAUTHBEARER initial response (RFC 7628)."""
    identity = user.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={identity},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"
