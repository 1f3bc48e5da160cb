"""`supplierbot check`: logs in to IMAP and SMTP exactly as `run` does and says what the bot will
do on these servers. It changes nothing unless asked (--create-folders, --send-test); every
problem names the setting to change."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone

import aiosmtplib
from imapclient import IMAPClient

from bot.config import Config, ServerSettings
from bot.login import LoginFailed, connect_imap, connect_smtp, imap_login, smtp_client, smtp_login
from bot.mailbox import personal_namespace, server_folder_name

CAPABILITIES = ("IDLE", "MOVE", "UIDPLUS", "NAMESPACE", "CONDSTORE")


@dataclass(frozen=True)
class Finding:
    level: str  # ok | note | problem
    text: str

    def line(self) -> str:
        return f"{ {'ok': 'ok     ', 'note': 'note   ', 'problem': 'PROBLEM'}[self.level]}  {self.text}"


def run_check(config: Config, create_folders: bool = False, send_test: str = "") -> list[Finding]:
    return check_imap(config, create_folders) + asyncio.run(check_smtp(config, send_test))


def _transport(server: ServerSettings, protocol: str) -> Finding:
    if server.security == "none":
        return Finding("note", f"{protocol.upper()} {server.host}:{server.port} without TLS ({protocol}.security = "
                               f"\"none\"): passwords and mail cross the network readable")
    trusted = (f"the CA in {protocol}.ca_file" if server.tls.ca_file else f"the CAs in {protocol}.ca_dir"
               if server.tls.ca_dir else "the system's CAs")
    if server.tls.insecure_skip_verify:
        return Finding("problem", f"{protocol.upper()} certificate NOT verified ({protocol}.insecure_skip_tls_verify "
                                  f"= true): set {protocol}.ca_file instead")
    return Finding("ok", f"{protocol.upper()} {server.host}:{server.port} over TLS ({server.security}), "
                         f"certificate verified against {trusted}")


def _logged_in(server: ServerSettings, protocol: str) -> Finding:
    how = "OAuth2" if server.auth == "oauth2" else "password"
    return Finding("ok", f"{protocol.upper()} logged in as {server.username} with {how} ({server.login.mechanism})")


# IMAP

def check_imap(config: Config, create_folders: bool) -> list[Finding]:
    imap = config.imap
    found = [_transport(imap, "imap")]
    try:
        client = connect_imap(imap.host, imap.port, imap.security, imap.timeout_seconds, imap.login)
    except LoginFailed as exc:
        return [*found, Finding("problem", str(exc))]
    except OSError as exc:
        return [*found, Finding("problem", f"IMAP {imap.host}:{imap.port}: {exc}: check imap.host and imap.port")]
    try:
        imap_login(client, imap.login, imap.host, imap.port, now=True)
        found.append(_logged_in(imap, "imap"))
        found += _imap_server(client, config, create_folders)
    except LoginFailed as exc:
        found.append(Finding("problem", str(exc)))
    except IMAPClient.Error as exc:
        found.append(Finding("problem", f"IMAP: {exc}"))
    finally:
        try:
            client.logout()
        except (OSError, IMAPClient.Error):
            pass
    return found


def _imap_server(client: IMAPClient, config: Config, create_folders: bool) -> list[Finding]:
    capabilities = set(client.capabilities())
    has = {name: name.encode() in capabilities for name in CAPABILITIES}
    found = [Finding("ok", "IMAP capabilities: " + ", ".join(f"{n} {'yes' if v else 'no'}" for n, v in has.items()))]
    found += _folders(client, config, create_folders)
    every = config.bot.poll_interval_seconds
    found.append(Finding("ok", f"the bot will be woken by IDLE on new mail (and poll every {every} s as well)")
                 if has["IDLE"] else Finding("note", f"no IDLE: the bot will poll every {every} s "
                                                     f"(bot.poll_interval_seconds)"))
    found.append(_moving(config.imap, has))
    return found


def _folders(client: IMAPClient, config: Config, create: bool) -> list[Finding]:
    imap = config.imap
    prefix, delimiter = personal_namespace(client)
    found = []
    for key in ("folder", "processed_folder", "failed_folder"):
        name = getattr(imap, key)
        if not name:
            continue
        server_name = server_folder_name(name, prefix, delimiter)
        if client.folder_exists(server_name):
            found.append(Finding("ok", f"imap.{key} {name!r} exists (as {server_name!r})"))
        elif key == "folder":
            found.append(Finding("problem", f"imap.folder {name!r} does not exist on the server: change imap.folder"))
        elif create:
            client.create_folder(server_name)
            found.append(Finding("ok", f"imap.{key} {name!r} created (as {server_name!r})"))
        else:
            found.append(Finding("note", f"imap.{key} {name!r} does not exist yet (as {server_name!r}): the first "
                                         f"move creates it, or run `supplierbot check --create-folders`"))
    return found


def _moving(imap: ServerSettings, has: dict[str, bool]) -> Finding:
    target = " and ".join(f for f in (imap.processed_folder, imap.failed_folder) if f)
    if not target:
        return Finding("ok", f"the bot will leave mail in {imap.folder} (no imap.processed_folder or failed_folder)")
    if has["MOVE"]:
        return Finding("ok", f"the bot will move mail it is done with to {target} (MOVE)")
    if has["UIDPLUS"]:
        return Finding("ok", f"the bot will move mail it is done with to {target} (COPY, then UID EXPUNGE of "
                             f"those messages only)")
    return Finding("note", f"the server has neither MOVE nor UIDPLUS: the bot will leave mail in {imap.folder} "
                           f"(moving needs UIDPLUS or MOVE; a plain EXPUNGE would also delete what people flagged "
                           f"\\Deleted). Remove imap.processed_folder/failed_folder to silence this")


# SMTP

async def check_smtp(config: Config, send_test: str) -> list[Finding]:
    smtp_settings = config.smtp
    found = [_transport(smtp_settings, "smtp")]
    smtp = smtp_client(smtp_settings.host, smtp_settings.port, smtp_settings.security,
                       smtp_settings.timeout_seconds, smtp_settings.login)
    try:
        await connect_smtp(smtp, smtp_settings.security, smtp_settings.login)
        if smtp.last_ehlo_response is None:
            await smtp.ehlo()
        offered = " ".join(m.upper() for m in smtp.server_auth_methods) or "none"
        found.append(Finding("ok", f"SMTP AUTH mechanisms offered: {offered}"))
        await smtp_login(smtp, smtp_settings.login, now=True)
        found.append(_logged_in(smtp_settings, "smtp") if smtp_settings.username else Finding(
            "note", "SMTP: no login (smtp.username is empty): fine for a relay that trusts this host"))
        if send_test:
            found.append(await _send_test(smtp, config, send_test))
        else:
            found.append(Finding("ok", "nothing sent (--send-test ADDRESS sends a test email)"))
    except LoginFailed as exc:
        found.append(Finding("problem", str(exc)))
    except (aiosmtplib.SMTPException, OSError) as exc:
        found.append(Finding("problem", f"SMTP {smtp_settings.host}:{smtp_settings.port}: {exc}: "
                                        f"check smtp.host, smtp.port and smtp.security"))
    finally:
        smtp.close()
    return found


async def _send_test(smtp: aiosmtplib.SMTP, config: Config, to: str) -> Finding:
    message = EmailMessage()
    message["From"], message["To"] = config.bot.address, to
    message["Subject"] = "supplierbot check: test email"
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = make_msgid(domain=config.bot.address.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(f"This test email was sent by `supplierbot check --send-test` as {config.bot.address}.")
    try:
        await smtp.send_message(message)
    except aiosmtplib.SMTPResponseException as exc:
        return Finding("problem", f"SMTP refused the test email to {to}: {exc.code} {exc.message} (is bot.address "
                                  f"{config.bot.address!r} allowed to send through this account?)")
    return Finding("ok", f"test email sent to {to} ({message['Message-ID']})")
