"""TLS for the mail servers: the system's CAs by default, a private CA when named, never silently unverified."""
from __future__ import annotations

import functools
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("supplierbot.tls")

#: the usual pairs, for messages that tell an operator which one to try
USUAL_PAIRS = {"imap": {993: "ssl", 143: "starttls"}, "smtp": {465: "ssl", 587: "starttls", 25: "starttls"}}


@dataclass(frozen=True)
class TlsSettings:
    ca_file: Path | None = None  # PEM bundle: only these CAs are trusted for this server
    ca_dir: Path | None = None  # a c_rehash'd folder of CAs
    insecure_skip_verify: bool = False  # accepts any certificate: a warning at every start


@functools.lru_cache(maxsize=16)
def client_context(settings: TlsSettings) -> ssl.SSLContext:
    """A context that checks the server's certificate and name against the configured CAs.

    One per process and settings: loading the system's CAs takes ~25 ms, and a send opened a
    context per connection (three connections: a tenth of a second before the first answer
    left). A context is meant to be shared by the connections made with it."""
    if settings.insecure_skip_verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if settings.ca_file or settings.ca_dir:
        return ssl.create_default_context(cafile=settings.ca_file, capath=settings.ca_dir)
    return ssl.create_default_context()


def warn_if_insecure(server: str, settings: TlsSettings) -> None:
    """Called at every start, so nobody forgets verification is off."""
    if settings.insecure_skip_verify:
        log.warning(f"{server}.insecure_skip_tls_verify = true: the certificate of {server} is NOT checked; "
                    f"anyone on the network path can read and change the mail and the credentials. "
                    f"Set {server}.ca_file to your CA instead.", extra={"server": server})


def pair_hint(protocol: str, port: int, security: str) -> str:
    """'set imap.security = "ssl"' when the port is a well-known one with another security, else the usual pairs."""
    usual = USUAL_PAIRS[protocol]
    pairs = ", ".join(f"{p} = {s}" for p, s in usual.items())
    expected = usual.get(port)
    if expected and expected != security:
        return f'port {port} expects security = "{expected}": set {protocol}.security = "{expected}" (usual pairs: {pairs})'
    other = "ssl" if security != "ssl" else "starttls"
    return f'try {protocol}.security = "{other}", or the port that matches "{security}" (usual pairs: {pairs})'
