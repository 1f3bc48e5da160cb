"""`supplierbot auth`: a Gmail user's refresh token, obtained once by the installed-app flow
(a browser signs in, Google redirects to a one-off listener on 127.0.0.1, PKCE protects the code).

Google's device flow does not allow the Gmail scope (https://mail.google.com/), so the loopback
flow is the one that works for a plain Gmail account; on a server without a browser, forward the
port (ssh -L PORT:127.0.0.1:PORT) and open the printed address on your own machine.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from bot.oauth import GOOGLE_AUTH_URL, GOOGLE_SCOPE, GOOGLE_TOKEN_URL, OAuthError, post_form, write_private


@dataclass(frozen=True)
class InstalledApp:
    """An OAuth client of type "Desktop app" (Google Cloud console → Credentials)."""

    client_id: str
    client_secret: str = field(repr=False)
    auth_url: str = GOOGLE_AUTH_URL
    token_url: str = GOOGLE_TOKEN_URL
    scope: str = GOOGLE_SCOPE


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge), RFC 7636."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_url(app: InstalledApp, redirect_uri: str, state: str, challenge: str, login_hint: str) -> str:
    query = {"client_id": app.client_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": app.scope,
             "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
             "access_type": "offline", "prompt": "consent"}  # offline + consent: Google returns a refresh token
    if login_hint:
        query["login_hint"] = login_hint
    return f"{app.auth_url}?{urllib.parse.urlencode(query)}"


class _Catcher(BaseHTTPRequestHandler):
    answer: dict[str, str]
    done: threading.Event

    def log_message(self, format: str, *args: object) -> None:  # the query holds the code: never logged
        pass

    def do_GET(self) -> None:
        self.answer.update(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        body = b"supplierbot: signed in. You can close this window and go back to the terminal.\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.done.set()


def obtain_refresh_token(app: InstalledApp, say: Callable[[str], None], port: int = 0, login_hint: str = "",
                         timeout: float = 300.0) -> str:
    """Run the flow once and return the refresh token (the caller stores it)."""
    answer: dict[str, str] = {}
    done = threading.Event()
    server = HTTPServer(("127.0.0.1", port), type("Catcher", (_Catcher,), {"answer": answer, "done": done}))
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        say(authorization_url(app, redirect_uri, state, challenge, login_hint))
        if not done.wait(timeout):
            raise OAuthError(f"no answer from the browser within {timeout:.0f} s")
    finally:
        server.shutdown()
        server.server_close()
    return _exchange(app, answer, state, verifier, redirect_uri)


def _exchange(app: InstalledApp, answer: dict[str, str], state: str, verifier: str, redirect_uri: str) -> str:
    if answer.get("state") != state:
        raise OAuthError("the browser's answer does not belong to this sign-in (state differs): run again")
    if "code" not in answer:
        raise OAuthError(f"sign-in refused: {answer.get('error', 'no code')}")
    tokens = post_form(app.token_url, {"grant_type": "authorization_code", "code": answer["code"],
                                       "code_verifier": verifier, "redirect_uri": redirect_uri,
                                       "client_id": app.client_id, "client_secret": app.client_secret}, None)
    if "refresh_token" not in tokens:
        raise OAuthError("the provider returned no refresh token: remove supplierbot's access in the Google "
                         "account (Security → Third-party access) and run `supplierbot auth` again")
    return str(tokens["refresh_token"])


def store_refresh_token(path: Path, token: str) -> None:
    write_private(path, token + "\n")
