"""A tiny OAuth2 identity provider for the dev mail system: it issues access tokens the way
Microsoft 365 and Google do, and the mail servers ask it whether a token is good.

Grants: client credentials (msal, over Microsoft's discovery document), refresh token,
JWT bearer (a Google service account key it made), and authorization code with PKCE
(`supplierbot auth`). Dovecot's oauth2 passdb introspects tokens over HTTP; the SMTP
front asks `introspect()` directly. Tokens live `lifetime` seconds, and can be revoked
early to play a token that a provider invalidated.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class GrantRefused(Exception):
    """The token endpoint answers 400/401 with this OAuth error code."""


@dataclass
class IdentityProvider:
    lifetime: float = 3600.0
    rotate_refresh_tokens: bool = False
    browser_user: str = ""  # who is "signed in" when a browser opens /authorize
    clients: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (secret, mailbox)
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token → (client id, mailbox)
    service_accounts: dict[str, bytes] = field(default_factory=dict)  # client email → public key PEM
    certificates: dict[str, bytes] = field(default_factory=dict)  # client id → its certificate's public key PEM
    issued: int = 0
    refused: int = 0
    tokens_issued: list[str] = field(default_factory=list)  # every access token ever handed out
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    _codes: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # code → (client, mailbox, challenge)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # what the tests and the demo set up

    def add_client(self, mailbox: str) -> tuple[str, str]:
        client_id, secret = f"client-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
        self.clients[client_id] = (secret, mailbox)
        return client_id, secret

    def add_certificate_client(self, mailbox: str) -> tuple[str, str, str]:
        """An app that proves itself with a certificate: (client id, PEM of key + certificate, SHA-1 thumbprint)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        client_id = f"client-{secrets.token_hex(4)}"
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, client_id)])
        now = datetime.now(timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
                .not_valid_after(now + timedelta(days=2)).sign(key, hashes.SHA256()))
        self.clients[client_id] = ("", mailbox)
        self.certificates[client_id] = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM)
        return client_id, pem.decode(), cert.fingerprint(hashes.SHA1()).hex().upper()

    def add_refresh_token(self, client_id: str, mailbox: str) -> str:
        token = f"rt-{secrets.token_urlsafe(16)}"
        self.refresh_tokens[token] = (client_id, mailbox)
        return token

    def add_service_account(self, token_uri: str) -> dict[str, str]:
        """A Google-style service account key file (JSON) whose token_uri is this provider."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        email = f"supplierbot-{secrets.token_hex(3)}@devmail-project.iam.gserviceaccount.com"
        self.service_accounts[email] = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        return {"type": "service_account", "project_id": "devmail-project", "private_key_id": secrets.token_hex(8),
                "private_key": private, "client_email": email, "client_id": "1" + secrets.token_hex(6),
                "token_uri": token_uri}

    def revoke_all(self) -> None:
        """Every access token issued so far stops working (a provider revoked them early)."""
        with self._lock:
            self._tokens.clear()

    # what the servers ask

    def introspect(self, token: str) -> str | None:
        """The mailbox this token is good for now, else None."""
        with self._lock:
            found = self._tokens.get(token)
        if found is None or time.time() >= found[1]:
            self.refused += 1
            return None
        return found[0]

    def grant(self, form: dict[str, str]) -> dict[str, object]:
        kind = form.get("grant_type", "")
        if kind == "client_credentials":
            mailbox = self._client(form)
            if not form.get("scope", "").endswith("/.default"):
                raise GrantRefused("invalid_scope")
            return self._issue(mailbox)
        if kind == "refresh_token":
            return self._refresh(form)
        if kind == JWT_BEARER:
            return self._issue(self._assertion(form.get("assertion", "")))
        if kind == "authorization_code":
            return self._code(form)
        raise GrantRefused("unsupported_grant_type")

    def authorize(self, query: dict[str, str]) -> str:
        """The redirect a browser follows after the user consents (always, here)."""
        if query.get("client_id") not in self.clients or query.get("code_challenge_method") != "S256":
            raise GrantRefused("invalid_request")
        code = secrets.token_urlsafe(12)
        self._codes[code] = (query["client_id"], self.browser_user, query.get("code_challenge", ""))
        answer = {"code": code, "state": query.get("state", "")}
        return f"{query['redirect_uri']}?{urllib.parse.urlencode(answer)}"

    def _client(self, form: dict[str, str], secret_required: bool = True) -> str:
        client_id = form.get("client_id", "")
        client = self.clients.get(client_id)
        if client is not None and "client_assertion" in form and client_id in self.certificates:
            claims = _verified_jwt(form["client_assertion"], self.certificates[client_id])
            if claims is None or claims.get("sub") != client_id or claims.get("iss") != client_id:
                raise GrantRefused("invalid_client")
            return client[1]
        if client is None or not client[0] or (secret_required and client[0] != form.get("client_secret")):
            raise GrantRefused("invalid_client")
        return client[1]

    def _refresh(self, form: dict[str, str]) -> dict[str, object]:
        old = form.get("refresh_token", "")
        found = self.refresh_tokens.get(old)
        if found is None or found[0] != form.get("client_id"):
            raise GrantRefused("invalid_grant")
        self._client(form, secret_required="client_secret" in form)
        answer = self._issue(found[1])
        if self.rotate_refresh_tokens:
            del self.refresh_tokens[old]
            answer["refresh_token"] = self.add_refresh_token(*found)
        return answer

    def _code(self, form: dict[str, str]) -> dict[str, object]:
        found = self._codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if found is None or found[0] != form.get("client_id") or found[2] != challenge:
            raise GrantRefused("invalid_grant")
        self._client(form)
        answer = self._issue(found[1])
        answer["refresh_token"] = self.add_refresh_token(found[0], found[1])
        return answer

    def _assertion(self, assertion: str) -> str:
        """A service account's signed JWT (RS256): the mailbox is its `sub` (domain-wide delegation)."""
        try:
            issuer = json.loads(_unb64(assertion.split(".")[1]))["iss"]
            claims = _verified_jwt(assertion, self.service_accounts[issuer])
        except (ValueError, KeyError, IndexError):
            claims = None
        if claims is None or not claims.get("sub") or "mail.google.com" not in claims.get("scope", ""):
            raise GrantRefused("invalid_grant")
        return str(claims["sub"])

    def _issue(self, mailbox: str) -> dict[str, object]:
        token = f"at-{secrets.token_urlsafe(24)}"
        with self._lock:
            self._tokens[token] = (mailbox, time.time() + self.lifetime)
            self.tokens_issued.append(token)
            self.issued += 1
        return {"token_type": "Bearer", "access_token": token, "expires_in": int(self.lifetime)}


def _verified_jwt(token: str, public_key_pem: bytes) -> dict | None:
    """The claims of an RS256 JWT signed by this key and not expired, else None."""
    try:
        head, body, signature = token.split(".")
        key = serialization.load_pem_public_key(public_key_pem)
        key.verify(_unb64(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        claims = json.loads(_unb64(body))
    except (ValueError, InvalidSignature):
        return None
    return claims if claims.get("exp", 0) >= time.time() else None


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Handler(BaseHTTPRequestHandler):
    idp: IdentityProvider
    base_url: str

    def log_message(self, format: str, *args: object) -> None:  # tests read no access log
        pass

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path.endswith("/.well-known/openid-configuration"):  # Microsoft's discovery, for msal
            tenant = url.path.strip("/").split("/")[0]
            base = f"{self.base_url}/{tenant}/oauth2/v2.0"
            self._json(200, {"token_endpoint": f"{base}/token", "authorization_endpoint": f"{base}/authorize",
                             "issuer": f"{self.base_url}/{tenant}/v2.0",
                             "device_authorization_endpoint": f"{base}/devicecode"})
        elif url.path.endswith("/authorize"):
            try:
                target = self.idp.authorize(dict(urllib.parse.parse_qsl(url.query)))
            except GrantRefused as exc:
                self._json(400, {"error": str(exc)})
                return
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        if self.path.endswith("/introspect"):
            mailbox = self.idp.introspect(form.get("token", ""))
            self._json(200, {"active": True, "username": mailbox} if mailbox else {"active": False})
        elif self.path.endswith("/token"):
            try:
                self._json(200, self.idp.grant(form))
            except GrantRefused as exc:
                self._json(401 if str(exc) == "invalid_client" else 400, {"error": str(exc)})
        else:
            self._json(404, {"error": "not_found"})

    def _json(self, status: int, data: dict[str, object]) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class IdpServer:
    """Serves an IdentityProvider on loopback over HTTP, and over HTTPS too when given a certificate."""

    def __init__(self, idp: IdentityProvider, cert: tuple[Path, Path] | None = None) -> None:
        self.idp = idp
        self.servers: list[ThreadingHTTPServer] = []
        self.http_url = self._serve(None)
        self.https_url = self._serve(cert) if cert else ""

    def _serve(self, cert: tuple[Path, Path] | None) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        scheme = "https" if cert else "http"
        url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
        server.RequestHandlerClass = type("Handler", (_Handler,), {"idp": self.idp, "base_url": url})
        if cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*cert)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.servers.append(server)
        return url

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
