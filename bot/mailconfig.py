"""The [oauth] section and the login of each server, read from the config (bot.config calls these)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.authstate import AuthBackoff
from bot.login import Login
from bot.oauth import (GOOGLE_SCOPE, GOOGLE_TOKEN_URL, MICROSOFT_AUTHORITY, MICROSOFT_SCOPE, PROVIDERS,
                       GoogleServiceAccountSource, MicrosoftSource, RefreshTokenSource, SecretRef, TokenKeeper,
                       TokenSource)
from bot.tls import TlsSettings

if TYPE_CHECKING:
    from bot.config import _Section

LOGIN_STATE_FILE = "mail-login-state.json"


def server_login(server: str, auth: str, username: str, password: str, tls: TlsSettings,
                 tokens: TokenKeeper | None, data_dir: Path) -> Login:
    return Login(server, auth, username, password, tls, tokens if auth == "oauth2" else None,
                 AuthBackoff(data_dir / LOGIN_STATE_FILE))


def oauth_keeper(s: _Section, imap: _Section, smtp: _Section, base_dir: Path) -> TokenKeeper | None:
    """One token keeper for both servers (they are one mailbox), or None when nobody uses OAuth2."""
    users = [section.name for section in (imap, smtp) if section.data.get("auth") == "oauth2"]
    if not s.data:
        for name in users:
            s.problems.append(f"{name}.auth = \"oauth2\" needs an [oauth] section (provider = "
                              f"{' | '.join(PROVIDERS)})")
        return None
    provider = s.choice("provider", PROVIDERS[0], PROVIDERS)
    source = _SOURCES[provider](s, imap, base_dir)
    return TokenKeeper(source) if source is not None else None


def _secret(s: _Section, key: str, base_dir: Path, required: bool = True) -> SecretRef | None:
    env, path = s.secret_ref(key)
    if not env and not path:
        if required:
            s.problems.append(f"oauth.{key}_env or oauth.{key}_file: missing (the {key.replace('_', ' ')})")
        return None
    if path and not (base_dir / path).is_file():
        s.problems.append(f"oauth.{key}_file: no such file {path!r}")
    return SecretRef(f"oauth.{key}", env=env, file=base_dir / path if path else None)


def _ca_file(s: _Section, base_dir: Path) -> Path | None:
    value = s.text("ca_file", "", "a path")
    return base_dir / value if value else None


def _microsoft(s: _Section, imap: _Section, base_dir: Path) -> TokenSource | None:
    tenant, client_id = s.text("tenant", what="your tenant id or domain"), s.text("client_id")
    thumbprint = s.text("certificate_thumbprint", "", "the certificate's SHA-1 thumbprint (hex)")
    certificate = _secret(s, "certificate", base_dir, required=False)
    secret = _secret(s, "client_secret", base_dir, required=certificate is None)
    if certificate is not None and not thumbprint:
        s.problems.append("oauth.certificate_thumbprint: missing (required with oauth.certificate_file)")
    return MicrosoftSource(tenant, client_id, secret, certificate, thumbprint,
                           authority=s.text("authority", MICROSOFT_AUTHORITY, "a URL"),
                           scope=s.text("scope", MICROSOFT_SCOPE), ca_file=_ca_file(s, base_dir))


def _google_service_account(s: _Section, imap: _Section, base_dir: Path) -> TokenSource | None:
    key = _secret(s, "service_account", base_dir)
    subject = s.text("subject", str(imap.data.get("username", "")), "the mailbox to act for")
    if not subject:
        s.problems.append("oauth.subject: missing (the mailbox the service account acts for; default imap.username)")
    if key is None:
        return None
    return GoogleServiceAccountSource(key, subject, scope=s.text("scope", GOOGLE_SCOPE),
                                      ca_file=_ca_file(s, base_dir))


def _refresh_token(s: _Section, base_dir: Path, token_url: str, scope: str,
                   secret_required: bool) -> TokenSource | None:
    client_id = s.text("client_id")
    secret = _secret(s, "client_secret", base_dir, required=secret_required)
    refresh = _secret(s, "refresh_token", base_dir)
    if refresh is None:
        return None
    return RefreshTokenSource(token_url, client_id, refresh, secret, scope, _ca_file(s, base_dir))


def _google_user(s: _Section, imap: _Section, base_dir: Path) -> TokenSource | None:
    return _refresh_token(s, base_dir, s.text("token_url", GOOGLE_TOKEN_URL, "a URL"),
                          s.text("scope", "", "a scope"), secret_required=True)


def _generic(s: _Section, imap: _Section, base_dir: Path) -> TokenSource | None:
    return _refresh_token(s, base_dir, s.text("token_url", what="the provider's token endpoint URL"),
                          s.text("scope", "", "a scope"), secret_required=False)


_SOURCES = {"microsoft": _microsoft, "google_service_account": _google_service_account,
            "google_user": _google_user, "generic": _generic}
