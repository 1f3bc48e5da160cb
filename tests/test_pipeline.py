"""bot.pipeline without mail servers: hostile messages are recorded, answered or ignored, never fatal."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import App, build_app
from bot.config import load_config
from bot.pipeline import Source, process
from storage.db import session
from storage.models import InboundMessage, InboundStatus, OutboxMessage
from tests.conftest import FIXTURES, write_config


class _NoServer:
    imap_port = smtp_port = 9  # never contacted: process() does no network I/O


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    monkeypatch.setenv("TEST_IMAP_PASSWORD", "x")
    return build_app(load_config(write_config(tmp_path, "bot@example.test", _NoServer())))


HOSTILE = {
    "out_of_office.eml": (InboundStatus.IGNORED, 0),
    "bounce_dsn.eml": (InboundStatus.IGNORED, 0),
    "list_mail.eml": (InboundStatus.IGNORED, 0),
    "precedence_bulk.eml": (InboundStatus.IGNORED, 0),
    "broken_mime.eml": (InboundStatus.REFUSED, 1),
    "no_from.eml": (InboundStatus.IGNORED, 0),
    "eight_bit_unknown_charset.eml": (InboundStatus.REFUSED, 1),
    "traversal_filename.eml": (InboundStatus.REFUSED, 1),
    "enormous_header.eml": (InboundStatus.REFUSED, 1),
    "nested_rfc822.eml": (InboundStatus.REFUSED, 1),
    "outlook_html_only_cp1252.eml": (InboundStatus.REFUSED, 1),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_messages_are_kept_and_answered_at_most_once(app: App, name: str) -> None:
    raw = (FIXTURES / "emails" / name).read_bytes()
    outcome = process(app, Source("acct", "INBOX", 1, 1), raw)
    status, answers = HOSTILE[name]
    assert outcome is not None and outcome.status is status, outcome
    with session(app.engine) as s:
        row = s.exec(select(InboundMessage)).one()
        sent = s.exec(select(OutboxMessage)).all()
    assert Path(row.raw_path).read_bytes() == raw and row.raw_path.startswith(str(app.config.storage.data_dir))
    assert len(sent) == answers
    assert all(b"Auto-Submitted: auto-replied" in m.raw for m in sent)


def test_the_same_uid_twice_is_applied_once(app: App) -> None:
    raw = (FIXTURES / "emails" / "eight_bit_unknown_charset.eml").read_bytes()
    assert process(app, Source("acct", "INBOX", 1, 5), raw) is not None
    assert process(app, Source("acct", "INBOX", 1, 5), raw) is None
    with session(app.engine) as s:
        assert len(s.exec(select(OutboxMessage)).all()) == 1


def test_the_same_message_under_a_new_uidvalidity_is_a_duplicate(app: App) -> None:
    raw = (FIXTURES / "emails" / "eight_bit_unknown_charset.eml").read_bytes()
    process(app, Source("acct", "INBOX", 1, 5), raw)
    again = process(app, Source("acct", "INBOX", 2, 1), raw)
    assert again is not None and again.status is InboundStatus.IGNORED and again.disposition.startswith("duplicate")
    with session(app.engine) as s:
        assert len(s.exec(select(OutboxMessage)).all()) == 1


def test_a_system_error_keeps_the_message_as_failed(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr("bot.pipeline.match_order", explode)
    raw = (FIXTURES / "emails" / "eight_bit_unknown_charset.eml").read_bytes()
    outcome = process(app, Source("acct", "INBOX", 1, 9), raw)
    assert outcome is not None and outcome.status is InboundStatus.FAILED
    with session(app.engine) as s:
        row = s.exec(select(InboundMessage)).one()
        assert row.error == "RuntimeError: database went away" and not s.exec(select(OutboxMessage)).all()
    assert Path(row.raw_path).read_bytes() == raw
