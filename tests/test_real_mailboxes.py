"""Mailboxes as providers run them: TLS with a private CA, AUTH only over TLS, OAuth-only login
(Microsoft 365 through msal, a Google service account, a refresh token), on the dev mail system."""
from __future__ import annotations

import base64
import json
import logging
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from bot import login as login_module
from bot.devmail import OAUTH_DOMAIN, LocalMailServer
from bot.oauth import oauthbearer, xoauth2
from bot.runner import run_forever
from tests.mailworld import bot_server, cli, mail_world, rewrite


@pytest.fixture(scope="module")
def provider_server():
    with LocalMailServer(tls=True, oauth=True) as server:
        yield server


def microsoft(server: LocalMailServer, mailbox_domain: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    """An [oauth] section for an app registration allowed to use the mailboxes of the tenant."""
    assert server.idp is not None and server.idp_server is not None and server.certificate is not None
    client_id, secret = server.idp.add_client(f"mbot*@{mailbox_domain}")
    monkeypatch.setenv("TEST_M365_CLIENT_SECRET", secret)
    return {"provider": "microsoft", "tenant": "contoso.onmicrosoft.com", "client_id": client_id,
            "client_secret_env": "TEST_M365_CLIENT_SECRET", "authority": server.idp_server.https_url,
            "ca_file": str(server.certificate.ca_file)}


def oauth_world(server: LocalMailServer, tmp_path: Path, oauth: dict, imap_security: str = "ssl",
                smtp_security: str = "starttls", address: str = "", **bot: object):
    world = mail_world(server, tmp_path, OAUTH_DOMAIN, bot_server(server, "imap", imap_security, auth="oauth2"),
                       bot_server(server, "smtp", smtp_security, auth="oauth2"), oauth, bot, address)
    assert server.idp is not None
    for client_id, (secret, pattern) in list(server.idp.clients.items()):
        if pattern.startswith("mbot*@"):  # the app may act for this mailbox (an admin's grant in Entra)
            server.idp.clients[client_id] = (secret, world.bot)
    return world


def test_microsoft_365_round_trip_over_tls_survives_tokens_expiring_and_revoked_mid_run(
        provider_server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    idp = provider_server.idp
    assert idp is not None
    world = oauth_world(provider_server, tmp_path, microsoft(provider_server, OAUTH_DOMAIN, monkeypatch),
                        poll_interval_seconds=1)
    caplog.set_level(logging.DEBUG)  # imapclient's protocol log too
    idp.lifetime = 3.0  # tokens expire within the run; the bot must fetch new ones before they do
    issued, refused = idp.issued, idp.refused
    ref = world.order()
    stop = threading.Event()
    runner = threading.Thread(target=run_forever, args=(world.app, stop))
    runner.start()
    try:
        new_order = world.supplier.wait_for(f"[{ref}] New order", timeout=15)
        time.sleep(3.5)  # every token issued so far has expired
        world.supplier.reply(new_order, "Delivery in two weeks?")
        assert "Delivery in two weeks?" in world.buyer.wait_for("Question from", timeout=15).text
        assert idp.issued > issued + 1 and idp.refused == refused  # renewed before expiry, never refused

        idp.lifetime = 3600.0
        time.sleep(2.5)
        idp.revoke_all()  # the provider invalidates tokens early (password reset, admin action)
        world.supplier.reply(new_order, "Or three?")
        assert "Or three?" in world.buyer.wait_for("Question from", count=2, timeout=20).text
        assert idp.refused > refused  # a server refused the revoked token; the bot fetched another
    finally:
        stop.set()
        runner.join(timeout=15)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert logged and world.bot in logged  # the run did log, with what the operator needs
    for secret in [*idp.tokens_issued, *(secret for secret, _ in idp.clients.values())]:
        assert secret not in logged
    imap, smtp = world.app.config.imap, world.app.config.smtp
    for token in idp.tokens_issued:  # nor the SASL answers that carry them, base64-encoded
        for sasl in (xoauth2(world.bot, token), oauthbearer(world.bot, token, imap.host, imap.port),
                     oauthbearer(world.bot, token, smtp.host, smtp.port)):
            assert base64.b64encode(sasl.encode()).decode() not in logged


def test_microsoft_365_with_a_certificate_instead_of_a_secret(provider_server: LocalMailServer,
                                                               tmp_path: Path) -> None:
    idp, idp_server, certificate = provider_server.idp, provider_server.idp_server, provider_server.certificate
    assert idp is not None and idp_server is not None and certificate is not None
    client_id, pem, thumbprint = idp.add_certificate_client("pending")
    (tmp_path / "app.pem").write_text(pem)
    world = oauth_world(provider_server, tmp_path, {
        "provider": "microsoft", "tenant": "contoso.onmicrosoft.com", "client_id": client_id,
        "certificate_file": "app.pem", "certificate_thumbprint": thumbprint,
        "authority": idp_server.https_url, "ca_file": str(certificate.ca_file)})
    idp.clients[client_id] = ("", world.bot)
    ref = world.order()
    report = world.poll()
    assert not report.fetch_error and report.send.sent == 1, report.summary()
    world.supplier.wait_for(f"[{ref}] New order")


def test_google_service_account_with_delegation_over_starttls_and_implicit_tls(
        provider_server: LocalMailServer, tmp_path: Path) -> None:
    idp = provider_server.idp
    assert idp is not None and provider_server.idp_server is not None
    key = idp.add_service_account(token_uri=f"{provider_server.idp_server.http_url}/token")
    (tmp_path / "service-account.json").write_text(json.dumps(key))
    world = oauth_world(provider_server, tmp_path, {"provider": "google_service_account",
                                                    "service_account_file": "service-account.json"},
                        imap_security="starttls", smtp_security="ssl")
    ref = world.order()
    assert world.poll().send.sent == 1
    world.supplier.reply(world.supplier.wait_for(f"[{ref}] New order"), "Is the price final?")
    report = world.poll()
    assert not report.fetch_error and report.send.sent == 1, report.summary()
    assert "Is the price final?" in world.buyer.wait_for("Question from").text


def test_a_refresh_token_is_used_and_a_rotated_one_is_stored_privately(
        provider_server: LocalMailServer, tmp_path: Path) -> None:
    idp = provider_server.idp
    assert idp is not None and provider_server.idp_server is not None
    client_id, _ = idp.add_client("nobody")
    refresh = tmp_path / "refresh-token"
    refresh.write_text("not yet")
    world = oauth_world(provider_server, tmp_path, {"provider": "generic", "client_id": client_id,
                                                    "token_url": f"{provider_server.idp_server.http_url}/token",
                                                    "refresh_token_file": "refresh-token"})
    refresh.write_text(idp.add_refresh_token(client_id, world.bot) + "\n")
    idp.rotate_refresh_tokens = True
    try:
        ref = world.order()
        report = world.poll()
    finally:
        idp.rotate_refresh_tokens = False
    assert not report.fetch_error and report.send.sent == 1, report.summary()
    world.supplier.wait_for(f"[{ref}] New order")
    stored = refresh.read_text().strip()
    assert stored in idp.refresh_tokens and stat.S_IMODE(refresh.stat().st_mode) == 0o600


def test_an_oauth_only_mailbox_refuses_the_password_and_the_message_says_use_oauth2(
        provider_server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_PW", "secret")
    world = mail_world(provider_server, tmp_path, OAUTH_DOMAIN,
                       bot_server(provider_server, "imap", "ssl", password_env="TEST_PW"),
                       bot_server(provider_server, "smtp", "ssl", password_env="TEST_PW"))
    world.order()
    code, output = cli(world, "poll", "--once")
    assert code == 1
    assert "IMAP refused the password" in output
    assert 'imap.auth = "oauth2"' in output and "SMTP refused the password" in output


def test_a_private_ca_must_be_named_and_then_the_password_round_trip_works(
        provider_server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_PW", "secret")
    world = mail_world(provider_server, tmp_path, "example.test",
                       bot_server(provider_server, "imap", "starttls", password_env="TEST_PW", ca_file=None),
                       bot_server(provider_server, "smtp", "ssl", password_env="TEST_PW", ca_file=None))
    ref = world.order()
    code, output = cli(world, "poll", "--once")
    assert code == 1 and "certificate is not trusted" in output and "set imap.ca_file" in output
    assert "set smtp.ca_file" in output
    assert provider_server.certificate is not None
    rewrite(world, "imap", ca_file=str(provider_server.certificate.ca_file))
    rewrite(world, "smtp", ca_file=str(provider_server.certificate.ca_file))
    code, output = cli(world, "poll", "--once")
    assert code == 0, output
    world.supplier.wait_for(f"[{ref}] New order")


def test_switching_verification_off_works_but_warns_at_every_start(
        provider_server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("TEST_PW", "secret")
    world = mail_world(provider_server, tmp_path, "example.test",
                       bot_server(provider_server, "imap", "ssl", password_env="TEST_PW"),
                       bot_server(provider_server, "smtp", "ssl", password_env="TEST_PW"))
    rewrite(world, "imap", ca_file=None, insecure_skip_tls_verify=True)
    rewrite(world, "imap", insecure_skip_tls_verify=True)  # a second start
    warnings = [r.getMessage() for r in caplog.records if "insecure_skip_tls_verify" in r.getMessage()]
    assert len(warnings) == 2 and "is NOT checked" in warnings[0] and "imap.ca_file" in warnings[0]
    assert not world.poll().fetch_error


def test_no_login_without_tls_on_a_provider_like_server(provider_server: LocalMailServer, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_PW", "secret")
    world = mail_world(provider_server, tmp_path, "example.test",
                       bot_server(provider_server, "imap", "none", password_env="TEST_PW"),
                       bot_server(provider_server, "smtp", "none", password_env="TEST_PW"))
    world.order()
    report = world.poll()
    assert 'LOGINDISABLED): set imap.security = "ssl" or "starttls"' in report.fetch_error
    assert "offers no AUTH on this connection: it may want TLS first" in report.send.error
    assert report.send.sent == 0 and report.send.deferred == 1


@pytest.mark.parametrize(("protocol", "security", "port_of", "expected"), [
    ("imap", "starttls", "bot_imaps_port", 'try imap.security = "ssl"'),
    ("imap", "ssl", "bot_imap_port", "did not answer the TLS handshake with TLS"),
    ("smtp", "starttls", "bot_smtps_port", 'try smtp.security = "ssl"'),
    ("smtp", "ssl", "bot_submission_port", "did not answer the TLS handshake with TLS"),
])
def test_a_wrong_port_and_security_pair_fails_fast_naming_the_pair(
        provider_server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        protocol: str, security: str, port_of: str, expected: str) -> None:
    assert login_module.GREETING_SECONDS <= 5
    monkeypatch.setattr(login_module, "GREETING_SECONDS", 1.0)
    monkeypatch.setenv("TEST_PW", "secret")
    servers = {p: bot_server(provider_server, p, "ssl", password_env="TEST_PW") for p in ("imap", "smtp")}
    servers[protocol].update(security=security, port=getattr(provider_server, port_of))
    world = mail_world(provider_server, tmp_path, "example.test", servers["imap"], servers["smtp"])
    world.order()
    started = time.monotonic()
    report = world.poll()
    assert time.monotonic() - started < 5  # not the 30 s timeout
    error = report.fetch_error if protocol == "imap" else report.send.error
    assert expected in error and "usual pairs" in error


def test_supplierbot_auth_stores_a_gmail_users_refresh_token_that_the_bot_then_uses(
        provider_server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Google itself is not reachable here: the dev identity provider plays accounts.google.com."""
    idp, idp_server = provider_server.idp, provider_server.idp_server
    assert idp is not None and idp_server is not None
    client_id, secret = idp.add_client("nobody")
    monkeypatch.setenv("TEST_GOOGLE_CLIENT_SECRET", secret)
    token_file = tmp_path / "secrets" / "gmail-refresh-token"
    command = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "auth", "--client-id", client_id, "--client-secret-env",
         "TEST_GOOGLE_CLIENT_SECRET", "--output", str(token_file), "--timeout", "20",
         "--auth-url", f"{idp_server.http_url}/authorize", "--token-url", f"{idp_server.http_url}/token"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert command.stdout is not None
    assert command.stdout.readline().startswith("Open this address in a browser")
    address = command.stdout.readline().strip()
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(address).query))
    assert query["code_challenge_method"] == "S256" and query["access_type"] == "offline"
    assert not token_file.exists()  # nothing is stored before the user signs in
    idp.browser_user = f"gmail-user-{client_id}@{OAUTH_DOMAIN}"
    with urllib.request.urlopen(address, timeout=10) as browser:  # sign in; the redirect reaches the bot
        assert b"You can close this window" in browser.read()
    rest, errors = command.communicate(timeout=20)
    assert command.returncode == 0, errors
    assert 'provider = "google_user"' in rest and f'refresh_token_file = "{token_file}"' in rest
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    stored = token_file.read_text().strip()
    assert idp.refresh_tokens[stored] == (client_id, idp.browser_user) and stored not in rest + errors

    world = oauth_world(provider_server, tmp_path, {"provider": "google_user", "client_id": client_id,
                                                    "client_secret_env": "TEST_GOOGLE_CLIENT_SECRET",
                                                    "refresh_token_file": str(token_file),
                                                    "token_url": f"{idp_server.http_url}/token"},
                        address=idp.browser_user)
    ref = world.order()
    report = world.poll()
    assert not report.fetch_error and report.send.sent == 1, report.summary()
    world.supplier.wait_for(f"[{ref}] New order")


def test_the_secure_demo_runs_the_whole_round_trip_as_on_an_oauth_only_provider(tmp_path: Path) -> None:
    from bot.demo import run_demo

    said: list[str] = []
    run_demo(tmp_path / "demo", said.append, secure=True)
    text = "\n".join(said)
    assert "takes OAuth2 only" in text and "approved — please deliver" in text
    assert "read from the supplier's own file: AB-4711.pdf (text PDF, 1 page)" in text  # their PDF, read
    assert "[PO-2026-0002] Invoice received — payment due 2026-12-28" in text  # delivered, received, invoiced
    with sqlite3.connect(tmp_path / "demo" / "supplierbot.db") as db:  # every email of the exchange is kept
        sent, read = (db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                      for table in ("outbox_message", "inbound_message"))
    kept = sorted(p.name for p in (tmp_path / "demo" / "mail").glob("*.eml"))
    assert len(kept) == sent + read and f"Kept {sent + read} emails" in text and sent >= 19
    assert any("-to-anna.buyer-decision-recorded" in name for name in kept)  # once left out
    config = (tmp_path / "demo" / "supplierbot.toml").read_text()
    assert 'auth = "oauth2"' in config and "secret =" not in config and 'security = "ssl"' in config


def test_an_unreachable_token_endpoint_is_an_outage_not_a_refusal(
        provider_server: LocalMailServer, tmp_path: Path) -> None:
    (tmp_path / "rt").write_text("rt-anything")
    world = oauth_world(provider_server, tmp_path, {"provider": "generic", "client_id": "app",
                                                    "token_url": "http://127.0.0.1:9/token",
                                                    "refresh_token_file": "rt"})
    first, second = world.poll(), world.poll()
    for report in (first, second):  # tried again at the next poll: nothing was refused
        assert "OAuth2: token endpoint http://127.0.0.1:9/token unreachable" in report.fetch_error
    assert cli(world, "status")[1].count("login:") == 0
