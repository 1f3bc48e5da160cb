"""`supplierbot check` from the operator's side: what it prints, its exit code, what it changes."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot import login as login_module
from bot.devmail import OAUTH_DOMAIN, PASSWORD, LocalMailServer
from tests.mailworld import bot_server, cli, mail_world, rewrite
from tests.test_mail_failures import DOVECOT_CAPABILITIES_WITHOUT_MOVE_AND_UIDPLUS


@pytest.fixture(scope="module")
def provider_server():
    with LocalMailServer(tls=True, oauth=True) as server:
        yield server


def test_check_reports_tls_login_capabilities_folders_and_what_the_bot_will_do(
        provider_server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_PW", PASSWORD)
    world = mail_world(provider_server, tmp_path, "example.test",
                       bot_server(provider_server, "imap", "ssl", password_env="TEST_PW",
                                  processed_folder="Archive/Done"),
                       bot_server(provider_server, "smtp", "starttls", password_env="TEST_PW"))
    code, output = cli(world, "check")
    assert code == 0, output
    for expected in (f"ok       IMAP 127.0.0.2:{provider_server.bot_imaps_port} over TLS (ssl), certificate verified "
                     "against the CA in imap.ca_file",
                     f"ok       IMAP logged in as {world.bot} with password (LOGIN)",
                     "IMAP capabilities: IDLE yes, MOVE yes, UIDPLUS yes, NAMESPACE yes, CONDSTORE yes",
                     "ok       imap.folder 'INBOX' exists",
                     "note     imap.processed_folder 'Archive/Done' does not exist yet (as 'Archive.Done')",
                     "the bot will be woken by IDLE on new mail",
                     "the bot will move mail it is done with to Archive/Done (MOVE)",
                     "SMTP AUTH mechanisms offered: LOGIN OAUTHBEARER PLAIN XOAUTH2",
                     f"SMTP logged in as {world.bot} with password (PLAIN)",
                     "nothing sent"):
        assert expected in output
    assert world.supplier.inbox() == []

    code, output = cli(world, "check", "--create-folders", "--send-test", world.supplier.address)
    assert code == 0 and "imap.processed_folder 'Archive/Done' created (as 'Archive.Done')" in output
    assert f"test email sent to {world.supplier.address}" in output
    assert world.supplier.wait_for("supplierbot check: test email")
    assert "imap.processed_folder 'Archive/Done' exists" in cli(world, "check")[1]


def test_check_with_oauth2_names_the_mechanism_and_each_failure_names_its_setting(
        provider_server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(login_module, "GREETING_SECONDS", 1.0)
    idp = provider_server.idp
    assert idp is not None and provider_server.idp_server is not None
    client_id, _ = idp.add_client("nobody")
    (tmp_path / "rt").write_text("placeholder")
    world = mail_world(provider_server, tmp_path, OAUTH_DOMAIN,
                       bot_server(provider_server, "imap", "starttls", auth="oauth2"),
                       bot_server(provider_server, "smtp", "ssl", auth="oauth2"),
                       {"provider": "generic", "client_id": client_id, "refresh_token_file": "rt",
                        "token_url": f"{provider_server.idp_server.http_url}/token"})
    code, output = cli(world, "check")
    assert code == 1 and "PROBLEM  OAuth2: token endpoint" in output and "HTTP 400 invalid_grant" in output

    (tmp_path / "rt").write_text(idp.add_refresh_token(client_id, world.bot))
    code, output = cli(world, "check")
    assert code == 0, output
    assert f"IMAP logged in as {world.bot} with OAuth2 (OAUTHBEARER)" in output
    assert f"SMTP logged in as {world.bot} with OAuth2 (OAUTHBEARER)" in output

    rewrite(world, "imap", port=provider_server.bot_imaps_port)  # starttls against the implicit-TLS port
    rewrite(world, "smtp", security="none", port=provider_server.bot_submission_port)
    code, output = cli(world, "check")
    assert code == 1
    assert 'sent no greeting within 1 s with imap.security = "starttls"' in output
    assert "SMTP 127.0.0.2" in output and "offers no AUTH on this connection" in output
    assert "smtp.security = \"none\"): passwords and mail cross the network readable" in output


def test_check_says_mail_is_left_where_the_server_cannot_move_it(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalMailServer(capabilities=DOVECOT_CAPABILITIES_WITHOUT_MOVE_AND_UIDPLUS.replace(" IDLE", "")) as server:
        monkeypatch.setenv("TEST_PW", PASSWORD)
        world = mail_world(server, tmp_path, "example.test",
                           {"host": "127.0.0.1", "port": server.imap_port, "security": "none",
                            "password_env": "TEST_PW", "processed_folder": "Done"},
                           {"host": "127.0.0.1", "port": server.smtp_port, "security": "none", "username": ""})
        code, output = cli(world, "check")
    assert code == 0, output
    assert "IDLE no, MOVE no, UIDPLUS no" in output
    assert "no IDLE: the bot will poll every 60 s (bot.poll_interval_seconds)" in output
    assert "neither MOVE nor UIDPLUS: the bot will leave mail in INBOX (moving needs UIDPLUS or MOVE" in output
    assert "SMTP: no login (smtp.username is empty)" in output
