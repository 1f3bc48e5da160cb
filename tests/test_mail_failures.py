"""Mail failures as the operator meets them: the exit code, the log line, `status`, and the fix."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlmodel import select

from bot.app import build_app
from bot.config import load_config
from bot.devmail import PASSWORD, LocalMailServer
from bot.devmail.clients import Party
from bot.orders import NewOrder, create_order
from parsers.order_lines import read_order_lines
from storage.db import session
from storage.models import InboundMessage, OutboxMessage, OutboxStatus
from tests.conftest import LINES_CSV, World
from tests.mailworld import bot_server, cli, mail_world, rewrite

DOVECOT_CAPABILITIES_WITHOUT_MOVE_AND_UIDPLUS = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS "
    "MULTIAPPEND UNSELECT CHILDREN NAMESPACE LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT "
    "SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY LITERAL+")


@pytest.fixture(scope="module")
def company_server():
    """A company server: TLS with a private CA, submission requires AUTH."""
    with LocalMailServer(tls=True) as server:
        yield server


def tls_world(server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password: str = PASSWORD,
              **smtp: object) -> World:
    monkeypatch.setenv("TEST_PW", password)
    return mail_world(server, tmp_path, "example.test",
                      bot_server(server, "imap", "ssl", password_env="TEST_PW"),
                      bot_server(server, "smtp", "ssl", password_env="TEST_PW", **smtp))


def outbox(world: World) -> list[OutboxMessage]:
    with session(world.app.engine) as s:
        return list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def test_a_relay_that_needs_a_login_keeps_the_emails_until_smtp_username_is_set(
        company_server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = tls_world(company_server, tmp_path, monkeypatch, username="")
    ref = world.order()
    code, output = cli(world, "poll", "--once")
    assert code == 1
    assert "requires a login (530" in output and "set smtp.username and smtp.password" in output
    (row,) = outbox(world)
    assert (row.status, row.attempts) == (OutboxStatus.QUEUED, 0)  # the email is not to blame

    rewrite(world, "smtp", username=world.bot)
    code, output = cli(world, "poll", "--once")
    assert code == 0 and "sent 1" in output
    world.supplier.wait_for(f"[{ref}] New order")


def test_a_refused_email_fails_the_poll_with_its_reason_and_is_sent_again_unchanged_after_the_fix(
        company_server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = tls_world(company_server, tmp_path, monkeypatch)
    lines = read_order_lines(LINES_CSV, "lines.csv")
    ref = create_order(world.app, NewOrder("sales@newcustomer.test", (world.buyer.address,), lines))
    code, output = cli(world, "poll", "--once")
    assert code == 1 and "failed 1" in output
    assert "send failed for good" in output and "550 5.1.1 no such user here" in output
    assert "supplierbot outbox retry --failed" in output
    code, output = cli(world, "status")
    assert "outbox: 1 email(s) failed for good" in output

    relay = company_server.controllers[-1].handler
    relay.domains = (*relay.domains, "newcustomer.test")  # the address is fixed on the server side
    try:
        code, output = cli(world, "outbox", "retry", "--failed")
    finally:
        relay.domains = relay.domains[:-1]
    (row,) = outbox(world)
    assert code == 0 and f"#{row.id}: queued again {row.message_id}" in output and "sent 1" in output
    received = Party("sales@newcustomer.test", company_server.imap_port, company_server.smtp_port)
    assert received.wait_for(f"[{ref}] New order").message["Message-ID"] == row.message_id
    assert cli(world, "outbox", "retry", str(row.id)) == (1, f"#{row.id}: not a failed email\nsent 0, failed 0, "
                                                             "waiting 0\n")


def imap_refusals(server: LocalMailServer, user: str) -> int:
    assert server.root is not None
    log = (server.root / "dovecot.log").read_text()
    return sum(1 for line in log.splitlines() if f"user=<{user}>" in line and "auth failed" in line)


def test_a_wrong_password_is_tried_once_then_waited_out_shown_in_status_and_retried_at_once_when_fixed(
        company_server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    world = tls_world(company_server, tmp_path, monkeypatch, password="wrong")
    ref = world.order()
    smtp_before = company_server.submission_auth.attempts
    caplog.set_level(logging.INFO)
    first, second = world.poll(), world.poll()
    assert "IMAP refused the password" in first.fetch_error and "SMTP refused the password" in first.send.error
    assert "next try at" in second.fetch_error and "next try at" in second.send.error
    assert imap_refusals(company_server, world.bot) == 1
    assert company_server.submission_auth.attempts - smtp_before == 1  # PLAIN once, not PLAIN then LOGIN, not per lane
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "supplierbot.auth"]
    assert sorted(r.__dict__["server"] for r in errors) == ["imap", "smtp"]  # once each, not once per poll
    assert not [r for r in caplog.records if "next try at" in str(r.__dict__.get("error", ""))]
    code, output = cli(world, "status")
    assert "login: IMAP login refused 1 time(s)" in output and "login: SMTP login refused 1 time(s)" in output
    assert "wrong" not in output

    monkeypatch.setenv("TEST_PW", PASSWORD)  # the operator fixes the secret
    world.app = build_app(load_config(world.config_path))
    report = world.poll()
    assert not report.fetch_error and report.send.sent == 1, report.summary()
    world.supplier.wait_for(f"[{ref}] New order")
    assert "login:" not in cli(world, "status")[1]


def test_without_uidplus_or_move_mail_is_left_in_the_inbox_and_this_is_said_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    with LocalMailServer(capabilities=DOVECOT_CAPABILITIES_WITHOUT_MOVE_AND_UIDPLUS) as server:
        monkeypatch.setenv("TEST_PW", PASSWORD)
        world = mail_world(server, tmp_path, "example.test",
                           {"host": "127.0.0.1", "port": server.imap_port, "security": "none",
                            "password_env": "TEST_PW", "processed_folder": "Done"},
                           {"host": "127.0.0.1", "port": server.smtp_port, "security": "none", "username": ""})
        ref = world.order()
        world.poll()
        new_order = world.supplier.wait_for(f"[{ref}] New order")
        caplog.set_level(logging.WARNING)
        for question in ("First question", "Second question"):
            world.supplier.reply(new_order, question)
            world.poll()
        with IMAPClient("127.0.0.1", port=server.imap_port, ssl=False) as client:
            client.login(world.bot, PASSWORD)
            client.select_folder("INBOX", readonly=True)
            people = client.search(["NOT", "FROM", world.bot])  # the bot's copies of its own mail stay too
            assert len(people) == 2 and client.search(["DELETED"]) == []
            assert not client.folder_exists("Done")
        with session(world.app.engine) as s:
            assert [r.location for r in s.exec(select(InboundMessage)).all()] == ["left", "left"]
        said = [r.getMessage() for r in caplog.records if "neither MOVE nor UIDPLUS" in r.getMessage()]
        assert len(said) == 1 and "mail stays in INBOX instead of moving to Done" in said[0]
