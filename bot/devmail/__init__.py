"""A real local mail system for tests and the demo: Dovecot (IMAP + LMTP) and an SMTP relay.

Dovecot runs in the foreground under this process from the repo's own
config; aiosmtpd accepts mail on loopback and delivers each recipient into
Dovecot over LMTP (one recipient per LMTP transaction: smtplib.LMTP.sendmail
reads only the first of several per-recipient answers).
"""
from __future__ import annotations

import asyncio
import logging
import os
import pwd
import shutil
import signal
import smtplib
import socket
import ssl
import string
import subprocess
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from email.parser import BytesHeaderParser
from email.utils import parseaddr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer, Envelope, Session

from bot.devmail.idp import IdentityProvider, IdpServer
from bot.devmail.pki import make_private_ca
from bot.devmail.submission import OAuthMechanisms, SubmissionAuth

PASSWORD = "secret"
MAIL_UID = 5000
BOT_HOST = "127.0.0.2"  # the bot's own services: a client there is remote to Dovecot (TESTING.md)
OAUTH_DOMAIN = "m365.test"  # its users log in with OAuth2 only, as on Microsoft 365


class DevmailError(Exception):
    """The local mail system could not start (Dovecot missing, or it failed)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LmtpRelay:
    """aiosmtpd handler: accept mail for the local domains, deliver it through LMTP.

    Delivery runs in worker threads, each keeping its LMTP connection open, so
    parallel SMTP sessions are delivered in parallel as by a real MTA.
    """

    def __init__(self, lmtp_port: int, domains: tuple[str, ...]) -> None:
        self.lmtp_port, self.domains = lmtp_port, domains
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lmtp")
        self.local = threading.local()

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.rpartition("@")[2].lower() not in self.domains:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        content = authentication_results(envelope.mail_from or "", envelope.original_content or b"")
        # once DATA has ended the message goes to every recipient, as from a real MTA's queue, even
        # if the client hangs up before our answer (a cancelled handler would stop half-way)
        await asyncio.shield(self._deliver_all(envelope.mail_from or "", list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"

    async def _deliver_all(self, sender: str, recipients: list[str], content: bytes) -> None:
        loop = asyncio.get_running_loop()
        for recipient in recipients:
            await loop.run_in_executor(self.pool, self._deliver, sender, recipient, content)

    def _deliver(self, sender: str, recipient: str, content: bytes) -> None:
        for attempt in range(2):
            lmtp = getattr(self.local, "lmtp", None)
            try:
                if lmtp is None:
                    lmtp = self.local.lmtp = smtplib.LMTP("127.0.0.1", self.lmtp_port)
                lmtp.sendmail(sender, [recipient], content)
                return
            except (smtplib.SMTPServerDisconnected, OSError):
                self.local.lmtp = None  # the LMTP connection went stale: reconnect once
                if attempt:
                    raise


class SubmissionRelay(OAuthMechanisms, LmtpRelay):
    """The bot's submission service: the relay, behind AUTH (password or OAuth2)."""

    def __init__(self, lmtp_port: int, domains: tuple[str, ...], auth: SubmissionAuth) -> None:
        super().__init__(lmtp_port, domains)
        self.auth = auth


@dataclass
class LocalMailServer:
    """Start with `start()`, stop with `stop()`; or use as a context manager.

    People (tests' Party, the demo) use IMAP `imap_port` and SMTP `smtp_port` on 127.0.0.1
    without TLS, like an MX. With `tls` or `oauth`, the bot has provider-like services of its
    own on `BOT_HOST`: IMAP with STARTTLS (`bot_imap_port`) and implicit TLS (`bot_imaps_port`),
    submission with STARTTLS (`bot_submission_port`) and implicit TLS (`bot_smtps_port`), AUTH
    only over TLS and always required. With `tls`, a private CA is made at start-up
    (`certificate.ca_file`). With `oauth`, an identity provider (`idp`) issues tokens, Dovecot's
    oauth2 passdb and the submission service check them, and users @`OAUTH_DOMAIN` may log in
    with OAuth2 only.
    """

    domains: tuple[str, ...] = ("example.test", "supplier.test", "elsewhere.test")
    root: Path | None = None
    tls: bool = False
    oauth: bool = False
    capabilities: str = ""  # Dovecot's imap_capability, to play servers without IDLE, MOVE or UIDPLUS

    def start(self) -> LocalMailServer:
        if shutil.which("dovecot") is None:
            raise DevmailError("dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)")
        # Every ancestor must be world-traversable for Dovecot's unprivileged processes.
        self.root = Path(tempfile.mkdtemp(prefix="supplierbot-mail-"))
        self.root.chmod(0o755)
        self.imap_port, self.lmtp_port, self.smtp_port = free_port(), free_port(), free_port()
        self.bot_imap_port, self.bot_imaps_port = free_port(BOT_HOST), free_port(BOT_HOST)
        self.bot_submission_port, self.bot_smtps_port = free_port(BOT_HOST), free_port(BOT_HOST)
        self.certificate = make_private_ca(self.root / "tls") if self.tls else None
        self.idp = IdentityProvider() if self.oauth else None
        cert = (self.certificate.cert_file, self.certificate.key_file) if self.certificate else None
        self.idp_server = IdpServer(self.idp, cert) if self.idp else None
        if self.oauth:
            self.domains = (*self.domains, OAUTH_DOMAIN)
        self._write_config()
        self._start_dovecot()
        self.controllers = [Controller(LmtpRelay(self.lmtp_port, self.domains), hostname="127.0.0.1",
                                       port=self.smtp_port, data_size_limit=100 * 1024 * 1024)]
        if self.tls or self.oauth:
            self.controllers += self._submission()
        for controller in self.controllers:
            controller.start()
        self.controller = self.controllers[0]
        return self

    def _submission(self) -> list[Controller]:
        self.submission_auth = SubmissionAuth(PASSWORD, (OAUTH_DOMAIN,) if self.oauth else (),
                                              self.idp.introspect if self.idp else None)
        handler = SubmissionRelay(self.lmtp_port, self.domains, self.submission_auth)
        common = dict(hostname=BOT_HOST, data_size_limit=100 * 1024 * 1024, authenticator=self.submission_auth,
                      auth_required=True)
        context = self._server_context()
        # aiosmtpd warns about AUTH without STARTTLS on the implicit-TLS listener (TLS from the first byte)
        # and about its own deprecated login_data, at every connection: noise in the demo's narration
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
        starttls = Controller(handler, port=self.bot_submission_port, tls_context=context,
                              require_starttls=context is not None, auth_require_tls=context is not None, **common)
        if context is None:
            return [starttls]
        implicit = Controller(handler, port=self.bot_smtps_port, ssl_context=context, auth_require_tls=False, **common)
        return [starttls, implicit]

    def _server_context(self) -> ssl.SSLContext | None:
        if self.certificate is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate.cert_file, self.certificate.key_file)
        return context

    def _write_config(self) -> None:
        assert self.root is not None
        uid, gid, internal, login = self._identity()
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir()
        os.chown(self.root / "mail", uid, gid)
        template = string.Template(resources.files("bot.devmail").joinpath("dovecot.conf").read_text())
        self.config_path = self.root / "dovecot.conf"
        self.config_path.write_text(template.substitute(
            root=self.root, uid=uid, gid=gid, internal_user=internal, login_user=login,
            imap_port=self.imap_port, lmtp_port=self.lmtp_port, ssl_settings=self._ssl_settings(),
            passdbs=self._passdbs(), bot_listeners=self._bot_listeners()))

    def _ssl_settings(self) -> str:
        mechanisms = "plain login" + (" xoauth2 oauthbearer" if self.oauth else "")
        lines = [f"auth_mechanisms = {mechanisms}",
                 f"disable_plaintext_auth = {'yes' if self.tls else 'no'}"]
        if self.capabilities:
            lines.append(f"imap_capability = {self.capabilities}")
        if self.certificate is None:
            return "\n".join(["ssl = no", *lines])
        return "\n".join(["ssl = yes", f"ssl_cert = <{self.certificate.cert_file}",
                          f"ssl_key = <{self.certificate.key_file}", *lines])

    def _passdbs(self) -> str:
        static = f"passdb {{\n  driver = static\n  args = password={PASSWORD}\n"
        if not self.oauth:
            return static + "}"
        assert self.root is not None and self.idp_server is not None
        (self.root / "oauth-only-domains").write_text(f"{OAUTH_DOMAIN}::\n")
        (self.root / "oauth2.conf.ext").write_text(
            f"introspection_mode = post\nintrospection_url = {self.idp_server.http_url}/introspect\n"
            "force_introspection = yes\nusername_attribute = username\n"
            "active_attribute = active\nactive_value = true\n")
        return (f"passdb {{\n  driver = passwd-file\n  args = username_format=%d {self.root}/oauth-only-domains\n"
                f"  deny = yes\n  mechanisms = plain login\n}}\n"
                f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                f"  args = {self.root}/oauth2.conf.ext\n}}\n"
                + static + "  mechanisms = plain login\n}")

    def _bot_listeners(self) -> str:
        if not (self.tls or self.oauth):
            return "  inet_listener imaps {\n    port = 0\n  }"
        imaps = (f"  inet_listener imaps {{\n    address = {BOT_HOST}\n    port = {self.bot_imaps_port}\n"
                 f"    ssl = yes\n  }}" if self.tls else "  inet_listener imaps {\n    port = 0\n  }")
        return f"  inet_listener imap_bot {{\n    address = {BOT_HOST}\n    port = {self.bot_imap_port}\n  }}\n{imaps}"

    @staticmethod
    def _identity() -> tuple[int, int, str, str]:
        if os.geteuid() == 0:
            return MAIL_UID, MAIL_UID, "dovecot", "dovenull"
        me = pwd.getpwuid(os.geteuid()).pw_name
        return os.geteuid(), os.getegid(), me, me

    def _start_dovecot(self) -> None:
        # a session of its own: stopping it stops its IMAP processes too, as a server restart does
        self.process = subprocess.Popen(["dovecot", "-F", "-c", str(self.config_path)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DevmailError(f"dovecot exited: {self.process.stderr.read().decode(errors='replace')}")
            if _port_open(self.imap_port) and _port_open(self.lmtp_port):
                return
            time.sleep(0.05)
        raise DevmailError("dovecot did not open its ports within 10 s")

    def restart_dovecot(self) -> None:
        """Stop the IMAP and LMTP server and start it again on the same ports, mail kept (as an
        upgrade or a crash and restart would): every IMAP connection drops."""
        self._stop_dovecot()
        self._start_dovecot()

    def _stop_dovecot(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        for controller in self.controllers:
            controller.stop()
        if self.idp_server is not None:
            self.idp_server.stop()
        self._stop_dovecot()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalMailServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


AUTHSERV_ID = "mx.devmail.test"


def authentication_results(envelope_sender: str, content: bytes) -> bytes:
    """Prepend the verdict a receiving server would write: DMARC passes when the envelope
    sender's domain is the From domain (SPF-aligned), and fails for anyone writing in
    another domain's name."""
    head = BytesHeaderParser().parsebytes(content[:65536])
    from_domain = parseaddr(str(head.get("From", "")))[1].rpartition("@")[2].lower()
    envelope_domain = envelope_sender.rpartition("@")[2].lower()
    result = "pass" if from_domain and from_domain == envelope_domain else "fail"
    header = (f"Authentication-Results: {AUTHSERV_ID}; spf=pass smtp.mailfrom={envelope_sender}; "
              f"dmarc={result} header.from={from_domain}\r\n")
    return header.encode() + content


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
